"""When to try again and how long to wait first (like openai-python's ``_base_client``)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from mimo_cli.transport.gateway import retry_after as gateway_retry_after

if TYPE_CHECKING:
    from collections.abc import Callable

    from mimo_cli.errors import MimoError

MAX_RETRY_AFTER = 120.0  # a server that asks for a longer wait is not waited for


def retry_after(headers: Any) -> float | None:
    """Seconds a server asks to wait (``Retry-After``, ``retry-after-ms`` and the names gateways give them);
    None for no header, and for a wait of 0, a negative one or a date gone by: the usual backoff then."""
    return gateway_retry_after(headers)


def backoff(attempt: int, server_wait: float | None, rand: Callable[[], float] | None = None) -> float | None:
    """Seconds before retry number ``attempt`` (1, 2, ...), like openai-python; None: do not wait that long.

    A server's wait is used as it is up to 120 s; otherwise ``min(0.5 * 2**(attempt-1), 8)`` shortened by
    up to 25 % jitter.
    """
    if server_wait is not None:
        return float(server_wait) if server_wait <= MAX_RETRY_AFTER else None
    jitter: float = (rand or random.random)()
    return min(0.5 * 2.0 ** (attempt - 1), 8.0) * (1 - 0.25 * jitter)


def retry_wait(
    e: MimoError, attempt: int, total: int, emitted: bool, rand: Callable[[], float] | None = None
) -> float | None:
    """Seconds to wait before trying ``e``'s request again, or None: do not try again.

    Not again when the error is final, when part of the answer was already passed on, when the attempts are
    spent, or when the server asks for a wait longer than :data:`MAX_RETRY_AFTER` (the hint then says so).
    """
    if not e.retryable or emitted:
        return None
    wait = backoff(attempt, e.retry_after, rand)
    if wait is None and e.retry_after is not None:
        e.hint = f"the server asks to wait {e.retry_after:.0f} s before trying again"
    return wait if attempt < total else None
