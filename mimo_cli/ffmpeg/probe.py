"""What a video holds: duration, streams, size (ffprobe, or ``ffmpeg -i`` without it)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.ffmpeg.tools import Tools, _run, _unreadable

if TYPE_CHECKING:
    from pathlib import Path

# -- probing ------------------------------------------------------------------------------------------------


@dataclass
class Media:
    """What a conversion needs to know about a file."""

    duration: float | None = None  # seconds
    video: str | None = None  # codec of the first video stream (None: there is none)
    width: int = 0  # as stored (a rotated phone video is turned by ffmpeg when it decodes)
    height: int = 0
    fps: float | None = None
    audio: str | None = None  # codec of the first audio stream
    channels: int = 0


def probe(tools: Tools, path: Path, label: str) -> Media:
    """Streams and duration (ffprobe, or `ffmpeg -i` without it); an input error when ffmpeg cannot read it."""
    if tools.ffprobe:
        proc = _run(
            [tools.ffprobe, "-v", "error", "-of", "json", "-show_entries",
             "format=duration:stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,"
             "channels:stream_disposition=attached_pic", str(path)]
        )  # fmt: skip
        if proc.returncode != 0:
            raise _unreadable(label, proc.stderr, path)
        media = parse_ffprobe(proc.stdout)
    else:
        proc = _run([tools.ffmpeg, "-hide_banner", "-nostdin", "-i", str(path)])
        if "Input #0" not in proc.stderr:
            raise _unreadable(label, proc.stderr, path)
        media = parse_banner(proc.stderr)
    if media.video is None:
        raise input_error(f"{label} has no video stream", "the API takes videos; audio alone is not enough")
    if not media.duration or media.duration <= 0:
        media.duration = measure_duration(tools, path, label)
    return media


def _rate(text: str | None) -> float | None:
    if not text:
        return None
    num, _, den = text.partition("/")
    try:
        value = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def parse_ffprobe(text: str) -> Media:
    data = json.loads(text or "{}")
    media = Media()
    try:
        media.duration = float(data.get("format", {}).get("duration"))
    except (TypeError, ValueError):
        media.duration = None
    for stream in data.get("streams", []):
        kind = stream.get("codec_type")
        if kind == "video" and media.video is None and not stream.get("disposition", {}).get("attached_pic"):
            media.video = stream.get("codec_name") or "unknown"
            media.width, media.height = int(stream.get("width") or 0), int(stream.get("height") or 0)
            media.fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
        elif kind == "audio" and media.audio is None:
            media.audio = stream.get("codec_name") or "unknown"
            media.channels = int(stream.get("channels") or 2)
    return media


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$")
_SIZE = re.compile(r"[ ,](\d{2,5})x(\d{2,5})[ ,\]]")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)\b")


def parse_banner(text: str) -> Media:
    """Read what ``ffmpeg -i FILE`` prints about its input (for when ffprobe is not there)."""
    media = Media()
    match = _DURATION.search(text)
    if match:
        h, m, s = match.groups()
        media.duration = int(h) * 3600 + int(m) * 60 + float(s)
    for line in text.splitlines():
        stream = _STREAM.match(line)
        if not stream:
            continue
        kind, codec, rest = stream.groups()
        if kind == "Video" and media.video is None and "(attached pic)" not in rest:
            media.video = codec
            size = _SIZE.search(rest + " ")
            if size:
                media.width, media.height = int(size.group(1)), int(size.group(2))
            fps = _FPS.search(rest)
            if fps:
                media.fps = float(fps.group(1)) * (1000 if fps.group(2) else 1)
        elif kind == "Audio" and media.audio is None:
            media.audio = codec
            media.channels = 1 if ", mono" in rest else 2
    return media


def measure_duration(tools: Tools, path: Path, label: str) -> float:
    """The duration of a file whose header does not say (a recording cut short): read it to the end."""
    proc = _run(
        [tools.ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy",
         "-f", "null", "-", "-progress", "pipe:1", "-nostats"]
    )  # fmt: skip
    times = re.findall(r"^out_time=(\d+):(\d\d):(\d\d(?:\.\d+)?)", proc.stdout, re.M)
    if proc.returncode != 0 or not times:
        raise _unreadable(label, proc.stderr, path)
    h, m, s = times[-1]
    seconds = int(h) * 3600 + int(m) * 60 + float(s)
    if seconds <= 0:
        raise input_error(f"{label} has no frames that ffmpeg can read")
    return seconds
