"""The run log: every request mimo sends, recorded in SQLite; ``mimo logs`` and ``--cache`` read it.

- :mod:`~mimo_cli.runlog.paths`: where the database lives (``$MIMO_LOG_PATH``, ``$XDG_DATA_HOME`` …).
- :mod:`~mimo_cli.runlog.identity`: what identifies a request (content SHA-256, span, options): the
  cache key.
- :mod:`~mimo_cli.runlog.store`: :class:`RunLog`, which records, looks up and lists.
- :mod:`~mimo_cli.runlog.schema`: tables, indexes and migrations (imports ``sqlite3``; loaded on first
  use, so ``mimo --version`` and ``--help`` never pay for it).
"""

from __future__ import annotations

from mimo_cli.runlog.identity import InputRef, RequestKey, sha256_file
from mimo_cli.runlog.paths import log_path
from mimo_cli.runlog.store import KINDS, Query, RunLog, Warn

__all__ = ["KINDS", "InputRef", "Query", "RequestKey", "RunLog", "Warn", "log_path", "sha256_file"]
