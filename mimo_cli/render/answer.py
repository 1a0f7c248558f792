"""Rendering an answer: rich Markdown for a terminal, plain text for pipes, one JSON record for ``--json``.

The three renderers share one small interface (``delta``, ``finish``, ``stop``).
"""

from __future__ import annotations

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

            self._live = Live(
                _Tail(self.answer), console=console(stderr=False), transient=True, refresh_per_second=8
            )
            self._live.start()
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
            self._live.stop()
            self._live = None

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


def make_renderer(
    record_input: str | list[str], as_json: bool, reasoning: bool | None, quiet: bool
) -> PlainRenderer | TerminalRenderer | JsonRenderer:
    """--json: one record; a terminal: Markdown as it streams, reasoning unless --no-reasoning; a pipe:
    plain text, reasoning only with --reasoning."""
    from mimo_cli.render.console import stdout_is_terminal

    if as_json:
        return JsonRenderer(record_input, quiet=quiet)
    if stdout_is_terminal():
        return TerminalRenderer(show_reasoning=reasoning is not False, quiet=quiet)
    return PlainRenderer(show_reasoning=bool(reasoning), quiet=quiet)


def replay(renderer: PlainRenderer | TerminalRenderer | JsonRenderer, result: Result,
           record: dict[str, Any]) -> None:  # fmt: skip
    """Show an answer taken from the run log as it was shown the first time (``--json``: its record,
    with ``"cached": true``)."""
    if isinstance(renderer, JsonRenderer):
        print_json(record)
        if not renderer.quiet:
            length_warning(result)
        return
    if result.reasoning:
        renderer.delta("reasoning", result.reasoning)
    renderer.delta("content", result.answer)
    renderer.finish(result)
