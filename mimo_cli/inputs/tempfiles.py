"""Temporary files: one folder per process, removed when the command ends."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

# -- temporary files ---------------------------------------------------------------------------------------
# Every temporary file mimo makes (a spooled stdin, a download, a converted video) lives in one folder of
# this process. Its name is recorded before it is created, so removing the folder when the command ends
# (remove_temp_dir, called by the CLI, and at exit) leaves nothing behind even if Ctrl-C lands between
# creating a file and recording it.
_temp_state: dict[str, Path] = {}
_temp_lock = threading.Lock()


def temp_file(prefix: str, suffix: str = "") -> Path:
    """A new empty file in this process's temporary folder; delete it with :func:`release_temp`."""
    with _temp_lock:
        folder = _temp_state.get("dir")
        if folder is None:
            folder = Path(tempfile.gettempdir()) / f"mimo-{os.getpid()}-{secrets.token_hex(4)}"
            _temp_state["dir"] = folder
            if "atexit" not in _temp_state:
                atexit.register(remove_temp_dir)
                _temp_state["atexit"] = folder
            folder.mkdir(mode=0o700)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        os.close(fd)
        return Path(name)


def release_temp(path: Path) -> None:
    """Delete a file made by :func:`temp_file`, and the folder once it is empty."""
    with _temp_lock:
        path.unlink(missing_ok=True)
        folder = _temp_state.get("dir")
        if folder is not None and path.parent == folder:
            try:
                folder.rmdir()
            except OSError:  # other files are still in use
                return
            del _temp_state["dir"]


def remove_temp_dir() -> None:
    """Delete the temporary folder and whatever is left in it (the end of a command, or an interrupt)."""
    with _temp_lock:
        folder = _temp_state.pop("dir", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
