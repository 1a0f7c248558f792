"""Structured answers (``--schema``): load a JSON Schema, ask for it, read and validate the answer, repair.

Everything here is pure: no printing, no HTTP. ``jsonschema`` is imported only inside the functions that
need it, so a run without ``--schema`` never pays for it.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimo_cli.errors import input_error, usage_error

# The concise form's types and the JSON Schema each one stands for.
CONCISE_TYPES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "list": {"type": "array", "items": {"type": "string"}},
}
_CONCISE_HINT = "concise fields are `name [type][: description]`, types: " + ", ".join(CONCISE_TYPES)
_MAX_PROBLEMS = 5  # how many problems a repair request lists


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


# -- loading ------------------------------------------------------------------------------------------------


def load_schema(arg: str) -> dict[str, Any]:
    """SCHEMA as given to ``--schema``: inline JSON (``{...}``), a ``.json`` file, or the concise form.

    Raises a usage error (exit 2) for an empty argument, bad JSON, a missing file, a concise field that
    does not parse, or a schema that is not valid JSON Schema.
    """
    text = arg.strip()
    if not text:
        raise usage_error("--schema is empty", _CONCISE_HINT)
    if text.startswith("{"):
        schema = _parse_json(text, "the inline --schema")
    elif text.lower().endswith(".json"):
        schema = _parse_json(_read_file(Path(text)), text)
    else:
        schema = concise_schema(text)
    check_schema(schema)
    return schema


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise input_error(f"schema file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise input_error(f"cannot read schema file {path}: {exc}") from None


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise usage_error(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise usage_error(f"{where} is not a JSON object (a JSON Schema is an object: {{...}})")
    return value


def concise_schema(text: str) -> dict[str, Any]:
    """The concise form (simonw/llm's): ``'title, tags list, people int, speech bool: is anyone talking'``.

    Fields are newline-separated when the text has a newline (then a description may hold commas), else
    comma-separated (a comma ending a line is then ignored). Each is ``name [type][: description]``;
    every field is required.
    """
    separator = "\n" if "\n" in text else ","
    properties: dict[str, Any] = {}
    for field in (part.strip().rstrip(",").strip() for part in text.split(separator)):
        if not field:
            continue
        head, _, description = field.partition(":")
        words = head.split()
        if not words or len(words) > 2:
            raise usage_error(f"--schema: cannot read the field {field!r}", _CONCISE_HINT)
        name = words[0]
        type_name = words[1] if len(words) == 2 else "str"
        if type_name not in CONCISE_TYPES:
            raise usage_error(f"--schema: unknown type {type_name!r} in the field {field!r}", _CONCISE_HINT)
        if name in properties:
            raise usage_error(f"--schema: the field {name!r} is given twice")
        prop = copy.deepcopy(CONCISE_TYPES[type_name])
        if description.strip():
            prop["description"] = description.strip()
        properties[name] = prop
    if not properties:
        raise usage_error("--schema has no fields", _CONCISE_HINT)
    return {"type": "object", "properties": properties, "required": list(properties)}


def check_schema(schema: dict[str, Any]) -> None:
    """A usage error naming the problem when ``schema`` is not valid JSON Schema (its own ``$schema``
    draft, else 2020-12), or when it cannot describe an object (mimo asks for one JSON object)."""
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as exc:
        raise usage_error(f"--schema is not valid JSON Schema: {exc.json_path}: {exc.message}") from None
    declared = schema.get("type")
    types = declared if isinstance(declared, list) else [declared]
    if declared is not None and "object" not in types:
        raise usage_error(
            f"--schema must describe a JSON object, not {declared!r}",
            'give it "type": "object" and put the fields under "properties"',
        )


# -- asking -------------------------------------------------------------------------------------------------


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


def repair_text(schema: dict[str, Any], answer: str, problems: tuple[Problem, ...] | list[Problem]) -> str:
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


# -- reading the answer -------------------------------------------------------------------------------------

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
    return tuple(Problem(error.json_path, error.message) for error in ordered)


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
