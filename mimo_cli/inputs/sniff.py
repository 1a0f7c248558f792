"""What container a file is: libmagic, with the extension and a signature check as tie-breakers."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import input_error

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.callbacks import Notice

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

HEAD = 65536  # bytes handed to libmagic

# -- MIME detection ---------------------------------------------------------------------------------------

_magic_state: dict[str, Any] = {}


def load_magic(notice: Notice | None) -> Any:
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
    magic = load_magic(notice)
    magic_mime = magic.from_buffer(head, mime=True) if magic is not None else None
    return sniff(name, magic_mime, head)
