"""Batch progress on stderr: a rich bar on a terminal, one line per input otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from mimo_cli.batch.summary import NullProgress, Progress, Summary, skipping_line
from mimo_cli.redact import redact, strip_controls
from mimo_cli.result import usage_numbers


def record_line(record: dict[str, Any]) -> str:
    """``ok     media/a.mp4 · 1,488 tokens · 3.2 s`` or ``failed media/b.mp4: input: ...``."""
    name = record["input"]
    if record["status"] == "ok":
        total = usage_numbers(record.get("usage"))["total"]
        tokens = f"{total:,} tokens" if total is not None else "no usage reported"
        return f"ok     {name} · {tokens} · {record['elapsed_s']:.1f} s"
    err = record["error"] or {}
    return f"failed {name}: {err.get('kind')}: {err.get('message')}"


class LineProgress:
    """Not a terminal: one line per finished input on stderr."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self._lock = threading.RLock()

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        with self._lock:
            stream.write(redact(strip_controls(text)) + "\n")
            stream.flush()

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self._write(skipping_line(total, skipped))

    def finished(self, record: dict[str, Any], _summary: Summary) -> None:
        self._write(record_line(record))

    def message(self, text: str) -> None:
        self._write(text)

    def stop(self) -> None:
        pass


class RichProgress:
    """A terminal: a rich progress bar with the ETA and the running token total; failures above it."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar
        from rich.text import Text

        class Remaining(ProgressColumn):
            """The ETA from the rate of finished inputs (see :func:`eta`), counting down between them."""

            def render(self, task: Any) -> Text:
                left = eta(int(task.remaining or 0), int(task.completed), task.fields.get("at_last", 0.0),
                           time.monotonic() - task.fields.get("last", time.monotonic()))  # fmt: skip
                if left is None:
                    return Text("-:--:--", style="progress.remaining")
                hours, rest = divmod(int(left + 0.5), 3600)
                return Text(f"{hours}:{rest // 60:02d}:{rest % 60:02d}", style="progress.remaining")

        from mimo_cli.render.console import console

        self.console = console()
        self.bar = Bar(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            Remaining(),
            TextColumn("{task.fields[tokens]} tokens · {task.fields[failed]}"),
            console=self.console,
            transient=False,
        )
        self.task: Any = None

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.message(skipping_line(total, skipped))
        self.task = self.bar.add_task("batch", total=total - skipped, tokens="0", failed="0 failed")
        self.began = time.monotonic()
        self.bar.start()

    def finished(self, record: dict[str, Any], summary: Summary) -> None:
        if record["status"] != "ok":
            self.message(record_line(record))
        now = time.monotonic()
        self.bar.update(self.task, advance=1, tokens=f"{summary.tokens:,}", failed=f"{summary.failed:,} failed",
                        at_last=now - self.began, last=now)  # fmt: skip

    def message(self, text: str) -> None:
        self.bar.console.print(redact(strip_controls(text)), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.bar.stop()


def eta(remaining: int, finished: int, at_last: float, since_last: float) -> float | None:
    """Seconds left: the inputs left finish at the rate inputs have finished so far (``finished`` in
    ``at_last`` seconds, which counts the jobs in flight: 4 jobs of 10 s finish 4 inputs in 10 s), less the
    time since the last one finished (so it counts down between them). None before the first finishes."""
    if finished <= 0 or at_last <= 0:
        return None
    return max(0.0, remaining * at_last / finished - since_last)


def make_progress(quiet: bool, records_on_terminal: bool) -> Progress:
    """The rich bar on a terminal (unless the records go to that terminal too), lines otherwise."""
    if quiet:
        return NullProgress()
    from mimo_cli.render.console import console

    if console().is_terminal and not records_on_terminal:
        return RichProgress()
    return LineProgress()
