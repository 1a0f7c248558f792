"""INPUT as typed -> a checked Video (URL, data URI, stdin, local file).

This module never prints: warnings go to the ``notice`` callback the caller passes. It never runs ffmpeg
either: a file that needs converting or cutting comes back as a Video with ``needs_ffmpeg`` set, and
:func:`mimo_cli.ffmpeg.convert.prepare` does the rest.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import urllib.parse
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.inputs.download import download
from mimo_cli.inputs.local import local_file, spool_stdin
from mimo_cli.inputs.sniff import ACCEPTED_MIME
from mimo_cli.inputs.video import Video, human_size, shorten_data_uri

if TYPE_CHECKING:
    from mimo_cli.callbacks import Notice
    from mimo_cli.settings import Settings

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
#: The MIME types a data URI input may carry: those mimo sends for a file.
SENT_MIME = frozenset(ACCEPTED_MIME.values())


def unreachable_host(url: str) -> str | None:
    """Why the API could not fetch this URL (a host only this machine or its network knows), or None."""
    host = (urllib.parse.urlsplit(url).hostname or "").rstrip(".").lower()
    if not host:
        return "it has no host"
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is this machine"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            return f"{host} is a single-label name that only your network can resolve"
        if host.endswith((".local", ".internal", ".lan", ".home.arpa")):
            return f"{host} is a local network name"
        return None
    if ip.is_loopback:
        return f"{host} is a loopback address"
    if ip.is_link_local:
        return f"{host} is a link-local address"
    if ip.is_private or ip.is_unspecified or ip.is_reserved:
        return f"{host} is a private address"
    return None


_B64_CHUNK = 4 * 65536  # characters of base64 checked at a time (a multiple of 4)


def data_uri(text: str, settings: Settings) -> Video:
    """A ``data:`` input: sent as it is, once its type, its base64 and its length are checked.

    Its MIME type must be one the API accepts, unless ``--force-mime`` gives the type to send instead."""
    limit = settings.inline_limit
    marker = text.find(";base64,", 0, 200)
    if marker < 0:
        raise input_error(
            "a data URI input must look like data:video/mp4;base64,...", "or pass a file path instead"
        )
    if settings.cutting:
        raise input_error("--start/--end cannot cut a data: URI", "pass the video file itself instead")
    mime = text[5:marker].split(";")[0].strip().lower()
    if settings.force_mime:
        text = f"data:{settings.force_mime};base64,{text[marker + 8 :]}"
        marker = 5 + len(settings.force_mime)
    elif mime not in SENT_MIME:
        raise input_error(
            f"the data URI is of type {mime or '(none)'!r}, not a video the API accepts "
            f"({', '.join(sorted(SENT_MIME))})",
            "pass the file itself (with --fit to convert it), or --force-mime video/... to send it anyway",
        )
    if len(text) > limit:
        raise input_error(
            f"the data URI is {len(text):,} characters, over the {human_size(limit)} inline limit",
            "pass the file itself with --fit, or a public http(s) URL",
        )
    _check_base64(text, marker + 8)
    return Video(label=shorten_data_uri(text), url=text)


def _check_base64(text: str, start: int) -> None:
    """The payload of a data URI is valid base64 (checked in chunks: never decoded whole)."""
    if start >= len(text):
        raise input_error("the data URI holds no data after base64,", "pass the video file itself instead")
    for at in range(start, len(text), _B64_CHUNK):
        try:
            base64.b64decode(text[at : at + _B64_CHUNK], validate=True)
        except (binascii.Error, ValueError) as e:
            raise input_error(
                f"the data URI's payload is not valid base64 ({e})", "pass the video file itself instead"
            ) from None


def resolve_input(
    text: str,
    settings: Settings,
    *,
    notice: Notice | None = None,
    stdin: IO[bytes] | None = None,
) -> Video:
    """Turn one INPUT as typed into a checked :class:`Video` (raises an ``input`` MimoError).

    Call :meth:`Video.close` when the request is done: it removes any temporary file made here (stdin
    spooled to disk, a downloaded URL). At most one such file is left per call. A video that ffmpeg must
    convert or cut comes back with ``needs_ffmpeg`` set (see :func:`mimo_cli.ffmpeg.convert.prepare`).
    """
    cutting = settings.cutting
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        if settings.inline_url:
            return download(text, settings, notice)
        if cutting:
            raise input_error(
                f"--start/--end cut a video here, but {text} is fetched by the API itself",
                "add --inline-url to download it here, cut it and send it inline",
            )
        why = unreachable_host(text)
        if why and notice:
            notice(
                f"the API fetches URLs itself and cannot reach {text}: {why}; sending it anyway",
                "use --inline-url to download it here and send it inline",
            )
        return Video(label=text, url=text)
    if lower.startswith("data:"):
        return data_uri(text, settings)
    if text == "-":
        return spool_stdin(stdin, settings, notice)
    scheme = _SCHEME.match(text)
    if scheme and not os.path.exists(text):
        raise input_error(
            f"unsupported input {text!r}: the {scheme.group(1)}: scheme is not supported",
            "give a local file, an http(s) URL, a data: URI, or - for standard input",
        )
    return local_file(Path(text), text, settings, notice)
