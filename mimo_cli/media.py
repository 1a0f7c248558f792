"""INPUT -> a :class:`Video`: URL, data URI, standard input or a local file.

A local file is checked here (exists, regular, not empty, a video of an accepted container, small enough
once base64-encoded) and later streamed as ``data:MIME;base64,...`` in chunks by :meth:`Video.iter_url`,
so no caller ever holds the whole encoded video in memory. With --fit or --start/--end, a local file is
handed to :mod:`mimo_cli.fit` (ffmpeg), which returns a temporary converted file in its place; with
--inline-url, an http(s) URL is downloaded to a temporary file first and then treated as a local file.
This module never prints: warnings go to the ``notice`` callback the caller passes.
"""

from __future__ import annotations

import atexit
import base64
import ipaddress
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
#: The name of each accepted container, as said in messages.
CONTAINER_NAMES = {"video/mp4": "MP4", "video/quicktime": "MOV", "video/x-msvideo": "AVI",
                   "video/x-ms-wmv": "WMV"}  # fmt: skip
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

    @property
    def display(self) -> str:
        """The input as named in messages."""
        return "standard input" if self.label == "-" else self.label

    @property
    def prefix(self) -> str:
        return data_uri_prefix(self.mime or "")

    def url_length(self) -> int:
        """Characters of the URL as sent (for an inline file: the whole data URI)."""
        if self.url is not None:
            return len(self.url)
        return data_uri_length(self.mime or "", self.size)

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
            release_temp(self.path)


# -- temporary files ---------------------------------------------------------------------------------------
# Every temporary file mimo makes (a spooled stdin, a download, a converted video) lives in one folder of
# this process. Its name is recorded before it is created, so removing the folder when the command ends
# (remove_temp_dir, called by the CLI, and at exit) leaves nothing behind even if Ctrl-C lands between
# creating a file and recording it.
_temp_state: dict[str, Path] = {}
_temp_lock = threading.Lock()


def temp_file(prefix: str, suffix: str = "") -> Path:
    """A new empty file in this process's temporary folder; delete it with :func:`release_temp`."""
    with _temp_lock:
        folder = _temp_state.get("dir")
        if folder is None:
            folder = Path(tempfile.gettempdir()) / f"mimo-{os.getpid()}-{secrets.token_hex(4)}"
            _temp_state["dir"] = folder
            if "atexit" not in _temp_state:
                atexit.register(remove_temp_dir)
                _temp_state["atexit"] = folder
            folder.mkdir(mode=0o700)
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
        os.close(fd)
        return Path(name)


def release_temp(path: Path) -> None:
    """Delete a file made by :func:`temp_file`, and the folder once it is empty."""
    with _temp_lock:
        path.unlink(missing_ok=True)
        folder = _temp_state.get("dir")
        if folder is not None and path.parent == folder:
            try:
                folder.rmdir()
            except OSError:  # other files are still in use
                return
            del _temp_state["dir"]


def remove_temp_dir() -> None:
    """Delete the temporary folder and whatever is left in it (the end of a command, or an interrupt)."""
    with _temp_lock:
        folder = _temp_state.pop("dir", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def base64_length(n: int) -> int:
    """Length of the base64 encoding of n bytes (with padding)."""
    return 4 * ((n + 2) // 3)


def data_uri_prefix(mime: str) -> str:
    return f"data:{mime};base64,"


def data_uri_length(mime: str, size: int) -> int:
    """Characters of the data URI of ``size`` bytes of this MIME type, prefix included."""
    return len(data_uri_prefix(mime)) + base64_length(size)


def largest_fitting(limit: int, mime: str) -> int:
    """The most bytes whose data URI with this MIME type fits in ``limit`` characters."""
    room = limit - len(data_uri_prefix(mime))
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


def container_error(name: str, container: str | None) -> Exception:
    return input_error(
        f"{name} is a video in the {container} container, which the API does not accept "
        f"(it takes {ACCEPTED_NAMES})",
        "convert it with --fit (needs ffmpeg), or send it unchanged with --force-mime MIME",
    )


def sniff(name: str, magic_mime: str | None, head: bytes) -> tuple[str | None, str | None]:
    """``(MIME to send, None)`` for an accepted container, ``(None, container name)`` for another video
    container; an input error when it is not a video at all."""
    ext = os.path.splitext(name)[1].lower()
    m = (magic_mime or "").lower()
    if m in ACCEPTED_MIME:
        return ACCEPTED_MIME[m], None
    container = OTHER_VIDEO_MIME.get(m)
    if container is None and m.startswith("video/"):
        container = m.removeprefix("video/").removeprefix("x-").upper()
    if container is None and (magic_mime is None or m in GENERIC_MIME):
        sig = _signature(head)
        if ext in ACCEPTED_EXT and sig == _FAMILY[ACCEPTED_EXT[ext]]:
            return ACCEPTED_EXT[ext], None
        if ext in OTHER_VIDEO_EXT and (sig is not None or magic_mime is None):
            container = OTHER_VIDEO_EXT[ext]
        elif sig == "mpegts":
            container = "MPEG-TS"
    if container is not None:
        return None, container
    said = f"libmagic says {magic_mime}" if magic_mime is not None else f"its content does not match {ext}"
    raise input_error(f"{name} is not a video ({said})", f"the API accepts {ACCEPTED_NAMES} videos")


def detect(path: Path, name: str, notice: Notice | None = None) -> tuple[str | None, str | None]:
    """:func:`sniff` on a file's head."""
    with open(path, "rb") as f:
        head = f.read(HEAD)
    magic = _load_magic(notice)
    magic_mime = magic.from_buffer(head, mime=True) if magic is not None else None
    return sniff(name, magic_mime, head)


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


def resolve_input(
    text: str,
    settings: Settings,
    *,
    notice: Notice | None = None,
    stdin: IO[bytes] | None = None,
) -> Video:
    """Turn one INPUT as typed into a checked :class:`Video` (raises an ``input`` MimoError).

    Call :meth:`Video.close` when the request is done: it removes any temporary file made here (stdin
    spooled to disk, a downloaded URL, a converted video). At most one such file is left per call.
    """
    limit = settings.inline_limit
    cutting = settings.cutting
    lower = text.lower()
    if lower.startswith(("http://", "https://")):
        if settings.inline_url:
            return _download(text, settings, notice)
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
        if ";base64," not in text[:200]:
            raise input_error(
                "a data URI input must look like data:video/mp4;base64,...", "or pass a file path instead"
            )
        if cutting:
            raise input_error("--start/--end cannot cut a data: URI", "pass the video file itself instead")
        if len(text) > limit:
            raise input_error(
                f"the data URI is {len(text):,} characters, over the {human_size(limit)} inline limit",
                "pass the file itself with --fit, or a public http(s) URL",
            )
        return Video(label=shorten_data_uri(text), url=text)
    if text == "-":
        return _spool_stdin(stdin, settings, notice)
    scheme = _SCHEME.match(text)
    if scheme and not os.path.exists(text):
        raise input_error(
            f"unsupported input {text!r}: the {scheme.group(1)}: scheme is not supported",
            "give a local file, an http(s) URL, a data: URI, or - for standard input",
        )
    return local_file(Path(text), text, settings, notice)


def local_file(
    path: Path,
    label: str,
    settings: Settings,
    notice: Notice | None,
    temporary: bool = False,
    name: str | None = None,
    hint: str = TOO_LARGE_HINT,
) -> Video:
    """Check a local file and return it as a :class:`Video`, converted by ffmpeg when the settings ask.

    ``temporary``: the file is ours (spooled stdin, a download); it is deleted when the video is closed,
    or at once when a converted file replaces it. ``name``: the file name that detection sees (default:
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
        cutting = settings.cutting
        if mime is None and not settings.fit:
            raise container_error(name or shown, container)
        if mime is not None and not cutting:
            video = Video(label=label, path=path, mime=mime, size=st.st_size, temporary=temporary)
            if video.url_length() <= settings.inline_limit or not settings.fit:
                check_inline_size(video, settings.inline_limit, hint)
                return video
        from mimo_cli import fit

        converted = fit.convert(
            path,
            label,
            st.st_size,
            mime,
            container or CONTAINER_NAMES.get(mime or "", mime or "video"),
            settings,
            notice,
        )
    except BaseException:
        if temporary:
            release_temp(path)
        raise
    if temporary:  # the converted file replaces it: at most one file per input on disk
        release_temp(path)
    return converted


def _spool_stdin(stdin: IO[bytes] | None, settings: Settings, notice: Notice | None) -> Video:
    """Copy standard input to a temporary file (constant memory), then check it like a local file."""
    source = stdin if stdin is not None else sys.stdin.buffer
    if source.isatty():
        raise input_error(
            "standard input is a terminal, not a video",
            "pipe a video into it: cat clip.mp4 | mimo describe -",
        )
    path = temp_file("stdin-")
    try:
        with open(path, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        if path.stat().st_size == 0:
            raise input_error(
                "standard input is empty", "pipe a video into it: cat clip.mp4 | mimo describe -"
            )
    except BaseException:
        release_temp(path)
        raise
    return local_file(path, "-", settings, notice, temporary=True)


DOWNLOAD_CHUNK = 1024 * 1024


def _download(url: str, settings: Settings, notice: Notice | None) -> Video:
    """--inline-url: stream ``url`` to a temporary file, then treat it as a local file.

    Unless it is going to be converted or cut (--fit, --start/--end), the download stops as soon as it
    passes the inline limit.
    """
    import httpx

    from mimo_cli import __version__
    from mimo_cli.errors import Kind, MimoError

    name = os.path.basename(urllib.parse.urlsplit(url).path) or "download"
    capped = not settings.fit and not settings.cutting
    cap = largest_fitting(settings.inline_limit, "video/mp4")  # the most any accepted video may have
    path = temp_file("url-", os.path.splitext(name)[1][:8])
    too_large = input_error(
        f"{url} is too large to send inline: over {human_size(cap)} of video, which makes a data URI "
        f"over the {human_size(settings.inline_limit)} limit",
        DOWNLOAD_HINT,
    )
    try:
        with open(path, "wb") as out:
            timeout = httpx.Timeout(settings.timeout, connect=min(30.0, settings.timeout))
            headers = {"User-Agent": f"mimo-cli/{__version__}"}
            try:
                with httpx.stream(
                    "GET", url, headers=headers, timeout=timeout, follow_redirects=True
                ) as response:
                    if response.status_code >= 400:
                        raise input_error(
                            f"downloading {url} failed: HTTP {response.status_code} {response.reason_phrase}",
                            "check the URL; --inline-url downloads it from this machine",
                        )
                    declared = response.headers.get("content-length", "")
                    if capped and declared.isdigit() and int(declared) > cap:
                        raise too_large
                    got = 0
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        got += len(chunk)
                        if capped and got > cap:
                            raise too_large
                        out.write(chunk)
            except httpx.TimeoutException:
                raise MimoError(
                    Kind.TIMEOUT, f"downloading {url} timed out", "raise --timeout, or check the URL"
                ) from None
            except httpx.HTTPError as e:
                raise MimoError(Kind.NETWORK, f"downloading {url} failed: {e}") from None
    except BaseException:
        release_temp(path)
        raise
    return local_file(path, url, settings, notice, temporary=True, name=name, hint=DOWNLOAD_HINT)
