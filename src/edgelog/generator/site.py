"""The simulated shop: every request the traffic model can make, built and escaped once.

A :class:`Req` is one possible request line (method, path, protocol) with everything a formatter needs
pre-computed: the nginx-escaped request string, a typical response size and latency. Pages carry the
static assets a browser fetches after them. Sessions only pick ``Req`` objects; nothing is formatted or
escaped per line.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from edgelog.generator.config import PAGE_KINDS, GeneratorConfig
from edgelog.generator.escape import nginx_escape
from edgelog.generator.pools import (
    JUNK_REQUESTS,
    SCANNER_PROBES,
    Pools,
    WeightedTable,
    build_pools,
    zipf_weights,
)

LOGIN_REQUIRED = frozenset({"account", "orders", "admin", "checkout"})
PAGE_SIZES = {
    "home": 42_000,
    "category": 36_000,
    "product": 29_000,
    "search": 31_000,
    "cart": 17_000,
    "account": 12_500,
    "orders": 15_000,
    "api": 2_400,
    "info": 9_500,
    "admin": 21_000,
    "login": 7_800,
    "checkout": 14_000,
    "robots": 0,
}
PAGE_LATENCY_MS = {
    "home": 45.0,
    "category": 80.0,
    "product": 65.0,
    "search": 140.0,
    "cart": 55.0,
    "account": 70.0,
    "orders": 110.0,
    "api": 25.0,
    "info": 15.0,
    "admin": 160.0,
    "login": 30.0,
    "checkout": 220.0,
    "asset": 1.5,
}
# Body sizes of nginx's built-in error pages, so error lines look like the real thing.
ERROR_PAGE_BYTES = {400: 157, 401: 179, 403: 153, 404: 153, 405: 157, 500: 177, 502: 157, 503: 190, 504: 167}


class Req:
    """One request line the simulated clients can send."""

    __slots__ = ("c", "kind", "latency", "login", "method", "page", "path", "proto", "size", "status", "url")

    def __init__(
        self, method: str, path: str, kind: str, size: int, *, proto: str = "HTTP/1.1", host: str = ""
    ):
        self.method = method
        self.path = path
        self.proto = proto
        self.kind = kind
        self.size = size
        self.status = 200  # what the server normally answers (scanner probes: 403/404/...)
        self.latency = PAGE_LATENCY_MS.get(kind, 20.0)
        self.login = kind in LOGIN_REQUIRED
        self.page = method == "GET" and kind not in ("api", "asset", "robots", "probe", "junk")
        self.c = nginx_escape(f"{method} {path} {proto}") if method else nginx_escape(path)
        self.url = f"{host}{path}"  # what a browser sends as Referer after this page (URL-safe ASCII)


def junk_req(raw: bytes) -> Req:
    """A non-HTTP payload (TLS handshake, SSH banner) that nginx logs as the escaped raw request."""
    r = Req("", nginx_escape(raw), "junk", ERROR_PAGE_BYTES[400], proto="")
    r.c = r.path
    r.status = 400
    return r


@dataclass
class Page:
    """An HTML page and the static assets a browser loads after it."""

    req: Req
    assets: list[Req] = field(default_factory=list)


@dataclass
class Site:
    """Every page, asset and special request of the simulated shop."""

    base_url: str
    pages: dict[str, list[Page]]
    tables: dict[str, WeightedTable]  # per kind: which page of that kind is requested
    api: list[Req]
    api_table: WeightedTable
    login_page: Page
    login_post: Req
    logout: Req
    cart_add: Req
    checkout: Page
    payment_post: Req
    confirmation: Page
    robots: Req
    sitemap: Req
    probes: list[Req]
    junk: list[Req]
    pools: Pools


def build_site(config: GeneratorConfig, seed: int) -> Site:
    """Build the shop from the config's sizes and the seeded pools (deterministic)."""
    s = config.data["site"]
    u = config.data["users"]
    pools = build_pools(
        seed,
        s["products"],
        s["categories"],
        s["search_terms"],
        u["population"],
        u["clients"],
        u["ipv6_share"],
    )
    rng = random.Random(seed ^ 0x517E)
    base = f"{s['scheme']}://{s['host']}"

    def req(method: str, path: str, kind: str, size: int | None = None) -> Req:
        return Req(method, path, kind, PAGE_SIZES.get(kind, 1000) if size is None else size, host=base)

    def asset(path: str, lo: int, hi: int) -> Req:
        return Req("GET", path, "asset", rng.randint(lo, hi), host=base)

    build = f"{rng.getrandbits(32):08x}"
    core = [
        asset(f"/static/css/main.{build}.css", 60_000, 120_000),
        asset(f"/static/js/vendor.{build}.js", 150_000, 400_000),
        asset(f"/static/js/app.{build}.js", 40_000, 120_000),
        asset("/static/img/logo.svg", 3_000, 9_000),
        asset("/static/fonts/inter-var.woff2", 60_000, 110_000),
        asset("/favicon.ico", 4_000, 16_000),
    ]
    banners = [asset(f"/images/banners/banner-{i}.webp", 40_000, 180_000) for i in range(1, 6)]
    thumbs = [asset(f"/images/thumbs/{p}.webp", 4_000, 20_000) for p in pools.products]
    product_imgs = [asset(f"/images/products/{p}-1.jpg", 30_000, 250_000) for p in pools.products]

    def page(path: str, kind: str, extra: list[Req] | None = None) -> Page:
        return Page(req("GET", path, kind), core + (extra or []))

    n = len(pools.products)
    pages: dict[str, list[Page]] = {
        "home": [page("/", "home", banners[:3] + thumbs[:4])],
        "category": [],
        "product": [],
        "search": [],
        "cart": [page("/cart", "cart")],
        "account": [page("/account", "account"), page("/account/settings", "account")],
        "orders": [page("/account/orders", "orders")]
        + [page(f"/account/orders/{100_000 + i}", "orders") for i in range(0, 200, 7)],
        "api": [],
        "info": [
            page(p, "info")
            for p in ("/about", "/contact", "/help/shipping", "/help/returns", "/privacy", "/terms")
        ],
        "admin": [page("/admin/", "admin"), page("/admin/orders", "admin"), page("/admin/products", "admin")],
    }
    for i, c in enumerate(pools.categories):
        extra = [thumbs[(i * 7 + j) % n] for j in range(4)]
        pages["category"].append(page(f"/category/{c}", "category", extra))
        pages["category"].append(page(f"/category/{c}?page=2", "category", extra[::-1]))
    for i, p in enumerate(pools.products):
        pages["product"].append(page(f"/product/{p}", "product", [product_imgs[i], thumbs[(i + 1) % n]]))
    for q in pools.search_queries:
        pages["search"].append(page(f"/search?q={q}", "search", [thumbs[zlib.crc32(q.encode()) % n]]))
    tables = {
        kind: WeightedTable(pages[kind], zipf_weights(len(pages[kind]))) for kind in PAGE_KINDS if pages[kind]
    }
    api = [req("GET", f"/api/v1/recommendations?product={p}", "api") for p in pools.products[:50]]
    api += [req("GET", f"/api/v1/stock/{1000 + i}", "api", 180) for i in range(0, n, 3)]
    api += [req("GET", "/api/v1/cart", "api", 640), req("GET", "/api/v1/session", "api", 210)]
    probes = [req(m, p, "probe", ERROR_PAGE_BYTES.get(st, 612)) for m, p, st in SCANNER_PROBES]
    for r, (m, _p, st) in zip(probes, SCANNER_PROBES, strict=True):
        r.status = st
        if st == 200:  # the probe got the home page (HEAD: headers only)
            r.size = 0 if m == "HEAD" else PAGE_SIZES["home"]
    login_post = req("POST", "/login", "login", 0)
    login_post.status = 302
    logout = req("GET", "/logout", "login", 0)
    logout.status = 302
    cart_add = req("POST", "/api/v1/cart/items", "api", 96)
    cart_add.status = 201
    payment_post = req("POST", "/checkout/payment", "checkout", 0)
    payment_post.status = 302
    return Site(
        base_url=base,
        pages=pages,
        tables=tables,
        api=api,
        api_table=WeightedTable(api, zipf_weights(len(api))),
        login_page=page("/login", "login"),
        login_post=login_post,
        logout=logout,
        cart_add=cart_add,
        checkout=page("/checkout", "checkout"),
        payment_post=payment_post,
        confirmation=page("/checkout/confirmation", "checkout"),
        robots=req("GET", "/robots.txt", "robots", 68),
        sitemap=req("GET", "/sitemap.xml", "robots", 48_210),
        probes=probes,
        junk=[junk_req(b) for b in JUNK_REQUESTS],
        pools=pools,
    )
