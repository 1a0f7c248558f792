"""Structured answers (``--schema``): load a JSON Schema, ask for it, read and validate the answer, repair.

Pure: no printing, no HTTP. ``jsonschema`` is imported only inside the functions that need it, so a run
without ``--schema`` never pays for it.
"""

from __future__ import annotations

from mimo_cli.result import sum_usage
from mimo_cli.schema.answer import Checked, Problem, check_answer, extract_object, validate
from mimo_cli.schema.flow import SchemaMismatch, Settled, Structured, send, settle
from mimo_cli.schema.load import CONCISE_TYPES, check_schema, concise_schema, load_schema
from mimo_cli.schema.text import (
    instruction,
    refuses_response_format,
    repair_text,
    schema_json,
    with_instruction,
)

__all__ = [
    "CONCISE_TYPES",
    "Checked",
    "Problem",
    "SchemaMismatch",
    "Settled",
    "Structured",
    "check_answer",
    "check_schema",
    "concise_schema",
    "extract_object",
    "instruction",
    "load_schema",
    "refuses_response_format",
    "repair_text",
    "schema_json",
    "send",
    "settle",
    "sum_usage",
    "validate",
    "with_instruction",
]
