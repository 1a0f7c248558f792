"""The transport: an httpx client, retries, deadlines, SSE and JSON parsing, and mapping failures to MimoError.

This module never prints and never reads ``sys.argv``: retry notices go to the ``notice`` callback, debug
lines to the ``debug`` callback, streamed text to the ``on_delta`` callback of :meth:`Client.chat`.

The reading side is made of pure functions over byte chunks (:func:`read_body`), so that the property
tests can feed them any bytes: they return a :class:`Result` or raise :class:`MimoError`, nothing else.
"""

from __future__ import annotations

import email.utils
import html
import http
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from mimo_cli import __version__
from mimo_cli.config import Settings, mask_key
from mimo_cli.errors import Kind, MimoError, StreamRedactor, redact, register_secret, usage_error
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result

if TYPE_CHECKING:
    import httpx

Notice = Callable[[str, "str | None"], None]
OnDelta = Callable[[str, str], None]  # (kind: "reasoning" | "content", text)
Debug = Callable[[str], None]

#: Statuses that may succeed when tried again (Cloudflare's 520-524 and 529 are its origin's troubles).
RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
#: Statuses never retried, whatever the body says (SPEC.md): the same request would fail the same way.
NEVER_RETRY = {400, 401, 403, 404, 413, 422}
MAX_RETRY_AFTER = 120.0  # a server that asks for a longer wait is not waited for
CONNECT_TIMEOUT = 10.0  # connecting has its own, shorter limit (never more than --timeout)
ERROR_BODY_LIMIT = 64 * 1024
RETIRED = {"mimo-v2-omni": "the official API retired mimo-v2-omni on 2026-06-30"}

HINTS = {
    Kind.AUTH: "check the key: --api-key or MIMO_API_KEY (mimo doctor checks the setup)",
    Kind.QUOTA: "the balance or quota of this key is spent: top it up with your provider, or use another key",
    Kind.RATE_LIMIT: "too many requests: wait a little, raise --retries, or send fewer at once "
    "(mimo batch --jobs, --rpm)",
    Kind.OVERLOADED: "the model is busy: try again in a few minutes (--retries N tries more times)",
    Kind.NO_CHANNEL: "the gateway has no working channel for this model: it may not offer it (mimo models "
    "lists those it does) or its channels are down; try later or another --model",
    Kind.MODEL: "choose a model this endpoint serves with --model (or MIMO_MODEL); mimo models lists them",
    Kind.CONTENT_FILTER: "the provider's content filter blocked the request or the answer; try another "
    "video or prompt",
    Kind.BAD_REQUEST: "the server refused the request as sent; --dry-run shows what would be sent",
    Kind.SERVER: "the server failed; try again later",
    Kind.NETWORK: "check the network connection, a proxy (HTTPS_PROXY) and --base-url",
    Kind.TIMEOUT: "raise --timeout, or send less video (a lower --fps, a shorter clip)",
    Kind.BAD_RESPONSE: "is --base-url an OpenAI-compatible endpoint (it usually ends in /v1)?",
}
#: How a retry notice names what went wrong: ``retrying in 2.0 s: 503 overloaded (attempt 2 of 4)``.
RETRY_LABELS = {
    Kind.RATE_LIMIT: "rate limited",
    Kind.NO_CHANNEL: "no channel",
    Kind.SERVER: "server error",
    Kind.NETWORK: "network error",
    Kind.BAD_RESPONSE: "broken response",
}
STATUS_HINTS = {
    403: "the server refused access: the key's balance or quota may be spent, or the key may not be allowed "
    "this model; check with your provider",
    404: "check --base-url: the API's root usually ends in /v1 (mimo doctor checks it)",
    413: "the request is too large for this server: send a smaller video (--fit) or a public URL",
    504: "the gateway gave up waiting for the model: try again, or send less video (a lower --fps)",
}

_QUOTA = re.compile(
    r"insufficient_user_quota|insufficient_quota|insufficient[ _]?(?:account[ _])?balance"
    r"|exceeded your current quota|quota (?:is )?(?:exceeded|exhausted|used up)|out of credits?"
    r"|用户额度不足|额度不足|额度已用尽|余额不足|剩余额度|欠费",
    re.I,
)
_NO_CHANNEL = re.compile(r"no available channel|无可用渠道|没有可用(?:的)?渠道", re.I)
_MODEL_NOT_FOUND = re.compile(r"model_not_found", re.I)
_MODEL = re.compile(
    r"not supported model|unsupported model|model_not_supported|unknown model|invalid model"
    r"|model[^.\n]{0,80}?(?:does not exist|not found|not supported|is not available|not exist)"
    r"|模型[^。\n]{0,40}?(?:不存在|不支持)|不支持(?:的|该)?模型",
    re.I,
)
_OVERLOADED = re.compile(r"overload|负载已满|过载|服务繁忙|too busy|server is busy", re.I)
_CONTENT_FILTER = re.compile(
    r"content[_ ]filter|content_policy_violation|data_inspection_failed|sensitive content|敏感|内容安全|违规",
    re.I,
)
_CERTIFICATE = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|self[- ]signed", re.I)


# -- errors -----------------------------------------------------------------------------------------------


def excerpt(text: str, limit: int = 200) -> str:
    """A short, cleaned, one-line excerpt of a (possibly HTML) body: an HTML page gives its title."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->", " ", text)
    for tag in ("title", "h1"):
        found = re.search(rf"(?is)<{tag}[^>]*>(.*?)</{tag}\s*>", text)
        if found and found.group(1).strip():
            text = found.group(1)
            break
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _looks_html(body: str) -> bool:
    head = body.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body", "<?xml", "<center", "<h1")) or (
        "<html" in head
    )


def _strings(obj: Any, depth: int = 0) -> Iterator[str]:
    """Every string (and number) inside a JSON value, keys left out: what the kind is matched against."""
    if depth > 20:
        return
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value, depth + 1)
    elif obj is not None:
        yield str(obj)


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return " ".join(str(value).split())


def _error_fields(body: str, headers: Any = None) -> tuple[str, str]:
    """(message to show, all text to match) from an error body in any of the shapes gateways use.

    ``{"error": {"message", "type", "code", "param"}}`` (official MiMo puts the detail in ``param``:
    ``Not supported model mimo-v2-flash``), ``{"error": "..."}``, ``{"message": ...}``, ``{"detail": ...}``,
    plain text, or an HTML page (its title, and the ``Server`` that sent it).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        err = data.get("error") if data.get("error") else data
        match = " ".join(_strings(data))
        if isinstance(err, dict):
            message = ""
            for key in ("message", "msg", "error_msg", "errmsg", "detail", "error_description"):
                message = _text(err.get(key))
                if message:
                    break
            if not message and isinstance(err.get("detail"), list):
                message = excerpt(
                    "; ".join(_text(d.get("msg")) for d in err["detail"] if isinstance(d, dict))
                )
            param = _text(err.get("param"))
            if param and param not in message:
                if " " in param:  # a sentence: the useful detail (official MiMo)
                    message = f"{param} ({message})" if message else param
                else:  # a field name
                    message = f"{message} (param: {param})" if message else f"param: {param}"
            if not message:
                message = _text(err.get("code")) or _text(err.get("type"))
            return excerpt(message, 300), match
        if isinstance(err, str):
            return excerpt(err, 300), match
    if _looks_html(body):
        title = excerpt(body, 120)
        server = _text(headers.get("server")) if headers is not None else ""
        page = f"an HTML page from {excerpt(server, 40)}" if server else "an HTML page"
        message = f"{title} ({page}, not the API's JSON)" if title else f"{page}, not the API's JSON"
        return message, title
    return excerpt(body), body[:ERROR_BODY_LIMIT]


def retry_after(headers: Any) -> float | None:
    """Seconds a server asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            ms = float(value)
            if math.isfinite(ms):
                return max(0.0, ms / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
        return max(0.0, seconds) if math.isfinite(seconds) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _model_hint(kind: Kind, model: str | None) -> str | None:
    if model is None:
        return HINTS.get(kind)
    retired = f" ({RETIRED[model]})" if model in RETIRED else ""
    if kind is Kind.MODEL:
        return (
            f"this endpoint does not serve {model}{retired}: choose one it serves with --model "
            f"(or MIMO_MODEL); mimo models lists them"
        )
    return (
        f"the gateway has no working channel for {model}: it may not offer this model (mimo models lists "
        f"those it does) or its channels are down; try later or another --model"
    )


def classify(status: int, text: str) -> tuple[Kind, bool]:
    """The kind of an HTTP error and whether it may be retried, from its status and its body's text."""
    if status == 402 or _QUOTA.search(text):
        return Kind.QUOTA, False
    if status == 401:
        return Kind.AUTH, False
    if status == 403:
        return Kind.QUOTA, False
    if status == 421 or _CONTENT_FILTER.search(text):
        return Kind.CONTENT_FILTER, False
    if _NO_CHANNEL.search(text) or (_MODEL_NOT_FOUND.search(text) and (status >= 500 or status == 429)):
        return Kind.NO_CHANNEL, True
    if _OVERLOADED.search(text):
        return Kind.OVERLOADED, True
    if _MODEL.search(text) or _MODEL_NOT_FOUND.search(text):
        return Kind.MODEL, False
    if status == 429:
        return Kind.RATE_LIMIT, True
    if status in (503, 529):
        return Kind.OVERLOADED, True
    if status == 408:
        return Kind.TIMEOUT, True
    if status >= 500 or status == 409:
        return Kind.SERVER, status in RETRY_STATUSES
    if status < 400:
        return Kind.BAD_RESPONSE, False
    return Kind.BAD_REQUEST, False


def http_error(status: int, body: str, headers: Any = None, *, model: str | None = None) -> MimoError:
    """Map an HTTP error status and body to the error kind of SPEC.md, with a message and a hint."""
    message, text = _error_fields(body, headers)
    kind, retry = classify(status, text)
    retry = retry and status not in NEVER_RETRY
    request_id = headers.get("x-request-id") if headers is not None else None
    if kind in (Kind.MODEL, Kind.NO_CHANNEL):
        hint = _model_hint(kind, model)
    elif kind is Kind.QUOTA and status == 403 and not _QUOTA.search(text):
        hint = STATUS_HINTS[403]
    else:
        hint = STATUS_HINTS.get(status) if kind in (Kind.BAD_REQUEST, Kind.SERVER) else None
        hint = hint or HINTS.get(kind)
    phrase = _phrase(status)
    shown = f"HTTP {status}: {message}" if message else f"HTTP {status} {phrase}".rstrip()
    return MimoError(
        kind,
        redact(shown),
        redact(hint) if hint else None,
        http_status=status,
        retryable=retry,
        retry_after=retry_after(headers),
        request_id=redact(request_id) if request_id else None,
    )


def bad_response(message: str, status: int | None = 200, *, retryable: bool = False) -> MimoError:
    return MimoError(
        Kind.BAD_RESPONSE, redact(message), HINTS[Kind.BAD_RESPONSE], http_status=status, retryable=retryable
    )


def embedded_error(obj: dict[str, Any], model: str | None = None) -> MimoError:
    """An error object sent inside a 200 response (some gateways do this, even mid-stream)."""
    err = obj.get("error")
    status = None
    for source in (err, obj):
        if isinstance(source, dict):
            for key in ("status", "http_status", "status_code", "code"):
                value = source.get(key)
                if isinstance(value, str) and value.isdigit():
                    value = int(value)
                if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                    status = value
                    break
        if status:
            break
    e = http_error(status or 500, json.dumps(obj, ensure_ascii=False), model=model)
    if status is None:  # the server said nothing of a status: report none, keep the text-based kind
        e.http_status = None
        detail = e.message.removeprefix("HTTP 500: ") if e.message.startswith("HTTP 500: ") else ""
        e.message = (
            f"the server sent an error: {detail}" if detail else "the server sent an error with no message"
        )
    return e


def backoff(attempt: int, server_wait: float | None, rand: Callable[[], float] | None = None) -> float | None:
    """Seconds before retry number ``attempt`` (1, 2, ...), like openai-python; None: do not wait that long.

    A server's wait is used as it is up to 120 s; otherwise ``min(0.5 * 2**(attempt-1), 8)`` shortened by
    up to 25 % jitter.
    """
    if server_wait is not None:
        return server_wait if server_wait <= MAX_RETRY_AFTER else None
    return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * (rand or random.random)())


# -- responses --------------------------------------------------------------------------------------------


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decoded lines of a byte stream; a line ends at LF, CRLF or CR (as SSE allows)."""
    buffer = b""
    for chunk in chunks:
        if not chunk:
            continue
        buffer += chunk
        if buffer.endswith(b"\r"):  # it may be the first half of a CRLF: wait for the next chunk
            parts = re.split(rb"\r\n|\r|\n", buffer[:-1])
            buffer = parts.pop() + b"\r"
        else:
            parts = re.split(rb"\r\n|\r|\n", buffer)
            buffer = parts.pop()
        for line in parts:
            yield line.decode("utf-8", errors="replace")
    if buffer:
        for line in re.split(rb"\r\n|\r|\n", buffer.rstrip(b"\r")):
            yield line.decode("utf-8", errors="replace")


def iter_sse_events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) of each server-sent event; comments, other fields and blank lines are skipped."""
    data: list[str] = []
    event = ""
    first = True
    for line in lines:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        if not line:
            if data:
                yield event, "\n".join(data)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield event, "\n".join(data)


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON value safe to print again: no NaN or infinities, no absurd nesting."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if depth > 10:
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    return value


class Accumulator:
    """Builds a :class:`Result` from streamed chunks (or from one whole completion)."""

    def __init__(self, model: str) -> None:
        self.result = Result(model=model)
        self.requested_model = model
        self._answer: list[str] = []
        self._reasoning: list[str] = []

    def feed_chunk(self, chunk: Any) -> list[tuple[str, str]]:
        """Take one ``chat.completion.chunk``; return the (kind, text) deltas it carries."""
        if not isinstance(chunk, dict):
            raise bad_response("the stream sent a chunk that is not a JSON object")
        if chunk.get("error"):
            raise embedded_error(chunk, self.requested_model)
        self._meta(chunk)
        out: list[tuple[str, str]] = []
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise bad_response("the stream sent a chunk whose choices is not a list")
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise bad_response("the stream sent a choice that is not a JSON object")
            delta = choice.get("delta") or choice.get("message") or {}
            if not isinstance(delta, dict):
                raise bad_response("the stream sent a delta that is not a JSON object")
            # Some gateways send the same text as both reasoning_content and reasoning: take it once.
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                self._reasoning.append(reasoning)
                out.append(("reasoning", reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                self._answer.append(content)
                out.append(("content", content))
            if choice.get("finish_reason"):
                self.result.finish_reason = _text(choice["finish_reason"])[:100] or None
        return out

    def feed_completion(self, data: Any) -> None:
        """Take a whole (non-streamed) ``chat.completion``."""
        if not isinstance(data, dict):
            raise bad_response("the response is not a JSON object")
        choices = data.get("choices")
        if data.get("error") or (not choices and ("message" in data or "msg" in data)):
            raise embedded_error(data, self.requested_model)
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise bad_response("the response has no choices")
        self._meta(data)
        message = choices[0].get("message")
        if not isinstance(message, dict):
            raise bad_response("the response has no message")
        content = message.get("content")
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        self._answer = [content] if isinstance(content, str) else []
        self._reasoning = [reasoning] if isinstance(reasoning, str) else []
        if choices[0].get("finish_reason"):
            self.result.finish_reason = _text(choices[0]["finish_reason"])[:100] or None

    def _meta(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("usage"), dict):
            self.result.usage = _clean(obj["usage"])
        if isinstance(obj.get("id"), (str, int)) and obj["id"] != "" and not self.result.request_id:
            self.result.request_id = str(obj["id"])[:200]
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.result.model = obj["model"][:200]

    def finish(self) -> Result:
        self.result.answer = "".join(self._answer)
        self.result.reasoning = "".join(self._reasoning)
        return self.result


def read_stream(
    chunks: Iterable[bytes], acc: Accumulator, on_delta: OnDelta | None = None, status: int = 200
) -> None:
    """Read an SSE answer into ``acc``; a stream cut before ``[DONE]`` and a finish_reason is an error."""
    done = False
    for event, data in iter_sse_events(iter_lines(chunks)):
        if data.strip() == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            if event == "error":
                raise MimoError(
                    Kind.SERVER, redact(f"the server sent an error: {excerpt(data, 200)}"), HINTS[Kind.SERVER]
                ) from None
            raise bad_response(f"the stream sent a malformed chunk: {excerpt(data, 80)}", status) from None
        for kind, text in acc.feed_chunk(chunk):
            if on_delta is not None:
                on_delta(kind, text)
    if not done and acc.result.finish_reason is None:
        raise bad_response(
            "the stream ended before the answer was complete (no [DONE], no finish_reason)",
            status,
            retryable=True,
        )


def read_completion(
    body: bytes, content_type: str, acc: Accumulator, on_delta: OnDelta | None = None, status: int = 200
) -> None:
    """Read a whole JSON answer into ``acc`` (and pass its text to ``on_delta``)."""
    text = body.decode("utf-8", errors="replace").removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        what = content_type.split(";")[0].strip() or "no content type"
        if not text.strip():
            raise bad_response(f"expected JSON, got an empty body ({what})", status, retryable=True) from None
        raise bad_response(f"expected JSON, got {what}: {excerpt(text, 120)}", status) from None
    acc.feed_completion(data)
    result = acc.finish()
    if on_delta is not None:
        if result.reasoning:
            on_delta("reasoning", result.reasoning)
        if result.answer:
            on_delta("content", result.answer)


def read_body(
    chunks: Iterable[bytes],
    content_type: str,
    model: str,
    on_delta: OnDelta | None = None,
    status: int = 200,
) -> Result:
    """A 200 response's body (SSE or JSON, told by its content type or its first bytes) -> Result.

    Raises MimoError for anything else (a malformed or cut stream, an error object, a finish_reason of
    ``content_filter``); never another exception.
    """
    acc = Accumulator(model)
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:  # enough of the start to tell SSE from JSON whatever the content type says
        head += chunk
        if len(head.lstrip()) >= 8:
            break
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start.startswith((b"{", b"[")) and (
        "text/event-stream" in content_type or start.startswith((b"data:", b":", b"event:"))
    ):
        read_stream(_prepend(head, iterator), acc, on_delta, status)
    else:
        read_completion(head + b"".join(iterator), content_type, acc, on_delta, status)
    result = acc.finish()
    if result.finish_reason == "content_filter":
        raise MimoError(
            Kind.CONTENT_FILTER,
            "the answer was stopped by the content filter (finish_reason: content_filter)",
            HINTS[Kind.CONTENT_FILTER],
            http_status=status,
            request_id=redact(result.request_id) if result.request_id else None,
        )
    return result


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


_sleep = time.sleep  # tests replace this to make backoff instant


# -- deadlines --------------------------------------------------------------------------------------------


class _Expired(Exception):
    """Raised inside the request body or the reading loop when the attempt's deadline has passed."""


class Deadline:
    """One attempt's time limit, for the attempt as a whole (connect, upload, wait, streamed answer).

    httpcore reads the request's timeouts as each phase starts (connect, send the body, receive the
    headers, receive the body); the ``trace`` hook gives each phase only what is left of the attempt, and
    :meth:`check` is called between chunks, so a server that trickles bytes cannot stretch it either.
    """

    PHASES: ClassVar[dict[str, str]] = {
        "connect_tcp": "connect",
        "start_tls": "connect",
        "send_request_headers": "send",
        "send_request_body": "send",
        "receive_response_headers": "wait",
        "receive_response_body": "read",
    }

    def __init__(self, seconds: float, connect: float = CONNECT_TIMEOUT) -> None:
        self.seconds = seconds
        self.connect = min(connect, seconds)
        self.end = time.monotonic() + seconds
        self.phase = "connect"
        self.timeouts: dict[str, float] = {}

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise _Expired

    def httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.seconds, connect=self.connect)

    def trace(self, event: str, info: dict[str, Any]) -> None:
        parts = event.split(".")
        if len(parts) < 3 or parts[-1] != "started":
            return
        self.phase = self.PHASES.get(parts[-2], self.phase)
        left = max(self.remaining(), 0.001)
        timeouts = self.timeouts
        for key in ("read", "write", "pool"):
            timeouts[key] = left
        timeouts["connect"] = min(self.connect, left)

    def chunks(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.check()
            yield chunk

    def error(self, base_url: str) -> MimoError:
        limit = f"--timeout {self.seconds:g} s"
        message = {
            "connect": f"could not connect to {base_url} within {self.connect:g} s",
            "send": f"the request could not be sent within {limit}",
            "wait": f"no answer within {limit}: the server did not start answering",
            "read": f"the answer did not finish within {limit}: the server stalled or streamed too slowly",
        }[self.phase]
        hint = HINTS[Kind.NETWORK] if self.phase == "connect" else HINTS[Kind.TIMEOUT]
        return MimoError(Kind.TIMEOUT, redact(message), hint, retryable=True)


# -- the client -------------------------------------------------------------------------------------------

_SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie"}


def _show_headers(headers: Any, arrow: str) -> list[str]:
    lines = []
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS:
            scheme, _, token = value.partition(" ")
            value = f"{scheme} {mask_key(token)}" if token else mask_key(value)
        lines.append(f"{arrow} {name}: {value}")
    return lines


class Client:
    """Sends chat requests with retries. Inject ``http`` (an ``httpx.Client``) in tests if you like.

    ``notice(message, None)`` is told of each retry; ``debug(line)``, when given, receives the request and
    response headers (the key masked) of every attempt.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.Client | None = None,
        notice: Notice | None = None,
        sleep: Callable[[float], None] | None = None,
        debug: Debug | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.notice = notice
        self.sleep = sleep or (lambda seconds: _sleep(seconds))
        self.debug = debug
        register_secret(settings.api_key)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout)),
            follow_redirects=True,
        )

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": f"mimo-cli/{__version__}", "Accept": "application/json"}
        key = (self.settings.api_key or "").strip()
        if key:
            register_secret(key)
            if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
                raise MimoError(
                    Kind.AUTH,
                    "the API key holds a space, a line break or a non-ASCII character, which no key has",
                    "set the key again, copied exactly: --api-key or MIMO_API_KEY",
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def chat(self, request: ChatRequest, on_delta: OnDelta | None = None) -> Result:
        """Send the request, retrying what may be retried; return the result or raise MimoError.

        Every attempt sends a fresh body. Nothing is retried once part of the answer was passed on. The text
        passed to ``on_delta`` and returned in the Result never holds a registered secret, even one split
        across two streamed chunks.
        """
        started = time.monotonic()
        emitted = False
        redactors = {"reasoning": StreamRedactor(), "content": StreamRedactor()}

        def forward(kind: str, text: str) -> None:
            nonlocal emitted
            emitted = True
            safe = redactors.setdefault(kind, StreamRedactor()).feed(text)
            if safe and on_delta is not None:
                on_delta(kind, safe)

        total = self.settings.retries + 1
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._attempt(request, forward, attempt, total)
            except MimoError as e:
                e.attempts = attempt
                wait = backoff(attempt, e.retry_after) if e.retryable else None
                if not e.retryable or emitted or attempt >= total or wait is None:
                    if e.retryable and wait is None and e.retry_after is not None and not emitted:
                        e.hint = f"the server asks to wait {e.retry_after:.0f} s before trying again"
                    raise
                reason = RETRY_LABELS.get(e.kind, e.kind.value)
                if e.http_status:
                    reason = f"{e.http_status} {reason}"
                line = f"retrying in {wait:.1f} s: {reason} (attempt {attempt + 1} of {total})"
                if self.notice:
                    self.notice(line, None)
                if self.debug:
                    self.debug(f"* {e.message}")
                self.sleep(wait)
                continue
            for kind, redactor in redactors.items():
                rest = redactor.flush()
                if rest and on_delta is not None:
                    on_delta(kind, rest)
            result.answer = redact(result.answer)
            result.reasoning = redact(result.reasoning)
            result.request_id = redact(result.request_id) if result.request_id else None
            result.model = redact(result.model)
            result.attempts = attempt
            result.elapsed_s = time.monotonic() - started
            return result

    def _log(self, lines: Iterable[str]) -> None:
        if self.debug is not None:
            for line in lines:
                self.debug(redact(line))

    def _attempt(self, request: ChatRequest, on_delta: OnDelta, attempt: int, total: int) -> Result:
        import httpx

        s = self.settings
        headers = self.headers()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(request.content_length())
        if s.stream:
            headers["Accept"] = "text/event-stream"
        deadline = Deadline(s.timeout)
        url = f"{s.base_url}/chat/completions"
        try:
            req = self.http.build_request(
                "POST",
                url,
                content=deadline.chunks(request.iter_body()),  # a fresh body for every attempt
                headers=headers,
                timeout=deadline.httpx_timeout(),
                extensions={"trace": deadline.trace},
            )
        except httpx.InvalidURL as e:
            raise usage_error(redact(f"the base URL is not valid: {e}"), "check --base-url") from None
        deadline.timeouts = req.extensions["timeout"]
        self._log([f"> POST {url} (attempt {attempt} of {total})", *_show_headers(req.headers, ">")])
        sent = time.monotonic()
        try:
            response = self.http.send(req, stream=True, follow_redirects=False)
        except _Expired:
            raise deadline.error(s.base_url) from None
        except httpx.TimeoutException as e:
            if isinstance(e, httpx.ConnectTimeout):
                deadline.phase = "connect"
            raise deadline.error(s.base_url) from None
        except httpx.TransportError as e:
            raise self._network_error(e) from None
        try:
            self._log(
                [
                    f"< {response.http_version} {response.status_code} {response.reason_phrase} "
                    f"({time.monotonic() - sent:.2f} s)",
                    *_show_headers(response.headers, "<"),
                ]
            )
            return self._read(response, on_delta, deadline)
        finally:
            response.close()

    def _network_error(self, e: Exception) -> MimoError:
        detail = str(e) or type(e).__name__
        if _CERTIFICATE.search(detail):
            return MimoError(
                Kind.NETWORK,
                redact(f"the TLS certificate of {self.settings.base_url} could not be verified: {detail}"),
                "a proxy that inspects TLS needs its CA: export SSL_CERT_FILE=/path/to/ca.pem",
            )
        return MimoError(
            Kind.NETWORK,
            redact(f"cannot reach {self.settings.base_url}: {detail}"),
            HINTS[Kind.NETWORK],
            retryable=True,
        )

    def _read(self, response: httpx.Response, on_delta: OnDelta, deadline: Deadline) -> Result:
        import httpx

        status = response.status_code
        request_id = response.headers.get("x-request-id")
        ctype = response.headers.get("content-type", "")
        try:
            chunks = deadline.chunks(response.iter_bytes())
            if 300 <= status < 400:
                location = response.headers.get("location", "")
                raise MimoError(
                    Kind.BAD_REQUEST,
                    redact(f"HTTP {status}: the server redirects to {location or 'another address'}"),
                    "set --base-url to the address the API really answers at (it usually ends in /v1)",
                    http_status=status,
                )
            if status >= 400 or status < 200:
                body = _read_limited(chunks, ERROR_BODY_LIMIT)
                self._log([f"< body: {excerpt(body, 500)}"])
                raise http_error(status, body, response.headers, model=self.settings.model)
            result = read_body(chunks, ctype, self.settings.model, on_delta, status)
        except _Expired:
            raise deadline.error(self.settings.base_url) from None
        except httpx.TimeoutException:
            raise deadline.error(self.settings.base_url) from None
        except httpx.TransportError as e:
            raise bad_response(
                f"the connection broke while reading the answer: {e or type(e).__name__}",
                status,
                retryable=True,
            ) from None
        if result.request_id is None and request_id:
            result.request_id = request_id
        return result

    def models(self) -> list[dict[str, Any]]:
        """GET {base_url}/models: the models the endpoint lists."""
        import httpx

        url = f"{self.settings.base_url}/models"
        headers = self.headers()
        self._log([f"> GET {url}", *_show_headers(headers, ">")])
        try:
            response = self.http.get(url, headers=headers)
        except httpx.TimeoutException:
            raise MimoError(
                Kind.TIMEOUT, f"{self.settings.base_url} did not answer in time", HINTS[Kind.TIMEOUT]
            ) from None
        except httpx.TransportError as e:
            raise self._network_error(e) from None
        self._log(
            [f"< {response.status_code} {response.reason_phrase}", *_show_headers(response.headers, "<")]
        )
        if response.status_code >= 400:
            raise http_error(
                response.status_code, response.text[:ERROR_BODY_LIMIT], response.headers, model=None
            )
        try:
            data = response.json()
        except (ValueError, RecursionError):
            raise bad_response(f"expected JSON from /models, got: {excerpt(response.text, 120)}") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise bad_response("the /models answer has no list of models")
        return [m if isinstance(m, dict) else {"id": str(m)} for m in items]


def _read_limited(chunks: Iterable[bytes], limit: int) -> str:
    """At most ``limit`` bytes of an error body, decoded."""
    data = b""
    for chunk in chunks:
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")
