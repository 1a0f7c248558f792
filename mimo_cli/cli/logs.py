"""``mimo logs``: the requests mimo recorded in its run log, newest first; ``mimo logs path``."""

import sys
from typing import Annotated

import typer

from mimo_cli.cli.app import app
from mimo_cli.errors import usage_error

logs_app = typer.Typer(
    name="logs",
    help="The requests mimo sent, from its run log (SQLite): newest first.",
    epilog="""\b
Examples:
  mimo logs                          (the last 10 requests)
  mimo logs -n 50 --status error
  mimo logs --search kitten --json   (one record a line)
  mimo logs --input clip.mp4         (every request about this content, whatever its name)
  mimo logs --model mimo-v2-omni -n 0
  mimo logs path""",
    invoke_without_command=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(logs_app)


@logs_app.callback()
def logs(
    ctx: typer.Context,
    n: Annotated[int, typer.Option("-n", "--count", metavar="N", help="How many (0: all).")] = 10,
    search: Annotated[
        str | None,
        typer.Option("--search", metavar="TEXT", help="Only requests whose prompt or answer has TEXT."),
    ] = None,
    input: Annotated[
        str | None,
        typer.Option("--input", metavar="PATH", help="Only requests about this file's content (by SHA-256)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", metavar="NAME", help="Only this model.")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", metavar="ok|error", help="Only ok or only failed requests.")
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="One JSON record a line (the default when stdout is not a terminal)."),
    ] = False,
) -> None:
    """List the latest requests: time, input, model, tokens, status and the answer's first line."""
    if ctx.invoked_subcommand is not None:
        return
    from mimo_cli.render.console import stdout_is_terminal, use_utf8
    from mimo_cli.runlog import Query, RunLog, log_path

    use_utf8()
    if status is not None and status not in ("ok", "error"):
        raise usage_error(f"--status must be ok or error, got {status!r}")
    if n < 0:
        raise usage_error(f"-n must be 0 (all) or more, got {n}")
    query = Query(n=n, search=search or None, sha256=_content(input), model=model, status=status)
    records = RunLog(log_path()).query(query)
    if json_out or not stdout_is_terminal():
        from mimo_cli.render.logs import logs_json

        logs_json(records)
    elif records:
        from mimo_cli.render.logs import logs_table

        logs_table(records)
    else:
        from mimo_cli.render.console import info

        info("no requests recorded" + (" that match" if any((search, input, model, status)) else " yet"))


def _content(path: str | None) -> str | None:
    if path is None:
        return None
    from mimo_cli.errors import input_error
    from mimo_cli.runlog import sha256_file

    try:
        return sha256_file(path)[0]
    except OSError as e:
        raise input_error(f"cannot read {path}: {e.strerror or e}") from None


@logs_app.command(
    "path",
    epilog="""\b
Examples:
  mimo logs path
  sqlite3 "$(mimo logs path)" 'SELECT count(*) FROM requests'""",
)
def logs_path_command() -> None:
    """Print where the run log is ($MIMO_LOG_PATH, else $XDG_DATA_HOME/mimo/logs.db; it need not exist yet)."""
    from mimo_cli.runlog import log_path

    sys.stdout.write(f"{log_path()}\n")
