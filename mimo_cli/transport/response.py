"""Reading a 200 answer (SSE or JSON) into a :class:`~mimo_cli.result.Result`.

Pure functions over byte chunks, so that the property tests can feed them any bytes: they return a Result
or raise MimoError, nothing else.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact, shown
from mimo_cli.result import Result
from mimo_cli.transport.classify import (
    CUT_HINT,
    EMPTY_HINT,
    HINTS,
    _text,
    bad_response,
    embedded_error,
    excerpt,
)
from mimo_cli.transport.limits import MAX_BODY, MAX_STREAM, capped, read_capped
from mimo_cli.transport.sse import iter_lines, iter_sse_events

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from mimo_cli.callbacks import OnDelta

    pass


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
                self.result.finish_reason = shown(_text(choice["finish_reason"]), 100) or None
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
            self.result.finish_reason = shown(_text(choices[0]["finish_reason"]), 100) or None

    def _meta(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("usage"), dict):
            self.result.usage = _clean(obj["usage"])
        if isinstance(obj.get("id"), (str, int)) and obj["id"] != "" and not self.result.request_id:
            self.result.request_id = shown(str(obj["id"]), 200)
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.result.model = shown(obj["model"], 200)

    def finish(self) -> Result:
        self.result.answer = "".join(self._answer)
        self.result.reasoning = "".join(self._reasoning)
        return self.result


def read_stream(
    chunks: Iterable[bytes], acc: Accumulator, on_delta: OnDelta | None = None, status: int = 200
) -> None:
    """Read an SSE answer into ``acc``; a stream cut before ``[DONE]`` and a finish_reason is an error.

    Once the finish_reason and the usage are in, the answer is complete: a server that then holds the
    connection open without ``[DONE]`` is not waited for.
    """
    done = False
    for event, data in iter_sse_events(iter_lines(capped(chunks, MAX_STREAM, "the streamed answer", status))):
        if data.strip() == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except (ValueError, RecursionError):
            if event == "error":  # a gateway relays an error as text: its kind from the text
                raise embedded_error(
                    {"error": {"message": excerpt(data, 2000)}}, acc.requested_model
                ) from None
            raise bad_response(f"the stream sent a malformed chunk: {excerpt(data, 80)}", status) from None
        for kind, text in acc.feed_chunk(chunk):
            if on_delta is not None:
                on_delta(kind, text)
        if acc.result.finish_reason is not None and acc.result.usage is not None:
            break
    if not done and acc.result.finish_reason is None:
        raise bad_response(
            "the stream ended before the answer was complete (no [DONE], no finish_reason)",
            status,
            retryable=True,
            hint=CUT_HINT,
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
        if len(head.lstrip()) >= 8 or len(head) > 64 * 1024:  # (a body of only blanks is not SSE)
            break
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
    if not start.startswith((b"{", b"[")) and (
        "text/event-stream" in content_type or start.startswith((b"data:", b":", b"event:"))
    ):
        read_stream(_prepend(head, iterator), acc, on_delta, status)
    else:
        body = read_capped(_prepend(head, iterator), MAX_BODY, "the answer", status)
        read_completion(body, content_type, acc, on_delta, status)
    result = acc.finish()
    if result.finish_reason == "content_filter":
        raise MimoError(
            Kind.CONTENT_FILTER,
            "the answer was stopped by the content filter (finish_reason: content_filter)",
            HINTS[Kind.CONTENT_FILTER],
            http_status=status,
            request_id=redact(result.request_id) if result.request_id else None,
        )
    if not result.answer and not result.reasoning:  # retried like a cut stream (SPEC "Other additions")
        raise bad_response(
            "the server answered 200 with an empty answer (no content, no reasoning)",
            status,
            retryable=True,
            hint=EMPTY_HINT,
        )
    return result


def _prepend(head: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield head
    yield from rest


def _read_limited(chunks: Iterable[bytes], limit: int) -> str:
    """At most ``limit`` bytes of an error body, decoded."""
    data = b""
    for chunk in chunks:
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", errors="replace")
