"""Where a batch's records go: stdout, or an output file that one mimo at a time may write.

An output file is locked (``fcntl.flock``, exclusive, not waiting) before it is read for ``--resume`` or
truncated: a second ``mimo batch -o`` on the same file refuses at once. The lock goes with the process
(a kill releases it). Where ``fcntl`` does not exist (Windows), no lock is taken.

Records are written whole with ``os.write`` on the file's descriptor: no buffer holds half a record, so a
full disk or a kill leaves whole lines only (a record that did not fit is cut back off the file).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from typing import IO, TYPE_CHECKING

from mimo_cli.errors import usage_error
from mimo_cli.fsutil import silence, why_not_written

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from mimo_cli.batch.plan import Item


class OutputGone(Exception):
    """The records cannot be written any more: the reader has gone, or the disk is full."""

    def __init__(self, reason: str, quiet: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.quiet = quiet  # the reader has gone (`| head`): nobody to tell


def lock(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: no lock (see the module docstring)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise usage_error(
            f"another mimo is writing {path}", "wait for it to end, or give this batch another --output"
        ) from None
    except OSError:  # a file system without locks (some network mounts): go on unlocked
        pass


class Records:
    """The output of a batch; :meth:`write` takes one record's line (with its newline)."""

    def __init__(self, path: Path | None, stream: IO[str] | None = None) -> None:
        self.path = path
        self.stream = stream
        self.fd: int | None = None
        self.regular = False  # a regular file (not /dev/null, a FIFO ...): it can be cut and appended to
        self.name = str(path) if path is not None else "stdout"

    @classmethod
    def open(cls, path: Path) -> Records:
        """Open and lock the output file, as it is (:meth:`start` empties it or goes to its end)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as e:
            raise usage_error(f"cannot write {path}: {e.strerror or e}") from None
        lock(fd, path)
        records = cls(path)
        records.fd = fd
        records.regular = stat.S_ISREG(os.fstat(fd).st_mode)
        return records

    def start(self, resume: bool) -> None:
        """Once the batch is sure to run: append (``resume``, after load_done read the file) or empty it."""
        if self.fd is None or not self.regular:
            return
        if resume:
            os.lseek(self.fd, 0, os.SEEK_END)
        else:
            os.ftruncate(self.fd, 0)
            os.lseek(self.fd, 0, os.SEEK_SET)

    def write(self, line: str) -> None:
        if self.fd is None:
            self._write_stream(line)
            return
        data = line.encode("utf-8", "backslashreplace")
        start = os.lseek(self.fd, 0, os.SEEK_CUR) if self.regular else 0
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as e:
            if self.regular:  # a record that did not fit whole is cut off again
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, start)
                    os.lseek(self.fd, start, os.SEEK_SET)
            raise OutputGone(f"cannot write {self.name}: {why_not_written(e)}") from None

    def _write_stream(self, line: str) -> None:
        stream = self.stream or sys.stdout
        try:
            stream.write(line)
            stream.flush()
        except BrokenPipeError:
            silence(stream)
            raise OutputGone("the reader of stdout has gone", quiet=True) from None
        except OSError as e:
            silence(stream)
            raise OutputGone(f"cannot write the records to stdout: {why_not_written(e)}") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None
        else:
            with contextlib.suppress(OSError, ValueError):
                (self.stream or sys.stdout).flush()


def refuse_an_input(output: Path, items: Iterable[Item]) -> None:
    """A usage error when ``output`` is one of the inputs (by any name): opening it would truncate a video.

    Only the inputs named like the output (or like the file it links to) are looked at, so a big batch
    costs one ``stat`` per candidate, not per input; a hard link under another name is not caught.
    """
    try:
        st = os.stat(output)
    except OSError:
        return  # not there yet: it cannot be an input
    names = {os.path.basename(output), os.path.basename(os.path.realpath(output))}
    for item in items:
        if not item.is_local or os.path.basename(item.input) not in names:
            continue
        with contextlib.suppress(OSError):
            if os.path.samestat(st, os.stat(item.input)):
                raise usage_error(
                    f"--output {output} is one of the inputs",
                    "give the records a file of their own, e.g. -o records.jsonl",
                )
