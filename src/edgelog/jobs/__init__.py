"""Bacalhau job specs: render (Go templates), validate (v1 job model), submit/poll, run locally, demo."""

from edgelog.jobs.spec import RenderedSpec, available_specs, load_spec, render_spec
from edgelog.jobs.validate import DEFAULT_ALLOW_LIST, SpecInvalid, validate_job

__all__ = [
    "DEFAULT_ALLOW_LIST",
    "RenderedSpec",
    "SpecInvalid",
    "available_specs",
    "load_spec",
    "render_spec",
    "validate_job",
]
