"""The name the program was run by: ``mimo`` or ``mimo-video`` (the same program, installed twice because
Xiaomi's coding agent also installs a ``mimo``). Help and messages name the one that was run."""

from __future__ import annotations

import os
import re
import sys

NAMES = ("mimo", "mimo-video")
_COMMAND = re.compile(
    r"(?<![\w./-])mimo(?= (?:describe|ask|batch|models|doctor|config|presets|completions|logs|--help)\b)"
)


def command_name() -> str:
    """``mimo-video`` when run as that, else ``mimo`` (also for ``python -m mimo_cli`` and in tests)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    name = name.removesuffix(".exe")
    return name if name in NAMES else "mimo"


def rename(text: str, name: str | None = None) -> str:
    """``mimo models`` -> ``mimo-video models`` in a message or help text, when run as mimo-video."""
    name = name or command_name()
    return text if name == "mimo" else _COMMAND.sub(name, text)
