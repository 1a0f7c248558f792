"""Loading SCHEMA: inline JSON, a ``.json`` file or the concise form, checked to be valid JSON Schema."""

from __future__ import annotations

import copy
import json
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
