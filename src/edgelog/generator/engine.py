"""The traffic model: session arrivals shaped by time of day, and each session's request plan.

A visit is a small state machine, START -> LOGIN | DIRECT -> BROWSING -> LOGOUT | ABANDON | ERROR, decided
when it starts; BROWSING walks the configured transition matrix (page type -> page type or exit) from an
entry page. The visit lays out its whole request plan (page views, the assets a browser does not have cached
yet, XHR calls, the checkout funnel) into per-second buckets. Formatters turn a second's bucket into text, so
the plan is made once and written in any format. All randomness comes from one ``random.Random`` seeded
from (seed, node), and time comes only from the caller: same seed, config and start give the same plan.

Events are tuples ``(ms, ident, req, status, bytes, referer)``: ``ident`` is the client (address, user,
agent, session), ``req`` a pre-built :class:`~edgelog.generator.site.Req`.
"""

from __future__ import annotations

import json
import math
import random
import re
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from statistics import NormalDist

from edgelog.generator.addresses import ClientAddresses
from edgelog.generator.config import EXIT, GeneratorConfig
from edgelog.generator.escape import nginx_escape
from edgelog.generator.pools import (
    BROWSER_AGENTS,
    CRAWLER_AGENTS,
    REFERRER_ORIGINS,
    SCANNER_AGENTS,
    WeightedTable,
    weighted_table,
)
from edgelog.generator.site import ERROR_PAGE_BYTES, LOGIN_REQUIRED, Page, Req, Site, build_site
from edgelog.generator.steady import SessionPool, SteadyStart

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
REGULATION_SECONDS = 60.0  # flat mode: how fast a gap between planned and due requests closes
REVALIDATE = 0.25  # a warm cache revalidates an expired, un-hashed asset (logo, images) once per visit: 304
DEPLOY_BREAKS = ("product", "search", "cart", "checkout", "category")  # what a bad release can break
Event = tuple[int, "Ident", Req, int, int, str]

_SETUPS: OrderedDict[str, tuple[Site, SessionPool]] = OrderedDict()
_SETUPS_MAX = 4
"""The site and the session pool of the latest (config, seed) pairs, for the next engine of the same pair.

Both depend on the config and the seed alone (not on node, start or rate: the pool draws from its own fixed
stream and its visits get fresh ids when they are used), take most of an engine's start-up (~0.1 s), and are
only read once built; so the nodes of one backfill, or the many short runs of a test suite, build them once.
"""


def _setup_key(config: GeneratorConfig, seed: int) -> str | None:
    """What the site and the pool are made from, as a key; None when the config does not serialize."""
    try:
        return f"{seed}:{json.dumps(config.data, sort_keys=True)}"
    except (TypeError, ValueError):
        return None


def derive_seed(seed: int, *parts: str) -> int:
    """Mix a seed with names (node, purpose) into a new 63-bit seed, stable across processes."""
    h = seed & MASK64
    for part in parts:
        h = (h * GOLDEN + zlib.crc32(part.encode()) + 1) & MASK64
        h ^= h >> 29
    return h & ((1 << 63) - 1)


def effective_seed(seed: int | None, config: GeneratorConfig) -> int:
    """The seed to use: the caller's, else the config's ``seed``, else 0 (reproducible by default).

    The site (products, users, addresses) depends on this seed alone, so every node serves the same shop;
    traffic mixes in the node name, so nodes see different visitors.
    """
    if seed is not None:
        return seed
    return config.data["seed"] if config.data["seed"] is not None else 0


class Ident:
    """A client as it appears in a log line; the combined-format prefix and suffix are built once.

    ``user`` is nginx's ``$remote_user`` (HTTP Basic auth only); ``uid`` and ``account`` are the shop account
    of a form login (JSON/CSV ``user_id``, the app log's ``user``); ``pv`` the protocol index into
    :data:`~edgelog.generator.site.PROTOCOLS`.
    """

    __slots__ = ("account", "cpre", "csuf", "ip", "pv", "sid", "ua", "uid", "user")

    def __init__(
        self, ip: str, user: str, uid: str, sid: str, ua: tuple[str, str], pv: int = 1, account: str = "-"
    ):
        self.ip = ip
        self.user = user
        self.uid = uid
        self.account = account
        self.sid = sid
        self.ua = ua[0]
        self.pv = pv
        self.cpre = f"{ip} - {nginx_escape(user) if user != '-' else '-'} ["
        self.csuf = f' "{ua[1]}"\n'

    def but(
        self,
        *,
        user: str | None = None,
        uid: str | None = None,
        pv: int | None = None,
        account: str | None = None,
    ) -> Ident:
        """The same client after a login or a protocol upgrade."""
        return Ident(
            self.ip, self.user if user is None else user, self.uid if uid is None else uid, self.sid,
            (self.ua, self.csuf[2:-2]), self.pv if pv is None else pv,
            self.account if account is None else account,
        )  # fmt: skip


def _agents(items: list[tuple[str, float]]) -> WeightedTable:
    return weighted_table(tuple((ua, nginx_escape(ua)) for ua, _ in items), tuple(w for _, w in items))


class Engine:
    """Generates sessions from ``start`` on and files their requests into per-second buckets."""

    def __init__(
        self,
        config: GeneratorConfig,
        *,
        seed: int,
        node: str,
        start: float,
        rate: float | None = None,
        shaped: bool | None = None,
        bursts: Sequence[float] = (),
        run: int | None = None,
    ):
        d = config.data
        self.config = config
        key = _setup_key(config, seed)
        setup = _SETUPS.get(key) if key is not None else None
        self.site = setup[0] if setup is not None else build_site(config, seed)
        self.rng = random.Random(derive_seed(seed, node, "traffic"))
        self.seed = seed
        self.node = node
        # ``run`` tells this run's ids from every other run's of the node: derived from the start (so backfill
        # stays reproducible) unless the caller gives one (live mode draws a random one per start).
        self.run = derive_seed(seed, node, "run", str(int(start))) if run is None else run & MASK64
        self.salt = derive_seed(seed, node, "ids", str(self.run))
        self.buckets: dict[int, list[Event]] = {}
        self.sessions = 0
        self.rate = d["traffic"]["requests_per_second"] if rate is None else float(rate)
        self.shaped = d["traffic"]["shaped"] if shaped is None else shaped
        hourly = d["traffic"]["hourly_multipliers"]
        mean = sum(hourly) / len(hourly)
        self.hourly = [m / mean for m in hourly]
        self.weekend = d["traffic"]["weekend_factor"]
        self.burst = d["traffic"]["burst"]
        errors = d["errors"]
        self.outages = errors["outages"]
        self.deploys = errors["bad_deploys"]
        self.p_dead = errors["dead_links"]
        self.p_upstream = errors["upstream_errors"]
        sess = d["sessions"]
        self.p_login = sess["start"]["login"]
        self.p_end_logout = sess["end"]["logout"]
        self.p_end_error = sess["end"]["error"]
        self.pages_max = sess["pages_max"]
        # think times: 4096 quantiles of the log-normal (sigma 1), drawn with getrandbits(12) like the tables
        mu, cap, z = (
            math.log(max(sess["think_time_median_seconds"], 0.001)),
            sess["think_time_max_seconds"],
            NormalDist(),
        )
        self.think = [min(math.exp(mu + z.inv_cdf((i + 0.5) / 4096)), cap) for i in range(4096)]
        self.p_external = sess["external_referrer_share"]
        self.p_returning = sess["returning_visitor_share"]
        self.p_http1 = sess["protocol"]["http1"]
        self.p_http3 = sess["http3_share"]
        self.p_embed = sess["embed_share"]
        self.p_staff = sess["staff_share"]
        self.entry = _distribution(sess["entry"])
        self.p_bounce = sess["bounce"]
        self.transitions = {kind: _distribution(row) for kind, row in sess["transitions"].items()}
        self.next_tables = {kind: table.table for kind, table in self.transitions.items()}  # inlined draws
        self.page_tables = {kind: table.table for kind, table in self.site.tables.items()}
        self.p_crawler = d["bots"]["crawler_share"]
        self.p_scanner = d["bots"]["scanner_share"]
        self.scan_lo, self.scan_hi = d["bots"]["scanner_requests"]
        pools = self.site.pools
        users = d["users"]
        self.addresses = ClientAddresses(
            pools, ipv6_share=users["ipv6_share"], shared_share=users["shared_share"],
            revisit_share=users["revisit_share"],
        )  # fmt: skip
        self.users = pools.usernames
        self.browsers = _agents(BROWSER_AGENTS)
        self.desktops = _agents(
            [(ua, w) for ua, w in BROWSER_AGENTS if re.search(r"Windows|Macintosh|X11", ua)]
        )
        self.crawlers = _agents(CRAWLER_AGENTS)
        self.scanners = _agents(SCANNER_AGENTS)
        self.referrers = weighted_table(
            tuple(u for u, _ in REFERRER_ORIGINS), tuple(w for _, w in REFERRER_ORIGINS)
        )
        self._hour_cache: dict[int, tuple[float, list[tuple[float, float]]]] = {}
        self._incident_cache: dict[tuple[str, int], list[tuple[float, float, str]]] = {}
        self.forced_bursts: list[tuple[float, float]] = []
        self._mult_hour = -1
        self._mult_now: tuple[float, list[tuple[float, float]]] = (1.0, [])
        for b0 in bursts:
            self.add_burst(b0)
        self._incident_hour = -1
        self._calm_from = self._calm_until = 0.0  # a time range known to have no incident window
        self._incidents_now: list[tuple[float, float, str, bool]] = []  # (start, end, deploy breaks, outage?)
        self.p_outage = self.outages["error_share"] if self.outages["per_day"] > 0 else 0.0
        # Requests per visit: calibrated on a sample of visits (steady.py), which also seeds the steady start.
        self.planned = 0  # flat mode: requests of the visits started since ``start`` (also future ones)
        self.started = 0  # visits started since ``start``
        if setup is not None:
            _SETUPS.move_to_end(key)  # type: ignore[arg-type]
            self.pool = setup[1]
        else:
            self.pool = SessionPool.sample(self)
            if key is not None:
                _SETUPS[key] = (self.site, self.pool)
                while len(_SETUPS) > _SETUPS_MAX:
                    _SETUPS.popitem(last=False)
        self.lines_per_session = self.pool.mean_lines
        # Flat mode holds the requested rate exactly: arrivals follow the gap between the requests planned and
        # the requests due so far (rate x elapsed time), closing it within about REGULATION_SECONDS.
        self.regulated = not self.shaped
        self._due = 0.0
        self._due_t = float(start)
        # The visits in progress at ``start`` are drawn from the steady state (steady.py), so the first second
        # already carries the full rate instead of a ramp-up from zero.
        self.start = int(start)
        self.next_arrival = float(start)
        lam0 = self.rate * self.multiplier(float(start)) / self.lines_per_session if self.rate > 0 else 0.0
        self.steady = SteadyStart(self, self.pool, float(start), lam0)
        self._advance_arrival()
        self.advance(float(start))

    # ---- shaping -------------------------------------------------------------------------------
    def _hour(self, hour: int) -> tuple[float, list[tuple[float, float]]]:
        """Multiplier and burst windows of one UTC hour, derived from (seed, hour) alone."""
        got = self._hour_cache.get(hour)
        if got is not None:
            return got
        if not self.shaped:
            got = (1.0, [])
        else:
            mult = self.hourly[hour % 24]
            if (hour // 24 + 3) % 7 >= 5:  # 1970-01-01 was a Thursday; 5, 6 = Saturday, Sunday
                mult *= self.weekend
            hr = random.Random(derive_seed(self.seed, self.node, "burst", str(hour)))
            windows = []
            if hr.random() < self.burst["per_hour"]:
                b0 = hour * 3600 + hr.random() * 3600
                windows.append((b0, b0 + self.burst["duration_seconds"]))
            got = (mult, windows)
        if len(self._hour_cache) > 256:
            self._hour_cache.clear()
        self._hour_cache[hour] = got
        return got

    def add_burst(self, t: float) -> None:
        """Force a burst (``traffic.burst.factor`` for ``duration_seconds``) starting at ``t``."""
        self.forced_bursts.append((t, t + self.burst["duration_seconds"]))

    def multiplier(self, t: float) -> float:
        """Traffic multiplier at time ``t``: hour of day, weekend and bursts (also the previous hour's)."""
        hour = int(t // 3600)
        if hour != self._mult_hour:  # one arrival after the other: the same hour nearly every time
            mult, windows = self._hour(hour)
            self._mult_hour, self._mult_now = hour, (mult, windows + self._hour(hour - 1)[1])
        mult, windows = self._mult_now
        for a, b in windows:
            if a <= t < b:
                return mult * self.burst["factor"]
        for a, b in self.forced_bursts:
            if a <= t < b:
                return mult * self.burst["factor"]
        return mult

    def _windows(self, name: str, hour: int) -> list[tuple[float, float, str]]:
        """Incident windows (``outages``, ``bad_deploys``) starting in one UTC hour, from (seed, hour)."""
        key = (name, hour)
        got = self._incident_cache.get(key)
        if got is None:
            spec = self.outages if name == "outages" else self.deploys
            hr = random.Random(derive_seed(self.seed, self.node, name, str(hour)))
            got = []
            if spec["per_day"] > 0 and hr.random() < spec["per_day"] / 24:
                lo, hi = spec["duration_seconds"]
                a = hour * 3600 + hr.random() * 3600
                got.append((a, a + hr.uniform(lo, hi), DEPLOY_BREAKS[int(hr.random() * len(DEPLOY_BREAKS))]))
            if len(self._incident_cache) > 512:
                self._incident_cache.clear()
            self._incident_cache[key] = got
        return got

    def _incidents(self, hour: int) -> list[tuple[float, float, str, bool]]:
        """Incident windows that can cover a time in ``hour`` (those starting in it or in the hour before)."""
        if hour != self._incident_hour:
            self._incident_hour = hour
            self._incidents_now = [
                (a, b, kind, name == "outages")
                for name in ("outages", "bad_deploys")
                for a, b, kind in self._windows(name, hour) + self._windows(name, hour - 1)
            ]
        return self._incidents_now

    def in_outage(self, t: float) -> bool:
        """True inside a correlated upstream outage (502/503 for dynamic requests; static files load)."""
        return any(outage and a <= t < b for a, b, _, outage in self._incidents(int(t // 3600)))

    def broken_by_deploy(self, t: float) -> str:
        """The page type a bad release breaks at ``t`` (500 until it is rolled back), else ``""``."""
        for a, b, kind, outage in self._incidents(int(t // 3600)):
            if not outage and a <= t < b:
                return kind
        return ""

    # ---- arrivals ------------------------------------------------------------------------------
    def _advance_arrival(self) -> None:
        """Move ``next_arrival`` by an exponential gap at the current session rate."""
        t = self.next_arrival
        if self.rate <= 0:
            self.next_arrival = math.inf  # no traffic at all
            return
        per_visit = self.lines_per_session
        if self.regulated:  # the running mean of every visit made so far
            per_visit = (self.pool.total_lines + self.planned) / (len(self.pool.sessions) + self.started)
        for _ in range(24 * 8):  # the hourly multipliers sum to > 0, so a non-zero hour comes within 8 days
            lam = self.rate * self.multiplier(t) / per_visit
            if lam > 0:
                if self.regulated:
                    lam *= self._regulation(t)
                self.next_arrival = t + self.rng.expovariate(lam)
                return
            t = (int(t // 3600) + 1) * 3600.0  # no traffic this hour: try the next one
        self.next_arrival = math.inf

    def _regulation(self, t: float) -> float:
        """Flat mode: the factor on the arrival rate that closes the gap between requests due and planned."""
        self._due += self.rate * self.multiplier(self._due_t) * (t - self._due_t)
        self._due_t = t
        gap = (self._due - self.planned) / (self.rate * REGULATION_SECONDS)
        return min(max(1.0 + gap, 0.2), 5.0)

    def advance(self, until: float) -> None:
        """Start every session that arrives before ``until`` (their requests may lie beyond it)."""
        while self.next_arrival < until:
            if self.regulated:  # count the visit's requests: lay it out apart, then file it (same order)
                main, self.buckets = self.buckets, {}
                self.session(self.next_arrival)
                laid_out, self.buckets = self.buckets, main
                for sec, events in laid_out.items():
                    self.planned += len(events)
                    b = main.get(sec)
                    if b is None:
                        main[sec] = events
                    else:
                        b.extend(events)
            else:
                self.session(self.next_arrival)
            self.started += 1
            self._advance_arrival()
        self.steady.file(until)

    def drop_before(self, sec: int) -> None:
        """Forget events before ``sec`` (a window the caller skipped)."""
        for s in [s for s in self.buckets if s < sec]:
            del self.buckets[s]

    def pop(self, sec: int) -> list[Event]:
        """Take the events of one second, in generation order."""
        return self.buckets.pop(sec, [])

    def seconds(self, start: int, end: int) -> Iterator[tuple[int, list[Event]]]:
        """Advance to ``end`` and yield each second's events in ``[start, end)``, dropping older ones."""
        self.advance(float(end))
        self.drop_before(start)
        for sec in range(start, end):
            evs = self.buckets.pop(sec, None)
            if evs:
                yield sec, evs

    # ---- sessions ------------------------------------------------------------------------------
    def _sid(self) -> str:
        self.sessions += 1
        return f"{((self.sessions * GOLDEN) ^ self.salt) & MASK64:016x}"

    def session(self, t: float) -> None:
        """Lay out one visit starting at ``t``: a human, a crawler, a scanner, staff or a widget view."""
        u = self.rng.random()
        if u < self.p_crawler:
            self._crawler(t)
        elif u < self.p_crawler + self.p_scanner:
            self._scanner(t)
        elif u < self.p_crawler + self.p_scanner + self.p_staff:
            self._staff(t)
        elif u < self.p_crawler + self.p_scanner + self.p_staff + self.p_embed:
            self._embed(t)
        else:
            self._human(t)

    def _emit(self, t: float, ident: Ident, req: Req, status: int, nbytes: int, ref: str) -> None:
        sec = int(t)
        b = self.buckets.get(sec)
        if b is None:
            b = self.buckets[sec] = []
        b.append((int((t - sec) * 1000), ident, req, status, nbytes, ref))

    def _status(self, t: float, req: Req) -> tuple[int, int]:
        """Status and body size of a dynamic request: the resource's own status, incidents, hiccups."""
        st = req.status
        if st >= 400:  # a missing resource is missing whenever it is asked for
            return st, req.size
        r = self.rng.random
        if not self._calm_from <= t < self._calm_until:  # most hours have no incident at all
            hour = int(t // 3600)
            incidents = self._incidents(hour)
            if not incidents:
                self._calm_from, self._calm_until = hour * 3600.0, hour * 3600.0 + 3600.0
            for a, b, kind, outage in incidents:
                if a <= t < b:
                    if outage:
                        if r() < self.p_outage:
                            st = 502 if r() < 0.6 else 503
                            return st, ERROR_PAGE_BYTES[st]
                    elif kind == req.kind:
                        return 500, ERROR_PAGE_BYTES[500]
        u = r()
        if u < self.p_upstream:
            st = 502 if u < self.p_upstream / 2 else 504
            return st, ERROR_PAGE_BYTES[st]
        if st >= 300 or req.size == 0:
            return st, 0
        return st, int(req.size * (0.85 + 0.3 * u))

    def _view(
        self, t: float, ident: Ident, page: Page, ref: str, cache: set[int], warm: bool
    ) -> tuple[float, int]:
        """A page request and, if it succeeded, what the browser fetches for it: the assets it does not have
        (each once per visit; a warm cache keeps hashed files for good and revalidates a few others) and
        the page's XHR calls."""
        r = self.rng.random
        req = page.req
        st, nb = self._status(t, req)
        buckets = self.buckets
        bsec = int(t)
        b = buckets.get(bsec)
        if b is None:
            b = buckets[bsec] = []
        b.append((int((t - bsec) * 1000), ident, req, st, nb, ref))
        if st >= 400:
            return t, st
        url = req.url
        ta = t + req.latency / 1000.0
        todo = page.aids.difference(cache)  # most later pages only add an image or two
        cache.update(todo)
        assets = self.site.assets
        for aid in sorted(todo) if todo else ():  # asset ids follow the page's loading order (css, js first)
            a = assets[aid]
            if warm and a.status < 400:
                if a.immutable or r() >= REVALIDATE:
                    continue  # fresh in the browser's cache: no request at all
                ast, anb = 304, 0
            else:
                ast, anb = a.status, a.size
            ta += 0.004 + r() * 0.05
            sec = int(ta)
            if sec != bsec:  # most assets land in the page's second: one bucket lookup for all
                bsec = sec
                b = buckets.get(sec)
                if b is None:
                    b = buckets[sec] = []
            b.append((int((ta - sec) * 1000), ident, a, ast, anb, url))
        for p, reqs in page.xhr:
            if r() < p:
                x = reqs[int(r() * len(reqs))]
                ta += 0.05 + r() * 0.4
                xst, xnb = self._status(ta, x)
                sec = int(ta)
                b = buckets.get(sec)
                if b is None:
                    b = buckets[sec] = []
                b.append((int((ta - sec) * 1000), ident, x, xst, xnb, url))
        return ta, st

    def _think(self) -> float:
        return self.think[self.rng.getrandbits(12)]

    def _human(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        bits = rng.getrandbits
        site = self.site
        think = self.think
        pages_of = self.page_tables
        nexts = self.next_tables
        sid = self._sid()
        pv = 0 if r() < self.p_http1 else 1
        upgrade = pv == 1 and r() < self.p_http3  # alt-svc learnt on the first page: HTTP/3 from then on
        ident = Ident(self.addresses.draw(rng), "-", "", sid, self.browsers.draw(rng), pv)
        login = r() < self.p_login
        u = r()
        end = (
            "logout"
            if u < self.p_end_logout
            else ("error" if u < self.p_end_logout + self.p_end_error else "")
        )
        warm = r() < self.p_returning
        cache: set[int] = set()
        current = self.referrers.draw(rng) if r() < self.p_external else "-"
        if current != "-" and r() < self.p_dead:  # an old link or bookmark to a page that is gone
            dead = site.dead[int(r() * len(site.dead))]
            self._emit(t, ident, dead, dead.status, dead.size, current)
            if r() < 0.6:
                return
            t += 2.0 + think[bits(12)]
            current, kind = dead.url, "home"
        else:
            kind = self.entry.draw(rng)
        logged_in = False
        views = 0
        while True:
            if kind in LOGIN_REQUIRED and not logged_in:
                target = pages_of[kind][bits(12)].req
                self._emit(t, ident, target, 302, 0, current)  # -> /login?next=...
                t, st = self._view(t + 0.2, ident, site.login_page, current, cache, warm)
                if not login or st >= 400:
                    end = ""
                    break  # the login wall ends an anonymous visit
                current = site.login_page.req.url
                t, ident, logged_in = self._log_in(t, ident, current)
                if not logged_in:
                    end = ""
                    break
                current = site.login_page.req.url
            page = pages_of[kind][bits(12)]
            if kind == "checkout":
                t, st, current = self._checkout(t, ident, page, current, cache, warm)
            else:
                t, st = self._view(t, ident, page, current, cache, warm)
                for _ in range(2):  # a visitor reloads a failed page once or twice, then may give up
                    if st < 500 or r() < 0.4:
                        break
                    t, st = self._view(t + 2.0 + r() * 5.0, ident, page, current, cache, warm)
                if st >= 500 and r() < 0.7:
                    return
                if st < 400:  # after an error page the visitor goes back and clicks on from there
                    current = page.req.url
            views += 1
            if upgrade and ident.pv == 1:
                ident = ident.but(pv=2)
            if login and not logged_in and views == 1:
                t, st = self._view(t + 2.0 + r() * 6.0, ident, site.login_page, current, cache, warm)
                if st < 400:
                    current = site.login_page.req.url
                    t, ident, logged_in = self._log_in(t, ident, current)
                    if logged_in and r() < 0.5:
                        kind = "account"
                        continue
            if views >= self.pages_max or (views == 1 and r() < self.p_bounce):
                break
            nxt = nexts[kind][bits(12)]
            if nxt == EXIT:
                break
            if kind == "product":
                if r() < self.p_dead / 3:  # the size guide every product page links to was never published
                    t += 2.0 + r() * 10.0
                    bl = site.broken_link
                    self._emit(t, ident, bl, bl.status, bl.size, current)
                if nxt == "cart":  # "add to cart" is an XHR; then the cart opens
                    t += 1.0 + r() * 4.0
                    st, nb = self._status(t, site.cart_add)
                    self._emit(t, ident, site.cart_add, st, nb, current)
                    t += 0.5 + r()
                    kind = nxt
                    continue
            t += think[bits(12)]
            kind = nxt
        if end == "logout" and logged_in:
            self._emit(t + think[bits(12)], ident, site.logout, 302, 0, current)
        elif end == "error":  # a transient upstream failure on the last click, and the visitor gives up
            last = pages_of[kind][bits(12)].req
            st = 502 if r() < 0.5 else 504
            self._emit(t + think[bits(12)], ident, last, st, ERROR_PAGE_BYTES[st], current)

    def _log_in(self, t: float, ident: Ident, current: str) -> tuple[float, Ident, bool]:
        """Submit the login form (a mistyped password re-renders it); a form login sets no $remote_user."""
        r = self.rng.random
        site = self.site
        t += 4.0 + r() * 12.0
        if r() < 0.08:
            self._emit(t, ident, site.login_post, 200, 8_100, current)  # wrong password: the form again
            t += 5.0 + r() * 10.0
        st, nb = self._status(t, site.login_post)
        self._emit(t, ident, site.login_post, st, nb, current)
        if st >= 400:
            return t, ident, False
        uidx = int(r() * len(self.users))
        return t + 0.3 + r(), ident.but(uid=str(10_000 + uidx), account=self.users[uidx]), True

    def _checkout(
        self, t: float, ident: Ident, page: Page, current: str, cache: set[int], warm: bool
    ) -> tuple[float, int, str]:
        """The checkout funnel: the checkout page, the payment POST and the confirmation.

        Returns the time, the status of the last page and the page the visitor is on afterwards."""
        r = self.rng.random
        site = self.site
        t, st = self._view(t, ident, page, current, cache, warm)
        if st >= 400:
            return t, st, current
        if r() < 0.3:  # 30% abandon on the checkout page
            return t, st, page.req.url
        t += 20.0 + r() * 60.0
        st, nb = self._status(t, site.payment_post)
        self._emit(t, ident, site.payment_post, st, nb, page.req.url)
        if st >= 400:
            return t, st, page.req.url
        t += 0.5 + r() * 2.0
        t, st = self._view(t, ident, site.confirmation, page.req.url, cache, warm)
        return t, st, site.confirmation.req.url if st < 400 else page.req.url

    def _staff(self, t: float) -> None:
        """A staff member in /admin/, behind HTTP Basic auth: 401 until the browser sends credentials."""
        rng = self.rng
        r = rng.random
        site = self.site
        pools = site.pools
        anon = Ident(
            pools.shared_addresses[
                -1 - int(r() * min(3, len(pools.shared_addresses)))
            ],  # the office gateways
            "-",
            "",
            self._sid(),
            self.desktops.draw(rng),
            1,
        )
        user = pools.staff[int(r() * len(pools.staff))]
        home = site.admin[0].req
        self._emit(t, anon, home, 401, ERROR_PAGE_BYTES[401], "-")
        t += 3.0 + r() * 6.0
        if r() < 0.1:  # a mistyped password: 401 with the user name nginx was given
            self._emit(t, anon.but(user=user), home, 401, ERROR_PAGE_BYTES[401], "-")
            t += 4.0 + r() * 8.0
        ident = anon.but(user=user)
        cache: set[int] = set()
        current = "-"
        for i in range(3 + int(r() * 10)):
            page = site.admin[0] if i == 0 else site.admin[int(r() * len(site.admin))]
            t, _st = self._view(t, ident, page, current, cache, True)
            current = page.req.url
            t += self._think()

    def _embed(self, t: float) -> None:
        """The reviews widget on the brand's blog: a cross-origin XHR, so a CORS preflight comes first."""
        rng = self.rng
        r = rng.random
        site = self.site
        ident = Ident(self.addresses.draw(rng), "-", "", self._sid(), self.browsers.draw(rng), 1)
        pre, get = site.embeds[int(r() * r() * len(site.embeds))]
        self._emit(t, ident, pre, 204, 0, site.embed_origin)
        t += 0.03 + r() * 0.15
        st, nb = self._status(t, get)
        self._emit(t, ident, get, st, nb, site.embed_origin)

    def _crawler(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        pv = 0 if r() < 0.5 else 1  # search crawlers use HTTP/1.1 and HTTP/2 about equally, never HTTP/3
        ident = Ident(
            rng.choice(self.site.pools.crawler_ips), "-", "", self._sid(), self.crawlers.draw(rng), pv
        )
        site = self.site
        self._emit(t, ident, site.robots, 200, site.robots.size, "-")
        if r() < 0.3:
            t += 1.0 + r() * 3.0
            self._emit(t, ident, site.sitemap, 200, site.sitemap.size, "-")
        bits, status, buckets, p_dead, dead = (
            rng.getrandbits,
            self._status,
            self.buckets,
            self.p_dead,
            site.dead,
        )
        tables = [self.page_tables[k] for k in ("product", "product", "category", "home", "info", "search")]
        for _ in range(5 + int(r() * 40)):
            t += 0.5 + r() * 8.0
            # now and then a URL it remembers from before it was removed
            req = dead[int(r() * len(dead))] if r() < p_dead else tables[int(r() * 6)][bits(12)].req
            st, nb = status(t, req)
            sec = int(t)
            b = buckets.get(sec)
            if b is None:
                b = buckets[sec] = []
            b.append((int((t - sec) * 1000), ident, req, st, nb, "-"))

    def _scanner(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        ident = Ident(
            rng.choice(self.site.pools.scanner_ips), "-", "", self._sid(), self.scanners.draw(rng), 0
        )
        site = self.site
        if r() < 0.3:
            junk = site.junk[int(r() * len(site.junk))]
            self._emit(t, ident, junk, 400, junk.size, "-")
        for _ in range(self.scan_lo + int(r() * (self.scan_hi - self.scan_lo + 1))):
            t += 0.02 + r() * 0.4
            probe = site.probes[int(r() * len(site.probes))]
            self._emit(t, ident, probe, probe.status, probe.size, "-")


def _distribution(row: dict[str, float]) -> WeightedTable:
    """A page-type distribution (entry page, a transition matrix row) as a lookup table."""
    items = tuple(k for k, p in row.items() if p > 0)
    return weighted_table(items, tuple(row[k] for k in items))
