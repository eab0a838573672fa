"""The fields of a JSON-lines or CSV access record: the one list the generator writes and the analyzer reads.

Order matters: CSV columns and JSON keys are written in this order (docs/design.md, "Log formats").
"""

from __future__ import annotations

RECORD_FIELDS: tuple[str, ...] = (
    "ts",  # ISO-8601 UTC with milliseconds and Z
    "remote_addr",
    "remote_user",  # "-" when anonymous
    "method",
    "path",  # with the query string
    "protocol",
    "status",
    "bytes",
    "referer",  # "-" when none
    "user_agent",
    "host",
    "request_id",
    "session_id",
    "user_id",  # empty when anonymous
    "response_time_ms",
)
