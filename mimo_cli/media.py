"""INPUT -> a :class:`Video`: URL, data URI, standard input or a local file.

A local file is checked here (exists, regular, not empty, a video of an accepted container, small enough
once base64-encoded) and later streamed as ``data:MIME;base64,...`` in chunks by :meth:`Video.iter_url`,
so no caller ever holds the whole encoded video in memory. This module never prints: warnings go to the
``notice`` callback the caller passes.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mimo_cli.config import Settings
from mimo_cli.errors import input_error

Notice = Callable[[str, "str | None"], None]

#: What libmagic may say for an accepted container -> the MIME type that is sent.
ACCEPTED_MIME = {
    "video/mp4": "video/mp4",
    "video/x-m4v": "video/mp4",  # the same ISO-BMFF container with an "M4V " brand
    "video/quicktime": "video/quicktime",
    "video/x-msvideo": "video/x-msvideo",
    "video/avi": "video/x-msvideo",
    "video/msvideo": "video/x-msvideo",
    "video/x-ms-asf": "video/x-ms-wmv",  # libmagic's name for every ASF file, .wmv included
    "video/x-ms-wmv": "video/x-ms-wmv",
    "application/vnd.ms-asf": "video/x-ms-wmv",
}

#: Extensions of accepted containers (used when libmagic says nothing useful, or is missing).
ACCEPTED_EXT = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".qt": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".wmv": "video/x-ms-wmv",
    ".asf": "video/x-ms-wmv",
}

#: Video containers the API does not take, by libmagic MIME type and by extension.
OTHER_VIDEO_MIME = {
    "video/webm": "WebM",
    "video/x-matroska": "Matroska (MKV)",
    "video/x-flv": "FLV",
    "video/3gpp": "3GP",
    "video/3gpp2": "3G2",
    "video/mp2t": "MPEG-TS",
    "video/mpeg": "MPEG program stream",
    "video/ogg": "Ogg (OGV)",
    "application/ogg": "Ogg (OGV)",
    "video/x-ms-vob": "VOB",
    "application/mxf": "MXF",
}
OTHER_VIDEO_EXT = {
    ".webm": "WebM",
    ".mkv": "Matroska (MKV)",
    ".flv": "FLV",
    ".3gp": "3GP",
    ".3g2": "3G2",
    ".ts": "MPEG-TS",
    ".mts": "MPEG-TS",
    ".m2ts": "MPEG-TS",
    ".m2t": "MPEG-TS",
    ".mpg": "MPEG program stream",
    ".mpeg": "MPEG program stream",
    ".vob": "VOB",
    ".ogv": "Ogg (OGV)",
    ".mxf": "MXF",
    ".rm": "RealMedia",
    ".rmvb": "RealMedia",
    ".f4v": "F4V",
}
#: libmagic answers that say "no idea": the extension decides (after a signature check).
GENERIC_MIME = {"application/octet-stream", "application/x-data", "application/unknown", ""}

ACCEPTED_NAMES = "MP4, MOV, AVI and WMV"
CHUNK = 3 * 64 * 1024  # raw bytes per base64 chunk: a multiple of 3, so the chunks concatenate cleanly
HEAD = 65536  # bytes handed to libmagic


@dataclass
class Video:
    """One video of a request: either a URL sent as it is, or a local file sent inline."""

    label: str  # the input as given (a data URI shortened), for records and messages
    url: str | None = None  # an http(s) URL or data URI, sent as it is
    path: Path | None = None  # a local file, sent as data:MIME;base64,...
    mime: str | None = None
    size: int = 0
    temporary: bool = False  # path is ours (spooled stdin, a converted file): delete it in close()
    _cleanups: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @property
    def display(self) -> str:
        """The input as named in messages."""
        return "standard input" if self.label == "-" else self.label

    @property
    def prefix(self) -> str:
        return f"data:{self.mime};base64,"

    def url_length(self) -> int:
        """Characters of the URL as sent (for an inline file: the whole data URI)."""
        if self.url is not None:
            return len(self.url)
        return len(self.prefix) + base64_length(self.size)

    def iter_url(self, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The data URI of a local file, in chunks, read from disk as it goes; a fresh iterator each call."""
        assert self.path is not None
        yield self.prefix.encode("ascii")
        remaining = self.size
        with open(self.path, "rb") as f:
            while remaining:
                block = f.read(min(chunk_size, remaining))
                if not block:
                    raise input_error(f"{self.display} got shorter while it was being sent")
                remaining -= len(block)
                yield base64.b64encode(block)

    def preview(self, keep: int = 24) -> str:
        """The URL as shown by --dry-run: a base64 payload shortened to its first characters and length."""
        if self.path is not None:
            with open(self.path, "rb") as f:
                head = base64.b64encode(f.read(keep)).decode("ascii")[:keep]
            return f"{self.prefix}{head}… ({base64_length(self.size):,} base64 chars)"
        assert self.url is not None
        return shorten_data_uri(self.url, keep)

    def close(self) -> None:
        if self.temporary and self.path is not None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
        for cleanup in self._cleanups:
            cleanup()
        self._cleanups.clear()


def base64_length(n: int) -> int:
    """Length of the base64 encoding of n bytes (with padding)."""
    return 4 * ((n + 2) // 3)


def largest_fitting(limit: int, mime: str) -> int:
    """The most bytes whose data URI with this MIME type fits in ``limit`` characters."""
    room = limit - len(f"data:{mime};base64,")
    return max(0, room // 4 * 3)


def human_size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def shorten_data_uri(uri: str, keep: int = 24) -> str:
    if not uri.startswith("data:"):
        return uri
    head, sep, payload = uri.partition(",")
    if not sep:
        return uri[:64]
    shown = payload[:keep] + ("…" if len(payload) > keep else "")
    return f"{head},{shown} ({len(payload):,} chars)"


# -- MIME detection ---------------------------------------------------------------------------------------

_magic_state: dict[str, Any] = {}


def _load_magic(notice: Notice | None) -> Any:
    """python-magic, or None (with one notice) when libmagic cannot be loaded."""
    if "module" not in _magic_state:
        try:
            import magic

            magic.from_buffer(b"\0" * 16, mime=True)
            _magic_state["module"] = magic
        except Exception:  # ImportError when libmagic is missing; MagicException when it is broken
            _magic_state["module"] = None
            if notice:
                notice(
                    "libmagic is not installed, so the video type is told by the file extension",
                    "install it: sudo apt-get install libmagic1 (Debian/Ubuntu), brew install libmagic (macOS)",
                )
    return _magic_state["module"]


def _signature(head: bytes) -> str | None:
    """A small container sniffer, used to check what an extension claims."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return "isobmff"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:8] == bytes.fromhex("3026b2758e66cf11"):
        return "asf"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    if head[:4] == bytes.fromhex("1a45dfa3"):
        return "ebml"
    return None


_FAMILY = {"video/mp4": "isobmff", "video/quicktime": "isobmff", "video/x-msvideo": "avi",
           "video/x-ms-wmv": "asf"}  # fmt: skip


def classify(name: str, magic_mime: str | None, head: bytes) -> str:
    """The MIME type to send for a file, or an input error saying why it is refused.

    ``magic_mime`` is what libmagic says (None when libmagic is missing); the extension of ``name`` breaks
    ties when libmagic has no specific answer.
    """
    ext = os.path.splitext(name)[1].lower()
    m = (magic_mime or "").lower()
    if m in ACCEPTED_MIME:
        return ACCEPTED_MIME[m]
    container = OTHER_VIDEO_MIME.get(m)
    if container is None and m.startswith("video/"):
        container = m.removeprefix("video/").removeprefix("x-").upper()
    if container is None and (magic_mime is None or m in GENERIC_MIME):
        sig = _signature(head)
        if ext in ACCEPTED_EXT and sig == _FAMILY[ACCEPTED_EXT[ext]]:
            return ACCEPTED_EXT[ext]
        if ext in OTHER_VIDEO_EXT and (sig is not None or magic_mime is None):
            container = OTHER_VIDEO_EXT[ext]
        elif sig == "mpegts":
            container = "MPEG-TS"
    if container is not None:
        raise input_error(
            f"{name} is a video in the {container} container, which the API does not accept "
            f"(it takes {ACCEPTED_NAMES})",
            "convert it with --fit (needs ffmpeg), or send it unchanged with --force-mime MIME",
        )
    said = f"libmagic says {magic_mime}" if magic_mime is not None else f"its content does not match {ext}"
    raise input_error(f"{name} is not a video ({said})", f"the API accepts {ACCEPTED_NAMES} videos")


def detect_mime(path: Path, name: str, notice: Notice | None = None) -> str:
    with open(path, "rb") as f:
        head = f.read(HEAD)
    magic = _load_magic(notice)
    magic_mime = magic.from_buffer(head, mime=True) if magic is not None else None
    return classify(name, magic_mime, head)


# -- input resolution -------------------------------------------------------------------------------------

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


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


def check_inline_size(video: Video, limit: int) -> None:
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
        "shrink it with --fit, or pass a public http(s) URL of it instead",
    )


def resolve_input(
    text: str,
    settings: Settings,
    *,
    notice: Notice | None = None,
    stdin: IO[bytes] | None = None,
) -> Video:
    """Turn one INPUT as typed into a checked :class:`Video` (raises an ``input`` MimoError).

    Call :meth:`Video.close` when the request is done: it removes any temporary file made here.
    """
    limit, force_mime = settings.inline_limit, settings.force_mime
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        why = unreachable_host(text)
        if why and notice:
            notice(
                f"the API fetches URLs itself and cannot reach {text}: {why}; sending it anyway",
                "use --inline-url to download it here and send it inline",
            )
        return Video(label=text, url=text)
    if lower.startswith("data:"):
        if ";base64," not in text[:200]:
            raise input_error(
                "a data URI input must look like data:video/mp4;base64,...", "or pass a file path instead"
            )
        if len(text) > limit:
            raise input_error(
                f"the data URI is {len(text):,} characters, over the {human_size(limit)} inline limit",
                "pass the file itself with --fit, or a public http(s) URL",
            )
        return Video(label=shorten_data_uri(text), url=text)
    if text == "-":
        return _spool_stdin(stdin, limit, force_mime, notice)
    scheme = _SCHEME.match(text)
    if scheme and not os.path.exists(text):
        raise input_error(
            f"unsupported input {text!r}: the {scheme.group(1)}: scheme is not supported",
            "give a local file, an http(s) URL, a data: URI, or - for standard input",
        )
    return local_file(Path(text), text, limit, force_mime, notice)


def local_file(
    path: Path, label: str, limit: int, force_mime: str | None, notice: Notice | None, temporary: bool = False
) -> Video:
    video = Video(label=label, path=path, temporary=temporary)
    shown = video.display
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
    video.mime = force_mime or detect_mime(path, shown, notice)
    video.size = st.st_size
    check_inline_size(video, limit)
    return video


def _spool_stdin(stdin: IO[bytes] | None, limit: int, force_mime: str | None, notice: Notice | None) -> Video:
    """Copy standard input to a temporary file (constant memory), then check it like a local file."""
    source = stdin if stdin is not None else sys.stdin.buffer
    if source.isatty():
        raise input_error(
            "standard input is a terminal, not a video",
            "pipe a video into it: cat clip.mp4 | mimo describe -",
        )
    fd, name = tempfile.mkstemp(prefix="mimo-stdin-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        if path.stat().st_size == 0:
            raise input_error(
                "standard input is empty", "pipe a video into it: cat clip.mp4 | mimo describe -"
            )
        return local_file(path, "-", limit, force_mime, notice, temporary=True)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
