"""Timed answers: times as options take them, events read from answers, subtitles and chapters."""

from __future__ import annotations

from mimo_cli.timeline.events import INSTRUCTION, Event, Timeline, parse_events, with_instruction
from mimo_cli.timeline.subtitles import CHAPTERS_PRESET, WRITERS, write
from mimo_cli.timeline.times import clock, parse_duration, parse_time, srt_stamp, vtt_stamp

__all__ = [
    "CHAPTERS_PRESET",
    "INSTRUCTION",
    "WRITERS",
    "Event",
    "Timeline",
    "clock",
    "parse_duration",
    "parse_events",
    "parse_time",
    "srt_stamp",
    "vtt_stamp",
    "with_instruction",
    "write",
]
