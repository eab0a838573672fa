"""Inline SVG charts, one module per kind; no script and no network, so the page stays self-contained."""

from edgelog.results.html.charts.bars import colored, hbars
from edgelog.results.html.charts.donut import donut
from edgelog.results.html.charts.timeseries import time_chart

__all__ = ["colored", "donut", "hbars", "time_chart"]
