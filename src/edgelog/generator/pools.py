"""Realistic value pools, drawn once from a seeded Faker and then sampled by index.

Calling Faker per log line costs tens of microseconds; the generator needs about three per line. So Faker is
used only here, once per (seed, config) with its own seeded instance, and the hot loop picks pre-built and
pre-escaped strings by weight. Curated lists add what Faker does not know (and would get wrong): current
browser, crawler and scanner user agents weighted by market share, the origins visitors arrive from, and a
shop catalogue's vocabulary for product and category slugs.
"""

from __future__ import annotations

import functools
import random
from bisect import bisect
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import quote_plus

# Current browsers and OS versions (late 2025), weighted per visit so that the families and the device
# classes match published market shares (docs/generator.md, "Realism"): Chrome ~2/3 of visits, Safari ~1/6,
# Edge ~5%, Firefox, Samsung Internet and Opera a few percent each; ~60% of visits from phones. The strings
# are what these browsers send today: Chrome's reduced UA (frozen "Android 10; K", "Windows NT 10.0" also on
# Windows 11, "Mac OS X 10_15_7"), iPadOS asking for the desktop site, in-app browsers of social apps.
_CHROME = "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0"
_IOS = "Mozilla/5.0 (iPhone; CPU iPhone OS {os} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
BROWSER_AGENTS: list[tuple[str, float]] = [
    # phones and tablets
    (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME.format(v=142)} Mobile Safari/537.36", 28),
    (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME.format(v=141)} Mobile Safari/537.36", 6),
    (f"{_IOS.format(os='18_6')} Version/18.6 Mobile/15E148 Safari/604.1", 9),
    (f"{_IOS.format(os='18_5')} Version/18.5 Mobile/15E148 Safari/604.1", 1.5),
    (f"{_IOS.format(os='17_6_1')} Version/17.6 Mobile/15E148 Safari/604.1", 1.5),
    (f"{_IOS.format(os='18_6')} CriOS/142.0.7444.46 Mobile/15E148 Safari/604.1", 2.5),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/28.0 Chrome/130.0.0.0 Mobile Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (Linux; Android 15; Pixel 8 Build/AP4A.250105.002; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.48 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/532.0.0.55.71;]",
        1.5,
    ),
    (
        f"{_IOS.format(os='18_6')} Mobile/22G86 Instagram 400.0.0.40.95 "
        "(iPhone15,3; iOS 18_6; en_US; en; scale=3.00; 1290x2796; 742917531)",
        1,
    ),
    ("Mozilla/5.0 (Android 15; Mobile; rv:144.0) Gecko/144.0 Firefox/144.0", 0.5),
    (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME.format(v=141)} Mobile Safari/537.36 OPR/92.0.0.0", 0.5),
    (f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME.format(v=142)} Mobile Safari/537.36 EdgA/142.0.0.0", 0.3),
    # desktops, laptops and iPads (iPadOS requests the desktop site: its UA is the Mac's)
    (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME.format(v=142)} Safari/537.36", 16),
    (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME.format(v=141)} Safari/537.36", 3),
    (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME.format(v=142)} Safari/537.36", 5),
    (f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME.format(v=142)} Safari/537.36", 1),
    (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_CHROME.format(v=142)} Safari/537.36", 0.7),
    (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME.format(v=142)} Safari/537.36 Edg/142.0.0.0", 5),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.6 Safari/605.1.15",
        4,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/26.0 Safari/605.1.15",
        1,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:144.0) Gecko/20100101 Firefox/144.0", 1.8),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0", 0.3),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:144.0) Gecko/20100101 Firefox/144.0", 0.4),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:144.0) Gecko/20100101 Firefox/144.0", 0.4),
    (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME.format(v=141)} Safari/537.36 OPR/123.0.0.0", 1.2),
    # Odd but real-world agents (privacy extensions, corporate proxies): quotes, backslashes and UTF-8 that
    # nginx must escape.
    ('Mozilla/5.0 (X11; Linux x86_64) "QuotedBrowser" 1.0', 0.1),
    ("Mozilla/5.0 (Windows NT 10.0) Wörk\\Proxy/2.1 (ünïcode)", 0.1),
]

CRAWLER_AGENTS: list[tuple[str, float]] = [
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/142.0.7444.59 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        22,
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 8),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        15,
    ),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 6),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", 10),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 8),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", 4),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        4,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        6,
    ),
    ("Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)", 3),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
        "+claudebot@anthropic.com)",
        4,
    ),
    (
        "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36 "
        "(compatible; Bytespider; spider-feedback@bytedance.com)",
        3,
    ),
    (
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Amazonbot/0.1; "
        "+https://developer.amazon.com/support/amazonbot) Chrome/119.0.6045.214 Safari/537.36",
        3,
    ),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 3),
]

SCANNER_AGENTS: list[tuple[str, float]] = [
    ("Mozilla/5.0 zgrab/0.x", 20),
    ("sqlmap/1.8.11#stable (https://sqlmap.org)", 6),
    ("Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)", 6),
    ("python-requests/2.32.3", 15),
    ("curl/8.5.0", 10),
    ("Go-http-client/1.1", 12),
    ("masscan/1.3 (https://github.com/robertdavidgraham/masscan)", 5),
    ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", 4),
    ("-", 8),
]

# Paths scanners probe, with the status a hardened nginx answers.
SCANNER_PROBES: list[tuple[str, str, int]] = [
    ("GET", "/wp-admin/", 404),
    ("GET", "/wp-login.php", 404),
    ("POST", "/xmlrpc.php", 404),
    ("GET", "/.env", 403),
    ("GET", "/.git/config", 403),
    ("GET", "/.git/HEAD", 403),
    ("GET", "/phpmyadmin/", 404),
    ("GET", "/pma/index.php", 404),
    ("GET", "/admin.php", 404),
    ("GET", "/config.json", 404),
    ("GET", "/.aws/credentials", 403),
    ("GET", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", 404),
    ("GET", "/cgi-bin/luci/;stok=/locale", 404),
    ("GET", "/actuator/env", 404),
    ("GET", "/server-status", 403),
    ("GET", "/.DS_Store", 403),
    ("GET", "/backup.zip", 404),
    ("GET", "/index.php?s=/index/\\think\\app/invokefunction", 404),
    ("GET", "/?XDEBUG_SESSION_START=phpstorm", 200),
    ("GET", "/../../../../etc/passwd", 400),
    ("HEAD", "/", 200),
    ("GET", "/owa/auth/logon.aspx", 404),
    ("GET", "/boaform/admin/formLogin", 404),
    ("PROPFIND", "/", 405),
]

# What port scanners send to an HTTP port: nginx logs the raw bytes, escaped, with status 400.
JUNK_REQUESTS: list[bytes] = [
    b"\x16\x03\x01\x00\xf1\x01\x00\x00\xed\x03\x03",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    b"SSH-2.0-Go",
    b"\x00\x00\x00\x00",
]

# Where visitors come from. Browsers send only the origin across sites (the default Referrer-Policy is
# strict-origin-when-cross-origin), so external referrers are origins: search engines, the Google app, social
# networks and their link shims, webmail, AI assistants, price-comparison and deal sites.
REFERRER_ORIGINS: list[tuple[str, float]] = [
    ("https://www.google.com/", 52),
    ("https://www.google.de/", 3),
    ("https://www.google.co.uk/", 3),
    ("https://www.google.fr/", 2),
    ("android-app://com.google.android.googlequicksearchbox/", 3),
    ("https://www.bing.com/", 7),
    ("https://duckduckgo.com/", 3),
    ("https://search.yahoo.com/", 1),
    ("https://yandex.ru/", 1),
    ("https://www.ecosia.org/", 0.5),
    ("https://search.brave.com/", 0.5),
    ("https://www.facebook.com/", 3),
    ("https://l.facebook.com/", 3),
    ("https://lm.facebook.com/", 2),
    ("https://l.instagram.com/", 3),
    ("https://t.co/", 1.5),
    ("https://www.reddit.com/", 1.5),
    ("https://www.pinterest.com/", 1.5),
    ("https://www.tiktok.com/", 1),
    ("https://www.youtube.com/", 1),
    ("https://www.linkedin.com/", 0.5),
    ("https://news.ycombinator.com/", 0.2),
    ("https://mail.google.com/", 1),
    ("https://outlook.live.com/", 0.5),
    ("https://chatgpt.com/", 1),
    ("https://www.perplexity.ai/", 0.3),
    ("https://gemini.google.com/", 0.3),
    ("https://news.google.com/", 0.5),
    ("https://www.trustpilot.com/", 0.5),
    ("https://www.idealo.de/", 0.5),
    ("https://www.pricerunner.com/", 0.3),
    ("https://www.mydealz.de/", 0.3),
    ("https://slickdeals.net/", 0.3),
]

# The catalogue's vocabulary: product slugs read like a shop's (adjective-material-item[-colour]).
ADJECTIVES = [
    "classic",
    "relaxed",
    "slim",
    "oversized",
    "cropped",
    "essential",
    "everyday",
    "heritage",
    "lightweight",
    "quilted",
    "ribbed",
    "organic",
    "recycled",
    "vintage",
    "waterproof",
    "packable",
    "tailored",
    "washed",
    "brushed",
    "chunky",
]
MATERIALS = [
    "cotton",
    "linen",
    "merino",
    "wool",
    "cashmere",
    "denim",
    "leather",
    "suede",
    "canvas",
    "fleece",
    "corduroy",
    "silk",
    "ceramic",
    "stoneware",
    "bamboo",
    "hemp",
    "nylon",
    "jersey",
]
ITEMS = [
    "tee",
    "hoodie",
    "sweater",
    "cardigan",
    "jacket",
    "parka",
    "blazer",
    "shirt",
    "blouse",
    "dress",
    "skirt",
    "jeans",
    "chinos",
    "shorts",
    "leggings",
    "joggers",
    "socks",
    "scarf",
    "beanie",
    "cap",
    "gloves",
    "belt",
    "backpack",
    "tote",
    "wallet",
    "sneakers",
    "boots",
    "loafers",
    "sandals",
    "trainers",
    "mug",
    "teapot",
    "candle",
    "throw",
    "cushion",
    "towel",
    "apron",
    "bottle",
    "lamp",
    "planter",
]
COLOURS = [
    "black",
    "white",
    "navy",
    "grey",
    "olive",
    "sand",
    "rust",
    "forest",
    "cream",
    "charcoal",
    "burgundy",
    "sage",
]
CATEGORIES = [
    "new-in",
    "sale",
    "womens",
    "mens",
    "kids",
    "womens-dresses",
    "womens-knitwear",
    "womens-tops",
    "mens-shirts",
    "mens-outerwear",
    "mens-trousers",
    "shoes",
    "sneakers",
    "boots",
    "bags",
    "accessories",
    "home",
    "kitchen",
    "bedding",
    "gifts",
    "basics",
    "activewear",
    "sleepwear",
    "jewellery",
    "stationery",
]
CATALOGUE_WORDS = frozenset(ADJECTIVES + MATERIALS + ITEMS + COLOURS)
_QUERY_EXTRAS = ("women", "men", "kids", "sale", "size 42", "gift", "xl", "set of 2")

# Search terms outside ASCII: browsers percent-encode them, so they show up encoded in the request line.
NON_ASCII_TERMS = ["café crème", "über jacke", "niño", "chaussures été", "日本 茶", "smörgåsbord"]


class WeightedTable:
    """Fast weighted sampling: a 4096-slot lookup table indexed by ``getrandbits(12)``.

    Exact enough for traffic (weights are rounded to 1/4096, every item with weight > 0 gets at least one
    slot) and much faster than ``random.choices`` per draw.
    """

    BITS = 12

    def __init__(self, items: list, weights: list[float]):
        if not items or len(items) != len(weights):
            raise ValueError("items and weights must be non-empty and of equal length")
        size = 1 << self.BITS
        cum = list(accumulate(weights))
        total = cum[-1]
        table = [items[min(bisect(cum, (i + 0.5) * total / size), len(items) - 1)] for i in range(size)]
        present = {id(x) for x in table}
        missing = [x for x, w in zip(items, weights, strict=True) if w > 0 and id(x) not in present]
        for k, x in enumerate(missing):  # rare items still appear, at 1/4096
            table[(k * 997) % size] = x
        self.table = table
        self.items = items

    def draw(self, rng: random.Random) -> Any:
        return self.table[rng.getrandbits(self.BITS)]


@functools.lru_cache(maxsize=128)
def weighted_table(items: tuple[Hashable, ...], weights: tuple[float, ...]) -> WeightedTable:
    """The :class:`WeightedTable` of these items and weights, built once per process.

    A table is only read once built and depends on its items and weights alone, so every engine of a process
    (the nodes of a backfill, live restarts, a test suite's many short runs) shares one instead of filling
    4096 slots again (~1.5 ms each, a dozen per engine). Items must be hashable values (strings, tuples):
    equal items give equal draws, whichever engine first built the table.
    """
    return WeightedTable(list(items), list(weights))


def zipf_weights(n: int, s: float = 1.05) -> list[float]:
    """Popularity of the k-th item: a few products, pages and clients get most hits, as on real sites."""
    return [1.0 / (k + 1) ** s for k in range(n)]


@dataclass(frozen=True)
class Pools:
    """Everything the traffic model samples from, built once per seed."""

    usernames: list[str]  # shop accounts (form login: JSON/CSV user_id, never $remote_user)
    staff: list[str]  # HTTP Basic-auth users of /admin/ ($remote_user)
    isp_v4: list[str]  # "a.b" /16 prefixes of access networks, most popular first
    isp_v6: list[str]  # "2a02:8109" /32 prefixes, most popular first
    shared_addresses: list[str]  # carrier-grade NAT and office gateways (IPv4): many unrelated visitors each
    crawler_ips: list[str]
    scanner_ips: list[str]
    products: list[str]  # URL slugs of the current catalogue
    removed_products: list[str]  # slugs of products taken off the shop: their URLs answer 404
    categories: list[str]
    search_queries: list[str]  # already URL-encoded ``q=`` values


@functools.lru_cache(maxsize=8)
def build_pools(
    seed: int, products: int, categories: int, search_terms: int, population: int, shared: int
) -> Pools:
    """Draw every pool from one seeded Faker and RNG; the same arguments give the same pools."""
    from faker import Faker  # imported here: it is slow to import and only needed once

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed ^ 0x5EED)

    def unique(fn: Callable[[], str], n: int) -> list[str]:
        seen: dict[str, None] = {}
        tries = 0
        while len(seen) < n and tries < n * 20:
            seen[fn()] = None
            tries += 1
        return list(seen)

    usernames = unique(fake.user_name, population)
    staff = unique(lambda: fake.first_name().lower(), 6)
    isp_v4 = unique(lambda: ".".join(fake.ipv4_public().split(".")[:2]), 3000)
    isp_v6 = unique(
        lambda: (
            f"2{rng.choice('4a6c8')}{rng.randrange(16):x}{rng.randrange(16):x}:{rng.randrange(1 << 16):x}"
        ),
        800,
    )
    shared_addresses = unique(fake.ipv4_public, shared)  # address sharing is an IPv4 thing: IPv6 needs no NAT
    crawler_ips = unique(fake.ipv4_public, 40)
    scanner_ips = unique(fake.ipv4_public, 60)

    def product_slug() -> str:
        words = [rng.choice(ADJECTIVES), rng.choice(MATERIALS), rng.choice(ITEMS)]
        if rng.random() < 0.4:
            words.append(rng.choice(COLOURS))
        return "-".join(words)

    slugs = unique(product_slug, products + max(products // 10, 1))
    product_slugs, removed = slugs[:products], slugs[products:]
    category_slugs = CATEGORIES[:categories] + [
        f"{CATEGORIES[i % len(CATEGORIES)]}-{i // len(CATEGORIES) + 1}"
        for i in range(len(CATEGORIES), categories)
    ]

    def term() -> str:
        words = [rng.choice(ITEMS)]
        if rng.random() < 0.6:
            words.insert(0, rng.choice(MATERIALS + COLOURS))
        if rng.random() < 0.3:
            words.append(rng.choice(_QUERY_EXTRAS))
        return " ".join(words)

    terms = unique(term, search_terms)
    terms[: len(NON_ASCII_TERMS)] = NON_ASCII_TERMS[: len(terms)]
    queries = [quote_plus(t) for t in terms]
    return Pools(
        usernames=usernames,
        staff=staff,
        isp_v4=isp_v4,
        isp_v6=isp_v6,
        shared_addresses=shared_addresses,
        crawler_ips=crawler_ips,
        scanner_ips=scanner_ips,
        products=product_slugs,
        removed_products=removed,
        categories=category_slugs,
        search_queries=queries,
    )
