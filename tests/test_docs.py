"""The docs are tested: every command has help with a summary and an example, and README.md names every
command and every option."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import typer.main

from mimo_cli.cli import app

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    if hasattr(command, "commands"):  # a group
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from walk(sub, (*path, name))


COMMANDS = list(walk(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(("mimo", *p)) for p, _ in COMMANDS])
def test_help_has_a_summary_and_an_example(mimo: Any, path: tuple[str, ...], command: Any) -> None:
    run = mimo(*path, "--help")
    assert run.exit_code == 0
    assert command.help and command.help.strip().splitlines()[0].endswith("."), "a one-line summary"
    assert "Examples:" in run.stdout
    examples = run.stdout.split("Examples:", 1)[1]
    assert re.search(rf"^\s+(\S+=\S+ )?{re.escape(' '.join(('mimo', *path)))}\b", examples, re.M), examples


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(("mimo", *p)) for p, _ in COMMANDS])
def test_readme_names_every_command_and_option(path: tuple[str, ...], command: Any) -> None:
    if path:
        assert f"mimo {' '.join(path)}" in README, f"README.md does not mention `mimo {' '.join(path)}`"
    missing = []
    for param in command.params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):
            continue
        for opt in [*param.opts, *param.secondary_opts]:
            if (
                opt.startswith("--")
                and opt != "--help"
                and not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", README)
            ):
                missing.append(opt)
    assert not missing, f"README.md does not mention {missing} of mimo {' '.join(path)}"
