"""The transport: an httpx client, retries, SSE and JSON parsing, and mapping failures to MimoError.

This module never prints and never reads ``sys.argv``: retry notices go to the ``notice`` callback,
streamed text to the ``on_delta`` callback of :meth:`Client.chat`.
"""

from __future__ import annotations

import email.utils
import html
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from mimo_cli import __version__
from mimo_cli.config import Settings
from mimo_cli.errors import Kind, MimoError, redact
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result

if TYPE_CHECKING:
    import httpx

Notice = Callable[[str, "str | None"], None]
OnDelta = Callable[[str, str], None]  # (kind: "reasoning" | "content", text)

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # a server that asks for a longer wait is not waited for
CONNECT_TIMEOUT = 10.0
ERROR_BODY_LIMIT = 64 * 1024

HINTS = {
    Kind.AUTH: "check the key: --api-key or MIMO_API_KEY (mimo doctor checks the setup)",
    Kind.QUOTA: "the balance or quota of this key is spent: top it up with your provider, or use another key",
    Kind.RATE_LIMIT: "too many requests: wait a little, or send fewer at once (--jobs, --rpm in mimo batch)",
    Kind.OVERLOADED: "the model is busy; try again in a while",
    Kind.NO_CHANNEL: "the gateway has no working channel for this model right now; try later or another --model",
    Kind.MODEL: "choose another model with --model; mimo models lists the ones this endpoint serves",
    Kind.CONTENT_FILTER: "the provider's content filter blocked the request or the answer",
    Kind.SERVER: "the server failed; try again later",
    Kind.NETWORK: "check the network connection and --base-url",
    Kind.TIMEOUT: "raise --timeout, or send less video (a lower --fps, a shorter clip)",
    Kind.BAD_RESPONSE: "is --base-url an OpenAI-compatible endpoint (it usually ends in /v1)?",
}

_QUOTA = re.compile(
    r"insufficient_user_quota|insufficient_quota|insufficient[ _]balance|quota (?:is )?(?:exceeded|exhausted)"
    r"|用户额度不足|额度不足|余额不足|剩余额度",
    re.I,
)
_NO_CHANNEL = re.compile(r"model_not_found|no available channel|无可用渠道", re.I)
_MODEL = re.compile(
    r"not supported model|model[^.]{0,80}(?:does not exist|not found|not supported|is not available)"
    r"|unknown model|invalid model|model_not_supported",
    re.I,
)
_OVERLOADED = re.compile(r"overloaded|overload|负载已满|过载", re.I)


# -- errors -----------------------------------------------------------------------------------------------


def excerpt(text: str, limit: int = 200) -> str:
    """A short, cleaned, one-line excerpt of a (possibly HTML) body."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
    if title:
        text = title.group(1) + " " + re.sub(r"(?is)<title[^>]*>.*?</title>", " ", text)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _error_fields(body: str) -> tuple[str, str]:
    """(message to show, all text to match) from an error body in any of the shapes gateways use."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            fields = {k: err.get(k) for k in ("message", "type", "code", "param")}
            message = str(fields["message"] or "").strip()
            param = str(fields["param"] or "").strip()
            if param and param not in message:
                message = f"{message}: {param}" if message else param
            if not message:
                message = str(fields["code"] or fields["type"] or "").strip()
            return message, " ".join(str(v) for v in fields.values() if v)
        if isinstance(err, str):
            return err.strip(), err
    return excerpt(body), body


def retry_after(headers: Any) -> float | None:
    """Seconds a server asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def http_error(status: int, body: str, headers: Any = None) -> MimoError:
    """Map an HTTP error status and body to the error kind of SPEC.md."""
    message, text = _error_fields(body)
    request_id = headers.get("x-request-id") if headers is not None else None
    wait = retry_after(headers) if headers is not None else None
    if _QUOTA.search(text) or status in (402, 403):
        kind, retry = Kind.QUOTA, False
    elif status == 401:
        kind, retry = Kind.AUTH, False
    elif _NO_CHANNEL.search(text) and (status >= 500 or status == 429):
        kind, retry = Kind.NO_CHANNEL, True
    elif _MODEL.search(text) or _NO_CHANNEL.search(text):
        kind, retry = Kind.MODEL, False
    elif status == 421:
        kind, retry = Kind.CONTENT_FILTER, False
    elif status == 429:
        kind, retry = Kind.RATE_LIMIT, True
    elif status in (503, 529) or _OVERLOADED.search(text):
        kind, retry = Kind.OVERLOADED, True
    elif status == 408:
        kind, retry = Kind.TIMEOUT, True
    elif status >= 500 or status == 409:
        kind, retry = Kind.SERVER, status in RETRY_STATUSES
    else:
        kind, retry = Kind.BAD_REQUEST, False
    shown = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    return MimoError(
        kind,
        redact(shown),
        HINTS.get(kind),
        http_status=status,
        retryable=retry,
        retry_after=wait,
        request_id=request_id,
    )


def bad_response(message: str, status: int | None = 200) -> MimoError:
    return MimoError(Kind.BAD_RESPONSE, redact(message), HINTS[Kind.BAD_RESPONSE], http_status=status)


def backoff(
    attempt: int, server_wait: float | None, rand: Callable[[], float] = random.random
) -> float | None:
    """Seconds before retry number ``attempt`` (1, 2, ...), like openai-python; None: do not wait that long.

    A server's wait is used as it is up to 120 s; otherwise ``min(0.5 * 2**(attempt-1), 8)`` shortened by
    up to 25 % jitter.
    """
    if server_wait is not None:
        return server_wait if server_wait <= MAX_RETRY_AFTER else None
    return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * rand())


# -- responses --------------------------------------------------------------------------------------------


def iter_sse_data(lines: Iterable[str]) -> Iterator[str]:
    """The ``data`` of each server-sent event; comments, other fields and blank lines are skipped."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)


class Accumulator:
    """Builds a :class:`Result` from streamed chunks (or from one whole completion)."""

    def __init__(self, model: str) -> None:
        self.result = Result(model=model)
        self._answer: list[str] = []
        self._reasoning: list[str] = []

    def feed_chunk(self, chunk: Any) -> list[tuple[str, str]]:
        """Take one ``chat.completion.chunk``; return the (kind, text) deltas it carries."""
        if not isinstance(chunk, dict):
            raise bad_response("the stream sent a chunk that is not a JSON object")
        if chunk.get("error"):
            raise stream_error(chunk)
        self._meta(chunk)
        out: list[tuple[str, str]] = []
        choices = chunk.get("choices") or []
        if not isinstance(choices, list):
            raise bad_response("the stream sent a chunk whose choices is not a list")
        for choice in choices[:1]:
            if not isinstance(choice, dict):
                raise bad_response("the stream sent a choice that is not a JSON object")
            delta = choice.get("delta") or {}
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
                self.result.finish_reason = str(choice["finish_reason"])
        return out

    def feed_completion(self, data: Any) -> None:
        """Take a whole (non-streamed) ``chat.completion``."""
        if not isinstance(data, dict):
            raise bad_response("the response is not a JSON object")
        if data.get("error"):
            raise stream_error(data)
        choices = data.get("choices")
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
            self.result.finish_reason = str(choices[0]["finish_reason"])

    def _meta(self, obj: dict[str, Any]) -> None:
        if isinstance(obj.get("usage"), dict):
            self.result.usage = obj["usage"]
        if obj.get("id") and not self.result.request_id:
            self.result.request_id = str(obj["id"])
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.result.model = obj["model"]

    def finish(self) -> Result:
        self.result.answer = "".join(self._answer)
        self.result.reasoning = "".join(self._reasoning)
        return self.result


def stream_error(obj: dict[str, Any]) -> MimoError:
    """An error object sent inside a 200 response (some gateways do this mid-stream)."""
    err = obj.get("error")
    status = None
    if isinstance(err, dict):
        for key in ("status", "http_status", "code"):
            if isinstance(err.get(key), int) and 400 <= err[key] < 600:
                status = err[key]
                break
    e = http_error(status or 500, json.dumps(obj, ensure_ascii=False))
    if status is None:
        e.http_status = None
        e.message = e.message.removeprefix("HTTP 500: ")
    return e


_sleep = time.sleep  # tests replace this to make backoff instant


# -- the client -------------------------------------------------------------------------------------------


class Client:
    """Sends chat requests with retries. Inject ``http`` (an ``httpx.Client``) in tests if you like."""

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.Client | None = None,
        notice: Notice | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.notice = notice
        self.sleep = sleep or _sleep
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
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        return headers

    def chat(self, request: ChatRequest, on_delta: OnDelta | None = None) -> Result:
        """Send the request, retrying what may be retried; return the result or raise MimoError."""
        started = time.monotonic()
        emitted = False

        def forward(kind: str, text: str) -> None:
            nonlocal emitted
            emitted = True
            if on_delta is not None:
                on_delta(kind, text)

        total = self.settings.retries + 1
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._attempt(request, forward)
            except MimoError as e:
                e.attempts = attempt
                wait = backoff(attempt, e.retry_after) if e.retryable else None
                if not e.retryable or emitted or attempt >= total or wait is None:
                    if e.retryable and wait is None and e.retry_after is not None:
                        e.hint = f"the server asks to wait {e.retry_after:.0f} s; try again later"
                    raise
                if self.notice:
                    self.notice(
                        f"retrying in {wait:.1f} s: {e.message} (attempt {attempt + 1} of {total})", None
                    )
                self.sleep(wait)
                continue
            result.attempts = attempt
            result.elapsed_s = time.monotonic() - started
            return result

    def _attempt(self, request: ChatRequest, on_delta: OnDelta) -> Result:
        import httpx

        s = self.settings
        headers = self.headers()
        headers["Content-Type"] = "application/json"
        headers["Content-Length"] = str(request.content_length())
        if s.stream:
            headers["Accept"] = "text/event-stream"
        deadline = time.monotonic() + s.timeout
        try:
            req = self.http.build_request(
                "POST", f"{s.base_url}/chat/completions", content=request.iter_body(), headers=headers
            )
            response = self.http.send(req, stream=True)
        except httpx.TimeoutException as e:
            raise MimoError(
                Kind.TIMEOUT, f"no answer from {s.base_url} within the time limit ({type(e).__name__})",
                HINTS[Kind.TIMEOUT], retryable=True,
            ) from None  # fmt: skip
        except httpx.TransportError as e:
            raise MimoError(
                Kind.NETWORK, redact(f"cannot reach {s.base_url}: {e}"), HINTS[Kind.NETWORK], retryable=True
            ) from None
        try:
            return self._read(response, on_delta, deadline)
        finally:
            response.close()

    def _read(self, response: httpx.Response, on_delta: OnDelta, deadline: float) -> Result:
        import httpx

        status = response.status_code
        request_id = response.headers.get("x-request-id")
        try:
            if status >= 400:
                body = _read_limited(response, ERROR_BODY_LIMIT)
                raise http_error(status, body, response.headers)
            acc = Accumulator(self.settings.model)
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" in ctype:
                self._read_stream(response.iter_lines(), acc, on_delta, deadline)
            else:
                text = response.read().decode("utf-8", errors="replace")
                if text.lstrip().startswith("data:"):
                    self._read_stream(iter(text.splitlines()), acc, on_delta, deadline)
                else:
                    try:
                        data = json.loads(text)
                    except ValueError:
                        raise bad_response(
                            f"expected JSON, got {ctype or 'no content type'}: {excerpt(text, 120)}", status
                        ) from None
                    acc.feed_completion(data)
                    result = acc.finish()
                    if result.reasoning:
                        on_delta("reasoning", result.reasoning)
                    if result.answer:
                        on_delta("content", result.answer)
        except httpx.TimeoutException:
            raise MimoError(
                Kind.TIMEOUT, f"the answer did not arrive within --timeout {self.settings.timeout:g} s",
                HINTS[Kind.TIMEOUT],
            ) from None  # fmt: skip
        except httpx.TransportError as e:
            raise bad_response(f"the connection broke while reading the answer: {e}", status) from None
        result = acc.finish()
        if result.request_id is None:
            result.request_id = request_id
        if result.finish_reason == "content_filter":
            raise MimoError(
                Kind.CONTENT_FILTER,
                "the answer was stopped by the content filter (finish_reason: content_filter)",
                HINTS[Kind.CONTENT_FILTER],
                http_status=status,
                request_id=result.request_id,
            )
        return result

    def _read_stream(
        self, lines: Iterable[str], acc: Accumulator, on_delta: OnDelta, deadline: float
    ) -> None:
        done = False
        for data in iter_sse_data(lines):
            if time.monotonic() > deadline:
                raise MimoError(
                    Kind.TIMEOUT, f"the answer did not finish within --timeout {self.settings.timeout:g} s",
                    HINTS[Kind.TIMEOUT],
                )  # fmt: skip
            if data.strip() == "[DONE]":
                done = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise bad_response(f"the stream sent a malformed chunk: {excerpt(data, 80)}") from None
            for kind, text in acc.feed_chunk(chunk):
                on_delta(kind, text)
        if not done and acc.result.finish_reason is None:
            raise bad_response(
                "the stream ended before the answer was complete (no [DONE], no finish_reason)"
            )

    def models(self) -> list[dict[str, Any]]:
        """GET {base_url}/models: the models the endpoint lists."""
        import httpx

        try:
            response = self.http.get(f"{self.settings.base_url}/models", headers=self.headers())
        except httpx.TimeoutException:
            raise MimoError(
                Kind.TIMEOUT, f"{self.settings.base_url} did not answer", HINTS[Kind.TIMEOUT]
            ) from None
        except httpx.TransportError as e:
            raise MimoError(
                Kind.NETWORK, redact(f"cannot reach {self.settings.base_url}: {e}"), HINTS[Kind.NETWORK]
            ) from None
        if response.status_code >= 400:
            raise http_error(response.status_code, response.text[:ERROR_BODY_LIMIT], response.headers)
        try:
            data = response.json()
        except ValueError:
            raise bad_response(f"expected JSON from /models, got: {excerpt(response.text, 120)}") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise bad_response("the /models answer has no list of models")
        return [m if isinstance(m, dict) else {"id": str(m)} for m in items]


def _read_limited(response: httpx.Response, limit: int) -> str:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit].decode("utf-8", errors="replace")
