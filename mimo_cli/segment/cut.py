"""Cutting one part of a long video with ffmpeg, just before it is sent.

A part that begins and ends on keyframes (see :func:`mimo_cli.segment.plan.snap`) of a source whose
container the API takes is cut without re-encoding (stream copy), when the result fits the inline
limit and covers the span asked for; any other part is encoded by the ``encode`` callback (the
``--fit`` conversion), which cuts exactly. Either way the :class:`Clip` returned covers the part's
times. :func:`keyframes` finds the keyframes near the planned boundaries with one ffprobe call that
reads packets only (no decoding), so planning costs the same whatever the video's length.

Why both ends on keyframes: a copy that begins elsewhere holds frames from before its start (hidden
by an edit list that not every decoder honours), and ffmpeg ends a copy by decoding time, so with
B-frames a copy that ends mid-GOP holds a frame from after its end and lacks one before it. A copy
that ends where the next keyframe is decoded (its DTS) holds exactly the frames before that keyframe
in a closed GOP; the duration of the result is checked all the same.

This module never prints; it reports the step it is at through the ``on_step`` callback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mimo_cli.errors import input_error
from mimo_cli.ffmpeg.plan import COPY_FORMATS
from mimo_cli.ffmpeg.tools import Tools
from mimo_cli.ffmpeg.tools import _run as run
from mimo_cli.inputs.tempfiles import release_temp, temp_file
from mimo_cli.inputs.video import data_uri_length
from mimo_cli.segment.plan import Part

#: A copy is kept when its length is within this (plus one frame) of the part's.
EXACT = 0.1

#: ``encode(source, out, start, length)`` writes ``length`` seconds of ``source`` from ``start`` to
#: ``out`` as an MP4 whose data URI fits the inline limit, or raises a MimoError.
Encoder = Callable[[Path, Path, float, float], None]
#: ``on_step(part, step)``: ``step`` is ``"cutting"`` (stream copy) or ``"converting"`` (encoding).
OnStep = Callable[[Part, str], None]


@dataclass(frozen=True)
class Clip:
    """A part's file on disk (the caller deletes it once it is sent) and what it covers of the source."""

    part: Part
    path: Path
    mime: str
    size: int
    copied: bool  # stream copy (True) or encoded (False)

    @property
    def start(self) -> float:
        return self.part.start

    @property
    def end(self) -> float:
        return self.part.end


# -- keyframes ----------------------------------------------------------------------------------------------


def start_time(tools: Tools, path: Path) -> float:
    """The container's start time (0 for most files; ffprobe's read intervals are absolute times)."""
    assert tools.ffprobe is not None
    proc = run([tools.ffprobe, "-v", "error", "-show_entries", "format=start_time", "-of", "json", str(path)])
    try:
        return float(json.loads(proc.stdout or "{}").get("format", {}).get("start_time") or 0.0)
    except (TypeError, ValueError):
        return 0.0


@dataclass(frozen=True)
class Keyframe:
    """A keyframe's presentation and decoding times, in seconds from the source's start."""

    pts: float
    dts: float


def keyframes(tools: Tools, path: Path, near: Sequence[float], window: float) -> list[Keyframe]:
    """The keyframes in the ``window`` seconds before each time of ``near``, in time order.

    One ffprobe call reads the video packets of those windows only (seeking to each), without
    decoding. Empty without ffprobe, or when it cannot read them: every part after the first is
    then encoded, which is exact too.
    """
    if tools.ffprobe is None or not near:
        return []
    origin = start_time(tools, path)
    intervals = ",".join(
        f"{max(0.0, t - window) + origin:.6f}%{t + origin + 0.001:.6f}" for t in sorted(near)
    )
    proc = run(
        [tools.ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", intervals,
         "-show_entries", "packet=pts_time,dts_time,flags", "-of", "json", str(path)]
    )  # fmt: skip
    if proc.returncode != 0:
        return []
    found: dict[float, Keyframe] = {}
    for packet in json.loads(proc.stdout or "{}").get("packets", []):
        if "K" not in (packet.get("flags") or ""):
            continue
        try:
            pts = round(float(packet.get("pts_time")) - origin, 6)
            dts = round(float(packet.get("dts_time") or packet.get("pts_time")) - origin, 6)
        except (TypeError, ValueError):
            continue
        found[pts] = Keyframe(pts, min(dts, pts))
    return [found[pts] for pts in sorted(found)]


def duration_of(tools: Tools, path: Path) -> float | None:
    """A file's duration as its container says (None when it cannot be read)."""
    if tools.ffprobe is None:
        return None
    proc = run([tools.ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)])
    try:
        return float(json.loads(proc.stdout or "{}")["format"]["duration"])
    except (KeyError, TypeError, ValueError):
        return None


# -- cutting ------------------------------------------------------------------------------------------------


def copy_args(
    tools: Tools, source: Path, out: Path, muxer: str, start: float, length: float | None, audio: bool
) -> list[str]:
    """The ffmpeg command of a cut without re-encoding, into the source's own container.

    ``length``: in decoding time (None: to the end of the source).
    """
    args = [tools.ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-y"]
    if start > 0:
        args += ["-ss", f"{start:.6f}"]
    args += ["-i", str(source)] + (["-t", f"{length:.6f}"] if length is not None else []) + ["-map", "0:v:0"]
    args += (["-map", "0:a:0?"] if audio else []) + ["-c", "copy", "-sn", "-dn", "-map_metadata", "-1"]
    if muxer in ("mp4", "mov"):
        args += ["-movflags", "+faststart"]
    return [*args, "-f", muxer, str(out)]


@dataclass(frozen=True)
class Source:
    """The file the parts are cut from."""

    path: Path
    label: str  # as messages name it
    mime: str | None  # the MIME type it would be sent as; None: a container the API does not take
    size: int
    duration: float
    fps: float | None = None
    audio: bool = True
    keyframes: tuple[Keyframe, ...] = ()  # those found near the boundaries (see keyframes())

    def copy_length(self, part: Part) -> float | None:
        """How long a copy of ``part`` runs in decoding time (None: to the end of the file).

        Raises LookupError when the part does not end on a known keyframe.
        """
        if part.end >= self.duration - 1e-6:
            return None
        for key in self.keyframes:
            if abs(key.pts - part.end) <= 1e-6:
                return key.dts - part.start
        raise LookupError(part.end)


def cut(
    tools: Tools,
    source: Source,
    part: Part,
    limit: int,
    encode: Encoder,
    on_step: OnStep | None = None,
    out_dir: Path | None = None,
) -> Clip:
    """Cut ``part`` of ``source``: stream copy when that is exact and fits, else encode.

    The file is made in this process's temporary folder (or ``out_dir``); any file it makes is deleted
    before it raises (Ctrl-C included); the file of the clip returned is the caller's to delete
    (:func:`release`).
    """
    clip = _copy(tools, source, part, limit, on_step, out_dir) if _may_copy(source, part, limit) else None
    if clip is not None:
        return clip
    out = _new_file(part, ".mp4", out_dir)
    if on_step:
        on_step(part, "converting")
    try:
        encode(source.path, out, part.start, part.length)
        size = out.stat().st_size
        if not size:
            raise input_error(f"ffmpeg made an empty file of part {part.index} of {source.label}")
    except BaseException:
        release(out)
        raise
    return Clip(part, out, "video/mp4", size, copied=False)


def _new_file(part: Part, suffix: str, out_dir: Path | None) -> Path:
    if out_dir is None:
        return temp_file(f"part{part.index}-", suffix)
    path = out_dir / f"part-{part.index:04d}{suffix}"
    path.touch()
    return path


def release(path: Path) -> None:
    """Delete a part's file (and the temporary folder once it is empty)."""
    release_temp(path)


def _may_copy(source: Source, part: Part, limit: int) -> bool:
    """A copy is tried when it begins and ends exactly and, by the source's average bitrate, would fit."""
    if not part.on_keyframes or source.mime not in COPY_FORMATS:
        return False
    estimate = int(source.size * part.length / source.duration)
    return data_uri_length(source.mime, estimate) <= limit


def _copy(
    tools: Tools, source: Source, part: Part, limit: int, on_step: OnStep | None, out_dir: Path | None
) -> Clip | None:
    """The stream-copied clip, or None (nothing left on disk) when it is not exact or does not fit."""
    assert source.mime is not None
    muxer, _name, suffix = COPY_FORMATS[source.mime]
    try:
        length = source.copy_length(part)
    except LookupError:
        return None
    if on_step:
        on_step(part, "cutting")
    out = _new_file(part, suffix, out_dir)
    keep = False
    try:
        done = run(copy_args(tools, source.path, out, muxer, part.start, length, source.audio))
        size = out.stat().st_size if out.exists() else 0  # ffmpeg -y replaced the empty file
        if done.returncode == 0 and size and data_uri_length(source.mime, size) <= limit:
            got = duration_of(tools, out)
            frame = 1 / source.fps if source.fps else 1 / 30
            keep = got is None or abs(got - part.length) <= EXACT + frame
    finally:
        if not keep:
            release(out)
    return Clip(part, out, source.mime, size, copied=True) if keep else None
