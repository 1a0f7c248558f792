"""The run log's tables, their indexes, and the migrations between schema versions.

The schema version is SQLite's ``PRAGMA user_version``. Opening a database brings it up to
:data:`LATEST` inside one ``BEGIN IMMEDIATE`` transaction (two processes opening a new log at once: the
second waits, then finds it migrated). A database from a newer mimo is not written to.

``requests`` holds one row per request mimo sent (or answered from the log), in the order they ended
(``id``, which ``mimo logs`` sorts on: newest first is a walk back along the table or an index): the
columns that ``mimo logs`` filters on, the answer and reasoning, and the rest of the JSON record in
``record`` (with ``answer`` and ``reasoning`` left null there, so they are stored once). ``inputs``
holds each input's size, SHA-256 and span. ``requests_fts`` is a trigram full-text index over prompt
and answer (substring search, any language) when the SQLite build has FTS5 with the trigram tokenizer
(SQLite >= 3.34); without it ``--search`` scans.
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

BUSY_TIMEOUT_MS = 5000

_V1 = """
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,          -- ISO 8601, UTC, milliseconds
    kind TEXT NOT NULL,                -- describe | ask | batch | part | merge | repair
    run_id TEXT,                       -- one mimo process
    model TEXT NOT NULL,
    base_url TEXT,                     -- without credentials
    status TEXT NOT NULL,              -- ok | error
    cached INTEGER NOT NULL DEFAULT 0, -- 1: answered from the log, nothing sent
    cache_key TEXT,                    -- identity.RequestKey.digest(); null when an input is not known
    prompt TEXT,                       -- the request's text part
    system TEXT,                       -- the --system option: "default", "" or its text
    answer TEXT,
    reasoning TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    elapsed_s REAL,
    attempts INTEGER,
    request_id TEXT,
    error_kind TEXT,
    options TEXT NOT NULL,             -- JSON: the request options
    record TEXT NOT NULL               -- JSON: the record, as --json prints it
);
CREATE TABLE inputs (
    request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    input TEXT NOT NULL,               -- as recorded (a data URI shortened)
    size INTEGER,
    sha256 TEXT,                       -- of the content; null for a URL the API fetches
    url TEXT,
    span_start REAL,
    span_end REAL,
    PRIMARY KEY (request_id, position)
) WITHOUT ROWID;
CREATE INDEX requests_by_model ON requests (model);
CREATE INDEX requests_by_status ON requests (status);
CREATE INDEX requests_by_cache_key ON requests (cache_key) WHERE status = 'ok';
CREATE INDEX inputs_by_sha256 ON inputs (sha256);
"""

_V1_FTS = """
CREATE VIRTUAL TABLE requests_fts USING fts5(
    prompt, answer, content='requests', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER requests_fts_insert AFTER INSERT ON requests BEGIN
    INSERT INTO requests_fts (rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
END;
CREATE TRIGGER requests_fts_delete AFTER DELETE ON requests BEGIN
    INSERT INTO requests_fts (requests_fts, rowid, prompt, answer)
    VALUES ('delete', old.id, old.prompt, old.answer);
END;
CREATE TRIGGER requests_fts_update AFTER UPDATE OF prompt, answer ON requests BEGIN
    INSERT INTO requests_fts (requests_fts, rowid, prompt, answer)
    VALUES ('delete', old.id, old.prompt, old.answer);
    INSERT INTO requests_fts (rowid, prompt, answer) VALUES (new.id, new.prompt, new.answer);
END;
"""


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    for statement in _statements(_V1):
        conn.execute(statement)
    conn.execute("SAVEPOINT fts")
    try:
        for statement in _statements(_V1_FTS):
            conn.execute(statement)
    except sqlite3.OperationalError:  # no FTS5, or no trigram tokenizer: --search scans instead
        conn.execute("ROLLBACK TO fts")
    conn.execute("RELEASE fts")


#: MIGRATIONS[i] takes a database from version i to version i + 1.
MIGRATIONS = [_migrate_to_1]
LATEST = len(MIGRATIONS)


class NewerSchema(Exception):
    """The database was written by a newer mimo."""


def _statements(script: str) -> list[str]:
    """The statements of a script (triggers hold semicolons: split where sqlite3 says one is complete)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line.split("--", 1)[0].rstrip() + "\n" if "--" in line else line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


def _create_private(path: Path) -> None:
    """The folder (0700) and an empty database file (0600): a log holds prompts and answers.

    SQLite gives its -wal and -shm files the mode of the database file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open (and, with ``create``, make or migrate) the run log; raises sqlite3.Error or OSError.

    The connection is in autocommit mode (transactions are explicit), WAL, ``synchronous=NORMAL`` (a
    killed process loses nothing committed; only a power cut can lose the last commits), and waits up to
    :data:`BUSY_TIMEOUT_MS` for another writer.
    """
    if create:
        _create_private(path)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST:
            raise NewerSchema(f"schema version {version}, this mimo knows {LATEST}")
        if create:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if version < LATEST and create:
            _upgrade(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _upgrade(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have done it
        for migrate in MIGRATIONS[version:]:
            migrate(conn)
        conn.execute(f"PRAGMA user_version = {LATEST}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def has_fts(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'requests_fts'").fetchone()
    return row is not None
