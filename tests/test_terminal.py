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


def test_the_batch_eta_follows_the_rate_of_finished_inputs() -> None:
    from mimo_cli.render.progress import eta

    # 20 inputs, 4 jobs of 10 s: 4 finished at 10 s leave 16, 40 s more; it counts down until the next
    assert eta(16, 4, 10.0, 0.0) == 40.0 and eta(16, 4, 10.0, 6.0) == 34.0
    assert eta(16, 4, 10.0, 60.0) == 0.0 and eta(20, 0, 0.0, 3.0) is None


def test_a_batch_says_which_videos_it_left_out_and_include_takes_any_extension(
    mimo: Any, server: FakeServer, tmp_path: Any
) -> None:
    import shutil

    media = tmp_path / "media"
    media.mkdir()
    shutil.copy(FIXTURES / "clip.mp4", media / "a.mp4")
    shutil.copy(FIXTURES / "clip.webm", media / "b.webm")
    shutil.copy(FIXTURES / "clip.mkv", media / "c.mkv")
    shutil.copy(FIXTURES / "clip.mp4", media / "d.mqv")
    run = mimo("batch", str(media))
    assert run.exit_code == 0 and len(server.received) == 1
    assert "left out 2 videos of other containers (1 .mkv, 1 .webm): --fit converts" in run.stderr
    server.received.clear()
    mqv = mimo("batch", str(media), "--include", "*.mqv")
    assert mqv.exit_code == 0 and len(server.received) == 1 and "d.mqv" in mqv.stdout


def test_ask_with_a_preset_says_why_a_question_is_no_such_file(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", CLIP, "What is shown?", "--preset", "summary")
    assert run.exit_code == 2 and server.received == []
    assert "What is shown?: no such file" in run.stderr and "every argument is a video" in run.stderr
