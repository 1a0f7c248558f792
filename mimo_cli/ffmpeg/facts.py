"""What a token estimate needs to know of a video: duration, sound, frame size.

From ffprobe when it is there, else from the container header (:mod:`mimo_cli.estimate.header`, no
ffmpeg needed for MP4/MOV, AVI and WMV). A URL's duration is not known before sending. Nothing here
raises for a video it cannot read: the estimate just says it does not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli.errors import MimoError
from mimo_cli.estimate import header_facts
from mimo_cli.estimate.tokens import Estimate, VideoFacts, ceiling, estimate
from mimo_cli.ffmpeg import tools as ffmpeg_tools
from mimo_cli.ffmpeg.plan import span
from mimo_cli.ffmpeg.probe import parse_ffprobe
from mimo_cli.prompts import default_system_prompt

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.inputs.video import Video
    from mimo_cli.request import ChatRequest
    from mimo_cli.settings import Settings


def file_facts(path: Path) -> VideoFacts:
    """A local file's facts: its container header's when it tells the duration (MP4/MOV, AVI, WMV: a few
    small reads, within 0.06 s of ffprobe's), else ffprobe's when it is installed and can tell.

    The header goes first because every request is estimated before it is sent: running ffprobe for it
    cost about 100 ms before the first byte."""
    facts = header_facts(path)
    if facts.duration_s:
        return facts
    tools = ffmpeg_tools.locate()
    if tools is not None and tools.ffprobe:
        proc = ffmpeg_tools._run(
            [tools.ffprobe, "-v", "error", "-of", "json", "-show_entries",
             "format=duration:stream=codec_type,codec_name,width,height", str(path)]
        )  # fmt: skip
        if proc.returncode == 0:
            media = parse_ffprobe(proc.stdout)
            if media.duration and media.duration > 0:
                return VideoFacts(
                    media.duration, media.audio is not None, media.width or None, media.height or None
                )
    return facts


def video_facts(video: Video) -> VideoFacts:
    """A video of a request: a local file (spooled, downloaded or converted ones too) is read; a URL
    or data URI sent as it is has an unknown duration."""
    return file_facts(video.path) if video.path is not None else VideoFacts(None)


def request_text(settings: Settings, prompt: str) -> str:
    """Every text a request carries: the system prompt and the user's text."""
    system = default_system_prompt() if settings.system is None else settings.system
    return system + prompt


def request_estimate(request: ChatRequest) -> Estimate:
    """The estimate of a prepared request (its videos as they will be sent)."""
    s = request.settings
    facts = [video_facts(v) for v in request.videos]
    return estimate(facts, request_text(s, request.prompt), fps=s.fps, resolution=s.resolution)


def charge(request: ChatRequest, est: Estimate) -> int:
    """What ``--budget`` counts for a request: its estimate, or, when that is not known, the most the
    documentation's formula gives for its videos at their frame cap (plus its text)."""
    if est.prompt_tokens is not None:
        return est.prompt_tokens
    s = request.settings
    text = request_text(s, request.prompt)
    return ceiling(text, fps=s.fps, resolution=s.resolution, videos=max(len(request.videos), 1))


def source_estimate(path: Path | None, label: str, settings: Settings, prompt: str) -> Estimate:
    """The estimate of one batch input before it is opened (``--dry-run``): the file as it is, cut to
    ``--start``/``--end`` when they are given; a URL's is unknown."""
    facts = file_facts(path) if path is not None else VideoFacts(None)
    if facts.duration_s is not None and settings.cutting:
        try:
            start, end = span(settings, facts.duration_s, label)
        except MimoError:  # the run itself will say so; the estimate cannot know
            facts = VideoFacts(None)
        else:
            facts = VideoFacts(end - start, facts.has_audio, facts.width, facts.height)
    text = request_text(settings, prompt)
    return estimate([facts], text, fps=settings.fps, resolution=settings.resolution)
