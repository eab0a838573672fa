"""edgelog: analyse web access logs where they are written."""

from __future__ import annotations

__all__ = ["__version__"]

# The one copy of the version: pyproject.toml reads it from here (setuptools' static ``attr:``), so
# ``edgelog --version`` needs no importlib.metadata, which cost a quarter of its start-up.
__version__ = "0.1.0"
