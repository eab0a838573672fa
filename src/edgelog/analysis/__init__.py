"""The analysis layer: DuckDB over rotated access logs, the report library, and exact merge across nodes.

``analyze`` (analyzer.py) parses log files into a ``requests`` relation inside DuckDB and writes reports,
mergeable partials, quarantined lines and a manifest; ``merge`` (merger.py) combines such directories into
exactly what ``analyze`` would have produced over the union of their inputs. Both finish through
writer.py's :class:`ResultWriter`. Layout and schemas: docs/design.md, docs/analysis.md.

The names below are imported when first used (PEP 562): ``edgelog analyze`` does not load the merge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgelog.lazy import exports

if TYPE_CHECKING:
    from edgelog.analysis.analyzer import analyze
    from edgelog.analysis.merger import merge, read_manifest
    from edgelog.analysis.writer import RunResult

_HOMES = {"analyze": "analyzer", "merge": "merger", "read_manifest": "merger", "RunResult": "writer"}

__all__ = ["RunResult", "analyze", "merge", "read_manifest"]


__getattr__ = exports(__name__, _HOMES)
