"""The traffic model: session arrivals shaped by time of day, and each session's request plan.

A session is a small state machine, START -> LOGIN | DIRECT -> BROWSING -> LOGOUT | ABANDON | ERROR, decided
when the session starts; it then lays out its whole request plan (page views, the assets each page pulls,
XHR calls, the checkout funnel) into per-second buckets. Formatters turn a second's bucket into text, so
the plan is made once and written in any format. All randomness comes from one ``random.Random`` seeded
from (seed, node), and time comes only from the caller: same seed, config and start give the same plan.

Events are tuples ``(ms, ident, req, status, bytes, referer)``: ``ident`` is the client (address, user,
agent, session), ``req`` a pre-built :class:`~edgelog.generator.site.Req`.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterator, Sequence

from edgelog.generator.config import ERROR_STATUS, PAGE_KINDS, STATUS_ERRORS, GeneratorConfig
from edgelog.generator.escape import nginx_escape
from edgelog.generator.pools import BROWSER_AGENTS, CRAWLER_AGENTS, SCANNER_AGENTS, WeightedTable
from edgelog.generator.site import ERROR_PAGE_BYTES, LOGIN_REQUIRED, Page, Req, build_site

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
WARMUP = 300.0  # seconds of sessions simulated before the start so traffic begins in steady state
Event = tuple[int, "Ident", Req, int, int, str]


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
    """A client as it appears in a log line; the combined-format prefix and suffix are built once."""

    __slots__ = ("cpre", "csuf", "ip", "sid", "ua", "uid", "user")

    def __init__(self, ip: str, user: str, uid: str, sid: str, ua: tuple[str, str]):
        self.ip = ip
        self.user = user
        self.uid = uid
        self.sid = sid
        self.ua = ua[0]
        self.cpre = f"{ip} - {nginx_escape(user) if user != '-' else '-'} ["
        self.csuf = f' "{ua[1]}"\n'


def _agents(items: list[tuple[str, float]]) -> WeightedTable:
    return WeightedTable([(ua, nginx_escape(ua)) for ua, _ in items], [w for _, w in items])


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
    ):
        d = config.data
        self.config = config
        self.site = build_site(config, seed)
        self.rng = random.Random(derive_seed(seed, node, "traffic"))
        self.seed = seed
        self.node = node
        self.salt = derive_seed(seed, node, "ids")
        self.buckets: dict[int, list[Event]] = {}
        self.sessions = 0
        self.rate = d["traffic"]["requests_per_second"] if rate is None else float(rate)
        self.shaped = d["traffic"]["shaped"] if shaped is None else shaped
        hourly = d["traffic"]["hourly_multipliers"]
        mean = sum(hourly) / len(hourly)
        self.hourly = [m / mean for m in hourly]
        self.weekend = d["traffic"]["weekend_factor"]
        self.burst = d["traffic"]["burst"]
        self.outages = d["errors"]["outages"]
        sess = d["sessions"]
        self.p_login = sess["start"]["login"]
        self.p_end_logout = sess["end"]["logout"]
        self.p_end_error = sess["end"]["error"]
        self.geo_p = 1.0 / sess["pages_mean"]
        self.pages_max = sess["pages_max"]
        self.think_mu = math.log(max(sess["think_time_median_seconds"], 0.001))
        self.think_max = sess["think_time_max_seconds"]
        self.p_external = sess["external_referrer_share"]
        self.p_returning = sess["returning_visitor_share"]
        self.p_checkout = sess["checkout_share"]
        self.assets_lo, self.assets_hi = d["site"]["assets_per_page"]
        weights = sess["page_weights"]
        anon_kinds = [k for k in PAGE_KINDS if k not in LOGIN_REQUIRED and weights[k] > 0] or ["home"]
        all_kinds = [k for k in PAGE_KINDS if weights[k] > 0]
        self.anon_kinds = WeightedTable(anon_kinds, [weights[k] or 1.0 for k in anon_kinds])
        self.user_kinds = WeightedTable(all_kinds, [weights[k] for k in all_kinds])
        self.p_crawler = d["bots"]["crawler_share"]
        self.p_scanner = d["bots"]["scanner_share"]
        self.scan_lo, self.scan_hi = d["bots"]["scanner_requests"]
        rates = d["errors"]["rates"]
        self.p_error = sum(rates.values())
        err_keys = [k for k in STATUS_ERRORS if rates[k] > 0] or ["server_error"]
        self.err_table = WeightedTable([ERROR_STATUS[k] for k in err_keys], [rates[k] or 1 for k in err_keys])
        five = [k for k in STATUS_ERRORS if ERROR_STATUS[k] >= 500]
        self.fatal_table = WeightedTable([ERROR_STATUS[k] for k in five], [rates[k] + 1e-3 for k in five])
        pools = self.site.pools
        self.clients = WeightedTable(pools.client_ips, _client_weights(len(pools.client_ips)))
        self.users = pools.usernames
        # current browsers by market share, plus a 6% long tail of older agents from Faker
        tail = [(ua, 6.0 / len(pools.user_agents)) for ua in pools.user_agents]
        self.browsers = _agents(BROWSER_AGENTS + tail)
        self.crawlers = _agents(CRAWLER_AGENTS)
        self.scanners = _agents(SCANNER_AGENTS)
        self.referrers = WeightedTable(
            [u for u, _ in pools.referrer_urls], [w for _, w in pools.referrer_urls]
        )
        self._hour_cache: dict[int, tuple[float, list[tuple[float, float]]]] = {}
        self._outage_cache: dict[int, list[tuple[float, float]]] = {}
        self.forced_bursts: list[tuple[float, float]] = []
        for b0 in bursts:
            self.add_burst(b0)
        self._outage_hour = -1
        self._outage_now: list[tuple[float, float]] = []
        self.p_outage = self.outages["error_share"] if self.outages["per_day"] > 0 else 0.0
        self.lines_per_session = self._calibrate()
        # Start sessions WARMUP seconds early and drop their events before ``start``: the first minutes
        # then already carry the sessions in progress instead of ramping up from zero.
        self.start = int(start)
        self.next_arrival = float(start) - WARMUP
        self._advance_arrival()
        self.advance(float(start))
        self.drop_before(self.start)

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
        mult, windows = self._hour(hour)
        for a, b in windows + self._hour(hour - 1)[1] + self.forced_bursts:
            if a <= t < b:
                return mult * self.burst["factor"]
        return mult

    def _outage_windows(self, hour: int) -> list[tuple[float, float]]:
        got = self._outage_cache.get(hour)
        if got is None:
            hr = random.Random(derive_seed(self.seed, self.node, "outage", str(hour)))
            got = []
            if self.outages["per_day"] > 0 and hr.random() < self.outages["per_day"] / 24:
                lo, hi = self.outages["duration_seconds"]
                a = hour * 3600 + hr.random() * 3600
                got.append((a, a + hr.uniform(lo, hi)))
            if len(self._outage_cache) > 256:
                self._outage_cache.clear()
            self._outage_cache[hour] = got
        return got

    def in_outage(self, t: float) -> bool:
        """True inside a correlated upstream outage (502/503 for dynamic pages; assets still served)."""
        hour = int(t // 3600)
        if hour != self._outage_hour:
            self._outage_hour = hour
            self._outage_now = self._outage_windows(hour) + self._outage_windows(hour - 1)
        if not self._outage_now:
            return False
        return any(a <= t < b for a, b in self._outage_now)

    # ---- arrivals ------------------------------------------------------------------------------
    def _advance_arrival(self) -> None:
        """Move ``next_arrival`` by an exponential gap at the current session rate."""
        t = self.next_arrival
        if self.rate <= 0:
            self.next_arrival = math.inf  # no traffic at all
            return
        for _ in range(24 * 8):  # the hourly multipliers sum to > 0, so a non-zero hour comes within 8 days
            lam = self.rate * self.multiplier(t) / self.lines_per_session
            if lam > 0:
                self.next_arrival = t + self.rng.expovariate(lam)
                return
            t = (int(t // 3600) + 1) * 3600.0  # no traffic this hour: try the next one
        self.next_arrival = math.inf

    def advance(self, until: float) -> None:
        """Start every session that arrives before ``until`` (their requests may lie beyond it)."""
        while self.next_arrival < until:
            self.session(self.next_arrival)
            self._advance_arrival()

    def drop_before(self, sec: int) -> None:
        """Forget events before ``sec`` (warm-up traffic, or a window the caller skipped)."""
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

    def _calibrate(self) -> float:
        """Average requests per session for this config, so ``requests_per_second`` means requests."""
        saved_rng, saved_buckets, saved_n = self.rng, self.buckets, self.sessions
        self.rng, self.buckets = random.Random(12345), {}
        self._calibrating = True
        n = 1500
        for i in range(n):
            self.session(1e9 + i * 0.5)
        total = sum(len(v) for v in self.buckets.values())
        self._calibrating = False
        self.rng, self.buckets, self.sessions = saved_rng, saved_buckets, saved_n
        return max(total / n, 1.0)

    # ---- sessions ------------------------------------------------------------------------------
    def _sid(self) -> str:
        self.sessions += 1
        return f"{((self.sessions * GOLDEN) ^ self.salt) & MASK64:016x}"

    def session(self, t: float) -> None:
        """Lay out one session starting at ``t``: a human, a crawler or a scanner."""
        u = self.rng.random()
        if u < self.p_crawler:
            self._crawler(t)
        elif u < self.p_crawler + self.p_scanner:
            self._scanner(t)
        else:
            self._human(t)

    def _emit(self, t: float, ident: Ident, req: Req, status: int, nbytes: int, ref: str) -> None:
        sec = int(t)
        b = self.buckets.get(sec)
        if b is None:
            b = self.buckets[sec] = []
        b.append((int((t - sec) * 1000), ident, req, status, nbytes, ref))

    def _status(self, t: float, req: Req) -> tuple[int, int]:
        """Status and body size of a dynamic request: configured error rates, outages, else success."""
        r = self.rng.random
        if r() < self.p_error:
            st = self.err_table.draw(self.rng)
            return st, ERROR_PAGE_BYTES[st]
        if self.p_outage and self.in_outage(t) and r() < self.p_outage:
            st = 502 if r() < 0.6 else 503
            return st, ERROR_PAGE_BYTES[st]
        st = req.status
        if st >= 300 or req.size == 0:
            return st, 0
        return st, int(req.size * (0.85 + 0.3 * r()))

    def _view(self, t: float, ident: Ident, page: Page, ref: str, cached: bool) -> tuple[float, int]:
        """A page request and, if it succeeded, the assets the browser loads after it."""
        rng = self.rng
        r = rng.random
        st, nb = self._status(t, page.req)
        self._emit(t, ident, page.req, st, nb, ref)
        if st >= 400:
            return t, st
        url = page.req.url
        k = self.assets_lo + int(r() * (self.assets_hi - self.assets_lo + 1))
        ta = t + page.req.latency / 1000.0
        buckets = self.buckets
        p_err = self.p_error
        bsec = -1
        b: list[Event] = []
        for a in page.assets[:k]:
            ta += 0.004 + r() * 0.05
            if r() < p_err:
                ast = self.err_table.draw(rng)
                anb = ERROR_PAGE_BYTES[ast]
            elif cached:
                ast, anb = 304, 0
            else:
                ast, anb = 200, a.size
            sec = int(ta)
            if sec != bsec:  # most assets land in the page's second: one bucket lookup for all
                bsec = sec
                b = buckets.get(sec)  # type: ignore[assignment]
                if b is None:
                    b = buckets[sec] = []
            b.append((int((ta - sec) * 1000), ident, a, ast, anb, url))
        return ta, st

    def _think(self) -> float:
        return min(self.rng.lognormvariate(self.think_mu, 1.0), self.think_max)

    def _pick(self, kinds: WeightedTable) -> tuple[str, Page]:
        kind = kinds.draw(self.rng)
        if kind == "api":
            return kind, None  # type: ignore[return-value]
        return kind, self.site.tables[kind].draw(self.rng)

    def _human(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        site = self.site
        sid = self._sid()
        ip = self.clients.draw(rng)
        ua = self.browsers.draw(rng)
        anon = Ident(ip, "-", "", sid, ua)
        ident = anon
        login = r() < self.p_login
        u = r()
        end = (
            "logout"
            if u < self.p_end_logout
            else ("error" if u < self.p_end_logout + self.p_end_error else "")
        )
        n = 1 + int(math.log(1.0 - r()) / math.log(1.0 - self.geo_p)) if self.geo_p < 1 else 1
        n = min(n, self.pages_max)
        cached = r() < self.p_returning
        ref = self.referrers.draw(rng) if r() < self.p_external else "-"
        if r() < 0.4:
            page = site.pages["home"][0]
        else:
            _kind, page = self._pick(self.anon_kinds)
            if page is None:
                page = site.pages["home"][0]
        login_at = (0 if r() < 0.5 else 1) if login else -1
        kinds = self.anon_kinds
        current = ref
        for i in range(n):
            if i == login_at:
                t, st = self._view(t, anon, site.login_page, current, cached)
                current = site.login_page.req.url
                t += 2.0 + r() * 12.0
                st, nb = self._status(t, site.login_post)
                self._emit(t, anon, site.login_post, st, nb, current)
                if st < 400:
                    uidx = int(r() * len(self.users))
                    ident = Ident(ip, self.users[uidx], str(10_000 + uidx), sid, ua)
                    kinds = self.user_kinds
                    page = site.pages["account"][0] if r() < 0.5 else page
                t += 0.3 + r()
            if page is None:  # an XHR from the current page instead of a navigation
                api = site.api_table.draw(rng)
                st, nb = self._status(t, api)
                self._emit(t, ident, api, st, nb, current)
            else:
                t, st = self._view(t, ident, page, current, cached)
                current = page.req.url
                if st >= 500 and r() < 0.5:
                    return  # the user gives up after a server error
                if page.req.kind == "product" and r() < 0.2:
                    t += 1.0 + r() * 4.0
                    st, nb = self._status(t, site.cart_add)
                    self._emit(t, ident, site.cart_add, st, nb, current)
                    t += 0.5 + self._think()
                    page = site.pages["cart"][0]
                    continue
                if page.req.kind == "cart" and ident is not anon and r() < self.p_checkout:
                    t += 1.0 + r() * 5.0
                    t, st = self._view(t, ident, site.checkout, current, cached)
                    current = site.checkout.req.url
                    if st < 400:
                        t += 20.0 + r() * 60.0
                        st, nb = self._status(t, site.payment_post)
                        self._emit(t, ident, site.payment_post, st, nb, current)
                        if st < 400:
                            t += 0.5 + r() * 2.0
                            t, st = self._view(t, ident, site.confirmation, current, cached)
                            current = site.confirmation.req.url
            t += self._think()
            _kind, page = self._pick(kinds)
        if end == "logout" and ident is not anon:
            self._emit(t, ident, site.logout, 302, 0, current)
        elif end == "error":
            if page is None:
                page = site.pages["home"][0]
            st = self.fatal_table.draw(rng)
            self._emit(t, ident, page.req, st, ERROR_PAGE_BYTES[st], current)

    def _crawler(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        ident = Ident(rng.choice(self.site.pools.crawler_ips), "-", "", self._sid(), self.crawlers.draw(rng))
        site = self.site
        self._emit(t, ident, site.robots, 200, site.robots.size, "-")
        if r() < 0.3:
            t += 1.0 + r() * 3.0
            self._emit(t, ident, site.sitemap, 200, site.sitemap.size, "-")
        for _ in range(5 + int(r() * 40)):
            t += 0.5 + r() * 8.0
            kind = ("product", "product", "category", "home", "info", "search")[int(r() * 6)]
            req = site.tables[kind].draw(rng).req
            st, nb = self._status(t, req)
            self._emit(t, ident, req, st, nb, "-")

    def _scanner(self, t: float) -> None:
        rng = self.rng
        r = rng.random
        ident = Ident(rng.choice(self.site.pools.scanner_ips), "-", "", self._sid(), self.scanners.draw(rng))
        site = self.site
        if r() < 0.3:
            junk = site.junk[int(r() * len(site.junk))]
            self._emit(t, ident, junk, 400, junk.size, "-")
        for _ in range(self.scan_lo + int(r() * (self.scan_hi - self.scan_lo + 1))):
            t += 0.02 + r() * 0.4
            probe = site.probes[int(r() * len(site.probes))]
            self._emit(t, ident, probe, probe.status, probe.size, "-")


def _client_weights(n: int) -> list[float]:
    """Client popularity: a long tail where a few addresses (offices, carrier NAT) send much more."""
    return [1.0 / (k + 1) ** 0.6 for k in range(n)]
