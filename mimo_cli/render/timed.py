"""``--format srt|vtt|chapters``: stdout gets the answer's events as subtitles or chapters, not the text."""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from mimo_cli.redact import redact
from mimo_cli.render.answer import length_warning, usage_line
from mimo_cli.render.console import info
from mimo_cli.timeline.subtitles import write

if TYPE_CHECKING:
    from mimo_cli.result import Result

#: The --format values that print events, and so imply --timestamps.
TIMED_FORMATS = ("srt", "vtt", "chapters")
FORMATS = ("text", "json", *TIMED_FORMATS)


class TimedRenderer:
    """Nothing on stdout while the answer streams (reasoning on stderr when asked), then the events."""

    def __init__(
        self, fmt: str, show_reasoning: bool = False, quiet: bool = False, out: IO[str] | None = None
    ):
        self.fmt = fmt
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self.out = out or sys.stdout
        self._reasoning_open = False

    def delta(self, kind: str, text: str) -> None:
        if kind == "reasoning" and self.show_reasoning:
            sys.stderr.write(redact(text))
            sys.stderr.flush()
            self._reasoning_open = not text.endswith("\n")

    def finish(self, result: Result) -> None:
        self.stop()
        self.out.write(redact(write(self.fmt, result.events or [])))
        self.out.flush()
        if not self.quiet:
            length_warning(result)
            info(usage_line(result))

    def stop(self) -> None:
        if self._reasoning_open:
            sys.stderr.write("\n")
            self._reasoning_open = False
