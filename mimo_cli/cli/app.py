"""The typer app, and the one place where an outcome becomes an exit code.

Commands return an :class:`~mimo_cli.errors.ExitCode` (or nothing, for success) and raise
:class:`~mimo_cli.errors.MimoError` for expected failures; :meth:`MimoGroup.main` prints ``error: …`` /
``hint: …`` and exits with the code. Nothing else in mimo calls ``sys.exit``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mimo_cli import __version__
from mimo_cli.clock import REAL, Clock
from mimo_cli.errors import ExitCode, Kind, MimoError, usage_error

COMPLETE_VAR = "_MIMO_COMPLETE"


@dataclass
class State:
    """What one run of the app shares with its commands (typer's ``ctx.obj``): --debug and the clock.

    Tests pass their own: ``CliRunner().invoke(app, args, obj=State(clock=...))``.
    """

    debug: bool = False
    clock: Clock = REAL

    def debugging(self) -> bool:
        return self.debug or os.environ.get("MIMO_DEBUG", "").lower() not in ("", "0", "false", "no")


def state(ctx: typer.Context) -> State:
    """The run's :class:`State` (made on first use)."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


class HardExit(Exception):
    """Leave at once with this exit code, without joining worker threads (a second Ctrl-C in batch
    abandons the requests in flight, whose threads cannot be joined)."""

    def __init__(self, code: ExitCode) -> None:
        super().__init__(int(code))
        self.code = code


class MimoGroup(TyperGroup):
    """Runs the app and turns every expected failure into ``error: …`` / ``hint: …`` and its exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from typer import _click

        argv = kwargs.get("args")
        if argv is None and not args:
            argv = sys.argv[1:]
        kwargs["standalone_mode"] = False
        if os.environ.get(COMPLETE_VAR):  # a shell asks for completions (see mimo completions)
            from typer._completion_classes import completion_init

            completion_init()
            kwargs.update(prog_name="mimo", complete_var=COMPLETE_VAR)
        from mimo_cli.cli.fastparams import lighten

        lighten(self)
        try:
            if argv is not None and not list(argv) and not os.environ.get(COMPLETE_VAR):
                kwargs["args"] = ["--help"]  # mimo alone: its help, exit 0 (like gh)
            # typer turns Ctrl-C into a return value of 130 when not in standalone mode
            code = super().main(*args, **kwargs)
        except MimoError as e:
            code = print_error(e)
        except _click.exceptions.UsageError as e:
            code = print_error(usage_error(e.format_message(), _usage_hint(e, self, argv)))
        except _click.exceptions.ClickException as e:
            print_error(MimoError(Kind.USAGE, e.format_message()))
            code = e.exit_code
        except (typer.Abort, KeyboardInterrupt):
            code = ExitCode.INTERRUPTED
        except HardExit as e:
            print_error(MimoError(Kind.INTERRUPTED, "interrupted"))
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(e.code))
        except Exception as e:
            code = _unexpected(e, State().debugging() or "--debug" in list(kwargs.get("args") or argv or []))
        if code == ExitCode.INTERRUPTED:
            print_error(MimoError(Kind.INTERRUPTED, "interrupted"))
        tempfiles = sys.modules.get("mimo_cli.inputs.tempfiles")
        if tempfiles is not None:  # whatever a Ctrl-C left of temporary files (spooled stdin, conversions)
            tempfiles.remove_temp_dir()
        sys.exit(int(code or 0))


def _unexpected(e: Exception, debug: bool) -> ExitCode:
    from mimo_cli.redact import redact

    if debug:  # the real traceback, still without the key
        import traceback

        sys.stderr.write(redact("".join(traceback.format_exception(type(e), e, e.__traceback__))))
    return print_error(
        MimoError(
            Kind.SERVER,
            redact(f"unexpected {type(e).__name__}: {e}"),
            "this is a bug in mimo; run again with --debug for the traceback and report it",
        )
    )


def print_error(e: MimoError) -> ExitCode:
    from mimo_cli.render.console import error

    error(e)
    return e.exit_code


def _usage_hint(e: Any, group: TyperGroup, argv: Any) -> str:
    """``see 'mimo describe --help'``: the help of the command the user was typing."""
    ctx = getattr(e, "ctx", None)
    path = ctx.command_path if ctx is not None else "mimo"
    words = [w for w in (argv or []) if not w.startswith("-")]
    if path == "mimo" and words and words[0] in group.commands:
        path = f"mimo {words[0]}"
    return f"see '{path} --help'"


app = typer.Typer(
    cls=MimoGroup,
    name="mimo",
    help="Ask Xiaomi's MiMo multimodal model about videos.",
    epilog="""\b
Examples:
  mimo describe clip.mp4
  mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
  mimo config set api_key
  mimo doctor

Docs, examples and exit codes: see README.md.""",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: no rich import for --help
    pretty_exceptions_show_locals=False,  # a traceback never shows a key
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mimo {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            envvar="MIMO_DEBUG",
            help="Show request and response headers (the key masked) and the traceback of unexpected errors.",
        ),
    ] = False,
) -> None:
    """Ask Xiaomi's MiMo multimodal model about videos.

    \b
    Examples:
      mimo describe clip.mp4
      mimo ask a.mp4 b.mov "Which of the two clips is shot at night?"
      mimo describe clip.mp4 --json | jq -r .answer
    """
    if debug:
        state(ctx).debug = True
