"""edgelog: analyse web access logs where they are written."""

from __future__ import annotations

from functools import cache

__all__ = ["__version__"]


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("edgelog")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    """``edgelog.__version__``, read from the installed metadata when first asked for (importing
    importlib.metadata costs more than the rest of ``edgelog --help``)."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'edgelog' has no attribute {name!r}")
