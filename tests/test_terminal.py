"""What a terminal shows on stderr that a pipe does not: the transient status line, and ^C left alone."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import termios
import time
from typing import Any

import pytest
from conftest import FIXTURES, KEY
from fakeserver import FakeServer, Reply

CLIP = str(FIXTURES / "clip.mp4")
ANSWER = {
    "id": "x",
    "model": "m",
    "choices": [{"message": {"content": "late answer"}, "finish_reason": "stop"}],
}


def run_on_a_terminal(server: FakeServer, *args: str, stdout_too: bool = False) -> tuple[int, str, str, Any]:
    """``mimo describe`` with stdin and stderr on a pseudo-terminal, stdout a pipe; returns the exit code,
    stdout, what the terminal received, and the terminal's attributes after the run."""
    master, slave = pty.openpty()
    env = {**os.environ, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY, "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimo_cli", "describe", CLIP, *args],
        stdin=slave, stdout=slave if stdout_too else subprocess.PIPE, stderr=slave, env=env,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out = ""
    if proc.stdout is not None:
        with proc.stdout:
            out = proc.stdout.read().decode()
    code = proc.wait(timeout=30)
    attrs = termios.tcgetattr(master)
    os.close(master)
    return code, out, seen.decode("utf-8", "replace"), attrs


def test_a_terminal_sees_waiting_for_the_model_and_a_pipe_does_not(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.json(ANSWER, delay=1.0))
    code, out, terminal, _ = run_on_a_terminal(server, "--no-stream")
    assert code == 0 and out == "late answer\n"
    assert "waiting for the model…" in terminal
    server.queue(Reply.json(ANSWER, delay=0.2))
    piped = mimo("describe", CLIP, "--no-stream")
    assert piped.exit_code == 0 and "waiting" not in piped.stderr  # nothing extra in a pipe


def test_conversions_are_reported_as_information_not_warnings(mimo: Any, server: FakeServer) -> None:
    if not (FIXTURES / "clip.webm").exists():
        pytest.skip("no WebM fixture")
    from mimo_cli.ffmpeg.tools import locate

    if locate() is None:
        pytest.skip("needs ffmpeg")
    run = mimo("describe", str(FIXTURES / "clip.webm"), "--fit")
    assert run.exit_code == 0, run.stderr
    [line] = [line for line in run.stderr.splitlines() if "converted" in line]
    assert line.startswith("converted ") and "warning" not in run.stderr


def test_the_terminal_echoes_ctrl_c_again_after_the_answer(server: FakeServer) -> None:
    # the answer streamed into a live view, which turns ^C's echo off while it is on screen
    code, _, terminal, attrs = run_on_a_terminal(server, stdout_too=True)
    assert code == 0 and "kitten" in terminal
    assert attrs[3] & termios.ECHOCTL
