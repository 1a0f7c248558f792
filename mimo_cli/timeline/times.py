"""Times as options take them and as outputs write them (SPEC Part two: times).

Options accept seconds (``90``, ``90.5``), ``mm:ss``, ``h:mm:ss`` or a number with units (``90s``,
``10m``, ``1h``, ``1h30m``). Text output writes ``H:MM:SS``; SRT writes ``HH:MM:SS,mmm`` and WebVTT
``HH:MM:SS.mmm``. Pure functions: nothing here prints or reads the clock.
"""

from __future__ import annotations

import math
import re

from mimo_cli.errors import usage_error

_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_CLOCK = re.compile(rf"^(?:(?:(\d+):)?(\d+):)?({_NUMBER})$")
_UNITS = re.compile(rf"^(?:({_NUMBER})h)?(?:({_NUMBER})m(?:in)?)?(?:({_NUMBER})s)?$", re.IGNORECASE)
_EXAMPLES = "e.g. 90, 90.5, 1:30, 1:02:03, 90s, 10m, 1h30m"


def parse_time(text: str | float | int, option: str = "time") -> float:
    """Seconds (0 or more) from a time as an option takes it; a usage error naming ``option`` otherwise."""
    if isinstance(text, bool):
        raise usage_error(f"{option} must be a time, got {text!r}", _EXAMPLES)
    seconds = float(text) if isinstance(text, (int, float)) else _parse_text(text.strip(), text, option)
    if not math.isfinite(seconds) or seconds < 0:
        raise usage_error(f"{option} must be a time of 0 or more, got {text!r}", _EXAMPLES)
    return seconds


def parse_duration(text: str | float | int, option: str = "duration") -> float:
    """Like :func:`parse_time`, but the time must be more than zero (a part's length, a span)."""
    seconds = parse_time(text, option)
    if seconds <= 0:
        raise usage_error(f"{option} must be longer than 0 seconds, got {text!r}", _EXAMPLES)
    return seconds


def _parse_text(clean: str, text: str, option: str) -> float:
    clock = _CLOCK.match(clean)
    if clock:
        hours, minutes, secs = clock.groups()
        if minutes is not None and float(secs) >= 60:
            raise usage_error(f"{option}: the seconds of {text!r} must be below 60", _EXAMPLES)
        if hours is not None and int(minutes) >= 60:
            raise usage_error(f"{option}: the minutes of {text!r} must be below 60", _EXAMPLES)
        return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)
    units = _UNITS.match(clean)
    if units and any(units.groups()):
        hours, minutes, secs = (float(g) if g else 0.0 for g in units.groups())
        return hours * 3600 + minutes * 60 + secs
    raise usage_error(f"{option} must be a time, got {text!r}", _EXAMPLES)


def _split(seconds: float, unit: int) -> tuple[int, int, int, int]:
    """Hours, minutes, seconds and the rest in ``1/unit`` of a second, rounded half up to a ``1/unit``."""
    total = max(0, math.floor(seconds * unit + 0.5))
    whole, rest = divmod(total, unit)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return hours, minutes, secs, rest


def clock(seconds: float) -> str:
    """``H:MM:SS`` to the nearest second, as text output writes times: ``0:02:00``, ``1:02:03``."""
    hours, minutes, secs, _ = _split(seconds, 1)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def srt_stamp(seconds: float) -> str:
    """An SRT cue time, ``HH:MM:SS,mmm``."""
    hours, minutes, secs, millis = _split(seconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def vtt_stamp(seconds: float) -> str:
    """A WebVTT cue time, ``HH:MM:SS.mmm``."""
    hours, minutes, secs, millis = _split(seconds, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"
