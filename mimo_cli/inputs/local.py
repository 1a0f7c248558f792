"""A local file (or standard input spooled to one) -> a checked Video: exists, regular, not empty, a video
of an accepted container, small enough once base64-encoded (from its size: nothing is read).
"""

from __future__ import annotations

import os
import stat
import sys
from typing import IO, TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.inputs.sniff import CONTAINER_NAMES, container_error, detect
from mimo_cli.inputs.tempfiles import release_temp, temp_file
from mimo_cli.inputs.video import Video, human_size, largest_fitting

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mimo_cli.callbacks import Notice
    from mimo_cli.settings import Settings

TOO_LARGE_HINT = "shrink it with --fit, send a part with --start/--end, or pass a public http(s) URL of it"
DOWNLOAD_HINT = "add --fit to shrink it, or leave out --inline-url so that the API fetches the URL itself"


def check_inline_size(video: Video, limit: int, hint: str = TOO_LARGE_HINT) -> None:
    """Refuse a local file whose data URI would pass the inline limit (from its size: nothing is read)."""
    length = video.url_length()
    if length <= limit:
        return
    assert video.mime is not None
    fits = largest_fitting(limit, video.mime)
    raise input_error(
        f"{video.display} is too large to send inline: {human_size(video.size)} of video makes a "
        f"{human_size(length)} data URI, over the {human_size(limit)} limit "
        f"(the largest video that fits is about {human_size(fits)})",
        hint,
    )


def local_file(
    path: Path,
    label: str,
    settings: Settings,
    notice: Notice | None,
    temporary: bool = False,
    name: str | None = None,
    hint: str = TOO_LARGE_HINT,
) -> Video:
    """Check a local file and return it as a :class:`Video`; one that ffmpeg must convert or cut first
    (the settings ask for --fit or --start/--end) comes back with ``needs_ffmpeg`` set.

    ``temporary``: the file is ours (spooled stdin, a download); it is deleted when the video is closed,
    or when a converted file replaces it. ``name``: the file name that detection sees (default:
    the label).
    """
    shown = Video(label=label).display
    try:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise input_error(f"{shown}: no such file") from None
        except OSError as e:
            raise input_error(f"{shown}: {e.strerror or e}") from None
        if stat.S_ISDIR(st.st_mode):
            raise input_error(f"{shown} is a directory", "to send every video in it, use mimo batch")
        if not stat.S_ISREG(st.st_mode):
            raise input_error(f"{shown} is not a regular file")
        if not os.access(path, os.R_OK):
            raise input_error(f"{shown}: permission denied")
        if st.st_size == 0:
            raise input_error(f"{shown} is empty")
        mime: str | None = settings.force_mime
        container: str | None = None
        if not mime:
            mime, container = detect(path, name or shown, notice)
        if mime is None and not settings.fit:
            raise container_error(name or shown, container)
        video = Video(label=label, path=path, mime=mime, size=st.st_size, temporary=temporary,
                      too_large_hint=hint)  # fmt: skip
        fits = video.url_length() <= settings.inline_limit
        if mime is not None and not settings.cutting and (fits or not settings.fit):
            check_inline_size(video, settings.inline_limit, hint)
            return video
        video.needs_ffmpeg = container or CONTAINER_NAMES.get(mime or "", mime or "video")
        return video
    except BaseException:
        if temporary:
            release_temp(path)
        raise


def spool_stdin(stdin: IO[bytes] | None, settings: Settings, notice: Notice | None) -> Video:
    """Copy standard input to a temporary file (constant memory, at most :attr:`Settings.spool_limit`
    bytes: ``mimo describe - < /dev/zero`` stops there), then check it like a local file."""
    source = stdin if stdin is not None else sys.stdin.buffer
    if source.isatty():
        raise input_error(
            "standard input is a terminal, not a video",
            "pipe a video into it: cat clip.mp4 | mimo describe -",
        )
    path = temp_file("stdin-")
    try:
        with open(path, "wb") as out:
            copy_capped(source.read, out, settings, "standard input")
        if path.stat().st_size == 0:
            raise input_error(
                "standard input is empty", "pipe a video into it: cat clip.mp4 | mimo describe -"
            )
    except BaseException:
        release_temp(path)
        raise
    return local_file(path, "-", settings, notice, temporary=True)


SPOOL_CHUNK = 1024 * 1024


def too_much(what: str, settings: Settings) -> Exception:
    """The input error of a download or of standard input that passed :attr:`Settings.spool_limit`."""
    cap = settings.spool_limit
    if settings.fit or settings.cutting:
        return input_error(
            f"{what} is over {human_size(cap)}, the most mimo copies here for ffmpeg (--max-download-mb "
            f"{settings.max_download_mb:g})",
            "raise --max-download-mb, or cut the video before you send it",
        )
    return input_error(
        f"{what} is too large to send inline: over {human_size(cap)} of video, which makes a data URI over "
        f"the {human_size(settings.inline_limit)} limit (--max-inline-mb {settings.max_inline_mb:g})",
        TOO_LARGE_HINT,
    )


def copy_capped(read: Callable[[int], bytes], out: IO[bytes], settings: Settings, what: str) -> None:
    """Copy what ``read`` gives to ``out`` until it ends; more than the spool limit is :func:`too_much`."""
    cap = settings.spool_limit
    copied = 0
    while True:
        chunk = read(SPOOL_CHUNK)
        if not chunk:
            return
        copied += len(chunk)
        if copied > cap:
            raise too_much(what, settings)
        out.write(chunk)
