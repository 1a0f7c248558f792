"""The ``mimo`` command: ``python -m mimo_cli`` and the console script both start here.

``mimo --version`` is answered before typer is imported and the command tree is built (about 10 ms of
typer's work for our 120-odd options), so it costs little more than starting Python. Everything else goes
to the typer app in :mod:`mimo_cli.cli`.
"""

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from mimo_cli import __version__

        sys.stdout.write(f"mimo {__version__}\n")
        return
    try:
        from mimo_cli.cli import main as cli_main
    except KeyboardInterrupt:  # Ctrl-C while Python is still importing: no traceback for that either
        sys.stderr.write("error: interrupted\n")
        raise SystemExit(130) from None
    cli_main()


if __name__ == "__main__":
    main()
