"""Planning an encode that fits a byte budget, and the ffmpeg command lines (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.inputs.video import human_size

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.ffmpeg.probe import Media
    from mimo_cli.ffmpeg.tools import Tools
    from mimo_cli.settings import Settings

#: Share of the largest fitting file that a conversion aims at (so the data URI lands at ~92 % of the limit).
TARGET = 0.92
#: What a second (third) encode aims at, as a share of the largest fitting file, after one that missed.
RETRY_AIM = 0.88
#: How many encodes --fit tries before giving up (the first one and two smaller ones).
ATTEMPTS = 3
#: Below this video bitrate (kb/s) nothing watchable comes out: refuse rather than send mush.
MIN_VIDEO_KBPS = 12.0
#: Bits per pixel per frame that H.264 needs to look decent at these sizes; the scale is chosen by it.
MIN_BPP = 0.07
#: x264 speed/quality trade-off; decoding a large source usually costs more than this.
PRESET = "faster"
CRF_FIT = 20  # constant quality when the source is already leaner than the budget …
LEAN_GROWTH = 1.5  # … capped at this many times the source's bitrate
CRF_CUT = 18  # a cut that stream copy cannot make exactly is re-encoded near-transparently
#: A stream-copied cut is kept when its length is this close to the span asked for (keyframes permitting).
CUT_TOLERANCE = 0.5

#: Accepted containers that a cut keeps (stream copy): MIME -> (ffmpeg muxer, name, file suffix).
COPY_FORMATS = {
    "video/mp4": ("mp4", "MP4", ".mp4"),
    "video/quicktime": ("mov", "MOV", ".mov"),
    "video/x-msvideo": ("avi", "AVI", ".avi"),
    "video/x-ms-wmv": ("asf", "WMV", ".wmv"),
}

# -- the span -----------------------------------------------------------------------------------------------


def format_time(seconds: float) -> str:
    """``75.5`` -> ``1:15.5``; ``3723`` -> ``1:02:03.0``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}"
    return f"{int(minutes)}:{secs:04.1f}"


def span(settings: Settings, duration: float, label: str) -> tuple[float, float]:
    """The (start, end) to send, checked against the video's duration (an input error when outside)."""
    start = settings.start or 0.0
    end = settings.end if settings.end is not None else duration
    if start >= duration:
        raise input_error(
            f"--start {format_time(start)} is not before the end of {label}, which lasts {format_time(duration)}"
        )
    if end > duration + 0.05:
        raise input_error(
            f"--end {format_time(end)} is past the end of {label}, which lasts {format_time(duration)}",
            "leave --end out to go to the end",
        )
    return start, min(end, duration)


# -- planning -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One encode: H.264 + AAC in MP4."""

    video_kbps: float | None  # the average bitrate (with crf: the cap; None: no cap)
    audio_kbps: int  # 0: no audio stream
    channels: int
    long_side: int | None = None  # scale the longer side down to this (None: keep the size)
    fps: float | None = None  # lower the frame rate to this (None: keep it)
    crf: int | None = None  # constant quality, capped at video_kbps (None: average bitrate video_kbps)


#: (long side, frame rate) in order of preference; the first one with enough bits per pixel wins.
#: Size goes first down to 480p, then the frame rate (the model samples at most 10 frames a second).
LADDER: list[tuple[int, float]] = [
    (1920, 30), (1280, 30), (854, 30), (854, 15), (854, 10),
    (640, 10), (480, 10), (320, 10), (240, 10), (160, 10),
]  # fmt: skip


#: (total kb/s at least, audio kb/s)
AUDIO_LADDER = [(2000, 128), (800, 96), (300, 64), (150, 48), (80, 32)]


def _audio(total_kbps: float, channels: int) -> tuple[int, int]:
    """Audio kb/s and channels for a total budget: AAC is fine for speech at 32-64k, mono when tight."""
    kbps = next((k for floor, k in AUDIO_LADDER if total_kbps >= floor), 24)
    return kbps, 1 if channels == 1 or kbps < 64 else 2


def plan(media: Media, seconds: float, budget: float, source_kbps: float | None, label: str) -> Plan:
    """Share ``budget`` bytes for ``seconds`` of video between audio and video, and pick the size.

    ``source_kbps``: the source's own bitrate; when it is already under the budget the plan is
    constant quality (capped at the budget and at 1.5 times the source) rather than a bitrate that would
    inflate it.
    """
    fps_in = media.fps if media.fps and media.fps < 240 else 30.0
    # the MP4 index and the AAC framing cost some bytes per frame: keep them out of the bitrate
    overhead = 4096 + seconds * (min(fps_in, 30) * 12 + (47 * 10 if media.audio else 0))
    total = (budget - overhead) * 8 / seconds / 1000
    audio_kbps, channels = _audio(total, media.channels) if media.audio else (0, 0)
    video_kbps = total - audio_kbps
    if video_kbps < MIN_VIDEO_KBPS:
        raise input_error(
            f"{label} is too long to fit: {seconds:,.1f} s in a file of at most {human_size(budget)} "
            f"leaves {max(total, 0):.0f} kb/s, too little for a video the model can see",
            "send a part of it with --start/--end, raise --max-inline-mb, or pass a public URL",
        )
    long_in = max(media.width, media.height) or 1920
    if source_kbps is not None and source_kbps <= total:
        # capped at 1.5 times the source's rate: enough for the loss of a second encode, not more
        return Plan(
            min(video_kbps, max(LEAN_GROWTH * source_kbps, 150.0)),
            audio_kbps,
            channels,
            1920 if long_in > 1920 else None,
            60 if fps_in > 60 else None,
            CRF_FIT,
        )
    short_ratio = (min(media.width, media.height) / long_in) if media.width and media.height else 9 / 16
    for long_side, fps in LADDER:  # the smallest rung when none has enough bits per pixel
        long_side, fps = min(long_side, long_in), min(fps, fps_in)
        if video_kbps * 1000 / (long_side * long_side * short_ratio * fps) >= MIN_BPP:
            break
    return Plan(
        video_kbps,
        audio_kbps,
        channels,
        long_side if long_side < long_in else None,
        fps if fps < fps_in - 0.01 else None,
    )


def encode_args(
    tools: Tools, source: Path, out: Path, plan: Plan, start: float, length: float | None, audio: bool
) -> list[str]:
    """The ffmpeg command of one encode (``length`` None: to the end)."""
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    if start > 0:
        args += ["-ss", f"{start:.3f}"]
    args += ["-i", str(source)]
    if length is not None:
        args += ["-t", f"{length:.3f}"]
    args += ["-map", "0:v:0"] + (["-map", "0:a:0"] if audio else [])
    args += ["-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"]
    if plan.long_side:  # iw/ih are the turned picture: ffmpeg applies a phone's rotation before filters
        side = plan.long_side
        scale = (
            f"scale=w='if(gte(iw,ih),trunc(min({side},iw)/2)*2,-2)'"
            f":h='if(gte(iw,ih),-2,trunc(min({side},ih)/2)*2)'"
        )
    else:
        scale = "scale=w='trunc(iw/2)*2':h='trunc(ih/2)*2'"  # x264 needs even sizes for 4:2:0
    filters = [scale] + ([f"fps={plan.fps:g}"] if plan.fps else [])
    args += ["-vf", ",".join(filters), "-c:v", "libx264", "-preset", PRESET, "-pix_fmt", "yuv420p"]
    kbps = max(int(plan.video_kbps or 0), 1)
    if plan.crf is not None:
        args += ["-crf", str(plan.crf)]
        if plan.video_kbps is not None:
            args += ["-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k"]
    else:
        args += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps * 3 // 2}k", "-bufsize", f"{2 * kbps}k"]
    if audio:
        args += ["-c:a", "aac", "-b:a", f"{plan.audio_kbps}k", "-ac", str(plan.channels)]
    args += ["-movflags", "+faststart", "-progress", "pipe:1", "-nostats", "-f", "mp4", str(out)]
    return args


def cut_args(
    tools: Tools, source: Path, out: Path, muxer: str, start: float, length: float, audio: bool
) -> list[str]:
    """The ffmpeg command of a cut without re-encoding (stream copy into the same container)."""
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    if start > 0:
        args += ["-ss", f"{start:.3f}"]
    args += ["-i", str(source), "-t", f"{length:.3f}", "-map", "0:v:0"]
    args += (["-map", "0:a:0"] if audio else []) + ["-c", "copy", "-sn", "-dn"]
    if muxer in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    return [*args, "-f", muxer, str(out)]
