"""How long a video that is sent lasts: ``--timestamps`` reads the answer's times on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.ffmpeg.facts import file_facts
from mimo_cli.ffmpeg.probe import probe
from mimo_cli.ffmpeg.tools import INSTALL_HINT, locate

if TYPE_CHECKING:
    from mimo_cli.inputs.video import Video


def video_duration(video: Video) -> float:
    """Seconds of a video as it is sent (a cut: the clip's own length); an input error when unknown.

    A local file (a path, stdin spooled, a download with --inline-url, a converted or cut clip) is read
    with ffprobe, else from its MP4/MOV, AVI or WMV header (no ffmpeg needed), and a file whose header
    does not say is read to its end by ffmpeg. A URL the API fetches itself, or a data: URI, cannot be
    measured here.
    """
    shown = video.display
    if video.path is None:
        if video.url is not None and video.url.startswith("data:"):
            raise input_error(
                f"--timestamps needs the duration of {shown}, which cannot be read from a data: URI",
                "pass the video file itself",
            )
        raise input_error(
            f"--timestamps needs the duration of {shown}, but the API fetches that URL itself",
            "add --inline-url to download it here, where its duration can be read",
        )
    duration = file_facts(video.path).duration_s
    if duration is not None and duration > 0:
        return duration
    tools = locate()
    if tools is None:
        raise input_error(
            f"--timestamps needs the duration of {shown}: its header does not say, and reading it needs "
            "ffmpeg, which is not installed",
            INSTALL_HINT,
        )
    duration = probe(tools, video.path, shown).duration  # measures a file whose header does not say
    if duration is None or duration <= 0:
        raise input_error(f"the duration of {shown} cannot be read")
    return duration
