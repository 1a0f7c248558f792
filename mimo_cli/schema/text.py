"""The texts mimo sends for a schema: what a request's text part ends with, and a repair request."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mimo_cli.schema.answer import Problem

_MAX_PROBLEMS = 5  # how many problems a repair request lists


def schema_json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False)


def instruction(schema: dict[str, Any]) -> str:
    """What the text part of a request ends with: the instruction and the schema as JSON."""
    return (
        "Answer with one JSON object that matches this JSON Schema, and nothing else "
        "(no prose, no code fence):\n" + schema_json(schema)
    )


def with_instruction(prompt: str, schema: dict[str, Any]) -> str:
    """The prompt with the schema and instruction appended."""
    return f"{prompt.rstrip()}\n\n{instruction(schema)}"


def repair_text(schema: dict[str, Any], answer: str, problems: Sequence[Problem]) -> str:
    """The text of a repair request (sent without the video): the schema, the answer, what is wrong."""
    wrong = "\n".join(f"- {problem}" for problem in list(problems)[:_MAX_PROBLEMS])
    return (
        "Your previous answer does not match the JSON Schema it had to follow.\n\n"
        f"The JSON Schema:\n{schema_json(schema)}\n\n"
        f"Your answer:\n{answer}\n\n"
        f"What is wrong with it:\n{wrong}\n\n"
        "Answer again with the corrected JSON object only (no prose, no code fence), keeping what was "
        "right and fixing what is wrong."
    )


def refuses_response_format(http_status: int | None, message: str) -> bool:
    """Whether an error is a server refusing ``response_format``: a 400 whose message names it."""
    if http_status != 400:
        return False
    lowered = message.lower()
    return "response_format" in lowered or "response format" in lowered
