"""The run log: record every request, find a cached answer, list the latest requests.

:class:`RunLog` opens the database on first use (``sqlite3`` is imported then, not before), from any
number of threads (one connection, one lock) and processes (WAL, a busy timeout). Writing never raises:
a full disk, a folder mimo may not write, a locked or damaged database call ``warn`` once, and the
request it was recording goes on (the log is never a reason to fail a paid request). Reading for
``mimo logs`` raises :class:`~mimo_cli.errors.MimoError` instead: there the log is the point.

Every text goes through :func:`~mimo_cli.redact.redact` before it is written, so a key never reaches the
database, even when a server echoes it; a data URI is kept as its prefix and length, never its bytes.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact
from mimo_cli.runlog.identity import InputRef, RequestKey, clean_base_url

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

Warn = Callable[[str, "str | None"], None]
KINDS = ("describe", "ask", "batch", "part", "merge", "repair")
_DATA_URI_KEEP = 48  # characters of a data URI's head that are kept


def iso_utc(timestamp: float) -> str:
    """``2026-12-01T09:54:20.123Z``: sorts as text in time order."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _short_data_uri(text: str) -> str:
    if text.startswith("data:") and len(text) > 2 * _DATA_URI_KEEP:
        return f"{text[:_DATA_URI_KEEP]}…[{len(text):,} characters]"
    return text


def scrub(value: Any) -> Any:
    """A copy of a JSON value with every string redacted and every long data URI shortened."""
    if isinstance(value, str):
        return _short_data_uri(redact(value))
    if isinstance(value, Mapping):
        return {redact(str(k)): scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _tokens(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, Mapping) else None
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Query:
    """The filters of ``mimo logs``; ``n`` <= 0 lists everything."""

    n: int = 10
    search: str | None = None
    sha256: str | None = None  # requests about this content
    model: str | None = None
    status: str | None = None  # "ok" | "error"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "full" in low or getattr(exc, "errno", None) == 28:
        return "the disk is full"
    if "readonly" in low or "read-only" in low or "unable to open" in low or isinstance(exc, PermissionError):
        return "its folder cannot be written"
    if "locked" in low or "busy" in low:
        return "the database is locked by another program"
    if "disk i/o" in low:
        return "a disk I/O error: is the disk full?"
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return "the database is damaged"
    return redact(text)


class RunLog:
    """One process's handle on the run log (see the module docstring)."""

    def __init__(self, path: Path, warn: Warn | None = None) -> None:
        self.path = path
        self.run_id = os.urandom(8).hex()  # groups the requests of one mimo process
        self._warn = warn
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._broken = False  # opening or writing failed: do not try again in this process
        self._warned = False
        self._fts = False

    # -- writing ------------------------------------------------------------------------------------------

    def record(
        self,
        key: RequestKey,
        record: Mapping[str, Any],
        *,
        kind: str,
        started_at: float | None = None,
        cached: bool = False,
        options: Mapping[str, Any] | None = None,
    ) -> int | None:
        """Record one request; returns its id, or None when it could not be recorded (``warn`` said why).

        ``record`` is the JSON record of the request (as ``--json`` prints it, any extra fields kept);
        ``options`` defaults to the key's request options; ``started_at`` is a ``time.time()``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown kind of request {kind!r}")
        try:
            row, inputs = self._row(key, record, kind, started_at, cached, options)
            row = _storable(row)
            inputs = [_storable(values) for values in inputs]
        except (TypeError, ValueError) as e:  # a value json cannot write: a bug, but not the user's loss
            self._fail(e)
            return None
        with self._lock:
            conn = self._open_for_writing()
            if conn is None:
                return None
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    cursor = conn.execute(_INSERT_REQUEST, row)
                    rid = cursor.lastrowid
                    conn.executemany(_INSERT_INPUT, [(rid, i, *values) for i, values in enumerate(inputs)])
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except (_sqlite_error(), OSError) as e:
                self._fail(e)
                return None
            return rid

    def _row(
        self,
        key: RequestKey,
        record: Mapping[str, Any],
        kind: str,
        started_at: float | None,
        cached: bool,
        options: Mapping[str, Any] | None,
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        clean = scrub(record)
        answer, reasoning = clean.get("answer"), clean.get("reasoning")
        stored = {**clean, "answer": None, "reasoning": None}  # kept in their own columns, once
        usage = clean.get("usage")
        error = clean.get("error")
        row = (
            iso_utc(time.time() if started_at is None else started_at),
            kind,
            self.run_id,
            redact(key.model),  # as asked for (the record keeps the name the server answered with)
            redact(clean_base_url(key.base_url)),
            "ok" if clean.get("status") == "ok" else "error",
            int(cached),
            key.digest(),
            redact(key.text),
            redact("default" if key.system is None else key.system),
            answer if isinstance(answer, str) else None,
            reasoning if isinstance(reasoning, str) else None,
            _tokens(usage, "prompt_tokens"),
            _tokens(usage, "completion_tokens"),
            _tokens(usage, "total_tokens"),
            clean.get("elapsed_s"),
            clean.get("attempts"),
            clean.get("request_id"),
            error.get("kind") if isinstance(error, Mapping) else None,
            _dumps(scrub(dict(options) if options is not None else key.options())),
            _dumps(stored),
        )
        inputs = [_input_row(ref) for ref in key.inputs]
        return row, inputs

    # -- reading ------------------------------------------------------------------------------------------

    def lookup(self, key: RequestKey) -> dict[str, Any] | None:
        """The latest ``ok`` record of the same request (as :meth:`query` gives it), or None."""
        digest = key.digest()
        if digest is None:
            return None
        with self._lock:
            conn = self._open_for_writing()
            if conn is None:
                return None
            try:
                row = conn.execute(
                    f"SELECT {_COLUMNS} FROM requests AS r WHERE cache_key = ? AND status = 'ok' "
                    "ORDER BY id DESC LIMIT 1",
                    (digest,),
                ).fetchone()
            except _sqlite_error() as e:
                self._fail(e)
                return None
        return None if row is None else _from_row(row)

    def query(self, query: Query) -> list[dict[str, Any]]:
        """The latest requests that match, the last recorded first; [] when nothing was recorded yet."""
        if not self.path.exists():
            return []
        try:
            with self._lock:
                conn = self._conn or self._open_for_reading()
                sql, params = _select(query, self._fts)
                rows = conn.execute(sql, params).fetchall()
        except (_sqlite_error(), OSError) as e:
            raise MimoError(
                Kind.INPUT,
                f"cannot read the run log {self.path}: {_reason(e)}",
                f"move it away to start a new one (mv {self.path} {self.path}.old)",
            ) from None
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- the connection -----------------------------------------------------------------------------------

    def _open_for_writing(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        from mimo_cli.runlog import schema

        try:
            self._conn = schema.connect(self.path)
            self._fts = schema.has_fts(self._conn)
        except (_sqlite_error(), OSError, schema.NewerSchema) as e:
            self._fail(e)
        return self._conn

    def _open_for_reading(self) -> sqlite3.Connection:
        from mimo_cli.runlog import schema

        try:
            self._conn = schema.connect(self.path)  # migrates an older log
        except (_sqlite_error(), OSError):  # a folder it may not write: read what is there
            self._conn = schema.connect(self.path, create=False)
        self._fts = schema.has_fts(self._conn)
        return self._conn

    def _fail(self, exc: BaseException) -> None:
        """Stop using the log in this process (each later request would wait or fail the same way), and
        say so once."""
        self._broken = True
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a connection to a full disk may fail too: it is dropped anyway
                pass
            self._conn = None
        if self._warned or self._warn is None:
            return
        self._warned = True
        self._warn(
            f"the run log {self.path} cannot be written ({_reason(exc)}); requests are not recorded",
            "the request itself goes on; turn the log off with --no-log or MIMO_LOG=0",
        )


def _sqlite_error() -> type[Exception]:
    import sqlite3

    return sqlite3.Error


def _input_row(ref: InputRef) -> tuple[Any, ...]:
    return (
        _short_data_uri(redact(ref.input)),
        ref.size,
        ref.sha256,
        None if ref.url is None else _short_data_uri(redact(ref.url)),
        ref.start,
        ref.end,
    )


_INSERT_REQUEST = (
    "INSERT INTO requests (started_at, kind, run_id, model, base_url, status, cached, cache_key, prompt, "
    "system, answer, reasoning, prompt_tokens, completion_tokens, total_tokens, elapsed_s, attempts, "
    "request_id, error_kind, options, record) VALUES (" + ", ".join("?" * 21) + ")"
)
_INSERT_INPUT = (
    "INSERT INTO inputs (request_id, position, input, size, sha256, url, span_start, span_end) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = "r.id, r.started_at, r.cached, r.answer, r.reasoning, r.record"


def _from_row(row: Iterable[Any]) -> dict[str, Any]:
    rid, started_at, cached, answer, reasoning, record = row
    stored = json.loads(record)
    stored["answer"], stored["reasoning"] = answer, reasoning
    stored.pop("cached", None)
    return {"id": rid, "started_at": started_at, **stored, "cached": bool(cached)}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _select(query: Query, fts: bool) -> tuple[str, list[Any]]:
    """The newest first: ``id`` descending, along the table, an index or the full-text index, so that
    LIMIT stops the walk early."""
    where: list[str] = []
    params: list[Any] = []
    source, order = "requests AS r", "r.id"
    if query.search and fts and len(query.search) >= 3:  # trigrams find substrings of 3 or more
        source, order = "requests_fts AS f JOIN requests AS r ON r.id = f.rowid", "f.rowid"  # its order
        where.append("requests_fts MATCH ?")
        params.append('"' + query.search.replace('"', '""') + '"')
    elif query.search:
        where.append("(r.prompt LIKE ? ESCAPE '\\' OR r.answer LIKE ? ESCAPE '\\')")
        params += [_like(query.search)] * 2
    if query.model:
        where.append("r.model = ?")
        params.append(query.model)
    if query.status:
        where.append("r.status = ?")
        params.append(query.status)
    if query.sha256:
        where.append("r.id IN (SELECT request_id FROM inputs WHERE sha256 = ?)")
        params.append(query.sha256)
    sql = f"SELECT {_COLUMNS} FROM {source}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {order} DESC"
    if query.n > 0:
        sql += " LIMIT ?"
        params.append(query.n)
    return sql, params


def _storable(values: Any) -> Any:
    """Values SQLite can store as UTF-8: a file name that is not UTF-8 (its bytes held as surrogates) is
    written ``caf\\xe9.mp4``, as the JSON records write it."""

    def one(value: Any) -> Any:
        if isinstance(value, str):
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return value

    if isinstance(values, dict):
        return {k: one(v) for k, v in values.items()}
    return type(values)(one(v) for v in values)
