"""The httpx client: builds the request (one place for URL and headers), sends it with retries, reads it.

This module never prints and never reads ``sys.argv``: retry notices go to the ``notice`` callback, debug
lines to the ``debug`` callback, streamed text to the ``on_delta`` callback of :meth:`Client.chat`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli import __version__
from mimo_cli.clock import REAL, Clock
from mimo_cli.errors import Kind, MimoError, usage_error
from mimo_cli.redact import StreamRedactor, redact, register_secret
from mimo_cli.settings import Settings, mask_key
from mimo_cli.transport import tls
from mimo_cli.transport.classify import (
    _CERTIFICATE,
    ERROR_BODY_LIMIT,
    HINTS,
    RETRY_LABELS,
    bad_response,
    excerpt,
    http_error,
)
from mimo_cli.transport.deadline import CONNECT_TIMEOUT, Deadline, _Expired
from mimo_cli.transport.response import _read_limited, read_body
from mimo_cli.transport.retry import retry_wait

if TYPE_CHECKING:
    from collections.abc import Iterable

    import httpx

    from mimo_cli.callbacks import Debug, Notice, OnDelta
    from mimo_cli.request import ChatRequest
    from mimo_cli.result import Result


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
    headers = {"User-Agent": f"mimo-cli/{__version__}", "Accept": "application/json"}
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


class Client:
    """Sends chat requests with retries.

    Seams, as openai-python's client has them: ``http`` (an ``httpx.Client``, e.g. with a
    ``MockTransport``) and ``clock`` (sleep, monotonic time and the jitter's random numbers).
    ``connections``: how many requests may be in flight at once (batch --jobs).
    ``notice(message, None)`` is told of each retry; ``debug(line)``, when given, receives the request and
    response headers (the key masked) of every attempt.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx.Client | None = None,
        notice: Notice | None = None,
        debug: Debug | None = None,
        clock: Clock = REAL,
        connections: int | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.notice = notice
        self.debug = debug
        self.clock = clock
        register_secret(settings.api_key)
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(settings.timeout, connect=min(CONNECT_TIMEOUT, settings.timeout)),
            follow_redirects=True,
            verify=tls.context(),
            # httpx keeps 20 connections alive by default: more when more requests are in flight (batch -j)
            limits=httpx.Limits(max_connections=max(connections, 100), max_keepalive_connections=connections)
            if connections and connections > 20
            else httpx.Limits(),
        )

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chat(self, request: ChatRequest, on_delta: OnDelta | None = None) -> Result:
        """Send the request, retrying what may be retried; return the result or raise MimoError.

        Every attempt sends a fresh body. Nothing is retried once part of the answer was passed on. The text
        passed to ``on_delta`` and returned in the Result never holds a registered secret, even one split
        across two streamed chunks.
        """
        started = self.clock.monotonic()
        redactors = {"reasoning": StreamRedactor(), "content": StreamRedactor()}
        emitted = False

        def forward(kind: str, text: str) -> None:
            nonlocal emitted
            emitted = True
            safe = redactors.setdefault(kind, StreamRedactor()).feed(text)
            if safe and on_delta is not None:
                on_delta(kind, safe)

        total = self.settings.retries + 1
        for attempt in range(1, total + 1):
            try:
                result = self._attempt(request, forward, attempt, total)
            except MimoError as e:
                e.attempts = attempt
                wait = retry_wait(e, attempt, total, emitted, self.clock.random)
                if wait is None:
                    raise
                self._announce_retry(e, wait, attempt, total)
                self.clock.sleep(wait)
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
            result.elapsed_s = self.clock.monotonic() - started
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _announce_retry(self, e: MimoError, wait: float, attempt: int, total: int) -> None:
        reason = RETRY_LABELS.get(e.kind, e.kind.value)
        if e.http_status:
            reason = f"{e.http_status} {reason}"
        if self.notice:
            self.notice(f"retrying in {wait:.1f} s: {reason} (attempt {attempt + 1} of {total})", None)
        if self.debug:
            self.debug(f"* {e.message}")

    def _log(self, lines: Iterable[str]) -> None:
        if self.debug is not None:
            for line in lines:
                self.debug(redact(line))

    def _attempt(self, request: ChatRequest, on_delta: OnDelta, attempt: int, total: int) -> Result:
        import httpx

        s = self.settings
        headers = chat_headers(s, request)
        deadline = Deadline(s.timeout, monotonic=self.clock.monotonic)
        url = chat_url(s)
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
        sent = self.clock.monotonic()
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
                    f"({self.clock.monotonic() - sent:.2f} s)",
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
        headers = base_headers(self.settings)
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
