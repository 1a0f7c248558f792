"""Planning a long video's parts, and the texts that go with them (SPEC Part two, "Long videos").

Pure functions: the number and times of the parts (N = ceil(D / L), every part D / N long), the
``auto`` part length (the API samples at most 2,048 frames of a video), moving a boundary onto a
keyframe so a part can be cut without re-encoding, the line of context each part's prompt begins
with, the text of the merge request and the text output of the parts without one.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from mimo_cli.errors import MimoError
from mimo_cli.timeline import times

if TYPE_CHECKING:
    from collections.abc import Sequence

AUTO = "auto"
#: What ``--segment`` holds once parsed: a part length in seconds, or ``"auto"``.
Segment = float | Literal["auto"]

#: The API samples at most this many frames of one video.
MAX_FRAMES = 2048
#: ``auto`` never makes a part longer than this (seconds), whatever the frame rate.
AUTO_CAP = 600.0
#: A duration this little over a multiple of the part length is container noise (AAC priming, the
#: last frame's length), not a reason for one more part: 20:00.02 in parts of 10m is two parts.
SLACK = 0.25
#: A boundary moves back onto a keyframe (so the part after it can be stream-copied) when one is at
#: most this share of a part's length before it, and at most :data:`SNAP_CAP` seconds.
SNAP_SHARE = 0.02
SNAP_CAP = 5.0


def parse_duration(text: str, option: str = "--segment") -> float:
    """Seconds (more than 0) from ``90``, ``90.5``, ``mm:ss``, ``h:mm:ss``, ``90s``, ``10m``, ``1h30m``
    (the one time parser of :mod:`mimo_cli.timeline.times`); the hint names ``auto`` too."""
    try:
        return times.parse_duration(text, option)
    except MimoError as e:
        e.hint = "e.g. --segment auto, --segment 10m, --segment 1h30m, --segment 90s, --segment 15:00"
        raise


clock = times.clock  # ``H:MM:SS``, as every text output writes times


# -- the option ---------------------------------------------------------------------------------------------


def parse_segment(text: str) -> Segment:
    """``--segment``'s value: ``"auto"`` or a part length in seconds; a usage error otherwise."""
    if text.strip().lower() == AUTO:
        return "auto"
    return parse_duration(text)


def part_length(segment: Segment, fps: float) -> float:
    """The longest a part may be: the length given, or for ``auto`` min(600 s, 2048 / fps)."""
    if segment == AUTO:
        return min(AUTO_CAP, MAX_FRAMES / fps)
    return float(segment)


# -- the parts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One part of a video: the ``index``-th (from 1) of ``count``, covering ``start``..``end`` seconds.

    ``on_keyframes``: the part begins and ends on keyframes of the source (or at its start and end),
    so a stream copy of it is exact; otherwise it must be re-encoded to cover exactly these times.
    """

    index: int
    count: int
    start: float
    end: float
    on_keyframes: bool = False

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def times(self) -> str:
        """``0:10:00–0:20:00``."""
        return f"{clock(self.start)}–{clock(self.end)}"


def part_count(duration: float, length: float) -> int:
    """N = ceil(D / L), at least 1; a duration only :data:`SLACK` over a multiple of L adds no part."""
    if duration <= 0 or length <= 0:
        raise ValueError("a duration and a part length must be positive")
    return max(1, math.ceil((duration - SLACK) / length))


def plan_parts(duration: float, length: float) -> list[Part]:
    """Consecutive parts of equal length D / N covering 0..``duration``; part k's end is part k+1's start."""
    count = part_count(duration, length)
    edges = [duration * k / count for k in range(count)] + [duration]
    return [Part(k + 1, count, edges[k], edges[k + 1]) for k in range(count)]


def snap_tolerance(length: float) -> float:
    """How far back a boundary may move onto a keyframe: 2 % of a part, at most 5 s."""
    return min(SNAP_CAP, SNAP_SHARE * length)


def snap(parts: Sequence[Part], keyframes: Sequence[float], tolerance: float | None = None) -> list[Part]:
    """Move each boundary back onto the last keyframe at or before it when one is within ``tolerance``.

    ``keyframes`` are times in seconds from the start of the source (any order, any subset: those
    near the boundaries are enough). A part that then begins and ends on keyframes (the source's start
    and end count as such) is marked ``on_keyframes``. Parts still meet, the first still starts at 0
    and the last still ends at the source's end.
    """
    if not parts:
        return []
    tol = snap_tolerance(parts[0].length) if tolerance is None else tolerance
    keys = sorted(keyframes)
    edges: list[tuple[float, bool]] = [(0.0, True)]
    for part in parts[1:]:
        at = bisect.bisect_right(keys, part.start + 1e-6)
        moved = keys[at - 1] if at else None
        if moved is not None and part.start - moved <= tol + 1e-9 and moved > edges[-1][0]:
            edges.append((moved, True))
        else:
            edges.append((part.start, False))
    edges.append((parts[-1].end, True))
    return [
        replace(part, start=start, end=end, on_keyframes=first and last)
        for part, (start, first), (end, last) in zip(parts, edges, edges[1:], strict=False)
    ]


# -- texts --------------------------------------------------------------------------------------------------


def context_line(part: Part) -> str:
    """The line each part's text begins with."""
    return (
        f"This is part {part.index} of {part.count} of a longer video; "
        f"it shows {clock(part.start)} to {clock(part.end)} of it."
    )


def part_prompt(part: Part, prompt: str) -> str:
    """A part's text: the line of context, then the prompt (or question)."""
    return f"{context_line(part)}\n{prompt}"


def heading(part: Part) -> str:
    """``## 0:00:00–0:10:00``: the line above a part's answer."""
    return f"## {part.times}"


def joined(answers: Sequence[tuple[Part, str]]) -> str:
    """The parts' answers in order, each under its :func:`heading` (the output without a merge)."""
    return "\n\n".join(f"{heading(part)}\n\n{answer.strip()}" for part, answer in answers)


def merge_prompt(answers: Sequence[tuple[Part, str]], prompt: str, duration: float) -> str:
    """The text of the merge request: each part's answer under its times, then the prompt for the whole."""
    count = len(answers)
    intro = (
        f"A video of {clock(duration)} was too long to watch at once, so it was watched in {count} "
        "consecutive parts. Under the times each part covers, here is the answer given for that part "
        "to the request at the end."
    )
    outro = (
        f"Using these answers, respond to the following request for the whole video (0:00:00 to "
        f"{clock(duration)}) as if you had watched it at once, without mentioning the parts:"
    )
    return f"{intro}\n\n{joined(answers)}\n\n{outro}\n{prompt}"
