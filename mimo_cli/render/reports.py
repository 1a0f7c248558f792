"""What the other commands print: --dry-run's request, the doctor's report, the models table."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from mimo_cli.redact import redact
from mimo_cli.render.console import console, info, print_json

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mimo_cli.doctor import Check


def show_dry_run(request: dict[str, Any], as_json: bool, quiet: bool = False) -> None:
    """Print what would be sent: method, URL, headers (key masked), the body with payloads shortened;
    and its ``estimate`` (in the JSON, or as a line on stderr as the usage line would be)."""
    if as_json:
        print_json(request, indent=2)
        return
    lines = [
        f"{request['method']} {request['url']}",
        *[f"{k}: {v}" for k, v in request["headers"].items()],
        "",
    ]
    lines.append(json.dumps(request["body"], ensure_ascii=False, indent=2))
    sys.stdout.write(redact("\n".join(lines)) + "\n")
    if request.get("estimate") is not None and not quiet:
        from mimo_cli.render.estimates import estimate_line

        sys.stdout.flush()
        info(estimate_line(request["estimate"]))


def doctor_report(checks: Sequence[Check]) -> bool:
    """Print each check on its own line with its hint; return whether any problem blocks requests."""
    from rich.text import Text

    from mimo_cli.doctor import OK, PROBLEM, WARNING

    out = console(stderr=False)
    styles = {OK: "green", WARNING: "yellow", PROBLEM: "bold red"}
    for check in checks:
        line = Text()
        line.append(f"{check.status:<8}", style=styles[check.status])
        line.append(f"{check.name:<9}", style="bold")
        line.append(redact(check.detail))
        out.print(line, soft_wrap=True)
        if check.hint:
            out.print(Text(" " * 17 + "hint: " + redact(check.hint), style="cyan"), soft_wrap=True)
    blocking = sum(c.status == PROBLEM for c in checks)
    warnings = sum(c.status == WARNING for c in checks)
    if blocking:
        out.print(Text(f"{blocking} problem(s) block requests; {warnings} warning(s)", style="bold red"))
        return True
    out.print(Text(f"ready to send requests; {warnings} warning(s)", style="green"))
    return False


def models_table(items: list[dict[str, Any]], model: str, base_url: str) -> None:
    """The models an endpoint lists: a table on a terminal (``*`` marks the model in use), ids in a pipe."""
    from mimo_cli.render.console import stdout_is_terminal

    if not stdout_is_terminal():
        sys.stdout.write(redact("".join(f"{m.get('id', '')}\n" for m in items)))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    dated = any(isinstance(m.get("created"), int) and m["created"] for m in items)
    for column in ("", "model", "owned by", *(["created"] if dated else [])):
        table.add_column(column)
    for m in items:
        created = m.get("created")
        day = time.strftime("%Y-%m-%d", time.gmtime(created)) if isinstance(created, int) and created else ""
        mark = "*" if m.get("id") == model else ""
        table.add_row(mark, redact(str(m.get("id", ""))), redact(str(m.get("owned_by") or "")),
                      *([day] if dated else []))  # fmt: skip
    console(stderr=False).print(table)
    info(f"{len(items)} models at {base_url}; * marks the model mimo uses ({model})")
