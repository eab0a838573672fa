"""The node-side parse cache: each rotated file is parsed once, ever; later jobs read its parsed rows.

An entry holds exactly the rows parsing gives for one file (``parse.PARSED_COLUMNS``: every line, requests
and quarantined ones) as zstd Parquet, plus a JSON record. Both are named by the entry key, a sha256 over
the file's sha256, its format (``parse.format_id``: for a ``--log-format`` definition, the sha256 of the SQL
it compiles to, so another definition never reuses the entry), the parser's identity (the source of the parse
modules and of the macros they use) and the DuckDB and edgelog versions, so an entry from another version is
simply never looked up.

An entry is trusted only when every check passes; otherwise the file is parsed again and the entry
rewritten. Checks: the record names the same key, source sha256 and versions; the Parquet file has the
size and sha256 the record states. Writers write both files under unique
``.``-prefixed temporary names and rename them into place, Parquet first, record last, so a reader never
sees a half-written entry; two jobs writing the same entry at once each leave a complete pair, and a
record that does not match the Parquet beside it (one writer's record, the other's Parquet) fails the
checksum and is re-parsed. The trust model (who can write here and what that allows) is in
docs/analysis.md, "Parse cache".
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from edgelog import __version__
from edgelog.analysis import format_columns, format_sql, parse
from edgelog.analysis.library import queries_dir
from edgelog.fileio import hash_file

ENTRY_FORMAT = 1
ENV = "EDGELOG_PARSE_CACHE"
TMP_MAX_AGE_S = 3600  # temporaries older than this are a crashed writer's leftovers


@cache
def parser_id() -> str:
    """A digest of everything that decides parsed rows: the parse modules' source and the shared macros."""
    h = hashlib.sha256()
    for source in (parse.__file__, format_columns.__file__, format_sql.__file__):  # combined shares SQL
        h.update(Path(source).read_bytes())
    for macro in sorted((queries_dir() / "macros").glob("*.sql")):
        h.update(macro.name.encode() + b"\0" + macro.read_bytes())
    return h.hexdigest()


def entry_key(source_sha256: str, fmt: str) -> str:
    """The entry's name: which bytes, parsed how, by which parser, DuckDB and edgelog."""
    ident = f"{ENTRY_FORMAT}\0{source_sha256}\0{fmt}\0{parser_id()}\0{duckdb.__version__}\0{__version__}"
    return hashlib.sha256(ident.encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    """Where one file's entry lives."""

    key: str
    parquet: Path
    record: Path


class ParseCache:
    """One cache directory. ``lookup`` answers only with verified entries; ``store`` writes atomically."""

    def __init__(self, root: Path):
        self.root = root

    def entry(self, source_sha256: str, fmt: str) -> Entry:
        key = entry_key(source_sha256, fmt)
        d = self.root / key[:2]
        return Entry(key, d / f"{key}.parquet", d / f"{key}.json")

    def lookup(self, source_sha256: str, fmt: str) -> Entry | None:
        """The entry for this file if it exists and passes every check, else None (parse it again)."""
        e = self.entry(source_sha256, fmt)
        try:
            record = json.loads(e.record.read_text(encoding="utf-8"))
            expected = self._record_fields(e.key, source_sha256, fmt)
            if not isinstance(record, dict) or any(record.get(k) != v for k, v in expected.items()):
                return None
            size, digest = hash_file(e.parquet, "sha256")
            if size != record.get("parquet_size") or digest != record.get("parquet_sha256"):
                return None
        except (OSError, ValueError):
            return None
        return e

    def store(self, con: duckdb.DuckDBPyConnection, file_id: int, source_sha256: str, fmt: str) -> bool:
        """Write the rows of ``file_id`` in ``parsed`` as this file's entry; False when it cannot be written
        (a read-only or full cache never fails the run)."""
        e = self.entry(source_sha256, fmt)
        tag = uuid.uuid4().hex
        tmp_parquet = e.parquet.with_name(f".{e.key}.{tag}.parquet")
        tmp_record = e.record.with_name(f".{e.key}.{tag}.json")
        try:
            e.parquet.parent.mkdir(parents=True, exist_ok=True)
            row = con.execute(
                f"COPY (SELECT {parse.PARSED_COLUMNS} FROM parsed WHERE file_id = {int(file_id)} "
                f"ORDER BY line_no) TO {parse.sql_str(str(tmp_parquet))} (FORMAT parquet, COMPRESSION zstd)"
            ).fetchone()
            size, digest = hash_file(tmp_parquet, "sha256")
            record = {
                **self._record_fields(e.key, source_sha256, fmt),
                "rows": int(row[0]) if row else 0,
                "parquet_size": size,
                "parquet_sha256": digest,
            }
            tmp_record.write_text(json.dumps(record, indent=1), encoding="utf-8")
            tmp_parquet.replace(e.parquet)
            tmp_record.replace(e.record)
            return True
        except (OSError, duckdb.Error):
            return False
        finally:
            for tmp in (tmp_parquet, tmp_record):
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)

    @staticmethod
    def _record_fields(key: str, source_sha256: str, fmt: str) -> dict[str, object]:
        return {
            "entry_format": ENTRY_FORMAT,
            "key": key,
            "source_sha256": source_sha256,
            "format": fmt,
            "parser": parser_id(),
            "duckdb_version": duckdb.__version__,
            "edgelog_version": __version__,
        }

    def prune(self, max_age_s: float) -> int:
        """Remove entries (and stale temporaries) not written for ``max_age_s`` seconds; return how many
        files were removed. The node runs this with the logs' retention, so the cache never outlives them."""
        now = time.time()
        removed = 0
        for path in self.root.glob("*/*"):
            try:
                age = now - path.stat().st_mtime
                limit = min(max_age_s, TMP_MAX_AGE_S) if path.name.startswith(".") else max_age_s
                if age > limit and path.suffix in (".parquet", ".json"):
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


def from_env(value: str | os.PathLike[str] | None) -> ParseCache | None:
    """The cache an analyze run uses: ``--parse-cache DIR``, else ``$EDGELOG_PARSE_CACHE``, else none."""
    text = os.fspath(value) if value else os.environ.get(ENV, "")
    return ParseCache(Path(text)) if text else None
