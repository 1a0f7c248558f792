"""The outcome of one request, and the JSON record that ``--json`` and ``mimo batch`` write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimo_cli.errors import MimoError


@dataclass
class Result:
    """A finished answer."""

    model: str
    answer: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    elapsed_s: float = 0.0
    attempts: int = 1
    data: dict[str, Any] | None = None  # --schema: the answer's JSON object, validated


def make_record(
    inputs: str | list[str],
    model: str,
    result: Result | None = None,
    error: MimoError | None = None,
    *,
    elapsed_s: float = 0.0,
    attempts: int = 0,
) -> dict[str, Any]:
    """The record of SPEC.md "Output": the same keys, in the same order, for a success and a failure.

    A failure may come with the result it is about (``--schema``: an answer that does not match), whose
    answer, usage and attempts the record keeps.
    """
    if result is not None and error is None:
        return {
            "input": inputs,
            "status": "ok",
            "model": result.model,
            "answer": result.answer,
            "reasoning": result.reasoning or None,
            "finish_reason": result.finish_reason,
            "usage": result.usage,
            "request_id": result.request_id,
            "elapsed_s": round(result.elapsed_s, 3),
            "attempts": result.attempts,
            "error": None,
            "data": result.data,
        }
    assert error is not None
    if result is not None:
        return {
            **make_record(inputs, model, result),
            "status": "error",
            "request_id": result.request_id or error.request_id,
            "error": error.as_record(),
            "data": None,
        }
    return {
        "input": inputs,
        "status": "error",
        "model": model,
        "answer": None,
        "reasoning": None,
        "finish_reason": None,
        "usage": None,
        "request_id": error.request_id,
        "elapsed_s": round(elapsed_s, 3),
        "attempts": attempts,
        "error": error.as_record(),
        "data": None,
    }


def usage_numbers(usage: dict[str, Any] | None) -> dict[str, int | None]:
    """The token counts of a usage object, flattened (None where the server did not say)."""
    usage = usage or {}
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}

    def num(obj: dict[str, Any], key: str) -> int | None:
        value = obj.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return {
        "prompt": num(usage, "prompt_tokens"),
        "video": num(prompt_details, "video_tokens"),
        "audio": num(prompt_details, "audio_tokens"),
        "image": num(prompt_details, "image_tokens"),
        "cached": num(prompt_details, "cached_tokens"),
        "completion": num(usage, "completion_tokens"),
        "reasoning": num(completion_details, "reasoning_tokens"),
        "total": num(usage, "total_tokens"),
    }
