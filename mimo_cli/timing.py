"""--timestamps: the span of the source a request covers, and its answer read into events on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli.timeline import parse_events

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mimo_cli.callbacks import Notice
    from mimo_cli.inputs.video import Video
    from mimo_cli.result import Result
    from mimo_cli.settings import Settings


def timeline_span(videos: Sequence[Video], settings: Settings) -> tuple[float, float]:
    """--timestamps: the span of the source that the videos sent cover (with several, the longest)."""
    from mimo_cli.ffmpeg.duration import video_duration  # only --timestamps pays for importing it

    start = settings.start or 0.0
    return start, start + max(video_duration(video) for video in videos)


def add_events(
    result: Result, start: float, end: float, notice: Notice | None = None, what: str = ""
) -> None:
    """Read the answer's timed lines into ``result.events`` (on the source, ``start``..``end``), with a
    warning for the times dropped. ``what`` names the answer in warnings (``part 3``)."""
    timeline = parse_events(result.answer, start, end)
    result.events = [dict(event) for event in timeline.events]
    if notice is None:
        return
    prefix = f"{what}: " if what else ""
    if timeline.dropped:
        n = timeline.dropped
        notice(
            f"{prefix}{n} time{'s' if n != 1 else ''} in the answer {'were' if n != 1 else 'was'} past the "
            "end of the video or out of order, and dropped",
            None,
        )
    elif not timeline.events and result.answer.strip():
        notice(
            f"{prefix}no line of the answer begins with a time: no events",
            "send it again, or reword the prompt",
        )
