"""Parse one error-log or application-log file the way analyze does, for tests that look at every row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgelog.analysis import parse, streams
from edgelog.analysis.library import install_macros, load_macros
from edgelog.analysis.workspace import workspace

ALL = "'-infinity'::TIMESTAMPTZ", "'infinity'::TIMESTAMPTZ"


def load_stream(path: Path, fmt: str, window: tuple[str, str] = ALL) -> dict[str, Any]:
    """Parse ``path`` as ``fmt``: its counts, the relation's rows, every line's row and the quarantine."""
    with workspace() as ws:
        install_macros(ws.con, load_macros(), None)
        parse.create_request_store(ws.con)
        streams.create_stream_store(ws.con)
        counts = streams.load_file(
            ws.con,
            path,
            fmt,
            file_label=path.name,
            node_id="n1",
            since_sql=window[0],
            until_sql=window[1],
            scratch=ws.scratch,
            file_id=0,
        )
        relation, table = ("errors", "error_lines") if fmt == "error" else ("app_events", "app_lines")

        def rows(sql: str) -> list[dict[str, Any]]:
            cur = ws.con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        return {
            "counts": counts,
            # with the pattern the error_patterns report groups by
            "rows": rows(
                f"SELECT *, edgelog_message_pattern(message) AS pattern FROM {relation} ORDER BY line_no"
            ),
            "lines": rows(f"SELECT * FROM {table} ORDER BY line_no"),
            "quarantine": rows("SELECT line_no, reason, raw FROM quarantine ORDER BY line_no"),
        }
