"""Bacalhau job specs: render (Go templates), validate (v1 job model), submit/poll, run locally, demo.

The names below are imported when first used, so importing a submodule (``edgelog.jobs.model``, as
``edgelog --help`` does) does not load the YAML parser and the validator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgelog.lazy import exports

if TYPE_CHECKING:
    from edgelog.jobs.model import DEFAULT_ALLOW_LIST
    from edgelog.jobs.spec import RenderedSpec, available_specs, load_spec, render_spec
    from edgelog.jobs.validate import SpecInvalid, validate_job

_HOMES = {
    "DEFAULT_ALLOW_LIST": "model",
    "RenderedSpec": "spec",
    "available_specs": "spec",
    "load_spec": "spec",
    "render_spec": "spec",
    "SpecInvalid": "validate",
    "validate_job": "validate",
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


__getattr__ = exports(__name__, _HOMES)
