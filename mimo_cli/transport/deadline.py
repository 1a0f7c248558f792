"""One attempt's time limit, for the attempt as a whole."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact
from mimo_cli.transport.classify import HINTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    import httpx


CONNECT_TIMEOUT = 10.0  # connecting has its own, shorter limit (never more than --timeout)

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

    def __init__(
        self,
        seconds: float,
        connect: float = CONNECT_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.monotonic = monotonic
        self.seconds = seconds
        self.connect = min(connect, seconds)
        self.end = monotonic() + seconds
        self.phase = "connect"
        self.timeouts: dict[str, float] = {}

    def remaining(self) -> float:
        return self.end - self.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise _Expired

    def httpx_timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.seconds, connect=self.connect)

    def trace(self, event: str, _info: dict[str, Any]) -> None:
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
