"""The consoles: stdout for answers and JSON, stderr for everything else.

rich is imported only when something is shown on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from mimo_cli.redact import redact

if TYPE_CHECKING:
    from rich.console import Console

    from mimo_cli.errors import MimoError

_consoles: dict[str, Console] = {}


def use_utf8() -> None:
    """Write UTF-8 whatever the locale (LANG=C must not crash on Chinese text)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower() not in (
            "utf-8",
            "utf8",
        ):
            try:
                reconfigure(encoding="utf-8", errors="replace")
            except (ValueError, OSError):  # a stream that cannot be reconfigured: leave it
                pass


def console(stderr: bool = True) -> Console:
    """The rich console for stderr (default) or stdout; NO_COLOR and non-terminals get no colour codes."""
    name = "err" if stderr else "out"
    stream = sys.stderr if stderr else sys.stdout
    cached = _consoles.get(name)
    if cached is None or cached.file is not stream:
        from rich.console import Console

        cached = Console(file=stream, highlight=False, soft_wrap=not stream.isatty())
        _consoles[name] = cached
    return cached


def stdout_is_terminal() -> bool:
    """Whether answers go to a terminal (rendered as Markdown) or to a pipe or a file (plain text)."""
    return not _plain(sys.stdout)


def _plain(stream: IO[str]) -> bool:
    """Whether lines for this stream can be written as they are, without rich: not a terminal, and nothing
    asks rich for colour anyway. (Importing rich costs about 20 ms and a few MB: a script's run skips it.)"""
    forced = any(os.environ.get(name) for name in ("FORCE_COLOR", "TTY_COMPATIBLE"))
    isatty = getattr(stream, "isatty", None)
    return not forced and not (isatty is not None and isatty())


def _write_plain(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _line(label: str, style: str, message: str) -> None:
    if _plain(sys.stderr):
        _write_plain(f"{label}: {redact(message)}")
        return
    from rich.text import Text

    text = Text()
    text.append(f"{label}:", style=style)
    text.append(" " + redact(message))
    console().print(text, soft_wrap=True)


def error(e: MimoError) -> None:
    _line("error", "bold red", e.message)
    if e.hint:
        _line("hint", "cyan", e.hint)


def warning(message: str, hint: str | None = None) -> None:
    _line("warning", "bold yellow", message)
    if hint:
        _line("hint", "cyan", hint)


def info(message: str) -> None:
    if _plain(sys.stderr):
        _write_plain(redact(message))
        return
    console().print(redact(message), style="dim", soft_wrap=True, markup=False, highlight=False)


def debug(message: str) -> None:
    """A ``--debug`` line (request and response headers, retry reasons) on stderr."""
    info(message)


def print_json(obj: Any, indent: int | None = None) -> None:
    sys.stdout.write(redact(json.dumps(obj, ensure_ascii=False, indent=indent)) + "\n")
    sys.stdout.flush()


class StatusLine:
    """A transient line on stderr, on a terminal only: what mimo is doing while nothing else shows
    ("converting clip.mov with ffmpeg… 43 %", "waiting for the model…"). Call it with None to clear it."""

    def __init__(self) -> None:
        self._status: Any = None

    def __call__(self, text: str | None) -> None:
        if text is None:
            if self._status is not None:
                self._status.stop()
                self._status = None
            return
        if self._status is None:
            self._status = console().status(redact(text), spinner="dots")
            self._status.start()
        else:
            self._status.update(redact(text))


def status_line(quiet: bool) -> StatusLine | None:
    """A :class:`StatusLine` when stderr is a terminal (and not --quiet); None: nothing extra in a pipe."""
    return None if quiet or _plain(sys.stderr) else StatusLine()
