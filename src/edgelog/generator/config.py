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

from edgelog.errors import ConfigError

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
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in default:
            known = ", ".join(sorted(default))
            raise ConfigError(path, dotted, "unknown key", hint=f"known keys here: {known}")
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
            raise ConfigError(
                path, f"{dotted}.{k}", "unknown page type", hint=f"known here: {', '.join(targets)}"
            )
        row[k] = _check_scalar(0.0, p, path, f"{dotted}.{k}")
    return row


def _check_scalar(default: Any, value: Any, path: Path | None, dotted: str) -> Any:
    if value is None:
        if dotted in _NULLABLE:
            return None
        raise ConfigError(path, dotted, "must not be empty", hint=f"use a value like {default!r}")
    if dotted == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, dotted, f"must be an integer or null, got {_type_name(value)}")
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(path, dotted, f"must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, dotted, f"must be an integer, got {_type_name(value)} {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(path, dotted, f"must be a number, got {_type_name(value)} {value!r}")
        if not math.isfinite(value):
            raise ConfigError(path, dotted, f"must be a finite number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(path, dotted, f"must be a string, got {_type_name(value)} {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(path, dotted, f"must be a list, got {_type_name(value)} {value!r}")
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
                path, f"{dotted}.{k}", "unknown page type", hint=f"known here: {', '.join(targets)}"
            )
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1:
            raise ConfigError(path, f"{dotted}.{k}", f"is a probability and must be in 0..1, got {p!r}")
    total = sum(row.values())
    if abs(total - 1.0) > 1e-6:
        parts = " + ".join(f"{k} {v:g}" for k, v in row.items() if v)
        raise ConfigError(
            path, dotted, f"probabilities must sum to 1, got {parts} = {total:g}", hint="adjust them"
        )


def validate(data: dict[str, Any], path: Path | None = None) -> None:
    """Check value ranges and probability sums; raise one :class:`ConfigError` naming the key path."""
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
        raise ConfigError(path, "site.scheme", f"must be http or https, got {data['site']['scheme']!r}")
    if not data["site"]["host"] or any(c in data["site"]["host"] for c in ' "\\/'):
        raise ConfigError(path, "site.host", f"must be a host name, got {data['site']['host']!r}")
    users = data["users"]
    if users["shared_share"] + users["revisit_share"] > 1:
        raise ConfigError(path, "users", "shared_share + revisit_share must be <= 1")
    if data["sessions"]["pages_max"] < 1:
        raise ConfigError(path, "sessions.pages_max", f"must be >= 1, got {data['sessions']['pages_max']}")


def load_config(path: str | Path | None = None) -> GeneratorConfig:
    """Load and validate a YAML config; ``None`` returns the embedded defaults."""
    if path is None:
        data = copy.deepcopy(DEFAULTS)
        validate(data)
        return GeneratorConfig(data, None)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            p, None, "file not found", hint="pass an existing YAML file with --config"
        ) from None
    except OSError as exc:
        raise ConfigError(p, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(p, None, f"not valid YAML{where}: {problem}") from None
    if raw is None:
        raw = {}
    data = _merge(DEFAULTS, raw, p, "")
    validate(data, p)
    return GeneratorConfig(data, p)
