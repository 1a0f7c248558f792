"""Where the run log lives."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Environment variable naming the database file itself (for tests, or a log kept elsewhere).
PATH_ENV = "MIMO_LOG_PATH"
FILE_NAME = "logs.db"


def data_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """``$XDG_DATA_HOME``, else the platform's data folder: ``~/.local/share`` on Linux,
    ``~/Library/Application Support`` on macOS, ``%LOCALAPPDATA%`` on Windows."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).expanduser().is_absolute():  # the XDG spec: a relative value is ignored
        return Path(xdg).expanduser()
    if platform == "win32":
        local = env.get("LOCALAPPDATA") or env.get("APPDATA")
        if local:
            return Path(local)
        return Path.home() / "AppData" / "Local"
    if platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path.home() / ".local" / "share"


def log_path(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """``$MIMO_LOG_PATH``, else ``mimo/logs.db`` in :func:`data_dir`."""
    env = os.environ if env is None else env
    if env.get(PATH_ENV):
        return Path(env[PATH_ENV]).expanduser()
    return data_dir(env, platform) / "mimo" / FILE_NAME
