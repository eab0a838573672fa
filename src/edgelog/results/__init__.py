"""Fetch job results from a bucket, verify and merge them, and show them in the terminal or as HTML.

The names below are imported when first used (PEP 562), not with the package: ``edgelog analyze`` reads one
module of it (``tables``) and would otherwise load fetching, storage and the HTML report on every run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgelog.lazy import exports

if TYPE_CHECKING:
    from edgelog.results.fetch import FetchResult, NodeResult, fetch_job, list_jobs
    from edgelog.results.html import render_html
    from edgelog.results.layout import JobSummary
    from edgelog.results.tables import ResultData, load_result
    from edgelog.results.terminal import print_summary

_HOMES = {
    "FetchResult": "fetch",
    "NodeResult": "fetch",
    "fetch_job": "fetch",
    "list_jobs": "fetch",
    "render_html": "html",
    "JobSummary": "layout",
    "ResultData": "tables",
    "load_result": "tables",
    "print_summary": "terminal",
}

__all__ = [
    "FetchResult",
    "JobSummary",
    "NodeResult",
    "ResultData",
    "fetch_job",
    "list_jobs",
    "load_result",
    "print_summary",
    "render_html",
]


__getattr__ = exports(__name__, _HOMES)
