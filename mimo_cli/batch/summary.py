"""What a batch tells about its progress: the summary and the Progress interface."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from mimo_cli.result import usage_numbers

# -- progress ---------------------------------------------------------------------------------------------


@dataclass
class Summary:
    total: int = 0  # inputs of this run (this shard), skipped ones included
    done: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0  # answered from the run log (--cache): nothing sent, no tokens
    not_started: int = 0
    abandoned: int = 0
    tokens: int = 0
    video_tokens: int = 0
    reasoning_tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    stopped_by: str | None = None  # why the batch stopped early (--fail-fast, an auth error, "output")
    output_error: str | None = None  # the records could not be written: why (a full disk ...)
    sidecar_failures: int = 0
    over_budget: int = 0  # not sent: they would have passed --budget
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prices: tuple[float | None, float | None, str] | None = None  # price_input, price_output, currency

    def add(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.done += 1
        elif (record.get("error") or {}).get("kind") == "budget":
            self.over_budget += 1
        else:
            self.failed += 1
        if record.get("cached"):
            self.cached += 1
            return
        n = usage_numbers(record.get("usage"))
        self.prompt_tokens += n["prompt"] or 0
        self.completion_tokens += n["completion"] or 0
        self.tokens += n["total"] or 0
        self.video_tokens += n["video"] or 0
        self.reasoning_tokens += n["reasoning"] or 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        done = f"{self.done:,} done" + (f" ({self.cached:,} from the run log)" if self.cached else "")
        parts = [done, f"{self.failed:,} failed", f"{self.skipped:,} skipped"]
        if self.not_started:
            parts.append(f"{self.not_started:,} not started")
        if self.abandoned:
            parts.append(f"{self.abandoned:,} abandoned")
        if self.over_budget:
            parts.append(f"{self.over_budget:,} not sent (over the budget)")
        tokens = f"{self.tokens:,} tokens ({self.video_tokens:,} video, {self.reasoning_tokens:,} reasoning)"
        return f"batch: {', '.join(parts)} · {tokens}{self._cost()} · {self.elapsed:.1f} s"

    def _cost(self) -> str:
        from mimo_cli.estimate.tokens import cost, format_cost

        if self.prices is None:
            return ""
        amount = cost(self.prompt_tokens, self.completion_tokens, self.prices[0], self.prices[1])
        return "" if amount is None else f" · {format_cost(amount, self.prices[2])}"


class Progress(Protocol):
    """What the runner tells about its progress. Implementations print on stderr, never on stdout."""

    def start(self, total: int, skipped: int) -> None: ...
    def finished(self, record: dict[str, Any], summary: Summary) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """The no-op twin: for --quiet and tests."""

    def start(self, total: int, skipped: int) -> None:
        pass

    def finished(self, record: dict[str, Any], summary: Summary) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


def skipping_line(total: int, skipped: int) -> str:
    return f"skipping {skipped:,} of {total:,} inputs: they already have an ok record"
