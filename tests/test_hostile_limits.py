"""Bounded memory, disk and time against servers and inputs of our own that never end: lines with no end,
events with no blank line, gzip bombs, huge answers, trickling and silent endpoints, a finished stream held
open, a download that trickles, standard input with no end; and option values that overflow.

Memory is measured in a child process (``VmHWM``, see ``hostile.run_cli``); every server is bounded in bytes
and seconds, and every child run in seconds and address space, so a regression fails instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, KEY
from hostile import (
    MIB,
    USAGE,
    Hostile,
    chunk,
    endless,
    generator,
    gzip_bomb,
    leftovers,
    reply,
    run_cli,
    silent,
    sse,
    trickle,
)

CLIP = str(FIXTURES / "clip.mp4")
MEMORY_MB = 200  # far above what mimo needs (about 60 MB), far below what an unbounded buffer reaches
NEEDS_FFMPEG = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
LIMIT = re.compile(r"\b\d+(?:\.\d+)? [KMG]i?B\b")  # a limit, named with its size: "over the 8 MiB limit"


def env_for(srv: Hostile, **extra: str) -> dict[str, str]:
    return {"MIMO_BASE_URL": srv.url, "MIMO_API_KEY": KEY, **extra}


def one_error(stderr: str) -> str:
    """The one ``error:`` line of a failed run (and never a traceback or "this is a bug")."""
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "bug" not in stderr, stderr
    return lines[0]


def check_bad_response(child: Any, *words: str) -> dict[str, Any]:
    record = json.loads(child.stdout)
    assert child.returncode == 1 and record["error"]["kind"] == "bad_response", child.output
    message = record["error"]["message"]
    assert LIMIT.search(message) and "limit" in message, message
    for word in words:
        assert word in message, message
    one_error(child.stderr)
    return record


# -- responses with no end --------------------------------------------------------------------------------

DELTA = b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n'
COMMENT = b": " + b"keep-alive " * 93 + b"\n"  # 1 KiB: a valid line that is never an event
BODIES = {
    # data: lines never followed by a blank line: one event that grows without end
    "event with no end": (endless(b"", DELTA, 128 * MIB, "text/event-stream"), ("event",)),
    # a line that never ends
    "line with no end": (endless(b"data: ", b"x" * 65536, 64 * MIB, "text/event-stream"), ("line",)),
    # a gzip bomb of a line with no end: 512 MiB once decoded, about 1 MB on the wire
    "gzip bomb, SSE": (gzip_bomb(b"\0", 512 * MIB, "text/event-stream"), ("line",)),
    # a gzip bomb of valid SSE comments: neither a long line nor an event, only the body's size
    "gzip bomb, SSE comments": (gzip_bomb(COMMENT, 512 * MIB, "text/event-stream"), ("answer",)),
    # a gzip bomb of JSON whitespace: an answer that never completes
    "gzip bomb, JSON": (gzip_bomb(b" ", 512 * MIB, "application/json"), ("answer",)),
    # a huge JSON answer, not compressed
    "huge JSON": (endless(b'{"choices":[{"message":{"content":"', b"x" * 65536, 128 * MIB, "application/json"),
                  ("answer",)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_response_with_no_end_is_cut_at_a_stated_limit(tmp_path: Path, name: str) -> None:
    behaviour, words = BODIES[name]
    with Hostile(chat=behaviour) as srv:
        child = run_cli("describe", CLIP, "--json", "--retries", "0", "--timeout", "40",
                        env=env_for(srv), tmp=tmp_path, timeout=60)  # fmt: skip
    check_bad_response(child, *words)
    assert child.hwm_mb < MEMORY_MB, f"peak memory {child.hwm_mb:.0f} MB"
    assert child.elapsed < 40, f"{child.elapsed:.1f} s: ended by the deadline, not by the limit"


@pytest.mark.parametrize("command", [["models"], ["models", "--json"], ["doctor"]])
@pytest.mark.parametrize("bomb", ["gzip", "huge"])
def test_a_models_list_with_no_end_is_cut_at_a_stated_limit(
    tmp_path: Path, command: list[str], bomb: str
) -> None:
    behaviour = (
        gzip_bomb(b" ", 256 * MIB, "application/json")
        if bomb == "gzip"
        else endless(b'{"data":[', b'{"id":"' + b"m" * 65520 + b'"},', 48 * MIB, "application/json")
    )
    with Hostile(models=behaviour) as srv:
        child = run_cli(*command, "--timeout", "40", env=env_for(srv), tmp=tmp_path, timeout=60)
    assert child.hwm_mb < MEMORY_MB, f"peak memory {child.hwm_mb:.0f} MB"
    assert child.returncode == (0 if command == ["doctor"] else 1) and child.elapsed < 40, child.output
    assert "/models" in child.output and LIMIT.search(child.output), child.output


def test_one_4_mb_event_in_small_pieces_is_read_in_linear_time(tmp_path: Path) -> None:
    """One 4 MB event, written 1 KiB at a time: read whole, at a cost close to the same bytes in small events
    (0.1 re-split its whole buffer on every chunk)."""
    text = "y" * (4 * MIB)
    with Hostile(chat=sse([chunk({"content": text}), chunk({}, "stop")], piece=1024)) as srv:
        child = run_cli("describe", CLIP, "--timeout", "60", env=env_for(srv), tmp=tmp_path, timeout=90)
    assert child.returncode == 0 and child.stdout == text + "\n", child.stderr
    assert child.cpu_s is not None and child.cpu_s < 5, f"{child.cpu_s} s of CPU"
    assert child.hwm_mb < MEMORY_MB


# -- time: /models, a finished stream held open -----------------------------------------------------------

SLOW_MODELS = {
    "trickling": trickle(b'{"data": [', b" ", every=0.05),
    "silent": silent,
}
TIMEOUTS = {"option": ["--timeout", "1"], "config": []}


@pytest.mark.parametrize("how", sorted(TIMEOUTS))
@pytest.mark.parametrize("command", ["models", "doctor"])
@pytest.mark.parametrize("slow", sorted(SLOW_MODELS))
def test_models_and_doctor_end_at_the_timeout(
    mimo: Any, tmp_path: Path, slow: str, command: str, how: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[profiles.default]\ntimeout = 1\n")
    with Hostile(models=SLOW_MODELS[slow]) as srv:
        started = time.monotonic()
        run = mimo(command, *TIMEOUTS[how], env={"MIMO_BASE_URL": srv.url, "MIMO_CONFIG": str(config)})
        elapsed = time.monotonic() - started
    assert run.exit_code == 1 and elapsed < 5, (elapsed, run.output)
    assert "within" in run.output and "1 s" in run.output, run.output
    assert "Traceback" not in run.output


FINISHED = {
    "usage in its own chunk": [chunk({"content": "The cat"}), chunk({"content": " sleeps."}, "stop"),
                               {"id": "chatcmpl-hostile", "choices": [], "usage": USAGE}],
    "usage with the finish": [chunk({"content": "The cat"}), chunk({"content": " sleeps."}, "stop", usage=USAGE)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FINISHED))
def test_a_finished_stream_held_open_keeps_its_answer(mimo: Any, name: str) -> None:
    with Hostile(chat=sse(FINISHED[name], done=False, hold=15)) as srv:
        started = time.monotonic()
        run = mimo("describe", CLIP, "--json", "--timeout", "4", env={"MIMO_BASE_URL": srv.url})
        elapsed = time.monotonic() - started
    record = json.loads(run.stdout)
    assert run.exit_code == 0 and record["answer"] == "The cat sleeps.", run.output
    assert record["usage"]["total_tokens"] == USAGE["total_tokens"] and record["finish_reason"] == "stop"
    assert elapsed < 3.5  # not kept by waiting for the deadline


def test_a_stream_cut_before_its_finish_is_still_an_error(mimo: Any) -> None:
    """What a finished stream held open must not become: an unfinished one, held open, is a timeout."""
    with Hostile(chat=sse([chunk({"content": "The cat"})], done=False, hold=15)) as srv:
        run = mimo(
            "describe", CLIP, "--json", "--timeout", "1", "--retries", "0", env={"MIMO_BASE_URL": srv.url}
        )
    record = json.loads(run.stdout)
    assert run.exit_code == 1 and record["error"]["kind"] == "timeout"


# -- --inline-url: a download bounded in time, in size and on disk ----------------------------------------


def test_a_trickling_download_ends_at_the_timeout_and_leaves_nothing(tmp_path: Path) -> None:
    data = Path(CLIP).read_bytes()
    video = trickle(data[:4096], b"\0", every=0.05, content_type="video/mp4")
    with Hostile(file=video, chat=reply(200, {"choices": []})) as srv:
        child = run_cli("describe", srv.root + "/clip.mp4", "--inline-url", "--timeout", "1", "--retries", "0",
                        env=env_for(srv), tmp=tmp_path, timeout=30)  # fmt: skip
    assert child.returncode == 1 and child.elapsed < 6, (child.elapsed, child.output)
    assert "1 s" in one_error(child.stderr)
    assert leftovers(tmp_path) == []
    assert [r.path for r in srv.received] == ["/clip.mp4"]  # nothing was sent to the model


def test_a_gzip_bomb_download_stops_at_the_inline_limit(tmp_path: Path) -> None:
    head = Path(CLIP).read_bytes()[:4096]
    with Hostile(file=gzip_bomb(head, 256 * MIB, "video/mp4")) as srv:
        child = run_cli("describe", srv.root + "/clip.mp4", "--inline-url", "--max-inline-mb", "2",
                        env=env_for(srv), tmp=tmp_path, timeout=30)  # fmt: skip
    assert child.returncode == 2 and "too large" in one_error(child.stderr)
    assert child.hwm_mb < MEMORY_MB and leftovers(tmp_path) == []


@NEEDS_FFMPEG
def test_a_gzip_bomb_download_with_fit_stops_at_max_download_mb(tmp_path: Path) -> None:
    head = Path(CLIP).read_bytes()[:4096]
    with Hostile(file=gzip_bomb(head, 256 * MIB, "video/mp4")) as srv:
        child = run_cli("describe", srv.root + "/clip.mp4", "--inline-url", "--fit", "--max-download-mb", "4",
                        env=env_for(srv), tmp=tmp_path, timeout=30)  # fmt: skip
    error = one_error(child.stderr)
    assert child.returncode == 2 and "--max-download-mb" in error and LIMIT.search(error), child.output
    assert child.hwm_mb < MEMORY_MB and leftovers(tmp_path) == []
    assert [r.path for r in srv.received] == ["/clip.mp4"]


# -- standard input with no end ---------------------------------------------------------------------------

STDIN_CASES = {
    "inline limit": (["--max-inline-mb", "1"], "--max-inline-mb", False),
    "fit": (["--fit", "--max-download-mb", "4"], "--max-download-mb", True),
}


@pytest.mark.parametrize("name", sorted(STDIN_CASES))
def test_standard_input_with_no_end_is_cut_at_a_stated_limit(tmp_path: Path, name: str) -> None:
    args, option, fit = STDIN_CASES[name]
    if fit and shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    gen = generator(Path(CLIP), 64 * MIB)  # like: cat clip.mp4 /dev/zero | mimo describe - (but bounded)
    assert gen.stdout is not None
    try:
        with Hostile(chat=reply(200, {"choices": []})) as srv:
            child = run_cli(
                "describe", "-", *args, env=env_for(srv), tmp=tmp_path, stdin=gen.stdout, timeout=30
            )
    finally:
        gen.stdout.close()
        _, err = gen.communicate(timeout=30)
    written = int(err or b"0")
    error = one_error(child.stderr)
    assert child.returncode == 2 and option in error and "standard input" in error, child.output
    assert LIMIT.search(error), error
    assert written < 16 * MIB, f"mimo read {written / MIB:.0f} MiB of a stream it could not send"
    assert leftovers(tmp_path) == [] and srv.received == []


# -- values that overflow ---------------------------------------------------------------------------------

OVERFLOWS = {
    "--timeout 1e10": (["--timeout", "1e10"], "", "--timeout"),
    "timeout = 1e10": ([], "timeout = 1e10", "timeout"),
    "--max-inline-mb 1e308": (["--max-inline-mb", "1e308"], "", "--max-inline-mb"),
    "max_inline_mb = 1e308": ([], "max_inline_mb = 1e308", "max_inline_mb"),
}


@pytest.mark.parametrize("name", sorted(OVERFLOWS))
def test_values_that_overflow_are_usage_errors(mimo: Any, tmp_path: Path, name: str) -> None:
    args, line, word = OVERFLOWS[name]
    config = tmp_path / "config.toml"
    config.write_text(f"[profiles.default]\n{line}\n")
    env = {"MIMO_CONFIG": str(config)}
    with Hostile(
        chat=reply(200, {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})
    ) as srv:
        run = mimo("describe", CLIP, *args, env={"MIMO_BASE_URL": srv.url, **env})
        dry = mimo("describe", CLIP, "--dry-run", *args, env={"MIMO_BASE_URL": srv.url, **env})
    for r in (run, dry):
        assert r.exit_code == 2, r.output
        assert word in one_error(r.stderr)
    assert srv.received == []


DEEP = 100_000
NESTED = {
    "arrays": "[profiles.default]\nfps = " + "[" * DEEP + "]" * DEEP + "\n",
    "inline tables": "[profiles.default]\nfps = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
}


@pytest.mark.parametrize("name", sorted(NESTED))
def test_a_config_nested_100000_deep_is_a_usage_error(mimo: Any, tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(NESTED[name])
    runs = [
        mimo("describe", CLIP, "--dry-run", env={"MIMO_CONFIG": str(config)}),
        mimo("config", "show", env={"MIMO_CONFIG": str(config)}),
        mimo("config", "set", "model", "mimo-v2.5-omni", env={"MIMO_CONFIG": str(config)}),
    ]
    for run in runs:
        assert run.exit_code == 2, run.output
        error = one_error(run.stderr)
        assert str(config) in error and "deep" in error, error
    assert config.read_text() == NESTED[name]  # config set left it alone
    assert os.path.getsize(config) > DEEP
