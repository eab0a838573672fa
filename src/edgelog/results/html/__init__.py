"""The HTML report: one self-contained page (page.py) built from markup, charts and assets."""

from edgelog.results.html.page import build_html, render_html, write_html

__all__ = ["build_html", "render_html", "write_html"]
