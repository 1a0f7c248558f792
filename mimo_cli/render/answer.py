"""Rendering an answer: rich Markdown for a terminal, plain text for pipes, one JSON record for ``--json``.

The three renderers share one small interface (``delta``, ``finish``, ``stop``).
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

from mimo_cli.redact import redact
from mimo_cli.render.console import console, info, print_json, warning
from mimo_cli.result import Result, usage_numbers

if TYPE_CHECKING:
    from rich.console import Console


# -- usage ------------------------------------------------------------------------------------------------


def usage_line(result: Result) -> str:
    """``tokens: 1,278 prompt (1,170 video, 20 audio, 47 cached) · 210 completion (101 reasoning) · ...``"""
    n = usage_numbers(result.usage)

    def fmt(value: int | None) -> str:
        return "?" if value is None else f"{value:,}"

    parts = []
    if result.usage:
        details = [f"{n[k]:,} {k}" for k in ("video", "audio", "image", "cached") if n[k]]
        parts.append(f"{fmt(n['prompt'])} prompt" + (f" ({', '.join(details)})" if details else ""))
        completion = f"{fmt(n['completion'])} completion"
        if n["reasoning"]:
            completion += f" ({n['reasoning']:,} reasoning)"
        parts.append(completion)
        parts.append(f"{fmt(n['total'])} total")
    else:
        parts.append("no usage reported")
    parts.append(f"{result.elapsed_s:.1f} s")
    return "tokens: " + " · ".join(parts)


def usage_table(result: Result) -> Any:
    from rich.table import Table

    n = usage_numbers(result.usage)
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="dim", style="dim")
    columns = [("prompt", "prompt"), ("video", "video"), ("audio", "audio"), ("cached", "cached"),
               ("completion", "completion"), ("reasoning", "reasoning"), ("total", "total")]  # fmt: skip
    shown = [(label, key) for label, key in columns if n[key] is not None]
    for label, _ in shown:
        table.add_column(label, justify="right")
    table.add_column("elapsed", justify="right")
    table.add_row(*[f"{n[key]:,}" for _, key in shown], f"{result.elapsed_s:.1f} s", style="dim")
    return table


def length_warning(result: Result) -> None:
    if result.finish_reason == "length":
        warning(
            "the answer was cut off at the token limit (finish_reason: length)",
            "allow a longer answer with --max-tokens, e.g. --max-tokens 8192",
        )


# -- renderers --------------------------------------------------------------------------------------------


class PlainRenderer:
    """For pipes: the answer alone on stdout as it arrives; reasoning (if asked) and usage on stderr."""

    def __init__(self, show_reasoning: bool = False, quiet: bool = False, out: IO[str] | None = None) -> None:
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self.out = out or sys.stdout
        self._ended_newline = True
        self._reasoning_open = False

    def delta(self, kind: str, text: str) -> None:
        text = redact(text)
        if kind == "reasoning":
            if self.show_reasoning:
                sys.stderr.write(text)
                sys.stderr.flush()
                self._reasoning_open = not text.endswith("\n")
            return
        if self._reasoning_open:
            sys.stderr.write("\n")
            self._reasoning_open = False
        self.out.write(text)
        self.out.flush()
        self._ended_newline = text.endswith("\n")

    def finish(self, result: Result) -> None:
        self.stop()
        if not self.quiet:
            length_warning(result)
            info(usage_line(result))

    def stop(self) -> None:
        """End the lines left open, so that an error after part of the answer starts on its own line."""
        if self._reasoning_open:
            sys.stderr.write("\n")
            self._reasoning_open = False
        if not self._ended_newline:
            self.out.write("\n")
            self.out.flush()
            self._ended_newline = True


def _quiet_ctrl_echo() -> Any:
    """Stop the terminal from echoing ``^C`` while the live view is on screen; returns what to restore.

    The echo moves the cursor under the live view, whose transient erase then misses a line: after Ctrl-C
    the answer's first line was shown twice. (termios is POSIX only; elsewhere nothing changes.)
    """
    try:
        import termios

        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            return None
        saved = termios.tcgetattr(fd)
        quiet = list(saved)
        quiet[3] &= ~termios.ECHOCTL
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
        return fd, saved
    except (ImportError, AttributeError, OSError, ValueError):
        return None


def _restore_echo(saved: Any) -> None:
    if saved is None:
        return
    import termios

    fd, attrs = saved
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (OSError, termios.error):
        pass


class _Tail:
    """Markdown cropped to its last lines, so a long streamed answer scrolls instead of overflowing."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: Any) -> Any:
        from rich.markdown import Markdown
        from rich.segment import Segment

        lines = console.render_lines(Markdown(self.text), options, pad=False)
        height = max(3, console.size.height - 2)
        for line in lines[-height:]:
            yield from line
            yield Segment.line()


class TerminalRenderer:
    """For a terminal: reasoning dim on stderr, the answer as Markdown rendered live, a usage table."""

    def __init__(self, show_reasoning: bool = True, quiet: bool = False) -> None:
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self.answer = ""
        self._live: Any = None
        self._echo: Any = None
        self._reasoning_open = False

    def delta(self, kind: str, text: str) -> None:
        text = redact(text)
        if kind == "reasoning":
            if self.show_reasoning:
                console().print(text, style="dim italic", end="", markup=False, highlight=False)
                self._reasoning_open = not text.endswith("\n")
            return
        if self._reasoning_open:
            console().print()
            self._reasoning_open = False
        self.answer += text
        if self._live is None:
            from rich.live import Live

            live = Live(
                _Tail(self.answer), console=console(stderr=False), transient=True, refresh_per_second=8
            )
            self._echo = _quiet_ctrl_echo()
            self._live = live  # stop() undoes what start() did, even when Ctrl-C lands inside start()
            live.start()
        else:
            self._live.update(_Tail(self.answer))

    def finish(self, result: Result) -> None:
        self._end_live()
        self._print_answer(result.answer or self.answer)
        if not self.quiet:
            length_warning(result)
            console().print(usage_table(result))

    def stop(self) -> None:
        """After an error or Ctrl-C: keep what arrived of the answer on the screen (the live view is transient)."""
        if self._live is not None:
            self._end_live()
            self._print_answer(self.answer)
        elif self._reasoning_open:
            console().print()
            self._reasoning_open = False

    def _end_live(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            try:
                live.stop()
            except IndexError:  # Ctrl-C came inside Live.start(), before it pushed its render hook
                pass
            _restore_echo(self._echo)

    def _print_answer(self, text: str) -> None:
        from rich.markdown import Markdown

        if self._reasoning_open:
            console().print()
            self._reasoning_open = False
        console(stderr=False).print(Markdown(redact(text)))


class JsonRenderer:
    """``--json``: nothing while the answer streams, then one record on stdout."""

    def __init__(self, inputs: str | list[str], quiet: bool = False) -> None:
        self.inputs = inputs
        self.quiet = quiet

    def delta(self, kind: str, text: str) -> None:
        pass

    def stop(self) -> None:
        pass

    def finish(self, result: Result) -> None:
        from mimo_cli.result import make_record

        print_json(make_record(self.inputs, result.model, result))
        if not self.quiet:
            length_warning(result)


class DataRenderer:
    """``--schema``: the answer's object as JSON on stdout once it is validated, indented on a terminal and
    on one line in a pipe (the raw answer, and any repair's, is not shown); reasoning and usage on stderr."""

    def __init__(self, terminal: bool, show_reasoning: bool = False, quiet: bool = False) -> None:
        self.terminal = terminal
        self.show_reasoning = show_reasoning
        self.quiet = quiet
        self._reasoning_open = False

    def delta(self, kind: str, text: str) -> None:
        if kind != "reasoning" or not self.show_reasoning:
            return
        text = redact(text)
        if self.terminal:
            console().print(text, style="dim italic", end="", markup=False, highlight=False)
        else:
            sys.stderr.write(text)
            sys.stderr.flush()
        self._reasoning_open = not text.endswith("\n")

    def stop(self) -> None:
        if self._reasoning_open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._reasoning_open = False

    def finish(self, result: Result) -> None:
        self.stop()
        print_json(result.data, indent=2 if self.terminal else None)
        if self.quiet:
            return
        length_warning(result)
        if self.terminal:
            console().print(usage_table(result))
        else:
            info(usage_line(result))


def make_renderer(
    record_input: str | list[str],
    as_json: bool,
    reasoning: bool | None,
    quiet: bool,
    structured: bool = False,
) -> PlainRenderer | TerminalRenderer | JsonRenderer | DataRenderer:
    """--json: one record; --schema: the object as JSON; a terminal: Markdown as it streams, reasoning
    unless --no-reasoning; a pipe: plain text, reasoning only with --reasoning."""
    from mimo_cli.render.console import stdout_is_terminal

    if as_json:
        return JsonRenderer(record_input, quiet=quiet)
    if structured:
        terminal = stdout_is_terminal()
        shown = reasoning is not False if terminal else bool(reasoning)
        return DataRenderer(terminal, show_reasoning=shown, quiet=quiet)
    if stdout_is_terminal():
        return TerminalRenderer(show_reasoning=reasoning is not False, quiet=quiet)
    return PlainRenderer(show_reasoning=bool(reasoning), quiet=quiet)
