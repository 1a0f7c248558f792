"""Showing a segmented request: progress on stderr, the parts (or the merged answer) on stdout.

On a terminal each part is shown, as Markdown under its ``## H:MM:SS–H:MM:SS`` heading, as soon as it
and every part before it are done, and stderr shows each step (converting, sending) as it starts; in
a pipe stdout gets the same text, plain, and stderr one line per finished part. With a merge, stdout
gets only the merged answer (streamed by the usual renderer).
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from mimo_cli.redact import redact
from mimo_cli.render.answer import length_warning, usage_line, usage_table
from mimo_cli.render.console import console, info, stdout_is_terminal, warning
from mimo_cli.segment.plan import heading

if TYPE_CHECKING:
    from mimo_cli.result import Result
    from mimo_cli.segment.plan import Part
    from mimo_cli.segment.run import Outcome


class PartsView:
    """Progress of the parts (stderr) and, without a merge, the parts themselves (stdout)."""

    def __init__(self, count: int, *, show_parts: bool, quiet: bool) -> None:
        self.count = count
        self.show_parts = show_parts
        self.quiet = quiet
        self.terminal = stdout_is_terminal()
        self._shown = 0
        self._lock = threading.Lock()  # steps are told from worker threads

    def step(self, part: Part, step: str) -> None:
        """A part's step as it starts (worker threads): on a terminal only, and not the quick copy."""
        if self.quiet or not self.terminal or step == "cutting":
            return
        with self._lock:
            info(f"part {part.index} of {self.count}: {step}…")

    def finished(self, outcome: Outcome[Result]) -> None:
        if outcome.error is not None:
            if outcome.sent:  # the parts not sent after an auth error are told once, by the error
                warning(f"part {outcome.part.index} of {self.count} ({outcome.part.times}) failed: "
                        f"{outcome.error.message}")  # fmt: skip
            return
        if not self.quiet:
            with self._lock:
                info(f"part {outcome.part.index} of {self.count} done")

    def ready(self, outcome: Outcome[Result]) -> None:
        """A part whose every predecessor is done: shown now (without a merge, and when it succeeded)."""
        if not self.show_parts or outcome.value is None:
            return
        section = f"{heading(outcome.part)}\n\n{outcome.value.answer.strip()}"
        if self.terminal:
            from rich.markdown import Markdown

            console(stderr=False).print(Markdown(redact(section)))
        else:
            sys.stdout.write(("\n" if self._shown else "") + redact(section) + "\n")
            sys.stdout.flush()
        self._shown += 1

    def summary(self, total: Result) -> None:
        """After the parts (without a merge): the warning of a cut answer, the usage of every request."""
        if self.quiet:
            return
        length_warning(total)
        if self.terminal:
            console().print(usage_table(total))
        else:
            info(usage_line(total))
