"""What identifies a request for the run log and ``--cache``: its inputs' content and its options.

Content is identified by the SHA-256 of its bytes (a file, stdin, a download), or by its URL when the API
fetches it, plus the span that is sent: never by a name or an mtime alone, because a cache that answers
for the wrong video is worse than none.

Hashing streams the file through a fixed 1 MiB buffer, so memory stays constant; it runs at about
1 GB/s (10 ms for a 10 MB video, two seconds for a 2 GB source that ``--fit`` or ``--segment`` will cut),
small beside the upload and the model's minutes.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

#: Bumped when the meaning of a cache key changes, so old records no longer match.
KEY_VERSION = 1
_CHUNK = 1024 * 1024


def sha256_stream(f: IO[bytes]) -> tuple[str, int]:
    """The SHA-256 (hex) and the length of what is left to read in ``f``, in constant memory."""
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    size = 0
    while True:
        n = f.readinto(view)  # type: ignore[attr-defined]
        if not n:
            return digest.hexdigest(), size
        digest.update(view[:n])
        size += n


def sha256_file(path: str | Path) -> tuple[str, int]:
    """The SHA-256 (hex) and the size of a file's bytes; raises OSError when it cannot be read."""
    with open(path, "rb", buffering=0) as f:
        return sha256_stream(f)


def clean_base_url(url: str) -> str:
    """The base URL without credentials (``user:pass@``) and without a trailing slash."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # a port that is not a number: keep the text, minus anything before an @
        return url.strip().rsplit("@", 1)[-1].rstrip("/")
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urllib.parse.urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), parts.query, ""))


def _number(value: float | None) -> float | None:
    """2 and 2.0 are the same option."""
    return None if value is None else float(value)


@dataclass(frozen=True)
class InputRef:
    """One input of a request, as the log records it.

    ``sha256`` is the hash of the content (a local file, stdin, a downloaded URL, a data URI's text);
    ``url`` is set instead for a URL the API fetches itself. ``start`` and ``end`` are the span sent
    (seconds; None for the whole video).
    """

    input: str
    size: int | None = None
    sha256: str | None = None
    url: str | None = None
    start: float | None = None
    end: float | None = None

    @classmethod
    def of_file(cls, label: str, path: str | Path, start: float | None = None,
                end: float | None = None) -> InputRef:  # fmt: skip
        digest, size = sha256_file(path)
        return cls(label, size, digest, None, start, end)

    @classmethod
    def of_text(cls, label: str, text: str, start: float | None = None, end: float | None = None) -> InputRef:
        """A data URI: its own text is the content."""
        data = text.encode("utf-8", "surrogateescape")
        return cls(label, len(data), hashlib.sha256(data).hexdigest(), None, start, end)

    @classmethod
    def of_url(cls, url: str, start: float | None = None, end: float | None = None) -> InputRef:
        return cls(url, None, None, url, start, end)

    @property
    def identity(self) -> list[Any] | None:
        """What the cache key takes from this input; None when its content is not known."""
        if self.sha256:
            return ["sha256", self.sha256, _number(self.start), _number(self.end)]
        if self.url:
            return ["url", self.url, _number(self.start), _number(self.end)]
        return None


@dataclass(frozen=True)
class RequestKey:
    """Everything SPEC's cache key is made of (SPEC.md, "The run log and ``--cache``").

    ``text`` is the request's text part as sent (the prompt or question, with whatever a part's context
    line, ``--timestamps`` or ``--schema`` added); ``system`` is the option as given, as in batch's
    fingerprint: None (the default system prompt, whatever date it holds) counts as "default", "" is no
    system message. ``inputs`` is empty for a request without video (a merge, a repair).
    """

    model: str
    base_url: str
    inputs: tuple[InputRef, ...]
    text: str
    system: str | None = None
    fps: float = 2.0
    resolution: str = "default"
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    thinking: bool | None = None
    schema: Any = None

    def options(self) -> dict[str, Any]:
        """The request options, as recorded with each request."""
        return {
            "fps": self.fps,
            "resolution": self.resolution,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "thinking": self.thinking,
            "system": "default" if self.system is None else self.system,
            "schema": self.schema,
        }

    def digest(self) -> str | None:
        """The cache key (SHA-256 hex), or None when an input's content is not known."""
        identities = [ref.identity for ref in self.inputs]
        if any(identity is None for identity in identities):
            return None
        material = [
            KEY_VERSION,
            self.model,
            clean_base_url(self.base_url),
            identities,
            self.text,
            "default" if self.system is None else self.system,
            _number(self.fps),
            self.resolution,
            self.max_tokens,
            _number(self.temperature),
            _number(self.top_p),
            self.thinking,
            self.schema,
        ]
        text = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
