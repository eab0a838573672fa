"""Fetch job results from a bucket, verify and merge them, and show them in the terminal or as HTML."""

from edgelog.results.fetch import FetchResult, NodeResult, fetch_job, list_jobs
from edgelog.results.html import render_html
from edgelog.results.layout import JobSummary
from edgelog.results.tables import ResultData, load_result
from edgelog.results.terminal import print_summary

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
