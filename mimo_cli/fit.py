"""--fit, --start and --end: ffmpeg makes a local video fit the inline limit, or cuts a span out of it.

:func:`convert` is called by ``media.resolve_input`` for a local file (or stdin, or a URL downloaded with
--inline-url) that is too large or of a container the API does not take (with --fit), or when a span is
asked for. It returns a :class:`~mimo_cli.media.Video` of a temporary file that ``Video.close()``
deletes; any other file it makes is deleted before it returns or raises, Ctrl-C included, so one input
never has more than one converted file on disk.

How a video is made to fit: probe its duration and streams; share the byte budget (about 92 % of the
largest file whose data URI fits) between AAC audio and H.264 video; shrink the long side (and, for a
long video, the frame rate: the model samples only a few frames a second) until the bits per pixel are
enough; encode once; if the result is still too large, encode again with a budget scaled by how much it
missed. A source that is already leaner than the budget (a small WebM, say) is re-encoded at constant
quality instead, capped at 1.5 times its bitrate, so it is not inflated to the limit for nothing.

ffmpeg comes from PATH, or else from the optional ``imageio-ffmpeg`` package (``pip install
'mimo-cli[ffmpeg]'``), which bundles an ffmpeg but no ffprobe: without ffprobe the streams are read
from ``ffmpeg -i``'s banner. This module never prints; it reports through the ``notice`` callback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mimo_cli.config import Settings
from mimo_cli.errors import MimoError, input_error
from mimo_cli.media import Video, data_uri_length, human_size, largest_fitting, release_temp, temp_file

Notice = Callable[[str, "str | None"], None]

INSTALL_HINT = (
    "install ffmpeg (sudo apt-get install ffmpeg, or brew install ffmpeg), "
    "or the one the ffmpeg extra bundles: pip install 'mimo-cli[ffmpeg]'"
)
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


# -- finding ffmpeg -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tools:
    ffmpeg: str
    ffprobe: str | None  # None: imageio-ffmpeg bundles no ffprobe; probing reads `ffmpeg -i` instead
    origin: str  # "PATH" or "imageio-ffmpeg"


_found: dict[str, Tools | None] = {}


def locate() -> Tools | None:
    """ffmpeg (and ffprobe) from PATH, else imageio-ffmpeg's bundled binary, else None. Cached."""
    if "tools" not in _found:
        _found["tools"] = _search()
    return _found["tools"]


def _search() -> Tools | None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        return Tools(ffmpeg, shutil.which("ffprobe"), "PATH")
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # ImportError without the extra; RuntimeError when its binary is missing
        return None
    return Tools(str(exe), None, "imageio-ffmpeg")


def require(what: str) -> Tools:
    """The tools, or an input error (exit 2) naming both ways to get ffmpeg."""
    tools = locate()
    if tools is None:
        raise input_error(f"{what} needs ffmpeg, which is not installed", INSTALL_HINT)
    return tools


# -- running it ---------------------------------------------------------------------------------------------


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg/ffprobe to the end; on Ctrl-C or any error the child is killed before re-raising."""
    with subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    return subprocess.CompletedProcess(
        list(args), proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    )


_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")
_NOISE = ("At least one output file must be specified", "Conversion failed!")


def reason(stderr: str, path: Path | str, label: str) -> str:
    """ffmpeg's complaint in one line: its last message, with the first specific one in brackets."""
    lines: list[str] = []
    for raw in stderr.splitlines():
        line = _PREFIX.sub("", raw.strip()).replace(str(path), label).strip()
        if line.startswith(f"{label}: "):
            line = line[len(label) + 2 :]
        if line and not line.startswith(_NOISE) and line not in lines:
            lines.append(line)
    if not lines:
        return "ffmpeg failed without saying why"
    text = lines[-1]
    if len(lines) > 1:
        text += f" ({lines[0]})"
    return text if len(text) <= 200 else text[:199] + "…"


def _unreadable(label: str, stderr: str, path: Path) -> Exception:
    return input_error(
        f"ffmpeg cannot read {label}: {reason(stderr, path, label)}",
        "check that the file plays: it may be damaged, incomplete or not a video",
    )


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
    args += ["-movflags", "+faststart", "-f", "mp4", str(out)]
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


# -- converting ---------------------------------------------------------------------------------------------


def convert(
    path: Path,
    label: str,
    size: int,
    mime: str | None,
    container: str,
    settings: Settings,
    notice: Notice | None = None,
) -> Video:
    """Make ``path`` sendable: cut the span asked for, and with --fit shrink it to the inline limit.

    ``mime`` is the MIME type it would be sent as (None: a container the API does not take, named by
    ``container``). Returns a temporary :class:`Video` (``close()`` deletes it); raises an input error
    with ffmpeg's reason when it cannot be done. The source is left alone.
    """
    shown = Video(label=label).display  # messages say "standard input" for -
    cutting = settings.cutting
    what = f"cutting {shown} with --start/--end" if cutting else f"converting {shown} with --fit"
    tools = require(what)
    media = probe(tools, path, shown)
    assert media.duration is not None
    start, end = span(settings, media.duration, shown)
    length = end - start
    limit = settings.inline_limit
    audio = media.audio is not None
    out: Path | None = None
    try:
        if cutting and mime in COPY_FORMATS and not settings.force_mime:
            muxer, name, suffix = COPY_FORMATS[mime]
            out = temp_file("fit-", suffix)
            done = _run(cut_args(tools, path, out, muxer, start, length, audio))
            got = None
            if done.returncode == 0 and out.stat().st_size:
                try:
                    got = probe(tools, out, shown)
                except MimoError:  # a copy ffmpeg cannot read back: re-encode instead
                    got = None
            if got is not None and abs((got.duration or 0) - length) <= CUT_TOLERANCE:
                out_size = out.stat().st_size
                if data_uri_length(mime, out_size) <= limit or not settings.fit:
                    _check(shown, mime, out_size, limit)
                    if notice:
                        notice(
                            f"cut {shown} from {format_time(start)} to {format_time(end)} without "
                            f"re-encoding → {human_size(out_size)} {name}, {got.duration or length:.1f} s",
                            None,
                        )
                    return Video(label=label, path=out, mime=mime, size=out_size, temporary=True)
            release_temp(out)
            out = None
        out = temp_file("fit-", ".mp4")
        source_kbps = size * 8 / media.duration / 1000
        budget = TARGET * largest_fitting(limit, "video/mp4")
        if not settings.fit:  # a cut that stream copy cannot make exactly: near-transparent re-encode
            p = Plan(None, 128 if audio else 0, min(media.channels, 2) or 2, crf=CRF_CUT)
            _encode(tools, path, out, p, start, length, audio, shown)
            _check(shown, "video/mp4", out.stat().st_size, limit)
        else:
            p = plan(media, length, budget, source_kbps, shown)
            for attempt in range(1, ATTEMPTS + 1):
                _encode(tools, path, out, p, start, length if cutting else None, audio, shown)
                got_size = out.stat().st_size
                if data_uri_length("video/mp4", got_size) <= limit:
                    break
                if attempt == ATTEMPTS:
                    raise input_error(
                        f"{shown} could not be made to fit: after {ATTEMPTS} tries it is still "
                        f"{human_size(got_size)}, over the {human_size(limit)} limit",
                        "send a part of it with --start/--end, raise --max-inline-mb, or pass a public URL",
                    )
                # scale the budget by how much this encode missed, aiming a little lower each time
                aim = RETRY_AIM - 0.05 * (attempt - 1)
                budget = budget * largest_fitting(limit, "video/mp4") / got_size * aim
                p = plan(media, length, budget, None, shown)
        out_size = out.stat().st_size
        if notice:
            got = probe(tools, out, shown)
            span_text = f" from {format_time(start)} to {format_time(end)}" if cutting else ""
            notice(
                f"converted {shown}{span_text}: {human_size(size)} {container} → {human_size(out_size)} "
                f"MP4, {got.width}×{got.height}, {got.duration or length:.1f} s",
                None,
            )
        return Video(label=label, path=out, mime="video/mp4", size=out_size, temporary=True)
    except BaseException:
        if out is not None:
            release_temp(out)
        raise


def _encode(
    tools: Tools,
    source: Path,
    out: Path,
    p: Plan,
    start: float,
    length: float | None,
    audio: bool,
    label: str,
) -> None:
    done = _run(encode_args(tools, source, out, p, start, length, audio))
    if done.returncode != 0 or not out.stat().st_size:
        raise input_error(
            f"ffmpeg could not convert {label}: {reason(done.stderr, source, label)}",
            "check that the file plays: it may be damaged or incomplete",
        )


def _check(label: str, mime: str, size: int, limit: int) -> None:
    """A cut made without --fit must fit as it is."""
    length = data_uri_length(mime, size)
    if length > limit:
        raise input_error(
            f"the part of {label} asked for is still too large to send inline: {human_size(size)} of video "
            f"makes a {human_size(length)} data URI, over the {human_size(limit)} limit",
            "add --fit to shrink it, or ask for a shorter span",
        )
