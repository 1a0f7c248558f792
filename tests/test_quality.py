"""Lint, format and type checks, so that `python -m pytest` is the one command CI runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is in the test extra")
def test_ruff() -> None:
    paths = [p for p in ("mimo_cli", "tests", "benchmarks", "scripts") if (ROOT / p).is_dir()]
    check = run("ruff", "check", *paths)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run("ruff", "format", "--check", *paths)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy() -> None:
    pytest.importorskip("mypy")
    result = run("mypy", "mimo_cli")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_layers_hold() -> None:
    """The import-linter contract in pyproject.toml: cli > render > batch > core > ... > errors, no cycles."""
    pytest.importorskip("importlinter")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
