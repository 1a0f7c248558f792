"""Cost before sending: token estimates (``tokens``), container headers (``header``), ``--budget``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli.estimate.header import read_header
from mimo_cli.estimate.tokens import VideoFacts

if TYPE_CHECKING:
    import os


def header_facts(path: str | os.PathLike[str]) -> VideoFacts:
    """What a local file's container header says, without ffmpeg (an unknown duration if nothing)."""
    header = read_header(path)
    if header is None:
        return VideoFacts(None)
    return VideoFacts(header.duration_s, header.has_audio, header.width, header.height)
