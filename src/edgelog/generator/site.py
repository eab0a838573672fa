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
    "embed": 1_800,
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


PROTOCOLS = ("HTTP/1.1", "HTTP/2.0", "HTTP/3.0")
"""``$server_protocol`` as nginx writes it, by a client's protocol index (``Ident.pv``)."""
NGINX_PAGE_404 = 153  # nginx's own 404 page (a static file that is missing)
APP_PAGE_404 = 9_300  # the shop's "page not found" page, rendered by the application


class Req:
    """One request line the simulated clients can send, pre-escaped once for each protocol."""

    __slots__ = (
        "aid", "c", "cv", "immutable", "kind", "latency", "login", "method", "page", "path", "protos", "size",
        "status", "url",
    )  # fmt: skip

    def __init__(self, method: str, path: str, kind: str, size: int, *, host: str = ""):
        self.method = method
        self.path = path
        self.kind = kind
        self.size = size
        self.status = 200  # what the server answers outside outages (missing resources: 404, probes: 403...)
        self.latency = PAGE_LATENCY_MS.get(kind, 20.0)
        self.login = kind in LOGIN_REQUIRED
        self.page = method == "GET" and kind not in ("api", "asset", "robots", "probe", "junk")
        self.protos = PROTOCOLS
        line = nginx_escape(f"{method} {path} ")  # the protocols are plain ASCII: escape the rest once
        self.cv = (line + PROTOCOLS[0], line + PROTOCOLS[1], line + PROTOCOLS[2])
        self.c = self.cv[0]
        self.url = f"{host}{path}"  # what a browser sends as Referer after this page (URL-safe ASCII)
        self.aid = -1  # static assets: index in the site's asset list (a browser's cache key)
        self.immutable = False  # content-hashed asset: cached for good once fetched


def junk_req(raw: bytes) -> Req:
    """A non-HTTP payload (TLS handshake, SSH banner) that nginx logs as the escaped raw request."""
    r = Req("", nginx_escape(raw), "junk", ERROR_PAGE_BYTES[400])
    r.c = r.path
    r.cv = (r.path, r.path, r.path)
    r.protos = ("", "", "")
    r.status = 400
    return r


@dataclass
class Page:
    """An HTML page, the static assets it references and the XHR calls its scripts make."""

    req: Req
    assets: list[Req] = field(default_factory=list)
    xhr: list[tuple[float, list[Req]]] = field(default_factory=list)  # (probability per view, one of these)
    aids: frozenset[int] = frozenset()  # the assets' cache keys

    def __post_init__(self) -> None:
        self.aids = frozenset(a.aid for a in self.assets)


@dataclass
class Site:
    """Every page, asset and special request of the simulated shop."""

    base_url: str
    pages: dict[str, list[Page]]
    tables: dict[str, WeightedTable]  # per page type: which page of that type is requested
    login_page: Page
    login_post: Req
    logout: Req
    cart_add: Req
    payment_post: Req
    confirmation: Page
    admin: list[Page]  # the HTTP Basic-auth area (staff)
    assets: list[Req]  # every static asset, indexed by ``Req.aid`` (a browser cache's key)
    dead: list[Req]  # removed products and retired pages: the application answers 404
    broken_link: Req  # a help page linked from every product page that was never published
    embeds: list[tuple[Req, Req]]  # (CORS preflight, GET) of the reviews widget on the brand's blog
    embed_origin: str
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
        u["shared_addresses"],
    )
    rng = random.Random(seed ^ 0x517E)
    base = f"{s['scheme']}://{s['host']}"
    assets: list[Req] = []

    def req(method: str, path: str, kind: str, size: int | None = None, status: int = 200) -> Req:
        r = Req(method, path, kind, PAGE_SIZES.get(kind, 1000) if size is None else size, host=base)
        r.status = status
        return r

    def asset(path: str, lo: int, hi: int, *, immutable: bool = False) -> Req:
        a = Req("GET", path, "asset", rng.randint(lo, hi), host=base)
        a.aid, a.immutable = len(assets), immutable
        assets.append(a)
        return a

    build = f"{rng.getrandbits(32):08x}"  # the release's content hash, in the built files' names
    core = [
        asset(f"/static/css/main.{build}.css", 60_000, 120_000, immutable=True),
        asset(f"/static/js/vendor.{build}.js", 150_000, 400_000, immutable=True),
        asset(f"/static/js/app.{build}.js", 40_000, 120_000, immutable=True),
        asset(f"/static/fonts/inter-var.{build}.woff2", 60_000, 110_000, immutable=True),
        asset("/static/img/logo.svg", 3_000, 9_000),
        asset("/favicon.ico", 4_000, 16_000),
    ]
    lo, hi = s["assets_per_page"]
    banners = [asset(f"/images/banners/banner-{i}.webp", 40_000, 180_000) for i in range(1, 6)]
    thumbs = [asset(f"/images/thumbs/{p}.webp", 4_000, 20_000) for p in pools.products]
    product_imgs = [asset(f"/images/products/{p}-1.jpg", 30_000, 250_000) for p in pools.products]
    n = len(pools.products)
    for img in rng.sample(product_imgs, round(n * config.data["errors"]["broken_images"])):
        img.status, img.size = 404, NGINX_PAGE_404  # never uploaded: every view of the product misses it

    def page(path: str, kind: str, extra: list[Req] | None = None, xhr: list | None = None) -> Page:
        refs = (core + (extra or []))[: lo + int(rng.random() * (hi - lo + 1))]
        return Page(req("GET", path, kind), refs, xhr or [])

    def api(method: str, path: str, size: int, status: int = 200) -> Req:
        return req(method, path, "api", size, status)

    items = [100_000 + 37 * i for i in range(40)]
    addresses = [1 + i for i in range(20)]
    cart_xhr = [
        (1.0, [api("GET", "/api/v1/cart", 640)]),
        (0.25, [api("PATCH", f"/api/v1/cart/items/{i}", 640) for i in items]),
        (0.1, [api("DELETE", f"/api/v1/cart/items/{i}", 0, 204) for i in items]),
    ]
    account_xhr = [
        (0.12, [api("PUT", f"/api/v1/account/addresses/{a}", 420) for a in addresses]),
        (0.1, [api("PATCH", "/api/v1/account/preferences", 180)]),
        (0.04, [api("DELETE", f"/api/v1/account/addresses/{a}", 0, 204) for a in addresses]),
    ]
    pages: dict[str, list[Page]] = {
        "home": [page("/", "home", banners[:3] + thumbs[:4], [(0.3, [api("GET", "/api/v1/session", 210)])])],
        "category": [],
        "product": [],
        "search": [],
        "cart": [page("/cart", "cart", xhr=cart_xhr)],
        "checkout": [page("/checkout", "checkout")],
        "account": [
            page("/account", "account", xhr=account_xhr),
            page("/account/settings", "account", xhr=account_xhr),
        ],
        "orders": [page("/account/orders", "orders")]
        + [page(f"/account/orders/{100_000 + i}", "orders") for i in range(0, 200, 7)],
        "info": [
            page(p, "info")
            for p in ("/about", "/contact", "/help/shipping", "/help/returns", "/privacy", "/terms")
        ],
    }
    for i, c in enumerate(pools.categories):
        extra = [thumbs[(i * 7 + j) % n] for j in range(4)]
        pages["category"].append(page(f"/category/{c}", "category", extra))
        pages["category"].append(page(f"/category/{c}?page=2", "category", extra[::-1]))
    for i, p in enumerate(pools.products):
        xhr = [
            (0.6, [api("GET", f"/api/v1/recommendations?product={p}", 2_400)]),
            (0.4, [api("GET", f"/api/v1/stock/{1000 + i}", 180)]),
        ]
        pages["product"].append(page(f"/product/{p}", "product", [product_imgs[i], thumbs[(i + 1) % n]], xhr))
    for q in pools.search_queries:
        suggest = [(0.5, [api("GET", f"/api/v1/search/suggest?q={q}", 900)])]
        pages["search"].append(
            page(f"/search?q={q}", "search", [thumbs[zlib.crc32(q.encode()) % n]], suggest)
        )
    tables = {kind: WeightedTable(pages[kind], zipf_weights(len(pages[kind]))) for kind in PAGE_KINDS}
    probes = [req(m, p, "probe", ERROR_PAGE_BYTES.get(st, 612), st) for m, p, st in SCANNER_PROBES]
    for r in probes:
        if r.status == 200:  # the probe got the home page (HEAD: headers only)
            r.size = 0 if r.method == "HEAD" else PAGE_SIZES["home"]
    retired = (
        "/category/black-friday-2024",
        "/collections/summer-essentials",
        "/blog/gift-guide",
        "/old-shop/",
    )
    dead = [req("GET", f"/product/{p}", "product", APP_PAGE_404, 404) for p in pools.removed_products]
    dead += [req("GET", p, "info", APP_PAGE_404, 404) for p in retired]
    parent = s["host"].split(".", 1)[-1] if s["host"].count(".") >= 2 else s["host"]
    embeds = [
        (
            api("OPTIONS", f"/api/v1/products/{p}/reviews", 0, 204),
            api("GET", f"/api/v1/products/{p}/reviews", 1_800),
        )
        for p in pools.products[:60]
    ]
    admin_assets = [asset(f"/static/admin/admin.{build}.css", 20_000, 40_000, immutable=True),
                    asset(f"/static/admin/admin.{build}.js", 80_000, 160_000, immutable=True)]  # fmt: skip
    admin = [
        Page(req("GET", p, "admin"), admin_assets)
        for p in ("/admin/", "/admin/orders", "/admin/products", "/admin/customers", "/admin/reports")
    ]
    return Site(
        base_url=base,
        pages=pages,
        tables=tables,
        login_page=page("/login", "login"),
        login_post=req("POST", "/login", "login", 0, 302),
        logout=req("GET", "/logout", "login", 0, 302),
        cart_add=api("POST", "/api/v1/cart/items", 96, 201),
        payment_post=req("POST", "/checkout/payment", "checkout", 0, 302),
        confirmation=page("/checkout/confirmation", "checkout"),
        admin=admin,
        assets=assets,
        dead=dead,
        broken_link=req("GET", "/help/size-guide", "info", APP_PAGE_404, 404),
        embeds=embeds,
        embed_origin=f"https://blog.{parent}/",
        robots=req("GET", "/robots.txt", "robots", 68),
        sitemap=req("GET", "/sitemap.xml", "robots", 48_210),
        probes=probes,
        junk=[junk_req(b) for b in JUNK_REQUESTS],
        pools=pools,
    )
