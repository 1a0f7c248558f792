"""The record of a segmented request: each part's entry, the usage summed over every request, one error.

Pure functions over the parts' outcomes (see :mod:`mimo_cli.segment.run`); the pipeline builds the
usual record from them and adds ``"segments"`` (SPEC Part two, "Long videos", ``--json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mimo_cli.errors import MimoError
from mimo_cli.segment.run import STOP_KINDS, Outcome

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mimo_cli.segment.plan import Part


class Answer(Protocol):
    """What a part's request gives back (mimo_cli.result.Result has these)."""

    answer: str
    reasoning: str
    finish_reason: str | None
    usage: dict[str, Any] | None
    attempts: int
    data: dict[str, Any] | None


def entry(outcome: Outcome[Any], events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """One element of ``"segments"``."""
    part, value = outcome.part, outcome.value
    item: dict[str, Any] = {
        "index": part.index,
        "start": round(part.start, 3),
        "end": round(part.end, 3),
        "status": "ok" if outcome.ok else "error",
        "answer": value.answer if value is not None else None,
        "reasoning": (value.reasoning or None) if value is not None else None,
        "finish_reason": value.finish_reason if value is not None else None,
        "usage": value.usage if value is not None else None,
        "attempts": value.attempts if value is not None else (outcome.error.attempts if outcome.error else 0),
        "error": outcome.error.as_record() if outcome.error else None,
    }
    if value is not None and value.data is not None:
        item["data"] = value.data  # --schema: each part's own object
    if events is not None:
        item["events"] = events
    return item


def failed_parts(outcomes: Sequence[Outcome[Any]]) -> list[Part]:
    return [o.part for o in outcomes if not o.ok]


def overall_error(outcomes: Sequence[Outcome[Any]], merge_error: MimoError | None = None) -> MimoError | None:
    """The error of the whole request (None when every part and the merge succeeded).

    Its kind (so the exit code) is the first auth or quota error's, else the first failed part's; its
    message counts and names the failed parts.
    """
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return merge_error
    sent = [o for o in failed if o.sent] or failed
    first = next((o for o in sent if o.error and o.error.kind in STOP_KINDS), sent[0])
    assert first.error is not None
    names = ", ".join(str(o.part.index) for o in failed)
    noun = "part" if len(failed) == 1 else "parts"
    message = f"{len(failed)} of {len(outcomes)} parts failed ({noun} {names}): {first.error.message}"
    error = MimoError(first.error.kind, message, first.error.hint, http_status=first.error.http_status)
    error.request_id = first.error.request_id
    error.attempts = sum(o.error.attempts for o in failed if o.error)
    return error
