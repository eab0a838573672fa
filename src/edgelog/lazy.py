"""Package names imported when first used (PEP 562), so importing one submodule does not load its siblings.

``edgelog analyze`` must not load the merge, fetching or the HTML report, nor ``edgelog --help`` the YAML
parser: each package's ``__init__`` lists where its public names live and lets :func:`exports` find them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``homes`` maps each public name to its submodule."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # __import__, as an import statement does (importlib.import_module bypasses -X importtime's log)
        return getattr(__import__(f"{package}.{home}", fromlist=[name]), name)

    return __getattr__
