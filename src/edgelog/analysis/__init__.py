"""The analysis engine: DuckDB over rotated access logs, the report library, and exact merge across nodes.

``analyze`` parses log files into a ``requests`` relation inside DuckDB and writes reports, mergeable
partials, quarantined lines and a manifest; ``merge`` combines such directories into exactly what ``analyze``
would have produced over the union of their inputs. Layout and schemas: docs/design.md, docs/analysis.md.
"""

from edgelog.analysis.engine import RunResult, analyze, merge, read_manifest

__all__ = ["RunResult", "analyze", "merge", "read_manifest"]
