"""Events written out: SRT, WebVTT, chapters, timed text; and the ``chapters`` preset.

Each writer takes events in time order (as :func:`mimo_cli.timeline.events.parse_events` returns them)
and returns the whole text, ending with a newline (an empty string for no events, except WebVTT, whose
header is always there).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mimo_cli.timeline.times import clock, srt_stamp, vtt_stamp

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    #: An event as :func:`~mimo_cli.timeline.events.parse_events` makes it, or as a record holds it.
    TimedEvent = Mapping[str, Any]

CHAPTERS_PRESET = (
    "Divide this video into chapters: at every change of scene or topic, give the time it begins and a "
    "short title of a few words. Reply with those lines only, one per chapter."
)

_BLANKS = re.compile(r"\n\s*\n+")
_SPACES = re.compile(r"\s+")


def _cue_text(text: str) -> str:
    """Cue text that cannot end its cue early: no blank line, no ``-->``, never empty."""
    text = _BLANKS.sub("\n", text.strip()).replace("-->", "->")
    return text or "…"


def to_srt(events: Iterable[TimedEvent]) -> str:
    """SubRip: cues numbered from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""
    return "".join(
        f"{n}\n{srt_stamp(e['start'])} --> {srt_stamp(e['end'])}\n{_cue_text(e['text'])}\n\n"
        for n, e in enumerate(events, 1)
    )


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(events: Iterable[TimedEvent]) -> str:
    """WebVTT: the ``WEBVTT`` line, then cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm``."""
    cues = "".join(
        f"{vtt_stamp(e['start'])} --> {vtt_stamp(e['end'])}\n{_vtt_escape(_cue_text(e['text']))}\n\n"
        for e in events
    )
    return f"WEBVTT\n\n{cues}"


def chapter_title(text: str) -> str:
    """One line: the text with its line breaks and runs of spaces made single spaces."""
    return _SPACES.sub(" ", text).strip() or "…"


def to_chapters(events: Iterable[TimedEvent]) -> str:
    """``H:MM:SS title`` a line, the first at ``0:00:00`` (what video sites read as chapters)."""
    lines = [
        f"{clock(0 if n == 0 else e['start'])} {chapter_title(e['text'])}\n" for n, e in enumerate(events)
    ]
    return "".join(lines)


def to_text(events: Iterable[TimedEvent]) -> str:
    """``[H:MM:SS] text`` on the source's timeline; the lines that continue an event follow it as they are."""
    out: list[str] = []
    for e in events:
        first, *rest = _cue_text(e["text"]).split("\n")
        out.append(f"[{clock(e['start'])}] {first}\n")
        out.extend(f"{line}\n" for line in rest)
    return "".join(out)


WRITERS: dict[str, Callable[[Iterable[TimedEvent]], str]] = {
    "srt": to_srt,
    "vtt": to_vtt,
    "chapters": to_chapters,
    "text": to_text,
}
SUBTITLE_FORMATS = ("srt", "vtt")  # what batch --sidecar writes from events


def write(fmt: str, events: Iterable[TimedEvent]) -> str:
    """The events in ``fmt`` (one of :data:`WRITERS`)."""
    return WRITERS[fmt](events)
