"""Writing a file so that a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_UMASK: list[int] = []


def umask() -> int:
    """The process's umask (read once: os.umask can only be read by setting it)."""
    if not _UMASK:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]


def write_atomically(
    target: Path, text: str, *, mode: int | None = None, make_parents: int | None = None
) -> None:
    """Write ``text`` (UTF-8) through a temporary file in the same folder, fsync it, rename it over ``target``.

    ``mode``: the new file's permissions (default: what the umask gives a new file). ``make_parents``:
    create missing folders with this mode. A failure leaves ``target`` as it was and no temporary file.
    """
    if make_parents is not None:
        target.parent.mkdir(parents=True, exist_ok=True, mode=make_parents)
    # a short temporary name: a long file name plus a prefix and a suffix could pass NAME_MAX (255)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mimo-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode if mode is not None else 0o666 & ~umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: A write that failed for want of room: a full disk, a quota passed.
NO_ROOM = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def why_not_written(e: OSError) -> str:
    """Why a write failed, in words: "the disk is full" rather than "[Errno 28] No space left on device"."""
    if e.errno in NO_ROOM:
        return "the disk is full"
    if e.errno == errno.EFBIG:
        return "the file is too large for its file system"
    return e.strerror or str(e)


def silence(stream: object) -> None:
    """Point a stream's descriptor at os.devnull: what its buffer still holds would fail again at exit
    ("Exception ignored ... No space left on device", or a BrokenPipeError once the reader has gone)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fileno = stream.fileno()  # type: ignore[attr-defined]
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fileno)
        os.close(devnull)
