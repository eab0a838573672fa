"""User SQL (``analyze --query``, the adhoc-query job) runs where it can read ``requests`` and nothing else.

Untrusted SQL gets three walls, each enough on its own for the attacks we know:

1. **One query, checked by DuckDB's own parser** (:func:`check_query`): the text must parse into exactly one
   statement of type SELECT (``SELECT``, ``WITH ... SELECT``, ``FROM ...``, ``VALUES``, ``DESCRIBE``).
   ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``, ``COPY``, ``EXPORT``, ``PRAGMA``, ``CALL``, DDL and DML, a
   second statement, or a text that does not parse are rejected before anything runs. The parsed statement
   object is what runs: the user's text is never spliced into other SQL.
2. **A sandbox database** (:class:`Sandbox`): a copy of ``requests`` in a database file of its own, opened
   read-only per query with ``enable_external_access=false`` (no file, URL, glob or ``getenv`` access, no
   ATTACH or extension install) and ``lock_configuration=true`` set before any user text runs, Python
   replacement scans off, extension autoload off and no host paths in its settings. The workspace's own
   tables (``parsed``, ``quarantine``, partials) are not in it.
3. **Bounds**: the query may run ``$EDGELOG_QUERY_TIMEOUT`` seconds (default 300) and return
   ``$EDGELOG_QUERY_MAX_ROWS`` rows (default 1,000,000) and ``$EDGELOG_QUERY_MAX_BYTES`` bytes of Parquet
   (default 256 MiB); a watchdog interrupts it past either limit.

The result leaves the sandbox as an Arrow stream that the trusted workspace connection writes to Parquet, so
where and how the result is written is never steered by the query text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from edgelog import interrupts
from edgelog.analysis.parse import sql_str
from edgelog.errors import env_number

MAX_SQL_BYTES = 1 << 20
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_MAX_BYTES = 256 << 20
RESULT_VIEW = "edgelog_user_result"  # the name the trusted connection reads the sandbox's stream under
_ATTACHED = "edgelog_sandbox"
_POLL_S = 0.05


class QueryRejected(Exception):
    """A user SQL text that is not run at all, and why (the message names the reason)."""


class QueryFailed(Exception):
    """A user query that ran in the sandbox but failed or crossed a limit (the message says which)."""


def check_query(text: str) -> duckdb.Statement:
    """The single query ``text`` holds, parsed by DuckDB; :class:`QueryRejected` naming why otherwise."""
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_SQL_BYTES:
        raise QueryRejected(f"the SQL is larger than {MAX_SQL_BYTES >> 20} MiB ({size} bytes)")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise QueryRejected(f"the SQL does not parse: {first[:300]}") from None
    if not statements:
        raise QueryRejected("the SQL holds no statement; write one SELECT over the requests table")
    if len(statements) > 1:
        raise QueryRejected(f"the SQL holds {len(statements)} statements; exactly one query (SELECT) is run")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name
        raise QueryRejected(
            f"a {kind} statement is not a query; only SELECT (WITH ... SELECT, FROM ..., VALUES) may run"
        )
    return statement


@dataclass(frozen=True)
class Limits:
    """How long a user query may run and how large its result may be."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_env(cls) -> Limits:
        """The limits from ``$EDGELOG_QUERY_TIMEOUT``/``_MAX_ROWS``/``_MAX_BYTES`` (usage error if bad)."""
        return cls(
            timeout_s=env_number(
                "EDGELOG_QUERY_TIMEOUT", DEFAULT_TIMEOUT_S, low=0, low_open=True, high=7 * 86400
            ),
            max_rows=int(
                env_number("EDGELOG_QUERY_MAX_ROWS", DEFAULT_MAX_ROWS, low=1, high=1e12, integer=True)
            ),
            max_bytes=int(
                env_number("EDGELOG_QUERY_MAX_BYTES", DEFAULT_MAX_BYTES, low=1, high=1e13, integer=True)
            ),
        )


class Sandbox:
    """A read-only copy of ``requests`` in its own database file, opened locked for each user query."""

    def __init__(self, directory: Path, *, memory_limit: str, threads: int | None):
        self.directory = directory
        self.database = directory / "requests.duckdb"
        self.memory_limit = memory_limit
        self.threads = threads

    @classmethod
    @contextmanager
    def of(
        cls, con: duckdb.DuckDBPyConnection, directory: Path, *, memory_limit: str, threads: int | None
    ) -> Iterator[Sandbox]:
        """Copy ``con``'s ``requests`` relation into a new sandbox below ``directory`` (trusted SQL only)."""
        directory.mkdir(parents=True)
        box = cls(directory, memory_limit=memory_limit, threads=threads)
        con.execute(f"ATTACH {sql_str(str(box.database))} AS {_ATTACHED}")
        try:
            con.execute(f"CREATE TABLE {_ATTACHED}.main.requests AS SELECT * FROM requests")
        finally:
            con.execute(f"DETACH {_ATTACHED}")
        yield box

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new read-only connection with external access off and the configuration locked."""
        config: dict[str, Any] = {
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "allow_unsigned_extensions": False,
            "python_enable_replacements": False,
            "memory_limit": self.memory_limit,
            "temp_directory": str(self.directory / "spill"),
            "secret_directory": str(self.directory / "secrets"),
            "extension_directory": str(self.directory / "extensions"),
            "preserve_insertion_order": True,
        }
        if self.threads:
            config["threads"] = self.threads
        sb = duckdb.connect(str(self.database), read_only=True, config=config)
        try:
            sb.execute("SET TimeZone = 'UTC'")
            sb.execute("SET enable_progress_bar = false")  # stdout is the job's execution log
            sb.execute("SET lock_configuration = true")
        except BaseException:
            sb.close()
            raise
        return sb

    def run(
        self,
        statement: duckdb.Statement,
        con: duckdb.DuckDBPyConnection,
        write: Callable[[str], int],
        written_bytes: Callable[[], int],
        limits: Limits,
    ) -> int:
        """Run ``statement`` in the sandbox; ``write(sql)`` copies ``sql`` over :data:`RESULT_VIEW` on the
        trusted ``con`` and returns its row count. Returns the rows written; raises :class:`QueryFailed`."""
        sb = self.connect()
        try:
            with _Watchdog(limits, [sb, con], written_bytes) as dog:
                try:
                    with interrupts.interruptible(sb):
                        relation = sb.sql(statement)
                        if relation is None:  # pragma: no cover - check_query admits SELECT only
                            raise QueryFailed("the statement returned no result")
                        con.register(RESULT_VIEW, relation.__arrow_c_stream__())
                        try:
                            rows = write(f"SELECT * FROM {RESULT_VIEW} LIMIT {limits.max_rows + 1}")
                        finally:
                            con.unregister(RESULT_VIEW)
                except (duckdb.Error, RuntimeError) as exc:  # RuntimeError: an interrupted stream
                    interrupts.check()
                    raise QueryFailed(dog.reason or _first_line(exc)) from None
            if dog.reason:
                raise QueryFailed(dog.reason)
        finally:
            sb.close()
        if rows > limits.max_rows:
            raise QueryFailed(
                f"the result has more than {limits.max_rows} rows ($EDGELOG_QUERY_MAX_ROWS); "
                "aggregate or add a LIMIT"
            )
        return rows


class _Watchdog:
    """Interrupts the sandbox query once it runs too long or its written result grows too large."""

    def __init__(self, limits: Limits, cons: list[duckdb.DuckDBPyConnection], size: Callable[[], int]):
        self.limits = limits
        self.cons = cons
        self.size = size
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="edgelog-query-watchdog", daemon=True)

    def __enter__(self) -> _Watchdog:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        limits = self.limits
        while not self._done.wait(_POLL_S):
            if time.monotonic() - self._started > limits.timeout_s:
                self.reason = (
                    f"the query ran longer than {limits.timeout_s:g} s "
                    "($EDGELOG_QUERY_TIMEOUT) and was stopped"
                )
            else:
                try:
                    size = self.size()
                except OSError:
                    size = 0
                if size > limits.max_bytes:
                    self.reason = (
                        f"the result is larger than {limits.max_bytes / (1 << 20):g} MiB "
                        "($EDGELOG_QUERY_MAX_BYTES); aggregate or add a LIMIT"
                    )
            if self.reason:
                for con in self.cons:
                    con.interrupt()
                return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:1000] if text else type(exc).__name__
