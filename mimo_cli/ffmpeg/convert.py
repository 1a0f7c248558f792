"""--fit, --start and --end: make a local video fit the inline limit, or cut a span out of it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli.errors import MimoError, input_error
from mimo_cli.ffmpeg.plan import (
    ATTEMPTS,
    COPY_FORMATS,
    CRF_CUT,
    CUT_TOLERANCE,
    RETRY_AIM,
    TARGET,
    Plan,
    cut_args,
    encode_args,
    format_time,
    plan,
    span,
)
from mimo_cli.ffmpeg.probe import Media, probe
from mimo_cli.ffmpeg.tools import Tools, _run, reason, require
from mimo_cli.inputs.tempfiles import release_temp, temp_file
from mimo_cli.inputs.video import Video, data_uri_length, human_size, largest_fitting

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.callbacks import Info, Status
    from mimo_cli.settings import Settings

# -- converting ---------------------------------------------------------------------------------------------


def convert(
    path: Path,
    label: str,
    size: int,
    mime: str | None,
    container: str,
    settings: Settings,
    info: Info | None = None,
    status: Status | None = None,
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
    if cutting and mime in COPY_FORMATS and not settings.force_mime:
        copied = _copy_cut(tools, path, label, mime, (start, end), media.audio is not None, settings, info)
        if copied is not None:
            return copied
    out: Path | None = None
    try:
        out = temp_file("fit-", ".mp4")
        if not settings.fit:  # a cut that stream copy cannot make exactly: near-transparent re-encode
            p = Plan(None, 128 if audio else 0, min(media.channels, 2) or 2, crf=CRF_CUT)
            _encode(tools, path, out, p, (start, length), audio, shown, status, length)
            _check(shown, "video/mp4", out.stat().st_size, limit)
        else:
            encode_to_fit(
                tools, path, out, media, size, (start, length if cutting else None), limit, shown, status
            )
        out_size = out.stat().st_size
        if info:
            got = probe(tools, out, shown)
            span_text = f" from {format_time(start)} to {format_time(end)}" if cutting else ""
            info(
                f"converted {shown}{span_text}: {human_size(size)} {container} → {human_size(out_size)} "
                f"MP4, {got.width}×{got.height}, {got.duration or length:.1f} s"
            )
        return Video(label=label, path=out, mime="video/mp4", size=out_size, temporary=True)
    except BaseException:
        if out is not None:
            release_temp(out)
        raise


def encode_to_fit(
    tools: Tools,
    path: Path,
    out: Path,
    media: Media,
    size: int,
    span: tuple[float, float | None],
    limit: int,
    shown: str,
    status: Status | None = None,
) -> None:
    """Encode ``span`` (start, length; length None: to the end) of ``path`` to an MP4 at ``out`` whose data
    URI fits ``limit``: the bitrate from the duration, and again smaller (twice at most) when it missed."""
    assert media.duration is not None
    start, length = span
    seconds = length if length is not None else media.duration - start
    source_kbps = size * 8 / media.duration / 1000
    budget = TARGET * largest_fitting(limit, "video/mp4")
    p = plan(media, seconds, budget, source_kbps, shown)
    for attempt in range(1, ATTEMPTS + 1):
        _encode(tools, path, out, p, (start, length), media.audio is not None, shown, status, seconds)
        got_size = out.stat().st_size
        if data_uri_length("video/mp4", got_size) <= limit:
            return
        if attempt == ATTEMPTS:
            raise input_error(
                f"{shown} could not be made to fit: after {ATTEMPTS} tries it is still "
                f"{human_size(got_size)}, over the {human_size(limit)} limit",
                "send a part of it with --start/--end, raise --max-inline-mb, or pass a public URL",
            )
        # scale the budget by how much this encode missed, aiming a little lower each time
        aim = RETRY_AIM - 0.05 * (attempt - 1)
        budget = budget * largest_fitting(limit, "video/mp4") / got_size * aim
        p = plan(media, seconds, budget, None, shown)


def _copy_cut(
    tools: Tools,
    path: Path,
    label: str,
    mime: str,
    span: tuple[float, float],
    audio: bool,
    settings: Settings,
    info: Info | None,
) -> Video | None:
    """The span cut without re-encoding, when ffmpeg can read the copy back and keyframes let it come
    within :data:`CUT_TOLERANCE` of the span (and, with --fit, it fits); else None: encode it instead."""
    shown = Video(label=label).display
    start, end = span
    length = end - start
    muxer, name, suffix = COPY_FORMATS[mime]
    out = temp_file("fit-", suffix)
    try:
        done = _run(cut_args(tools, path, out, muxer, start, length, audio))
        got = None
        if done.returncode == 0 and out.stat().st_size:
            try:
                got = probe(tools, out, shown)
            except MimoError:  # a copy ffmpeg cannot read back: re-encode instead
                got = None
        if got is None or abs((got.duration or 0) - length) > CUT_TOLERANCE:
            release_temp(out)
            return None
        out_size = out.stat().st_size
        if data_uri_length(mime, out_size) > settings.inline_limit and settings.fit:
            release_temp(out)
            return None
        _check(shown, mime, out_size, settings.inline_limit)
    except BaseException:
        release_temp(out)
        raise
    if info:
        info(
            f"cut {shown} from {format_time(start)} to {format_time(end)} without "
            f"re-encoding → {human_size(out_size)} {name}, {got.duration or length:.1f} s"
        )
    return Video(label=label, path=out, mime=mime, size=out_size, temporary=True)


def _encode(
    tools: Tools,
    source: Path,
    out: Path,
    p: Plan,
    span: tuple[float, float | None],
    audio: bool,
    label: str,
    status: Status | None = None,
    seconds: float = 0.0,
) -> None:
    """One encode; ``status`` is told how far it is (``seconds``: the length it makes, for the percentage)."""
    start, length = span
    progress = None
    if status is not None:

        def progress(done: float) -> None:
            percent = f" {min(99, int(done * 100 / seconds))} %" if seconds > 0 else ""
            status(f"converting {label} with ffmpeg…{percent}")

        progress(0)
    try:
        done = _run(encode_args(tools, source, out, p, start, length, audio), progress)
    finally:
        if status is not None:
            status(None)
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


def prepare(
    video: Video, settings: Settings, info: Info | None = None, status: Status | None = None
) -> Video:
    """The video as it is sent: unchanged, or converted or cut by ffmpeg when resolving it said so.

    A temporary source (spooled stdin, a download) is removed once the converted file replaces it, so one
    input never has more than one file on disk.
    """
    if video.needs_ffmpeg is None:
        return video
    assert video.path is not None
    try:
        return convert(
            video.path, video.label, video.size, video.mime, video.needs_ffmpeg, settings, info, status
        )
    finally:
        video.close()
