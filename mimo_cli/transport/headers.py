"""The request as it is built, the one place for its URL and headers: for sending and for --dry-run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli import __version__
from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import register_secret
from mimo_cli.settings import mask_key

if TYPE_CHECKING:
    from mimo_cli.request import ChatRequest
    from mimo_cli.settings import Settings

_SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"}


def _show_headers(headers: Any, arrow: str) -> list[str]:
    lines = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, token = value.partition(" ")
            value = f"{scheme} {mask_key(token)}" if token else mask_key(value)
        lines.append(f"{arrow} {name}: {value}")
    return lines


def chat_url(settings: Settings) -> str:
    return f"{settings.base_url}/chat/completions"


def key_header(settings: Settings) -> str | None:
    """The key as sent, checked: a key with a space or a line break in it is a mistake, not a key."""
    key = (settings.api_key or "").strip()
    if not key:
        return None
    register_secret(key)
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise MimoError(
            Kind.AUTH,
            "the API key holds a space, a line break or a non-ASCII character, which no key has",
            "set the key again, copied exactly: --api-key or MIMO_API_KEY",
        )
    return key


def base_headers(settings: Settings, *, masked: bool = False) -> dict[str, str]:
    """The headers of every request; ``masked`` for showing them (--dry-run): the key as ``sk-…abcd``."""
    headers = {"User-Agent": f"mimo-video/{__version__}", "Accept": "application/json"}
    if masked:
        key = settings.api_key
        headers["Authorization"] = f"Bearer {mask_key(key)}" if key else "(no API key set)"
    else:
        key = key_header(settings)
        if key:
            headers["Authorization"] = f"Bearer {key}"
    return headers


def chat_headers(settings: Settings, request: ChatRequest, *, masked: bool = False) -> dict[str, str]:
    """The headers of a chat request: the one place they are built, for sending and for --dry-run."""
    headers = base_headers(settings, masked=masked)
    headers["Content-Type"] = "application/json"
    headers["Content-Length"] = str(request.content_length())
    if settings.stream:
        headers["Accept"] = "text/event-stream"
    return headers


def preview(request: ChatRequest) -> dict[str, Any]:
    """What --dry-run shows: the request as :meth:`Client.chat` would send it, key masked, payloads cut."""
    s = request.settings
    return {
        "method": "POST",
        "url": chat_url(s),
        "headers": chat_headers(s, request, masked=True),
        "body": request.body(preview=True),
    }
