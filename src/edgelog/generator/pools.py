"""Realistic value pools, drawn once from a seeded Faker and then sampled by index.

Calling Faker per log line costs tens of microseconds; the generator needs about three per line. So Faker is
used only here, once per (seed, config) with its own seeded instance, and the hot loop picks pre-built and
pre-escaped strings by weight. Curated lists add what Faker does not know: real browser, crawler and scanner
user agents, search engines and social sites as referrers.
"""

from __future__ import annotations

import functools
import random
from bisect import bisect
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any
from urllib.parse import quote, quote_plus

# Real user agents of current browsers with a rough market-share weight.
BROWSER_AGENTS: list[tuple[str, float]] = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        26,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        9,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        14,
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        15,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 5),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 2),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        6,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        6,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Mobile/15E148 Safari/604.1",
        3,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
        3,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        2,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
        1,
    ),
    # Odd but real-world agents: quotes, backslashes and UTF-8 that nginx must escape.
    ('Mozilla/5.0 (X11; Linux x86_64) "QuotedBrowser" 1.0', 0.2),
    ("Mozilla/5.0 (Windows NT 10.0) Wörk\\Proxy/2.1 (ünïcode)", 0.2),
]

CRAWLER_AGENTS: list[tuple[str, float]] = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 30),
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

SEARCH_ENGINES = [
    ("https://www.google.com/", 60),
    ("https://www.bing.com/", 10),
    ("https://duckduckgo.com/", 5),
    ("https://search.yahoo.com/", 2),
    ("https://yandex.ru/", 2),
]
SOCIAL_SITES = [
    ("https://t.co/", 4),
    ("https://www.facebook.com/", 7),
    ("https://l.instagram.com/", 4),
    ("https://www.reddit.com/", 4),
    ("https://www.linkedin.com/", 2),
    ("https://news.ycombinator.com/", 1),
]

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


def zipf_weights(n: int, s: float = 1.05) -> list[float]:
    """Popularity of the k-th item: a few products, pages and clients get most hits, as on real sites."""
    return [1.0 / (k + 1) ** s for k in range(n)]


@dataclass(frozen=True)
class Pools:
    """Everything the traffic model samples from, built once per seed."""

    usernames: list[str]
    user_agents: list[str]  # Faker's long tail of older browsers, beside the curated current ones
    client_ips: list[str]
    crawler_ips: list[str]
    scanner_ips: list[str]
    products: list[str]  # URL slugs
    categories: list[str]
    search_queries: list[str]  # already URL-encoded ``q=`` values
    referrer_urls: list[tuple[str, float]]  # external referrers (URL-safe) with weight


def _slug(text: str) -> str:
    return quote("-".join(text.lower().replace("'", "").split()), safe="-")


@functools.lru_cache(maxsize=8)
def build_pools(
    seed: int, products: int, categories: int, search_terms: int, population: int, clients: int, ipv6: float
) -> Pools:
    """Draw every pool from one seeded Faker; the same arguments give the same pools."""
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
    # Faker's firefox() puts random dates (year 7000+) in Gecko/...: keep the plausible families only
    families = (fake.chrome, fake.chrome, fake.safari, fake.opera, fake.internet_explorer)
    user_agents = unique(lambda: families[rng.randrange(len(families))](), 150)
    n6 = round(clients * ipv6)
    client_ips = unique(fake.ipv4_public, clients - n6) + unique(fake.ipv6, n6)
    rng.shuffle(client_ips)
    crawler_ips = unique(fake.ipv4_public, 40)
    scanner_ips = unique(fake.ipv4_public, 60)
    product_names = unique(lambda: f"{fake.color_name()} {fake.word()} {fake.word()}", products)
    product_slugs = [f"{_slug(name)}-{1000 + i}" for i, name in enumerate(product_names)]
    category_slugs = unique(lambda: _slug(fake.word()), categories)
    terms = unique(lambda: " ".join(fake.words(rng.randint(1, 3))), search_terms)
    terms[: len(NON_ASCII_TERMS)] = NON_ASCII_TERMS[: len(terms)]
    queries = [quote_plus(t) for t in terms]
    domains = unique(fake.domain_name, 60)
    referrers: list[tuple[str, float]] = [(u, float(w)) for u, w in (*SEARCH_ENGINES, *SOCIAL_SITES)]
    referrers += [(f"https://{d}/{_slug(fake.word())}/", 0.5) for d in domains]
    return Pools(
        usernames=usernames,
        user_agents=user_agents,
        client_ips=client_ips,
        crawler_ips=crawler_ips,
        scanner_ips=scanner_ips,
        products=product_slugs,
        categories=category_slugs,
        search_queries=queries,
        referrer_urls=referrers,
    )
