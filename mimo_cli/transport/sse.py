"""Server-sent events: bytes -> lines -> (event, data)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    pass


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines of a byte stream; a line ends at LF, CRLF or CR (as SSE allows)."""
    buffer = b""
    for chunk in chunks:
        if not chunk:
            continue
        buffer += chunk
        if buffer.endswith(b"\r"):  # it may be the first half of a CRLF: wait for the next chunk
            parts = re.split(rb"\r\n|\r|\n", buffer[:-1])
            buffer = parts.pop() + b"\r"
        else:
            parts = re.split(rb"\r\n|\r|\n", buffer)
            buffer = parts.pop()
        for line in parts:
            yield line.decode("utf-8", errors="replace")
    if buffer:
        for line in re.split(rb"\r\n|\r|\n", buffer.rstrip(b"\r")):
            yield line.decode("utf-8", errors="replace")


def iter_sse_events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) of each server-sent event; comments, other fields and blank lines are skipped."""
    data: list[str] = []
    event = ""
    first = True
    for line in lines:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        if not line:
            if data:
                yield event, "\n".join(data)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)
