"""The command line: the typer app (:mod:`.app`), the shared options (:mod:`.options`) and the commands.

No HTTP, no base64, no file sniffing here: commands parse options, call :mod:`mimo_cli.core` (or another
core module), hand the result to :mod:`mimo_cli.render` and return an exit code. Heavy modules (httpx,
python-magic, rich) are imported inside the commands that need them, so ``mimo --help`` stays about as
fast as importing typer.
"""

# each module registers its commands, in the order --help lists them
from mimo_cli.cli import ask, info, config, batch, logs  # noqa: F401, I001
from mimo_cli.cli.app import app


def main() -> None:
    """The ``mimo`` and ``mimo-video`` console scripts (help names the one that was run)."""
    from mimo_cli.progname import command_name

    app(prog_name=command_name())


__all__ = ["app", "main"]
