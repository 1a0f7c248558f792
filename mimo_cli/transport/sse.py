"""Server-sent events: bytes -> lines -> (event, data), in linear time and bounded memory.

The line splitter is modelled on openai-python's ``_SSELineDecoder`` (``src/openai/_streaming.py``): each
chunk is scanned once for line ends and only the unfinished rest is kept, so a 4 MB event in small
chunks costs what the same bytes in small events cost (0.1 re-split its whole buffer on every chunk).
A line over :data:`~mimo_cli.transport.limits.MAX_LINE` and an event over ``MAX_EVENT`` end the stream
with ``bad_response`` naming the limit.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mimo_cli.transport.limits import MAX_EVENT, MAX_LINE, too_large

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

_LINE_END = re.compile(rb"[\r\n]")


class LineDecoder:
    """Split bytes fed in chunks at LF, CRLF or CR (as SSE allows), even a CRLF split across chunks."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._skip_lf = False  # the last chunk ended in CR: a LF starting the next one ends no line

    def _line(self) -> str:
        line = self._buffer.decode("utf-8", errors="replace")
        self._buffer.clear()
        return line

    def _add(self, chunk: bytes, start: int, end: int) -> None:
        if len(self._buffer) + end - start > self.max_line:
            raise too_large("an SSE line", self.max_line)
        self._buffer += memoryview(chunk)[start:end]

    def feed(self, chunk: bytes) -> Iterator[str]:
        start = 0
        for match in _LINE_END.finditer(chunk):
            end = match.start()
            if self._skip_lf and end == start and chunk[end] == 10:
                self._skip_lf = False
                start = end + 1
                continue
            self._add(chunk, start, end)
            self._skip_lf = chunk[end] == 13
            start = end + 1
            yield self._line()
        if start < len(chunk):
            self._skip_lf = False
            self._add(chunk, start, len(chunk))

    def finish(self) -> Iterator[str]:
        if self._buffer:
            yield self._line()


def iter_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE) -> Iterator[str]:
    """Decoded lines of a byte stream; a line ends at LF, CRLF or CR (as SSE allows)."""
    decoder = LineDecoder(max_line)
    for chunk in chunks:
        if chunk:
            yield from decoder.feed(chunk)
    yield from decoder.finish()


def iter_sse_events(lines: Iterable[str], max_event: int = MAX_EVENT) -> Iterator[tuple[str, str]]:
    """(event name, data) of each server-sent event; comments, other fields and blank lines are skipped."""
    data: list[str] = []
    held = 0
    event = ""
    first = True
    for line in lines:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        if not line:
            if data:
                yield event, "\n".join(data)
            data, event, held = [], "", 0
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            held += len(value) + 1
            if held > max_event:
                raise too_large("an SSE event", max_event)
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)
