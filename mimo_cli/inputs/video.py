"""One video of a request, and the sizes of data URIs.

A local file is streamed as ``data:MIME;base64,...`` in chunks by :meth:`Video.iter_url`, so no caller ever
holds the whole encoded video in memory.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.inputs.tempfiles import release_temp

if TYPE_CHECKING:
    from collections.abc import Iterator

CHUNK = 3 * 64 * 1024  # raw bytes per base64 chunk: a multiple of 3, so the chunks concatenate cleanly


@dataclass
class Video:
    """One video of a request: either a URL sent as it is, or a local file sent inline."""

    label: str  # the input as given (a data URI shortened), for records and messages
    url: str | None = None  # an http(s) URL or data URI, sent as it is
    path: Path | None = None  # a local file, sent as data:MIME;base64,...
    mime: str | None = None
    size: int = 0
    temporary: bool = False  # path is ours (spooled stdin, a converted file): delete it in close()
    #: For a local file that ffmpeg must convert or cut first (--fit, --start/--end): the container's name
    #: (``mime`` is None for a container the API does not take). See :func:`mimo_cli.ffmpeg.convert.prepare`.
    needs_ffmpeg: str | None = None
    #: The hint of a too-large error for this file (a download says how to do without --inline-url).
    too_large_hint: str | None = None

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
