"""What gateways do to errors, headers and requests, read back into what the API meant (issue 15).

Pure functions only: the transport's classifier and retry code call them. Nothing here prints.
- LiteLLM relays an upstream error as text (``Error code: 401 - {...}``), renames headers
  (``llm_provider-retry-after``, ``request-id``, ``x-litellm-call-id``), answers a wrong key with 400
  "No connected db." when it runs without a database, and a cooldown with 429 "No deployments available".
- lm-proxy wraps the body as ``{"detail": {"error": {...}}}``.
- Gateways refuse fields they do not know (``thinking``), and messages can be long: keep their useful end.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: Retry-After and its renamings, in the order they are trusted (``-ms`` ones are milliseconds).
RETRY_AFTER_HEADERS = (
    ("retry-after-ms", 0.001),
    ("retry-after", 1.0),
    ("llm_provider-retry-after-ms", 0.001),
    ("llm_provider-retry-after", 1.0),
)
#: The request id and its renamings: the API's own first, then the gateway's.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "llm_provider-x-request-id", "x-litellm-call-id")

AUTH_TEXT = re.compile(r"invalid_api_key|No connected db", re.I)
COOLDOWN_TEXT = re.compile(r"all_deployments_in_cooldown|No deployments available", re.I)
FILTER_TEXT = re.compile(r"inappropriate content|data may contain (?:inappropriate|sensitive)", re.I)
_RELAYED = re.compile(r"Error code:?\s*(\d{3})\b\s*[-:]")
_REFUSED_PARAM = re.compile(
    r"UnsupportedParamsError|does not support (?:the )?param|unsupported param|unrecognized request argument"
    r"|unknown (?:field|parameter)|extra (?:inputs|fields) (?:are )?not permitted|unexpected keyword",
    re.I,
)
VIDEO_MODEL = re.compile(r"omni|v2\.5|(?:^|[-_/.])vl(?:$|[-_/.\d])", re.I)
MESSAGE_LIMIT = 400


def unwrap_detail(data: Any) -> Any:
    """``{"detail": {"error": {...}}}`` (lm-proxy, FastAPI) -> ``{"error": {...}}``; others as they are."""
    for _ in range(3):
        if isinstance(data, dict) and not data.get("error") and isinstance(data.get("detail"), dict):
            data = data["detail"]
        else:
            break
    return data


def relayed_status(text: str) -> int | None:
    """The status of an upstream error a gateway relays as text: ``Error code: 401 - {...}`` -> 401."""
    for found in _RELAYED.finditer(text):
        status = int(found.group(1))
        if 400 <= status < 600:
            return status
    return None


def shorten(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One line of at most about ``limit`` characters; a longer text keeps its start and its end (where
    gateways put the way out), joined by `` … `` and cut between words, never inside one."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head_size = limit * 2 // 5
    tail_size = limit - head_size - 3
    head = text[:head_size]
    if text[head_size] != " " and " " in head:
        head = head[: head.rfind(" ")]
    tail = text[len(text) - tail_size :]
    if text[len(text) - tail_size - 1] != " " and " " in tail:
        tail = tail[tail.find(" ") + 1 :]
    return f"{head.rstrip()} … {tail.lstrip()}"


def _seconds(value: str, scale: float) -> float | None:
    """A header's wait: a number (times ``scale``) or an HTTP date; None for none, 0, negative, past."""
    value = value.strip()
    try:
        seconds = float(value) * scale
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds) or seconds <= 0:
        return None  # "now", a negative wait or a date gone by: the usual backoff, not no wait at all
    return seconds


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server (or the API behind a gateway) asks to wait; None: use the usual backoff."""
    if headers is None:
        return None
    for name, scale in RETRY_AFTER_HEADERS:
        value = headers.get(name)
        if value:
            seconds = _seconds(value, scale)
            if seconds is not None:
                return seconds
    return None


def request_id(headers: Mapping[str, str] | None) -> str | None:
    """The request id from the headers, under any of the names gateways give it."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = (headers.get(name) or "").strip()
        if value:
            return value[:200]
    return None


def refuses_param(text: str, name: str) -> bool:
    """Does an error's text say the server or gateway refuses the body field ``name``?"""
    return bool(_REFUSED_PARAM.search(text)) and name in text


def thinking_hint() -> str:
    return (
        "the gateway refuses the `thinking` field that --thinking/--no-thinking send: leave the option out, "
        "or have the gateway's admin allow it (LiteLLM: --extra-body "
        '\'{"allowed_openai_params": ["thinking"]}\')'
    )


def too_large_hint(body_bytes: int | None) -> tuple[str, str]:
    """(what to add to a 413's message, its hint): name the size refused and the way to smaller bodies."""
    size = f" a body of {body_bytes / (1024 * 1024):.1f} MiB" if body_bytes else " the request body"
    return (
        f"the server or a proxy in front of it refused{size}",
        "make smaller requests with --max-inline-mb below what it accepts (nginx's default is 1 MiB) and "
        "--fit to convert the video to fit; or send a public URL",
    )


def suggest_models(ids: Iterable[str], refused: str | None, limit: int = 5) -> list[str]:
    """Up to ``limit`` models to offer instead of ``refused``: those that look like video models (omni,
    v2.5, vl) first, each group in the order the endpoint lists them."""
    unique = [i for i in dict.fromkeys(str(i) for i in ids) if i and i != refused]
    video = [i for i in unique if VIDEO_MODEL.search(i)]
    others = [i for i in unique if not VIDEO_MODEL.search(i)]
    return (video + others)[:limit]


def model_hint(refused: str, suggestions: list[str], retired: str, command: str = "mimo") -> str:
    """The ``model`` error's hint when the endpoint's models are known: what it serves, the exact way out."""
    if not suggestions:
        return (
            f"this endpoint does not serve {refused}{retired}: choose one it serves with --model "
            f"(or MIMO_MODEL); {command} models lists them"
        )
    first = suggestions[0]
    return (
        f"this endpoint does not serve {refused}{retired}; it serves {', '.join(suggestions)}: "
        f"use --model {first}, or keep it: {command} config set model {first}"
    )
