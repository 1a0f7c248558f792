"""describe and ask end to end, against the fake server over real HTTP: what it received, what was shown."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, KEY, padded_mp4
from fakeserver import DEFAULT_ANSWER, DEFAULT_REASONING, FakeServer, Reply, error_json

from mimo_cli.prompts import BUILTIN_PRESETS, default_system_prompt

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def instant_backoff(sleeps: list[float]) -> list[float]:
    return sleeps


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|9[0-7])(?:;[0-9;]*)?m")


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "model": "mimo-v2-omni",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip


def test_describe_sends_the_file_and_prints_the_answer(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == DEFAULT_ANSWER + "\n"  # the answer alone on stdout in a pipe
    assert "tokens: 1,278 prompt (1,170 video, 20 audio, 47 cached)" in run.stderr
    assert "210 completion (101 reasoning)" in run.stderr and "1,488 total" in run.stderr
    assert DEFAULT_REASONING not in run.output  # reasoning only with --reasoning in a pipe
    [req] = server.received
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.headers["content-type"] == "application/json"
    assert int(req.headers["content-length"]) == len(req.body)
    assert "transfer-encoding" not in req.headers  # streamed from disk, but not chunked
    assert req.videos() == [("video/mp4", (FIXTURES / "clip.mp4").read_bytes())]
    body = req.json()
    assert body["model"] == "mimo-v2-omni"
    assert body["messages"][0] == {"role": "system", "content": default_system_prompt()}
    parts = body["messages"][1]["content"]
    assert [p["type"] for p in parts] == ["video_url", "text"]
    assert (parts[0]["fps"], parts[0]["media_resolution"]) == (2, "default")
    assert parts[1]["text"] == BUILTIN_PRESETS["detailed"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "max_completion_tokens" not in body and "thinking" not in body and "temperature" not in body


def test_ask_sends_every_video_in_order_then_the_question(mimo: Any, server: FakeServer) -> None:
    question = "Which of the two clips is shot at night?"
    run = mimo(
        "ask", str(FIXTURES / "clip.mp4"), str(FIXTURES / "clip.mov"), str(FIXTURES / "clip.wmv"), question
    )
    assert run.exit_code == 0, run.stderr
    [req] = server.received
    assert [mime for mime, _ in req.videos()] == ["video/mp4", "video/quicktime", "video/x-ms-wmv"]
    assert req.videos()[2][1] == (FIXTURES / "clip.wmv").read_bytes()
    assert req.json()["messages"][1]["content"][-1] == {"type": "text", "text": question}


def test_options_reach_the_request(mimo: Any, server: FakeServer) -> None:
    run = mimo(
        "describe", "https://example.com/v.mp4", "--fps", "1", "--resolution", "max", "--max-tokens", "100",
        "--temperature", "0.2", "--top-p", "0.5", "--thinking", "--model", "mimo-v2.5-omni",
        "--preset", "caption", "--system", "Be brief.",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    body = server.received[0].json()
    part = body["messages"][1]["content"][0]
    assert part == {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}, "fps": 1,
                    "media_resolution": "max"}  # fmt: skip
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][1]["content"][1]["text"] == BUILTIN_PRESETS["caption"]
    assert (body["max_completion_tokens"], body["temperature"], body["top_p"]) == (100, 0.2, 0.5)
    assert body["thinking"] == {"type": "enabled"} and body["model"] == "mimo-v2.5-omni"


def test_environment_settings_and_prompt_option(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.avi"), "-p", "What colour is it?", "--no-thinking",
               env={"MIMO_MODEL": "env-model"})  # fmt: skip
    assert run.exit_code == 0, run.stderr
    body = server.received[0].json()
    assert body["model"] == "env-model"
    assert body["messages"][1]["content"][1]["text"] == "What colour is it?"
    assert body["thinking"] == {"type": "disabled"}


def test_stdin_video(mimo: Any, server: FakeServer) -> None:
    data = (FIXTURES / "clip.mov").read_bytes()
    run = mimo("describe", "-", "--preset", "caption", input=data)
    assert run.exit_code == 0, run.stderr
    assert server.received[0].videos() == [("video/quicktime", data)]


def test_question_from_stdin(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", str(FIXTURES / "clip.mp4"), "-", input="Is it raining?\n")
    assert run.exit_code == 0, run.stderr
    assert server.received[0].json()["messages"][1]["content"][-1]["text"] == "Is it raining?"
    run = mimo("ask", "-", "-", input=b"x")
    assert run.exit_code == 2 and "cannot come from stdin" in run.stderr


def test_ask_with_a_preset_takes_every_argument_as_a_video(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", str(FIXTURES / "clip.mp4"), str(FIXTURES / "clip.avi"), "--preset", "summary")
    assert run.exit_code == 0, run.stderr
    assert len(server.received[0].videos()) == 2
    assert mimo("ask", str(FIXTURES / "clip.mp4")).exit_code == 2


def test_json_record(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    assert run.exit_code == 0, run.stderr
    record = json.loads(run.stdout)
    assert list(record) == ["input", "status", "model", "answer", "reasoning", "finish_reason", "usage",
                            "request_id", "elapsed_s", "attempts", "error", "data"]  # fmt: skip
    assert record["input"] == str(FIXTURES / "clip.mp4")
    assert record["data"] is None  # no --schema
    assert (record["status"], record["answer"], record["reasoning"]) == (
        "ok",
        DEFAULT_ANSWER,
        DEFAULT_REASONING,
    )
    assert record["finish_reason"] == "stop" and record["attempts"] == 1 and record["error"] is None
    assert record["usage"]["prompt_tokens_details"]["video_tokens"] == 1170
    assert record["request_id"]
    run = mimo("ask", str(FIXTURES / "clip.mp4"), str(FIXTURES / "clip.mov"), "Same?", "--json")
    assert json.loads(run.stdout)["input"] == [str(FIXTURES / "clip.mp4"), str(FIXTURES / "clip.mov")]


def test_json_error_record(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.json({"error": {"message": "Invalid token", "type": "auth"}}, status=401))
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    assert run.exit_code == 3
    record = json.loads(run.stdout)
    assert record["status"] == "error" and record["answer"] is None and record["attempts"] == 1
    assert record["error"] == {"kind": "auth", "message": "HTTP 401: Invalid token", "http_status": 401}
    assert run.stderr.startswith("error: HTTP 401: Invalid token\nhint: ")


def test_dry_run_sends_nothing_and_hides_the_key(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--dry-run")
    assert run.exit_code == 0, run.stderr
    assert server.received == []
    assert KEY not in run.output
    head, _, body = run.stdout.partition("\n\n")
    assert head.splitlines()[0] == f"POST {server.url}/chat/completions"
    assert "Authorization: Bearer sk-…cdef" in head
    assert "Content-Length: " in head
    payload = json.loads(body)
    assert payload["messages"][1]["content"][0]["video_url"]["url"].startswith("data:video/mp4;base64,AAAA")
    dry = json.loads(mimo("describe", str(FIXTURES / "clip.mp4"), "--dry-run", "--json").stdout)
    assert dry["method"] == "POST" and dry["headers"]["Authorization"] == "Bearer sk-…cdef"
    # no key is needed to look
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--dry-run", env={"MIMO_API_KEY": ""})
    assert run.exit_code == 0 and "(no API key set)" in run.stdout


def test_the_dry_run_content_length_is_what_is_sent(mimo: Any, server: FakeServer) -> None:
    dry = json.loads(mimo("describe", str(FIXTURES / "clip.avi"), "--dry-run", "--json").stdout)
    mimo("describe", str(FIXTURES / "clip.avi"))
    assert int(dry["headers"]["Content-Length"]) == len(server.received[0].body)


def test_missing_key_is_exit_3_and_nothing_is_sent(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), env={"MIMO_API_KEY": ""})
    assert run.exit_code == 3
    assert run.stderr.splitlines() == [
        "error: no API key is set",
        "hint: export MIMO_API_KEY=sk-... (or pass --api-key, or save it with mimo config set api_key); "
        "--dry-run shows the request without one",
    ]
    assert server.received == [] and run.stdout == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["describe", str(FIXTURES / "notes.txt")], "is not a video"),
        (["describe", str(FIXTURES / "image.png")], "is not a video"),
        (["describe", str(FIXTURES / "empty.mp4")], "is empty"),
        (["describe", str(FIXTURES / "clip.webm")], "WebM"),
        (["describe", "missing.mp4"], "no such file"),
        (["describe", "ftp://example.com/v.mp4"], "scheme is not supported"),
        (["describe", str(FIXTURES / "clip.mp4"), "--fps", "20"], "--fps must be between 0.1 and 10"),
        (["describe", str(FIXTURES / "clip.mp4"), "--resolution", "4k"], "--resolution must be one of"),
        (["describe", str(FIXTURES / "clip.mp4"), "--temperature", "2"], "--temperature must be between"),
        (["describe", str(FIXTURES / "clip.mp4"), "--preset", "haiku"], "unknown preset 'haiku'"),
        (["describe", str(FIXTURES / "clip.mp4"), "--max-inline-mb", "0.001"], "too large"),
        (["describe"], "Missing argument"),
        (["describe", str(FIXTURES / "clip.mp4"), "--fps", "fast"], "Invalid value for '--fps'"),
        (["ask", str(FIXTURES / "clip.mp4"), str(FIXTURES / "notes.txt"), "Q?"], "is not a video"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_is_sent(
    mimo: Any, server: FakeServer, args: list[str], words: str
) -> None:
    run = mimo(*args)
    assert run.exit_code == 2, run.output
    lines = run.stderr.splitlines()
    assert lines[0].startswith("error: ") and words in lines[0]
    assert all(line.startswith("hint: ") for line in lines[1:]) and len(lines) <= 2
    assert "Traceback" not in run.output and run.stdout == ""
    assert server.received == []


def test_unknown_preset_lists_the_known_ones(mimo: Any) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--preset", "haiku")
    assert "hint: known presets: caption, detailed, summary, tags, transcript" in run.stderr


def test_too_large_states_size_limit_and_ways_out(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    big = padded_mp4(tmp_path / "big.mp4", 8 * 1024 * 1024)
    run = mimo("describe", str(big))
    assert run.exit_code == 2
    assert "8.0 MiB of video" in run.stderr and "10.0 MiB limit" in run.stderr and "7.5 MiB" in run.stderr
    assert "--fit" in run.stderr and "URL" in run.stderr
    assert server.received == []


def test_private_url_warns_and_still_sends(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", "http://192.168.1.20/cam.mp4")
    assert run.exit_code == 0
    assert "warning: the API fetches URLs itself and cannot reach" in run.stderr
    assert "--inline-url" in run.stderr
    assert server.received[0].videos() == [("url", "http://192.168.1.20/cam.mp4")]
    quiet = mimo("describe", "http://192.168.1.20/cam.mp4", "-q")
    assert quiet.stderr == ""


def test_data_uri_input(mimo: Any, server: FakeServer) -> None:
    data = (FIXTURES / "clip.mp4").read_bytes()
    uri = "data:video/mp4;base64," + base64.b64encode(data).decode()
    run = mimo("describe", uri, "--json")
    assert run.exit_code == 0
    assert server.received[0].videos() == [("video/mp4", data)]
    assert json.loads(run.stdout)["input"].startswith("data:video/mp4;base64,AAAA")
    assert len(json.loads(run.stdout)["input"]) < 80  # shortened to its prefix and length


def test_reasoning_on_stderr_only_when_asked(mimo: Any) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--reasoning")
    assert run.stdout == DEFAULT_ANSWER + "\n"
    assert DEFAULT_REASONING in run.stderr


def test_non_streamed(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--no-stream")
    assert run.exit_code == 0 and run.stdout == DEFAULT_ANSWER + "\n"
    assert "stream" not in server.received[0].json()


def test_reasoning_field_variants_and_duplicates_are_read_once(mimo: Any, server: FakeServer) -> None:
    server.queue(
        Reply.sse(
            [
                chunk({"role": "assistant", "reasoning": "Think "}),
                chunk({"reasoning_content": "twice", "reasoning": "twice"}),
                ": keep-alive\n\n",
                chunk({"content": "Hello"}),
                chunk({"content": " 世界"}, finish="stop"),
                {
                    "id": "chatcmpl-1",
                    "choices": [],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
                },
            ],
            comments=True,
        )
    )
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    record = json.loads(run.stdout)
    assert (record["reasoning"], record["answer"]) == ("Think twice", "Hello 世界")
    assert record["usage"]["total_tokens"] == 7 and record["request_id"] == "chatcmpl-1"


def test_finish_reason_length_warns_and_exits_0(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.sse([chunk({"content": "The video shows"}, finish="length")]))
    run = mimo("describe", str(FIXTURES / "clip.mp4"))
    assert run.exit_code == 0
    assert run.stdout == "The video shows\n"
    assert "warning: the answer was cut off" in run.stderr and "--max-tokens" in run.stderr


def test_a_cut_stream_is_an_error_not_a_short_answer(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.sse([chunk({"content": "The video sh"})], done=False))
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    assert run.exit_code == 1
    record = json.loads(run.stdout)
    assert record["status"] == "error" and record["error"]["kind"] == "bad_response"
    assert len(server.received) == 1  # not retried: part of the answer was already shown


def test_429_then_success_is_retried_with_the_same_body(
    mimo: Any, server: FakeServer, instant_backoff: list[float]
) -> None:
    server.queue(error_json(429, "Rate limit reached", headers={"Retry-After": "2"}))
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["attempts"] == 2
    assert instant_backoff == [2.0]
    assert "retrying in 2.0 s: 429 rate limited (attempt 2 of 4)" in run.stderr
    first, second = server.received
    assert first.body == second.body


def test_server_errors_give_up_after_the_retries(
    mimo: Any, server: FakeServer, instant_backoff: list[float]
) -> None:
    server.queue(*[error_json(500, "boom") for _ in range(3)])
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--retries", "2")
    assert run.exit_code == 1
    assert len(server.received) == 3 and len(instant_backoff) == 2
    assert "error: HTTP 500: boom" in run.stderr


def test_key_echoed_by_the_server_is_never_shown(mimo: Any, server: FakeServer) -> None:
    server.queue(error_json(401, f"Invalid API key: {KEY}"))
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--json")
    assert run.exit_code == 3
    assert KEY not in run.output
    assert "Invalid API key: ***" in run.stderr


def test_terminal_rendering(mimo: Any, server: FakeServer) -> None:
    server.answer = "# Title\n\nA **bold** kitten."
    run = mimo("describe", str(FIXTURES / "clip.mp4"), env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert run.exit_code == 0, run.stderr
    stdout, stderr = ANSI.sub("", run.stdout), ANSI.sub("", run.stderr)
    assert "**" not in stdout and "A bold kitten." in stdout and "Title" in stdout  # rendered Markdown
    assert DEFAULT_REASONING in stderr  # reasoning is shown (dim) on a terminal
    assert "prompt" in stderr and "1,170" in stderr and "elapsed" in stderr  # the usage table
    assert not COLOUR.search(run.output)  # NO_COLOR: styles such as bold stay, colours go
    coloured = mimo("describe", str(FIXTURES / "clip.mp4"), env={"TTY_COMPATIBLE": "1", "FORCE_COLOR": "1"})
    assert COLOUR.search(coloured.output) or "\x1b[1m" in coloured.stdout


def test_no_colour_codes_in_a_pipe(mimo: Any) -> None:
    run = mimo("describe", str(FIXTURES / "clip.mp4"), "--fps", "20")
    assert "\x1b[" not in run.output


def _subprocess(args: list[str], server: FakeServer, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    return subprocess.run(
        [sys.executable, "-m", "mimo_cli", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**base, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY, **env},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_installed_command_with_a_c_locale_prints_chinese(server: FakeServer) -> None:
    server.answer = "一只白色的小猫坐在木地板上。"
    proc = _subprocess(["describe", str(FIXTURES / "clip.mp4")], server, LANG="C", LC_ALL="C",
                       PYTHONIOENCODING="ascii", PYTHONUTF8="0")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "一只白色的小猫坐在木地板上。\n"


def test_version_and_help_import_nothing_heavy() -> None:
    for args in (["--version"], ["--help"], ["describe", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "mimo_cli", *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0
        imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
        assert not {"httpx", "magic", "rich.markdown", "rich.console"} & imported, args
    version = subprocess.run([sys.executable, "-m", "mimo_cli", "--version"], capture_output=True, text=True)
    from mimo_cli import __version__

    assert version.stdout == f"mimo {__version__}\n"


def test_every_command_has_help_with_an_example(mimo: Any) -> None:
    for command in ("describe", "ask"):
        run = mimo(command, "--help")
        assert run.exit_code == 0
        assert "Examples:" in run.stdout and f"mimo {command} " in run.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_in_a_real_terminal(server: FakeServer) -> None:
    """The installed command on a pseudo-terminal: Markdown rendered, reasoning and usage shown."""
    import pty
    import select

    server.answer = "The kitten is **white**.\n\n- sits\n- looks left"
    main_fd, child_fd = pty.openpty()
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimo_cli", "describe", str(FIXTURES / "clip.mp4")],
        stdin=subprocess.DEVNULL, stdout=child_fd, stderr=child_fd, close_fds=True,
        env={**base, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY, "TERM": "xterm-256color",
             "COLUMNS": "80", "LINES": "24"},
    )  # fmt: skip
    os.close(child_fd)
    out = b""
    while True:
        ready, _, _ = select.select([main_fd], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(main_fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(main_fd)
    assert proc.wait(timeout=30) == 0
    text = ANSI.sub("", out.decode("utf-8", "replace"))
    assert "The kitten is white." in text and "**" not in text
    assert "• sits" in text  # a Markdown list, rendered
    assert DEFAULT_REASONING in text and "completion" in text and "1,488" in text
    assert KEY not in text


def test_a_partial_answer_stays_on_a_terminal_when_the_stream_breaks(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.sse([chunk({"content": "The kitten **sits**"})], done=False))
    run = mimo("describe", str(FIXTURES / "clip.mp4"), env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert run.exit_code == 1
    after_live_view = run.stdout.rsplit("\x1b[2K", 1)[-1]  # what is left once the live view erased itself
    assert "The kitten sits" in ANSI.sub("", after_live_view)
    assert "error: the stream ended before the answer was complete" in ANSI.sub("", run.stderr)
