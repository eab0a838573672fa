"""Bacalhau job specs: render (Go templates), validate (v1 job model), submit/poll, run locally, demo.

The names below are imported when first used, so importing a submodule (``edgelog.jobs.model``, as
``edgelog --help`` does) does not load the YAML parser and the validator.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgelog.jobs.model import DEFAULT_ALLOW_LIST
    from edgelog.jobs.spec import RenderedSpec, available_specs, load_spec, render_spec
    from edgelog.jobs.validate import SpecInvalid, validate_job

_HOMES = {
    "DEFAULT_ALLOW_LIST": "edgelog.jobs.model",
    "RenderedSpec": "edgelog.jobs.spec",
    "available_specs": "edgelog.jobs.spec",
    "load_spec": "edgelog.jobs.spec",
    "render_spec": "edgelog.jobs.spec",
    "SpecInvalid": "edgelog.jobs.validate",
    "validate_job": "edgelog.jobs.validate",
}
__all__ = [
    "DEFAULT_ALLOW_LIST",
    "RenderedSpec",
    "SpecInvalid",
    "available_specs",
    "load_spec",
    "render_spec",
    "validate_job",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'edgelog.jobs' has no attribute {name!r}")
