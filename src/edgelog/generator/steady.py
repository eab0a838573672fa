"""Start the traffic in its steady state without simulating the past: a sampled population of visits.

At any moment a busy site has visits in progress: arrived a while ago, still clicking. Starting the engine
with none would ramp the rate up from zero over several minutes (the longest visits last that long);
simulating the five minutes before the start and discarding them (what the engine used to do) costs about a
second per 1,000 requests/s of rate, ~11 s at 12,000/s, before the first line.

Instead, the population in progress at the start is drawn from its stationary distribution. For arrivals
at rate ``lam`` and visits lasting ``D``, the visits in progress at an instant number Poisson(``lam E[D]``);
each is a length-biased draw (probability proportional to ``D``) whose elapsed part is uniform in ``[0, D)``.
:class:`SessionPool` lays out a fixed sample of visits once (which also calibrates requests per visit), and
:class:`SteadyStart` draws the visits in progress from it, gives each a fresh identity (session id, address,
agent, user) and files the rest of its requests lazily, second by second, as the engine advances: start-up
costs a few microseconds per visit in progress and no request is built before it is needed.

The sample is drawn without outages (they depend on the time of day, the sample has none), so visits in
progress at the start never show an outage that began before it; everything else (errors, logins, checkout,
crawlers, scanners) is as configured.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the engine imports this module
    from edgelog.generator.engine import Engine, Ident
    from edgelog.generator.site import Req

POOL_SESSIONS = 2000
"""Visits laid out once per engine: the calibration sample and the source of the visits in progress."""
POOL_SEED = 12345
POOL_TIME = 1_000_000_000  # where the sample is laid out (any time: without outages, time does not matter)

# (offset from the visit's start in seconds, ident index, request, status, bytes, referer)
PoolEvent = tuple[float, int, "Req", int, int, str]


@dataclass(frozen=True)
class PooledSession:
    events: list[PoolEvent]  # in time order
    offsets: list[float]  # the events' offsets, for bisect
    idents: tuple[Ident, ...]  # the visit's distinct idents (anonymous, logged in, upgraded protocol ...)
    duration: float  # offset of the last event


class SessionPool:
    """A fixed sample of visits, laid out with the engine's own code on a private random stream."""

    def __init__(self, sessions: list[PooledSession]):
        self.sessions = sessions
        self.total_lines = sum(len(s.events) for s in sessions)
        self.mean_lines = max(self.total_lines / max(len(sessions), 1), 1.0)
        self.mean_duration = sum(s.duration for s in sessions) / max(len(sessions), 1)
        cumulative, acc = [], 0.0
        for s in sessions:
            acc += s.duration
            cumulative.append(acc)
        self._cumulative = cumulative  # length-biased choice: bisect a uniform draw on [0, total duration)

    @classmethod
    def sample(cls, engine: Engine, n: int = POOL_SESSIONS) -> SessionPool:
        """Lay out ``n`` visits with ``engine.session`` on a private random stream, without incidents."""
        saved = engine.rng, engine.buckets, engine.sessions, engine._calm_from, engine._calm_until
        engine.rng = random.Random(POOL_SEED)
        engine._calm_from, engine._calm_until = -math.inf, math.inf  # no outage, no bad deploy
        sessions = []
        try:
            for _ in range(n):
                engine.buckets = {}
                engine.session(POOL_TIME)
                sessions.append(_collect(engine.buckets))
        finally:
            engine.rng, engine.buckets, engine.sessions, engine._calm_from, engine._calm_until = saved
            engine.addresses.recent.clear()  # sample visits are not earlier visitors
        return cls(sessions)

    def draw_in_progress(self, rng: random.Random) -> tuple[int, float]:
        """A visit in progress: (pool index, elapsed seconds), length-biased with a uniform phase."""
        total = self._cumulative[-1]
        k = min(bisect.bisect_right(self._cumulative, rng.random() * total), len(self.sessions) - 1)
        return k, rng.random() * self.sessions[k].duration


def _collect(buckets: dict[int, list]) -> PooledSession:
    events = []
    order: dict[int, int] = {}
    idents: list[Ident] = []
    for sec in sorted(buckets):
        for ms, ident, req, status, nbytes, ref in sorted(buckets[sec], key=lambda e: e[0]):
            k = order.get(id(ident))
            if k is None:
                k = order[id(ident)] = len(idents)
                idents.append(ident)
            events.append((sec - POOL_TIME + ms / 1000.0, k, req, status, nbytes, ref))
    offsets = [e[0] for e in events]
    return PooledSession(events, offsets, tuple(idents), offsets[-1] if offsets else 0.0)


# (pool index, next event index, shift: event time = shift + offset, fresh idents or None before the first)
_Continuation = tuple[int, int, float, "list[Ident] | None"]


class SteadyStart:
    """The visits in progress at ``start``, filed into the engine's buckets as it advances.

    It draws from its own random stream and numbers its own session ids (mixed with the engine's run id),
    so the engine's arrivals do not depend on when, or in how many steps, the caller advances.
    """

    def __init__(self, engine: Engine, pool: SessionPool, start: float, arrivals_per_second: float):
        from edgelog.generator.engine import derive_seed

        self.engine = engine
        self.pool = pool
        self.pending: dict[int, list[_Continuation]] = {}
        self.next_sec = int(start)
        self.visits = 0  # visits in progress at the start
        self._numbered = 0  # of them, given an identity so far
        self.rng = random.Random(derive_seed(engine.seed, engine.node, "steady", str(engine.run)))
        pools = engine.site.pools
        self._bot_addresses = frozenset(pools.crawler_ips) | frozenset(pools.scanner_ips)
        self.salt = derive_seed(engine.seed, engine.node, "steady-ids", str(engine.run))
        if arrivals_per_second <= 0 or pool.mean_duration <= 0:
            return
        rng = self.rng
        sessions = pool.sessions
        pending = self.pending
        for _ in range(_poisson(rng, arrivals_per_second * pool.mean_duration)):
            k, elapsed = pool.draw_in_progress(rng)
            offsets = sessions[k].offsets
            i = bisect.bisect_left(offsets, elapsed)
            if i >= len(offsets):
                continue
            shift = start - elapsed
            sec = int(shift + offsets[i])
            due = pending.get(sec)
            if due is None:
                due = pending[sec] = []
            due.append((k, i, shift, None))
        self.visits = sum(len(v) for v in pending.values())

    def _idents(self, k: int) -> list[Ident]:
        """A fresh client for a pooled visit: a new session id and, for a shop visitor, a new address drawn
        like any visit's; crawlers, scanners and staff keep their (few, shared) addresses; agent, protocol
        and account stay as the visit had them."""
        from edgelog.generator.engine import GOLDEN, MASK64, Ident

        e = self.engine
        session = self.pool.sessions[k]
        self._numbered += 1
        sid = f"{((self._numbered * GOLDEN) ^ self.salt) & MASK64:016x}"
        first = session.idents[0]
        keep = first.ip in self._bot_addresses or first.user != "-"
        ip = first.ip if keep else e.addresses.draw(self.rng)
        return [Ident(ip, i.user, i.uid, sid, (i.ua, i.csuf[2:-2]), i.pv, i.account) for i in session.idents]

    def file(self, until: float) -> None:
        """File the requests of every second up to and including ``until``'s second into the buckets."""
        last = int(until)
        if not self.pending:
            self.next_sec = max(self.next_sec, last + 1)
            return
        buckets = self.engine.buckets
        sessions = self.pool.sessions
        for sec in range(self.next_sec, last + 1):
            due = self.pending.pop(sec, None)
            if not due:
                continue
            bucket = buckets.get(sec)
            if bucket is None:
                bucket = buckets[sec] = []
            for k, i, shift, known in due:
                idents = known or self._idents(k)
                events = sessions[k].events
                n = len(events)
                while i < n:
                    off, who, req, status, nbytes, ref = events[i]
                    t = shift + off
                    s = int(t)
                    if s != sec:
                        self.pending.setdefault(s, []).append((k, i, shift, idents))
                        break
                    bucket.append((int((t - s) * 1000), idents[who], req, status, nbytes, ref))
                    i += 1
        self.next_sec = last + 1


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation above 50, exact inversion below; the mean is bounded)."""
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
