"""The chat-completions request: its JSON body, built as a byte stream with an exact Content-Length.

The body is serialised once with a placeholder for each inline video; the placeholders split it into
static byte strings, and the video's data URI is streamed from disk between them. Base64 and the
``data:MIME;base64,`` prefix need no JSON escaping, so the streamed bytes are the JSON as it would be
written whole, and the total length is known before a byte is read.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mimo_cli.inputs.video import Video
from mimo_cli.prompts import default_system_prompt
from mimo_cli.settings import Settings


@dataclass
class ChatRequest:
    """What one call asks: the settings, the videos (in order) and the prompt."""

    settings: Settings
    videos: Sequence[Video]
    prompt: str
    json_mode: bool = False  # --schema: ask for JSON with "response_format" (unless the server refused it)
    _parts: list[bytes | Video] = field(default_factory=list, init=False, repr=False)
    _nonce: str = field(default_factory=lambda: secrets.token_hex(8), init=False, repr=False)

    def body(self, *, preview: bool = False) -> dict[str, Any]:
        """The JSON body as a dict; inline videos as placeholders (or, with preview, shortened)."""
        s = self.settings
        content: list[dict[str, Any]] = []
        for i, video in enumerate(self.videos):
            if video.url is not None:
                url = video.url if not preview else video.preview()
            else:
                url = video.preview() if preview else self._token(i)
            content.append(
                {
                    "type": "video_url",
                    "video_url": {"url": url},
                    "fps": s.fps,
                    "media_resolution": s.resolution,
                }
            )
        content.append({"type": "text", "text": self.prompt})
        messages: list[dict[str, Any]] = []
        system = default_system_prompt() if s.system is None else s.system
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": content})
        body: dict[str, Any] = {"model": s.model, "messages": messages}
        if s.max_tokens is not None:
            body["max_completion_tokens"] = s.max_tokens
        if s.temperature is not None:
            body["temperature"] = s.temperature
        if s.top_p is not None:
            body["top_p"] = s.top_p
        if s.thinking is not None:
            body["thinking"] = {"type": "enabled" if s.thinking else "disabled"}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        if s.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def _token(self, i: int) -> str:
        return f"@@mimo-video-{self._nonce}-{i}@@"

    def parts(self) -> list[bytes | Video]:
        """Static JSON byte strings interleaved with the inline videos that go between them."""
        if not self._parts:
            text = json.dumps(self.body(), ensure_ascii=False, separators=(",", ":"))
            parts: list[bytes | Video] = []
            for i, video in enumerate(self.videos):
                if video.url is not None:
                    continue
                before, token, text = text.partition(self._token(i))
                assert token, "placeholder missing from the serialised body"
                parts += [before.encode("utf-8"), video]
            parts.append(text.encode("utf-8"))
            self._parts = parts
        return self._parts

    def content_length(self) -> int:
        return sum(len(p) if isinstance(p, bytes) else p.url_length() for p in self.parts())

    def iter_body(self) -> Iterator[bytes]:
        """The body's bytes; a new generator per call (one per attempt: a generator is consumed once)."""
        for part in self.parts():
            if isinstance(part, bytes):
                yield part
            else:
                yield from part.iter_url()

    def close(self) -> None:
        """Remove the temporary files of its videos (spooled stdin, a download, a converted file)."""
        for video in self.videos:
            video.close()

    def body_bytes(self) -> bytes:
        """The whole body at once (tests and small requests only: it holds every video in memory)."""
        return b"".join(self.iter_body())
