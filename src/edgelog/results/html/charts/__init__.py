"""Inline SVG charts, one module per kind; no script and no network, so the page stays self-contained."""

from edgelog.results.html.charts.bars import colored, hbars, stacked_hbars
from edgelog.results.html.charts.donut import donut
from edgelog.results.html.charts.timeseries import time_chart

__all__ = ["colored", "donut", "hbars", "stacked_hbars", "time_chart"]
