"""``--timestamps``: the instruction sent with the prompt, and the answer's lines read back as events.

An event is ``{"start": s, "end": s, "text": str}`` on the source's timeline: the part's start plus the
time the model wrote. :func:`parse_events` is the one entry point; it is called once per answer (an
unsegmented video is one part from its start to its end; ``--segment`` calls it for each part with the
part's own ``start`` and ``end``). Pure: it never raises on any text and never prints; the caller prints
one warning per part when ``dropped`` is not 0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple, TypedDict

INSTRUCTION = (
    "Begin every line of your answer with the time in this video at which it happens, counted from the "
    "start of this video, as [mm:ss] or [h:mm:ss] (a range [mm:ss-mm:ss] is allowed too), then the text; "
    "for example: [00:05] A man opens the door. Write one line for each moment, in time order."
)

# How far past its part's end a time may be and still count (then it is clamped to the end).
TOLERANCE = 1.0


class Event(TypedDict):
    start: float
    end: float
    text: str


class Timeline(NamedTuple):
    events: list[Event]  # in time order, each within [start, end] of its part
    dropped: int  # times past the part's end (by more than TOLERANCE) or going back in time


def with_instruction(text: str) -> str:
    """The request text for ``--timestamps``: the prompt (or question), then the instruction."""
    return f"{text.rstrip()}\n\n{INSTRUCTION}" if text.strip() else INSTRUCTION


_TIME = r"\d{1,3}:[0-5]\d(?::[0-5]\d)?(?:[.,]\d{1,3})?"
_MARKS = r"(?:\*\*|__|\*|_|`)*"
_SEP = r"(?:\s*[-–—:|]\s*)?"
_HEAD = re.compile(
    rf"""^
    (?:[-*+•·]\s+|[>|]\s*|\d{{1,3}}[.)]\s+)*  # list bullets, numbered items, quotes, a table's first bar
    (?P<open>{_MARKS})\s*
    [\[(]?\s*(?P<t1>{_TIME})                  # [0:05]  (0:05)  0:05  **[1:02:03]**
    (?:\s*[\])]?\s*(?:-|–|—|~|to)\s*[\[(]?\s*(?P<t2>{_TIME}))?   # a range: [0:05-0:12], [0:05]–[0:12]
    \s*[\])]?{_SEP}(?P<close>{_MARKS}){_SEP}
    (?P<text>.*)$""",
    re.VERBOSE,
)


def _seconds(stamp: str) -> float:
    *whole, last = stamp.replace(",", ".").split(":")
    value = 0
    for part in whole:  # [h:]mm:ss: each field is worth 60 of the next
        value = value * 60 + int(part)
    return value * 60 + float(last)


def _clean(text: str, open_marks: str) -> str:
    """The text after the time, without the table bars or emphasis that wrapped the whole line."""
    text = text.strip().rstrip("|").strip()
    if open_marks and text.endswith(open_marks):
        text = text[: -len(open_marks)].rstrip()
    for mark in ("**", "__"):
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            inner = text[len(mark) : -len(mark)]
            if mark not in inner:
                text = inner.strip()
    return text


def read_head(line: str) -> tuple[float, float | None, str] | None:
    """The time (and a range's end) a line begins with, and the text after it; None for a line without."""
    match = _HEAD.match(line.strip())
    if not match:
        return None
    t2 = match["t2"]
    return _seconds(match["t1"]), _seconds(t2) if t2 else None, _clean(match["text"], match["open"])


@dataclass
class _Raw:
    start: float  # within the part
    end: float | None
    lines: list[str] = field(default_factory=list)


def _read(answer: str, span: float) -> tuple[list[_Raw], int]:
    found: list[_Raw] = []
    dropped = 0
    current: _Raw | None = None  # the event the lines without a time continue (None: drop them)
    for line in answer.splitlines():
        if not line.strip():
            continue
        head = read_head(line)
        if head is None:
            if current is not None:
                current.lines.append(line.strip())
            continue
        at, until, text = head
        if at > span + TOLERANCE or (found and at < found[-1].start):
            dropped += 1
            current = None
            continue
        current = _Raw(min(at, span), until, [text] if text else [])
        found.append(current)
    return found, dropped


def parse_events(answer: str, start: float = 0.0, end: float = 0.0) -> Timeline:
    """The events of one part's answer, on the source's timeline (the part covers ``start``..``end``).

    An event ends at its range's end, else at the next event's start, else at the part's end. A line
    without a time continues the event above it; lines before the first time are not an event. A time
    more than :data:`TOLERANCE` past the part's end, or before the event above, is dropped and counted
    (with the lines that continue it). A time with no text at all only ends the event before it.
    """
    if not (math.isfinite(start) and math.isfinite(end)):
        return Timeline([], 0)
    start, end = float(start), float(max(start, end))
    found, dropped = _read(answer, end - start)
    events: list[Event] = []
    for i, raw in enumerate(found):
        following = found[i + 1].start if i + 1 < len(found) else end - start
        until = raw.end if raw.end is not None and raw.end > raw.start else following
        text = "\n".join(raw.lines).strip()
        if text:
            events.append(
                {"start": _place(start, raw.start, end), "end": _place(start, until, end), "text": text}
            )
    return Timeline(events, dropped)


def _place(start: float, offset: float, end: float) -> float:
    """A time within a part on the source's timeline, to the millisecond and never outside the part."""
    return min(max(round(start + offset, 3), start), end)
