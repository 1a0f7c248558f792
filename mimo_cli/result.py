"""The outcome of one request, and the JSON record that ``--json`` and ``mimo batch`` write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

if TYPE_CHECKING:
    from collections.abc import Iterable

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
    estimate: dict[str, Any] | None = None  # the prompt tokens estimated before sending (mimo_cli.estimate)
    cost: str | None = None  # what the usage cost, e.g. "¥0.0123", when prices are set
    events: list[dict[str, Any]] | None = None  # --timestamps: the answer's timed lines on the source


def printable(name: str) -> str:
    """A file name as valid UTF-8: the bytes of a name that are not UTF-8 (which Python keeps as lone
    surrogates) are written ``\\xNN``, so ``caf\\xe9.mp4`` stands for the Latin-1 file name ``café.mp4``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a surrogate that stands for no byte: its code point
            return name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name


def make_record(
    inputs: str | list[str],
    model: str,
    result: Result | None = None,
    error: MimoError | None = None,
    *,
    elapsed_s: float = 0.0,
    attempts: int = 0,
    estimate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of SPEC.md "Output": the same keys, in the same order, for a success and a failure.

    A failure may come with the result it is about (``--schema``: an answer that does not match), whose
    answer, usage and attempts the record keeps.
    """
    inputs = printable(inputs) if isinstance(inputs, str) else [printable(text) for text in inputs]
    if result is not None and error is None:
        record: dict[str, Any] = {
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
            "estimate": result.estimate,
        }
        if result.events is not None:  # --timestamps
            record["events"] = result.events
        return record
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
        "estimate": estimate,
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


def sum_usage(usages: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Usage objects added field by field (nested details too); None when none was given."""
    total: dict[str, Any] | None = None
    for usage in usages:
        if usage:
            total = _add(total or {}, usage)
    return total


def _add(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        mine = out.get(key)
        if isinstance(value, dict):
            out[key] = _add(mine if isinstance(mine, dict) else {}, value)
        elif _number(value):
            out[key] = (mine if _number(mine) else 0) + value
        elif key not in out:
            out[key] = value
    return out


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
