"""The httpx client: builds the request (one place for URL and headers), sends it with retries, reads it.

This module never prints and never reads ``sys.argv``: retry notices go to the ``notice`` callback, debug
lines to the ``debug`` callback, streamed text to the ``on_delta`` callback of :meth:`Client.chat`.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from mimo_cli.clock import REAL, Clock
from mimo_cli.errors import Kind, MimoError, usage_error
from mimo_cli.redact import StreamCleaner, StreamRedactor, redact, register_secret, shown, strip_controls
from mimo_cli.transport import tls
from mimo_cli.transport.classify import (
    _CERTIFICATE,
    CUT_HINT,
    ERROR_BODY_LIMIT,
    HINTS,
    RETRY_LABELS,
    bad_response,
    cut_mid_answer_hint,
    excerpt,
    http_error,
    retired_note,
)
from mimo_cli.transport.deadline import CONNECT_TIMEOUT, Deadline, _Expired
from mimo_cli.transport.gateway import (
    model_hint,
    refuses_param,
    suggest_models,
    thinking_hint,
    too_large_hint,
)
from mimo_cli.transport.gateway import request_id as header_request_id
from mimo_cli.transport.headers import (
    _show_headers,
    base_headers,
    chat_headers,
    chat_url,
)
from mimo_cli.transport.limits import MAX_MODELS, decoded, read_capped
from mimo_cli.transport.response import _read_limited, read_body
from mimo_cli.transport.retry import retry_wait

if TYPE_CHECKING:
    from collections.abc import Iterable

    import httpx

    from mimo_cli.callbacks import Debug, Notice, OnDelta
    from mimo_cli.request import ChatRequest
    from mimo_cli.result import Result
    from mimo_cli.settings import Settings


MODELS_LOOKUP_TIMEOUT = 10.0  # seconds: the model error's GET /models must not hold the answer up


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
        self._served: list[str] | None = None  # GET /models, once, for the model error's hint
        self.stop: threading.Event | None = None  # set: no more retries (a batch that stops)
        self._lock = threading.Lock()
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
        cleaners = {"reasoning": StreamCleaner(), "content": StreamCleaner()}
        emitted = False
        received = {"content": 0, "reasoning": 0}

        def forward(kind: str, text: str) -> None:
            nonlocal emitted
            emitted = True
            received[kind] = received.get(kind, 0) + len(text)
            clean = cleaners.setdefault(kind, StreamCleaner()).feed(text)
            safe = redactors.setdefault(kind, StreamRedactor()).feed(clean)
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
                    self._explain(e, emitted, received)
                    raise
                self._announce_retry(e, wait, attempt, total)
                self.clock.sleep(wait)
                if self.stop is not None and self.stop.is_set():
                    raise  # the batch stopped while this waited: no retry
                continue
            for kind, redactor in redactors.items():
                rest = redactor.feed(cleaners[kind].flush()) + redactor.flush()
                if rest and on_delta is not None:
                    on_delta(kind, rest)
            result.answer = redact(strip_controls(result.answer))
            result.reasoning = redact(strip_controls(result.reasoning))
            result.request_id = shown(result.request_id, 200) if result.request_id else None
            result.model = shown(result.model, 200)
            result.attempts = attempt
            result.elapsed_s = self.clock.monotonic() - started
            return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _explain(self, e: MimoError, emitted: bool, received: dict[str, int]) -> None:
        """The hint of a final error, where more is known than the error itself says."""
        if emitted and e.retryable and e.kind is Kind.BAD_RESPONSE:
            e.hint = cut_mid_answer_hint(received)
        elif e.kind is Kind.MODEL:
            served = self._served_models()
            suggestions = suggest_models(served, self.settings.model)
            if suggestions:
                e.hint = model_hint(self.settings.model, suggestions, retired_note(self.settings.model))

    def _served_models(self) -> list[str]:
        """The ids GET /models lists, asked once per client (a batch shares one), within the deadline."""
        with self._lock:
            if self._served is None:
                try:
                    limit = min(self.settings.timeout, MODELS_LOOKUP_TIMEOUT)
                    self._served = [str(m.get("id", "")) for m in self.models(timeout=limit)]
                except MimoError:
                    self._served = []
            return self._served

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
                self.debug(shown(line))

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
            return self._read(response, on_delta, deadline, request)
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

    def _refused(self, status: int, body: str, headers: Any, request: ChatRequest) -> MimoError:
        """An HTTP error, with what only the request knows: the size of a body refused with 413, and
        whether a gateway refuses the ``thinking`` field --thinking sent."""
        e = http_error(status, body, headers, model=self.settings.model)
        if status == 413:
            what, hint = too_large_hint(request.content_length())
            e.hint = f"{what}: {hint}"
        elif (
            e.kind is Kind.BAD_REQUEST
            and request.settings.thinking is not None
            and refuses_param(body, "thinking")
        ):
            e.hint = thinking_hint()
        return e

    def _read(
        self, response: httpx.Response, on_delta: OnDelta, deadline: Deadline, request: ChatRequest
    ) -> Result:
        import httpx

        status = response.status_code
        request_id = header_request_id(response.headers)
        ctype = response.headers.get("content-type", "")
        try:
            chunks = deadline.chunks(decoded(response))
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
                raise self._refused(status, body, response.headers, request)
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
                hint=CUT_HINT,
            ) from None
        if result.request_id is None and request_id:
            result.request_id = request_id
        return result

    def models(self, timeout: float | None = None) -> list[dict[str, Any]]:
        """GET {base_url}/models: the models the endpoint lists (ids shown as safe text).

        Bounded like a chat attempt: a deadline of ``timeout`` (default --timeout) on the whole request (a
        trickling or silent server cannot stretch it) and at most :data:`MAX_MODELS` bytes read.
        """
        import httpx

        s = self.settings
        url = f"{s.base_url}/models"
        headers = base_headers(s)
        deadline = Deadline(s.timeout if timeout is None else timeout, monotonic=self.clock.monotonic)
        self._log([f"> GET {url}", *_show_headers(headers, ">")])
        try:
            req = self.http.build_request(
                "GET",
                url,
                headers=headers,
                timeout=deadline.httpx_timeout(),
                extensions={"trace": deadline.trace},
            )
            deadline.timeouts = req.extensions["timeout"]
            body = self._models_body(req, deadline)
        except (_Expired, httpx.TimeoutException):
            raise deadline.error(s.base_url) from None
        except httpx.InvalidURL as e:
            raise usage_error(redact(f"the base URL is not valid: {e}"), "check --base-url") from None
        except httpx.TransportError as e:
            raise self._network_error(e) from None
        try:
            data = json.loads(body.decode("utf-8", errors="replace").removeprefix("\ufeff"))
        except (ValueError, RecursionError):
            got = excerpt(body[:4096].decode("utf-8", errors="replace"), 120)
            raise bad_response(f"expected JSON from /models, got: {got}") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise bad_response("the /models answer has no list of models")
        return [_safe_model(m) for m in items]

    def _models_body(self, req: httpx.Request, deadline: Deadline) -> bytes:
        response = self.http.send(req, stream=True)
        try:
            self._log(
                [f"< {response.status_code} {response.reason_phrase}", *_show_headers(response.headers, "<")]
            )
            deadline.phase = "read"
            chunks = deadline.chunks(decoded(response))
            if response.status_code >= 400:
                body = _read_limited(chunks, ERROR_BODY_LIMIT)
                raise http_error(response.status_code, body, response.headers, model=None)
            return read_capped(chunks, MAX_MODELS, "the /models answer")
        finally:
            response.close()


def _safe_model(item: Any) -> dict[str, Any]:
    """One model of /models with its text fields (id, owned_by …) safe to show: a server may put anything
    in them, the key or escape sequences among it."""
    if not isinstance(item, dict):
        item = {"id": str(item)}
    return {str(k): shown(v, 200) if isinstance(v, str) else v for k, v in item.items()}
