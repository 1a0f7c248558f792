"""``mimo logs``: the run log's records as a table on a terminal, as JSON Lines elsewhere."""

from __future__ import annotations

import json
import sys
from typing import Any

from mimo_cli.redact import redact
from mimo_cli.render.console import console


def _input(record: dict[str, Any]) -> str:
    value = record.get("input")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value or "")


def _tokens(record: dict[str, Any]) -> str:
    if record.get("cached"):
        return "cached"
    usage = record.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    return f"{total:,}" if isinstance(total, int) else ""


def _first_line(record: dict[str, Any]) -> str:
    if record.get("status") != "ok":
        error = record.get("error") or {}
        return f"{error.get('kind', 'error')}: {error.get('message', '')}"
    for line in str(record.get("answer") or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _time(record: dict[str, Any]) -> str:
    return str(record.get("started_at") or "").replace("T", " ")[:19]


def logs_json(records: list[dict[str, Any]]) -> None:
    """One record a line (``--json``, or stdout is not a terminal), flushed as a whole."""
    out = sys.stdout
    for record in records:
        out.write(redact(json.dumps(record, ensure_ascii=False)) + "\n")
    out.flush()


def logs_table(records: list[dict[str, Any]]) -> None:
    """time (UTC), input, model, tokens, status, the first line of the answer: newest first."""
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, expand=True)
    table.add_column("id", justify="right", style="dim", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("input", overflow="fold", ratio=2)
    table.add_column("model", no_wrap=True)
    table.add_column("tokens", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("answer", no_wrap=True, overflow="ellipsis", ratio=3)
    for record in records:
        ok = record.get("status") == "ok"
        table.add_row(
            str(record.get("id", "")),
            _time(record),
            redact(_input(record)),
            redact(str(record.get("model") or "")),
            _tokens(record),
            "[green]ok[/]" if ok else "[red]error[/]",
            redact(_first_line(record)),
        )
    console(stderr=False).print(table)
