"""Generator configuration: embedded defaults, YAML loading and validation that names the bad key.

The defaults live here (not in a file next to the code) so ``load_config(None)`` always works, even from a
wheel. ``log-generator/config.example.yaml`` mirrors them with comments; a test keeps the two identical.
Validation is strict on purpose: a typo in a key would otherwise be silently ignored and the generator would
produce traffic the operator did not ask for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgelog.errors import ConfigError, shown

PAGE_KINDS = ("home", "category", "product", "search", "cart", "checkout", "account", "orders", "info")
"""Page types of the simulated shop, the states of the session's transition matrix; ``account``, ``orders``
and ``checkout`` need a logged-in visitor."""
EXIT = "exit"
"""The transition matrix's target for "the visitor leaves"."""

DEFAULTS: dict[str, Any] = {
    "seed": None,
    "site": {
        "host": "shop.example.com",
        "scheme": "https",
        "products": 400,
        "categories": 20,
        "search_terms": 300,
        "assets_per_page": [3, 9],
    },
    "traffic": {
        "requests_per_second": 20.0,
        "shaped": True,
        "hourly_multipliers": [
            0.35,
            0.25,
            0.2,
            0.18,
            0.2,
            0.3,
            0.5,
            0.75,
            1.0,
            1.2,
            1.3,
            1.35,
            1.4,
            1.35,
            1.3,
            1.3,
            1.35,
            1.45,
            1.55,
            1.6,
            1.5,
            1.2,
            0.85,
            0.55,
        ],
        "weekend_factor": 0.75,
        "burst": {"per_hour": 0.15, "factor": 4.0, "duration_seconds": 120},
    },
    "sessions": {
        "start": {"login": 0.3, "direct": 0.7},
        "end": {"logout": 0.2, "abandon": 0.75, "error": 0.05},
        "pages_max": 40,
        "think_time_median_seconds": 8.0,
        "think_time_max_seconds": 300.0,
        "external_referrer_share": 0.55,
        "returning_visitor_share": 0.4,
        "entry": {"home": 0.35, "category": 0.15, "product": 0.35, "search": 0.1, "info": 0.05},
        "bounce": 0.38,
        "transitions": {
            "home": {"category": 0.34, "search": 0.17, "product": 0.24, "info": 0.03, "cart": 0.02,
                     "account": 0.02, "exit": 0.18},
            "category": {"product": 0.55, "category": 0.14, "search": 0.05, "home": 0.04, "cart": 0.02,
                         "exit": 0.2},
            "product": {"product": 0.3, "category": 0.13, "search": 0.08, "cart": 0.17, "home": 0.04,
                        "exit": 0.28},
            "search": {"product": 0.58, "search": 0.2, "category": 0.05, "home": 0.02, "exit": 0.15},
            "cart": {"checkout": 0.45, "product": 0.18, "category": 0.07, "home": 0.05, "exit": 0.25},
            "checkout": {"home": 0.08, "account": 0.07, "orders": 0.05, "exit": 0.8},
            "account": {"orders": 0.35, "account": 0.12, "home": 0.15, "product": 0.13, "exit": 0.25},
            "orders": {"orders": 0.32, "account": 0.15, "product": 0.13, "home": 0.1, "exit": 0.3},
            "info": {"home": 0.28, "category": 0.17, "info": 0.12, "product": 0.08, "exit": 0.35},
        },
        "protocol": {"http1": 0.08, "http2": 0.92},
        "http3_share": 0.35,
        "embed_share": 0.03,
        "staff_share": 0.004,
    },
    "users": {"population": 1500, "ipv6_share": 0.25, "shared_addresses": 500, "shared_share": 0.2,
              "revisit_share": 0.12},
    "bots": {"crawler_share": 0.04, "scanner_share": 0.006, "scanner_requests": [15, 60]},
    "errors": {
        "dead_links": 0.03,
        "broken_images": 0.02,
        "upstream_errors": 0.002,
        "bad_deploys": {"per_day": 1.0, "duration_seconds": [120, 600]},
        "outages": {"per_day": 2.0, "duration_seconds": [60, 300], "error_share": 0.6},
    },
}  # fmt: skip

# Keys whose value may be null, and the shape of list values: (length or None for "2 = a range", numeric).
_NULLABLE = {"seed"}
_RANGES = {
    "site.assets_per_page",
    "bots.scanner_requests",
    "errors.outages.duration_seconds",
    "errors.bad_deploys.duration_seconds",
}
_PROBABILITY_GROUPS = {"sessions.start", "sessions.end", "sessions.protocol"}
# Probability distributions over page types (rows of the transition matrix, the entry page): a file gives a
# row whole (it replaces the default row instead of merging into it); missing targets are 0.
_DISTRIBUTIONS = {
    "sessions.entry": PAGE_KINDS,
    **{f"sessions.transitions.{k}": (*PAGE_KINDS, EXIT) for k in PAGE_KINDS},
}
_SHARES = {
    "sessions.external_referrer_share",
    "sessions.returning_visitor_share",
    "sessions.bounce",
    "sessions.http3_share",
    "sessions.embed_share",
    "sessions.staff_share",
    "users.ipv6_share",
    "users.shared_share",
    "users.revisit_share",
    "errors.dead_links",
    "errors.broken_images",
    "errors.upstream_errors",
    "bots.crawler_share",
    "bots.scanner_share",
    "errors.outages.error_share",
}
_POSITIVE = {
    "site.products",
    "site.categories",
    "site.search_terms",
    "users.population",
    "users.shared_addresses",
}

MAX_CONFIG_BYTES = 1 << 20
"""A generator config is a few kilobytes; anything beyond a megabyte is refused before YAML parses it."""

MAX_RATE = 50_000.0
"""Highest ``requests_per_second`` (and ``--rate``). The engine keeps the planned requests of every visit in
progress in memory (tens of seconds of traffic), so memory grows with the rate."""

MAX_PEAK_RATE = 200_000.0
"""Highest instantaneous rate a config may ask for: rate x highest hourly multiplier (normalised) x weekend
factor x burst factor. Each key may be in range while their product is not."""

BOUNDS: dict[str, tuple[float, float]] = {
    "seed": (0, 2**63 - 1),
    "site.products": (1, 20_000),
    "site.categories": (1, 1_000),
    "site.search_terms": (1, 20_000),
    "site.assets_per_page": (0, 100),
    "traffic.requests_per_second": (0, MAX_RATE),  # and > 0: see _POSITIVE_FLOATS
    "traffic.hourly_multipliers": (0, 1_000),
    "traffic.weekend_factor": (0, 10),
    "traffic.burst.per_hour": (0, 1),
    "traffic.burst.factor": (0, 100),
    "traffic.burst.duration_seconds": (0, 3_600),  # the engine looks one hour back for bursts and outages
    "sessions.pages_max": (1, 1_000),
    "sessions.think_time_median_seconds": (0, 3_600),
    "sessions.think_time_max_seconds": (0, 3_600),
    "users.population": (1, 20_000),
    "users.shared_addresses": (1, 100_000),
    "bots.scanner_requests": (0, 1_000),
    "errors.bad_deploys.per_day": (0, 24),
    "errors.bad_deploys.duration_seconds": (0, 3_600),
    "errors.outages.per_day": (0, 24),
    "errors.outages.duration_seconds": (0, 3_600),
    **{k: (0, 1) for k in _SHARES},
    **{f"sessions.start.{k}": (0, 1) for k in ("login", "direct")},
    **{f"sessions.end.{k}": (0, 1) for k in ("logout", "abandon", "error")},
    **{f"sessions.protocol.{k}": (0, 1) for k in ("http1", "http2")},
    **{f"{row}.{k}": (0, 1) for row, targets in _DISTRIBUTIONS.items() for k in targets},
}  # fmt: skip
"""[low, high] of every numeric config key (for lists: of each item). A test checks that every numeric key
of DEFAULTS is listed, so a new key cannot be added unbounded."""

_POSITIVE_FLOATS = {"traffic.requests_per_second"}


@dataclass(frozen=True)
class GeneratorConfig:
    """A validated generator configuration (defaults merged with the user's file)."""

    data: dict[str, Any]
    source: Path | None = field(default=None, compare=False)

    def get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            node = node[part]
        return node

    def with_overrides(self, overrides: Mapping[str, Any]) -> GeneratorConfig:
        """Return a copy with ``{"traffic.requests_per_second": 50}``-style overrides (CLI flags win)."""
        data = copy.deepcopy(self.data)
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            parts = dotted.split(".")
            for part in parts[:-1]:
                node = node[part]
            node[parts[-1]] = value
        validate(data, self.source)
        return GeneratorConfig(data, self.source)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


def _merge(default: dict[str, Any], user: Any, path: Path | None, prefix: str) -> dict[str, Any]:
    """Deep-merge ``user`` into ``default``, rejecting unknown keys and wrong types with the key path."""
    if not isinstance(user, dict):
        raise ConfigError(path, prefix or "<root>", f"must be a mapping, got {_type_name(user)}")
    out = copy.deepcopy(default)
    for key, value in user.items():
        if not isinstance(key, str) or key not in default:
            name = key if isinstance(key, str) and len(key) <= 40 and key.isprintable() else shown(key, 40)
            dotted = f"{prefix}.{name}" if prefix else name
            known = ", ".join(sorted(default))
            raise ConfigError(path, dotted, "unknown key", hint=f"known keys here: {known}")
        dotted = f"{prefix}.{key}" if prefix else key
        dv = default[key]
        if dotted in _DISTRIBUTIONS:
            out[key] = _distribution(value, path, dotted)
        elif isinstance(dv, dict):
            out[key] = _merge(dv, value, path, dotted)
        else:
            out[key] = _check_scalar(dv, value, path, dotted)
    return out


def _distribution(value: Any, path: Path | None, dotted: str) -> dict[str, float]:
    """A probability row given whole: known targets only, numbers; targets left out have probability 0."""
    if not isinstance(value, dict):
        raise ConfigError(
            path, dotted, f"must be a mapping of page type to probability, got {_type_name(value)}"
        )
    targets = _DISTRIBUTIONS[dotted]
    row: dict[str, float] = {}
    for k, p in value.items():
        if k not in targets:
            name = k if isinstance(k, str) and len(k) <= 40 and k.isprintable() else shown(k, 40)
            raise ConfigError(
                path, f"{dotted}.{name}", "unknown page type", hint=f"known here: {', '.join(targets)}"
            )
        row[k] = _check_scalar(0.0, p, path, f"{dotted}.{k}")
    return row


def _check_scalar(default: Any, value: Any, path: Path | None, dotted: str) -> Any:
    if value is None:
        if dotted in _NULLABLE:
            return None
        raise ConfigError(path, dotted, "must not be empty", hint=f"use a value like {shown(default)}")
    if dotted == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, dotted, f"must be an integer or null, got {_type_name(value)}")
        _check_bounds(dotted, value, path)
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(path, dotted, f"must be true or false, got {shown(value)}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, dotted, f"must be an integer, got {_type_name(value)} {shown(value)}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, dotted, f"must be a number, got {_type_name(value)} {shown(value)}")
        if not math.isfinite(value):
            raise ConfigError(path, dotted, f"must be a finite number, got {shown(value)}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(path, dotted, f"must be a string, got {_type_name(value)} {shown(value)}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(path, dotted, f"must be a list, got {_type_name(value)} {shown(value)}")
        if len(value) != len(default):
            raise ConfigError(path, dotted, f"must have {len(default)} items, got {len(value)}")
        elem = default[0]
        return [_check_scalar(elem, v, path, f"{dotted}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(path, dotted, "unsupported value")  # pragma: no cover - defaults are all covered


def _walk(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items = []
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            items.append((dotted, value))
            items += _walk(value, dotted)
        else:
            items.append((dotted, value))
    return items


def _check_distribution(row: Any, path: Path | None, dotted: str) -> None:
    targets = _DISTRIBUTIONS[dotted]
    if not isinstance(row, dict):
        raise ConfigError(
            path, dotted, f"must be a mapping of page type to probability, got {_type_name(row)}"
        )
    for k, p in row.items():
        if k not in targets:
            raise ConfigError(
                path, f"{dotted}.{shown(k, 40)}", "unknown page type", hint=f"known: {', '.join(targets)}"
            )
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ConfigError(path, f"{dotted}.{k}", f"is a probability and must be in 0..1, got {shown(p)}")
    total = sum(row.values())
    if abs(total - 1.0) > 1e-6:
        parts = " + ".join(f"{k} {v:g}" for k, v in row.items() if v)
        raise ConfigError(
            path, dotted, f"probabilities must sum to 1, got {parts} = {total:g}", hint="adjust them"
        )


def _check_bounds(dotted: str, value: Any, path: Path | None) -> None:
    """One numeric value against :data:`BOUNDS` (finite, in range; > low for the positive keys)."""
    low, high = BOUNDS[dotted.split("[")[0]]
    ok = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    ok = ok and not isinstance(value, bool)
    positive = dotted in _POSITIVE_FLOATS
    if ok and not ((low < value if positive else low <= value) and value <= high):
        ok = False
    if ok:
        return
    if dotted.split("[")[0] in _SHARES:
        problem = f"is a share and must be in 0..1, got {shown(value)}"
    elif (low, high) == (0, 1):
        problem = f"is a probability and must be in 0..1, got {shown(value)}"
    elif positive:
        problem = f"must be > {low:g} and <= {high:g}, got {shown(value)}"
    else:
        problem = f"must be in {low:g}..{high:g}, got {shown(value)}"
    raise ConfigError(path, dotted, problem)


def validate(data: dict[str, Any], path: Path | None = None) -> None:
    """Check value ranges and probability sums; raise one :class:`ConfigError` naming the key path."""
    for dotted, value in _walk(data):
        if dotted in BOUNDS and not (dotted == "seed" and value is None):
            for i, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
                _check_bounds(dotted if i is None else f"{dotted}[{i}]", item, path)
    for dotted, value in _walk(data):
        if dotted in _PROBABILITY_GROUPS:
            for k, p in value.items():
                if p < 0 or p > 1:
                    raise ConfigError(path, f"{dotted}.{k}", f"is a probability and must be in 0..1, got {p}")
            total = sum(value.values())
            if abs(total - 1.0) > 1e-6:
                parts = " + ".join(f"{k} {v}" for k, v in value.items())
                raise ConfigError(
                    path, dotted, f"probabilities must sum to 1, got {parts} = {total:g}", hint="adjust them"
                )
        elif dotted in _DISTRIBUTIONS:
            _check_distribution(value, path, dotted)
        elif dotted in _SHARES and not 0 <= value <= 1:
            raise ConfigError(path, dotted, f"is a share and must be in 0..1, got {value}")
        elif dotted in _RANGES:
            lo, hi = value
            if lo < 0 or hi < lo:
                raise ConfigError(path, dotted, f"must be [min, max] with 0 <= min <= max, got {value}")
        elif dotted in _POSITIVE and value < 1:
            raise ConfigError(path, dotted, f"must be >= 1, got {value}")
        elif isinstance(value, int | float) and not isinstance(value, bool) and dotted != "seed":
            if value < 0:
                raise ConfigError(path, dotted, f"must be >= 0, got {value}", hint="use 0 to turn it off")
        elif isinstance(value, list) and dotted not in _RANGES:
            for i, v in enumerate(value):
                if v < 0:
                    raise ConfigError(path, f"{dotted}[{i}]", f"must be >= 0, got {v}")
    if sum(data["traffic"]["hourly_multipliers"]) <= 0:
        raise ConfigError(path, "traffic.hourly_multipliers", "at least one multiplier must be > 0")
    if data["bots"]["crawler_share"] + data["bots"]["scanner_share"] > 1:
        raise ConfigError(path, "bots", "crawler_share + scanner_share must be <= 1")
    if data["site"]["scheme"] not in ("http", "https"):
        raise ConfigError(path, "site.scheme", f"must be http or https, got {shown(data['site']['scheme'])}")
    host = data["site"]["host"]
    if not host or len(host) > 253 or any(c in host for c in ' "\\/') or not host.isprintable():
        raise ConfigError(path, "site.host", f"must be a host name, got {shown(host)}")
    users = data["users"]
    if users["shared_share"] + users["revisit_share"] > 1:
        raise ConfigError(path, "users", "shared_share + revisit_share must be <= 1")
    if data["sessions"]["pages_max"] < 1:
        raise ConfigError(path, "sessions.pages_max", f"must be >= 1, got {data['sessions']['pages_max']}")
    peak = peak_rate(data)
    if peak > MAX_PEAK_RATE:
        raise ConfigError(
            path,
            "traffic",
            f"peak rate {peak:,.0f} requests/s (requests_per_second x highest hourly multiplier x weekend "
            f"factor x burst factor) is above {MAX_PEAK_RATE:,.0f}",
            hint="lower traffic.requests_per_second or traffic.burst.factor",
        )


def peak_rate(data: Mapping[str, Any], rate: float | None = None) -> float:
    """The highest requests/s the traffic shape can reach (forced bursts apply in flat mode too)."""
    t = data["traffic"]
    peak = float(t["requests_per_second"] if rate is None else rate) * max(1.0, t["burst"]["factor"])
    if t["shaped"]:
        hourly = t["hourly_multipliers"]
        peak *= max(hourly) / (sum(hourly) / len(hourly)) * max(1.0, t["weekend_factor"])
    return peak


def load_config(path: str | Path | None = None) -> GeneratorConfig:
    """Load and validate a YAML config; ``None`` returns the embedded defaults."""
    if path is None:
        data = copy.deepcopy(DEFAULTS)
        validate(data)
        return GeneratorConfig(data, None)
    p = Path(path)
    try:
        with p.open("rb") as f:  # bounded read: a config is small, a device or a huge file is refused
            raw_bytes = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(
            p, None, "file not found", hint="pass an existing YAML file with --config"
        ) from None
    except OSError as exc:
        raise ConfigError(p, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw_bytes) > MAX_CONFIG_BYTES:
        raise ConfigError(p, None, f"larger than {MAX_CONFIG_BYTES:,} bytes; a generator config is a few KB")
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(p, None, f"not UTF-8 text (byte {exc.start})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(p, None, f"not valid YAML{where}: {shown(problem, 200)}") from None
    except RecursionError:
        raise ConfigError(p, None, "not valid YAML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise ConfigError(p, None, f"not valid YAML: {shown(str(exc), 200)}") from None
    if raw is None:
        raw = {}
    data = _merge(DEFAULTS, raw, p, "")
    validate(data, p)
    return GeneratorConfig(data, p)
