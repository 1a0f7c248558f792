"""Reading an answer: one JSON object pulled out of the text, validated with ``jsonschema``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One reason an answer does not match: where (a JSON path such as ``$.tags[0]``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Checked:
    """An answer read against a schema: the object when it matches, else the problems (best first)."""

    data: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def extract_object(text: str) -> dict[str, Any] | None:
    """The one JSON object in an answer: the whole text, else a ```json (or bare) fence's content, else
    the first ``{`` from which a JSON object can be read, with text around it ignored. None if there is
    none."""
    stripped = text.strip()
    candidates = [stripped]
    candidates += [m.group(2).strip() for m in _FENCE.finditer(text) if m.group(1).lower() in ("json", "")]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return _first_object(text)


def _first_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    while start != -1:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def validate(schema: dict[str, Any], data: object) -> tuple[Problem, ...]:
    """Every way ``data`` fails ``schema``, the most relevant first (jsonschema's ``best_match``); empty
    when it matches."""
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(data))
    if not errors:
        return ()
    best = exceptions.best_match(errors)
    ordered = sorted(errors, key=exceptions.relevance, reverse=True)
    if best is not None:
        ordered = [best] + [error for error in ordered if error is not best]
    return tuple(Problem(error.json_path, _short(error.message)) for error in ordered)


def _short(message: str, limit: int = 300) -> str:
    """jsonschema quotes the failing value, which may be a whole long answer: keep the start of it."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def check_answer(schema: dict[str, Any], answer: str) -> Checked:
    """Read one JSON object out of ``answer`` and validate it against ``schema``."""
    data = extract_object(answer)
    if data is None:
        return Checked(None, (Problem("$", _no_object_reason(answer)),))
    problems = validate(schema, data)
    return Checked(None if problems else data, problems)


def _no_object_reason(answer: str) -> str:
    if not answer.strip():
        return "the answer is empty, not a JSON object"
    start = answer.find("{")
    if start == -1:
        return "the answer holds no JSON object"
    try:
        _DECODER.raw_decode(answer, start)
    except ValueError as exc:
        return f"the answer holds no complete JSON object ({exc})"
    return "the answer holds no JSON object"  # pragma: no cover - extract_object would have found it
