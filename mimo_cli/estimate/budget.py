"""``--budget TOKENS``: start no request that could pass the budget.

A request is not started when the tokens already used (the usage of finished requests), plus the
estimates of the requests in flight, plus its own estimate would pass the budget. Callers, from any
thread::

    if not budget.start(n):        # n: the request's estimate (budget_tokens)
        ...                        # not sent: an error record of kind "budget"
    try:
        result = send(...)
    finally:
        budget.finish(n, result.usage if sent else None, sent=...)

``reserve(n, label)`` is ``start`` raising the ``budget`` MimoError instead of returning False.
``would_pass`` and ``record_usage`` are the same two steps without the reservation, for a caller
that sends one request at a time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mimo_cli.estimate.tokens import Estimate


def usage_tokens(usage: Mapping[str, Any] | None) -> int | None:
    """The tokens a usage object says were used: ``total_tokens``, else prompt plus completion."""
    if not usage:
        return None
    total = usage.get("total_tokens")
    if isinstance(total, int) and not isinstance(total, bool):
        return max(total, 0)
    parts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    known = [p for p in parts if isinstance(p, int) and not isinstance(p, bool)]
    return max(sum(known), 0) if known else None


def budget_tokens(estimate: Estimate, ceiling: int) -> int:
    """What a budget counts for a request: its estimate, or ``ceiling`` when that is not known."""
    return estimate.prompt_tokens if estimate.prompt_tokens is not None else ceiling


class Budget:
    """Tokens used and reserved against a limit; safe to share between threads."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0  # usage of finished requests
        self.in_flight = 0  # estimates of started, unfinished ones
        self.refused = 0  # requests not started
        self._lock = threading.Lock()

    def would_pass(self, tokens: int) -> bool:
        """Whether starting a request of ``tokens`` now would pass the budget."""
        with self._lock:
            return self.used + self.in_flight + tokens > self.limit

    def start(self, tokens: int) -> bool:
        """Reserve ``tokens`` for a request; False (and counted as refused) when that would pass."""
        with self._lock:
            if self.used + self.in_flight + tokens > self.limit:
                self.refused += 1
                return False
            self.in_flight += tokens
            return True

    def reserve(self, tokens: int, label: str) -> int:
        """:meth:`start`, or the ``budget`` error of a request that is not sent (for its record)."""
        if not self.start(tokens):
            raise self.error(tokens, label)
        return tokens

    def error(self, tokens: int, label: str) -> MimoError:
        with self._lock:
            spent = self.used + self.in_flight
        return MimoError(
            Kind.BUDGET,
            f"{label} was not sent: its estimate of {tokens:,} tokens would pass the budget of "
            f"{self.limit:,} ({spent:,} used or in flight)",
            "raise --budget, or send the rest later with --resume",
        )

    def refuse(self) -> None:
        """Count a request that is not started for the budget (``would_pass`` said so)."""
        with self._lock:
            self.refused += 1

    def finish(self, tokens: int, usage: Mapping[str, Any] | None, *, sent: bool = True) -> None:
        """Release a reservation and count what the request used.

        Without a usage, a request that reached the server counts its estimate (it may have been
        billed); one that never did (``sent=False``) counts nothing.
        """
        used = usage_tokens(usage)
        with self._lock:
            self.in_flight = max(self.in_flight - tokens, 0)
            self.used += used if used is not None else (tokens if sent else 0)

    def record_usage(self, usage: Mapping[str, Any] | None) -> None:
        """Count the usage of a request that was not reserved with ``start``."""
        used = usage_tokens(usage)
        with self._lock:
            self.used += used or 0
