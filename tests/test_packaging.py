"""The distribution as pip builds it: named mimo-video (not someone else's mimo-cli), with both commands,
and every module of the package inside the wheel."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from a copy of the project (so the work tree gets no build/ folder)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mimo_cli", src / "mimo_cli", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "Could not find a version that satisfies" in done.stderr:
        pytest.skip(f"pip could not fetch the build backend: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr
    wheels = list(out.glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _dist_info(zf: zipfile.ZipFile, name: str) -> str:
    (path,) = [n for n in zf.namelist() if n.endswith(f".dist-info/{name}")]
    return zf.read(path).decode()


def test_wheel_is_named_mimo_video(wheel: Path) -> None:
    assert wheel.name.startswith("mimo_video-")
    with zipfile.ZipFile(wheel) as zf:
        metadata = _dist_info(zf, "METADATA")
    assert "\nName: mimo-video\n" in metadata
    assert "mimo-cli" not in wheel.name


def test_wheel_installs_both_commands(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        entry_points = _dist_info(zf, "entry_points.txt")
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    scripts = dict(parser["console_scripts"])
    assert scripts == {"mimo": "mimo_cli.__main__:main", "mimo-video": "mimo_cli.__main__:main"}


def test_wheel_holds_every_module(wheel: Path) -> None:
    """Subpackages too: a module left out of the wheel would only fail once installed."""
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "mimo_cli").rglob("*.py")}
    with zipfile.ZipFile(wheel) as zf:
        inside = {n for n in zf.namelist() if n.endswith(".py")}
    assert expected, "no module found under mimo_cli/"
    assert expected <= inside, sorted(expected - inside)
    assert not any(n.startswith("tests/") for n in inside)


@pytest.mark.parametrize("command", ["mimo", "mimo-video"])
def test_installed_command_runs(command: str) -> None:
    """Both console scripts of the installed (editable) project answer --version."""
    script = BIN / command
    if not script.exists():
        pytest.skip(f"{command} is not installed next to {sys.executable} (pip install -e . again)")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()[0].isdigit() or "mimo" in done.stdout


def test_help_names_the_command_that_was_run() -> None:
    script = BIN / "mimo-video"
    if not script.exists():
        pytest.skip("mimo-video is not installed (pip install -e . again)")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: mimo-video " in done.stdout


def test_messages_name_the_command_that_was_run() -> None:
    script = BIN / "mimo-video"
    if not script.exists():
        pytest.skip("mimo-video is not installed (pip install -e . again)")
    clip = Path(__file__).parent / "fixtures" / "clip.mp4"
    done = subprocess.run(
        [str(script), "ask", str(clip), str(clip)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "mimo-video ask a.mp4" in done.stderr and " mimo ask" not in done.stderr
    help_text = subprocess.run(
        [str(script), "describe", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "mimo-video describe clip.mp4" in help_text.stdout and "\n  mimo describe" not in help_text.stdout
