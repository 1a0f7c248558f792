"""mimo describe/ask --segment against the fake server: the requests it received, the clips, the output."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from fakeserver import DEFAULT_USAGE, FakeServer, Received, Reply, error_json
from test_segment import FPS, assert_covers, frame_numbers, needs_ffmpeg

from mimo_cli.segment.cut import Clip
from mimo_cli.segment.plan import Part

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = needs_ffmpeg
SECONDS = 90  # three parts of 30 s


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 s, 2 fps, a keyframe every 10 s, each frame's number in its colour (see test_segment)."""
    from test_segment import _generate

    return _generate(tmp_path_factory.getbasetemp() / "segment-90s.mp4", "mp4", SECONDS)


def answer(text: str, total: int = 10) -> Reply:
    usage = {"prompt_tokens": total - 2, "completion_tokens": 2, "total_tokens": total}
    return Reply.json({
        "id": "chatcmpl-x", "object": "chat.completion", "model": "mimo-v2-omni",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": usage,
    })  # fmt: skip


def text_of(req: Received) -> str:
    content = req.json()["messages"][-1]["content"]
    return next(part["text"] for part in content if part["type"] == "text")


def clip_of(req: Received, tmp_path: Path, name: str) -> Path:
    videos = req.videos()
    assert len(videos) == 1 and videos[0][0] == "video/mp4" and isinstance(videos[0][1], bytes)
    path = tmp_path / name
    path.write_bytes(videos[0][1])
    return path


def received_parts(server: FakeServer) -> dict[int, Received]:
    """The part requests by their number, read from their line of context."""
    parts = {}
    for req in server.received:
        if req.videos():
            line = text_of(req).splitlines()[0]
            parts[int(line.split()[3])] = req
    return parts


def test_describe_sends_each_part_with_its_context_and_shows_them_in_order(
    mimo: Any, server: FakeServer, video: Path, tmp_path: Path
) -> None:
    run = mimo("describe", str(video), "--segment", "30s", "-p", "What is seen?")
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 3  # three parts, no merge (describe)
    parts = received_parts(server)
    assert sorted(parts) == [1, 2, 3]
    times = ["0:00:00 to 0:00:30", "0:00:30 to 0:01:00", "0:01:00 to 0:01:30"]
    for k, req in parts.items():
        assert text_of(req) == (
            f"This is part {k} of 3 of a longer video; it shows {times[k - 1]} of it.\nWhat is seen?"
        )
        clip = clip_of(req, tmp_path, f"part{k}.mp4")
        start = (k - 1) * 30.0
        assert_covers(Clip(Part(k, 3, start, start + 30), clip, "video/mp4", clip.stat().st_size, True))
    answer_text = server.answer
    assert run.stdout == (
        f"## 0:00:00–0:00:30\n\n{answer_text}\n\n## 0:00:30–0:01:00\n\n{answer_text}\n\n"
        f"## 0:01:00–0:01:30\n\n{answer_text}\n"
    )
    assert [line for line in run.stderr.splitlines() if line.endswith("done")] != []
    assert "tokens: 3,834 prompt" in run.stderr  # the usage line sums the three requests


def test_ask_merges_the_parts_into_one_answer_with_the_same_system_prompt_and_model(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.queue(answer("a goal at 0:10"), answer("nothing"), answer("a second goal"), answer("Two goals."))
    run = mimo("ask", str(video), "--segment", "30s", "When are goals scored?", "-j", "1", "--no-stream",
               "-m", "mimo-v2.5-omni")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Two goals.\n"
    assert len(server.received) == 4
    merge = server.received[3]
    assert merge.videos() == [] and [p["type"] for p in merge.json()["messages"][-1]["content"]] == ["text"]
    first = server.received[0].json()
    assert merge.json()["model"] == first["model"] == "mimo-v2.5-omni"
    assert merge.json()["messages"][0] == first["messages"][0] and first["messages"][0]["role"] == "system"
    text = text_of(merge)
    for heading, said in [("## 0:00:00–0:00:30", "a goal at 0:10"), ("## 0:00:30–0:01:00", "nothing"),
                          ("## 0:01:00–0:01:30", "a second goal")]:  # fmt: skip
        assert f"{heading}\n\n{said}" in text
    assert text.endswith("\nWhen are goals scored?")
    assert "tokens: 32 prompt · 8 completion · 40 total" in run.stderr


def test_json_holds_every_segment_and_the_usage_summed_over_parts_and_merge(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    run = mimo("ask", str(video), "--segment", "45", "What happens?", "--json")
    assert run.exit_code == 0, run.stderr
    record = json.loads(run.stdout)
    assert len(server.received) == 3  # 2 parts and the merge
    assert record["status"] == "ok" and record["answer"] == server.answer and record["error"] is None
    assert record["usage"]["total_tokens"] == 3 * DEFAULT_USAGE["total_tokens"]
    assert record["usage"]["prompt_tokens_details"]["video_tokens"] == 3 * 1170
    assert record["attempts"] == 3
    segments = record["segments"]
    assert [(s["index"], s["start"], s["end"], s["status"]) for s in segments] == [
        (1, 0.0, 45.0, "ok"), (2, 45.0, 90.0, "ok"),
    ]  # fmt: skip
    assert list(segments[0]) == ["index", "start", "end", "status", "answer", "reasoning", "finish_reason",
                                 "usage", "attempts", "error"]  # fmt: skip
    assert segments[0]["usage"] == DEFAULT_USAGE and segments[1]["answer"] == server.answer


def test_a_failed_part_does_not_stop_the_others_and_there_is_no_merge(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.queue(answer("one"), error_json(400, "bad frame", "invalid_request_error"), answer("three"))
    run = mimo("ask", str(video), "--segment", "30s", "What?", "-j", "1", "--no-stream", "--json")
    assert run.exit_code == 1
    assert len(server.received) == 3  # every part, no merge
    record = json.loads(run.stdout)
    assert record["status"] == "error" and record["error"]["kind"] == "bad_request"
    assert "1 of 3 parts failed (part 2)" in record["error"]["message"]
    assert [s["status"] for s in record["segments"]] == ["ok", "error", "ok"]
    assert "part 2 of 3 (0:00:30–0:01:00) failed" in run.stderr and "error: 1 of 3 parts failed" in run.stderr


def test_an_auth_error_stops_the_parts_not_yet_sent(mimo: Any, server: FakeServer, video: Path) -> None:
    server.queue(error_json(401, "Invalid API key", "authentication_error", "invalid_api_key"))
    run = mimo("describe", str(video), "--segment", "30s", "-j", "1", "--no-stream")
    assert run.exit_code == 3
    assert len(server.received) == 1
    assert "3 of 3 parts failed" in run.stderr and run.stdout == ""


def test_without_a_merge_the_failed_parts_are_missing_and_the_others_shown(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.queue(answer("one"), error_json(400, "bad frame", "invalid_request_error"), answer("three"))
    run = mimo("describe", str(video), "--segment", "30s", "-j", "1", "--no-stream")
    assert run.exit_code == 1
    assert run.stdout == "## 0:00:00–0:00:30\n\none\n\n## 0:01:00–0:01:30\n\nthree\n"


def test_a_public_url_without_inline_url_is_a_usage_error_and_nothing_is_sent(
    mimo: Any, server: FakeServer
) -> None:
    run = mimo("describe", "https://example.com/long.mp4", "--segment", "auto")
    assert run.exit_code == 2 and len(server.received) == 0
    assert "--inline-url" in run.stderr and "error:" in run.stderr


@pytest.mark.parametrize("value", ["0", "soon", "-3m"])
def test_a_bad_segment_value_is_a_usage_error(mimo: Any, server: FakeServer, video: Path, value: str) -> None:
    run = mimo("describe", str(video), "--segment", value)
    assert run.exit_code == 2 and len(server.received) == 0 and "--segment" in run.stderr


def test_stdin_is_cut_in_parts_too_and_nothing_is_left_on_disk(
    mimo: Any, server: FakeServer, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # so gettempdir() reads TMPDIR again
    run = mimo("describe", "-", "--segment", "45s", input=video.read_bytes())
    assert run.exit_code == 0, run.stderr
    assert sorted(received_parts(server)) == [1, 2]
    clip = clip_of(received_parts(server)[2], tmp_path, "two.mp4")
    numbers = frame_numbers(clip)
    assert numbers[0] == 45 * FPS and len(numbers) == 45 * FPS
    clip.unlink()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_dry_run_shows_the_plan_and_sends_nothing(mimo: Any, server: FakeServer, video: Path) -> None:
    run = mimo("ask", str(video), "--segment", "30s", "Why?", "--dry-run", "--json")
    assert run.exit_code == 0 and len(server.received) == 0
    plan = json.loads(run.stdout)
    assert plan["merge"] is True and [(p["start"], p["end"]) for p in plan["segments"]] == [
        (0.0, 30.0), (30.0, 60.0), (60.0, 90.0),
    ]  # fmt: skip


def test_a_short_video_is_one_part_and_ask_sends_no_merge_for_it(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    run = mimo("ask", str(video), "--segment", "auto", "What?", "--json")
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 1
    record = json.loads(run.stdout)
    assert record["answer"] == server.answer and len(record["segments"]) == 1
    assert record["usage"] == DEFAULT_USAGE and record["segments"][0]["end"] == pytest.approx(
        SECONDS, abs=0.1
    )
    assert text_of(server.received[0]).startswith("This is part 1 of 1 of a longer video")


def test_batch_sends_every_input_in_parts_with_one_record_each(
    mimo: Any, server: FakeServer, video: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "lectures"
    folder.mkdir()
    (folder / "a.mp4").write_bytes(video.read_bytes())
    (folder / "b.mp4").write_bytes(video.read_bytes())
    out = tmp_path / "out.jsonl"
    run = mimo("batch", str(folder), "--segment", "30s", "-j", "2", "-o", str(out))
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 6  # 3 parts each, no merge (batch)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["input"] for r in records) == [str(folder / "a.mp4"), str(folder / "b.mp4")]
    for record in records:
        assert record["status"] == "ok" and [s["index"] for s in record["segments"]] == [1, 2, 3]
        assert record["answer"].startswith("## 0:00:00–0:00:30\n\n")
        assert record["usage"]["total_tokens"] == 3 * DEFAULT_USAGE["total_tokens"]


def _most_files(root: Path, stop: Any, most: list[int]) -> None:
    while not stop.is_set():
        most.append(sum(1 for p in root.rglob("*") if p.is_file()))
        stop.wait(0.005)


def test_at_most_jobs_part_files_are_on_disk_and_none_after(
    server: FakeServer, video: Path, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys
    import threading

    server.response_delay = 0.3
    env = {
        **os.environ,
        "MIMO_BASE_URL": server.url,
        "MIMO_API_KEY": "sk-test-0123456789",
        "TMPDIR": str(tmp_path),
    }
    stop, most = threading.Event(), [0]
    watch = threading.Thread(target=_most_files, args=(tmp_path, stop, most))
    watch.start()
    try:
        done = subprocess.run([sys.executable, "-m", "mimo_cli", "describe", str(video), "--segment", "15s", "-j", "2"],
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        stop.set()
        watch.join()
    assert done.returncode == 0, done.stderr
    assert len(server.received) == 6 and 1 <= max(most) <= 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_an_interrupted_run_exits_130_and_leaves_no_part_file(
    server: FakeServer, video: Path, tmp_path: Path, signum: str
) -> None:
    import os
    import signal
    import subprocess
    import sys

    server.response_delay = 30  # the parts hang until the run is stopped
    env = {
        **os.environ,
        "MIMO_BASE_URL": server.url,
        "MIMO_API_KEY": "sk-test-0123456789",
        "TMPDIR": str(tmp_path),
    }
    proc = subprocess.Popen([sys.executable, "-m", "mimo_cli", "describe", str(video), "--segment", "15s", "-j", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.wait_for_requests(2, timeout=60)
        assert any(p.is_file() for p in tmp_path.rglob("*"))  # the parts in flight
        proc.send_signal(getattr(signal, signum))
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and len(server.received) == 2
    assert list(tmp_path.iterdir()) == []


def test_with_a_schema_each_part_and_the_merge_answer_one_object(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.queue(
        answer('{"goals": 1}'), answer('{"goals": 0}'), answer('{"goals": 1}'), answer('{"goals": 2}')
    )
    run = mimo("ask", str(video), "--segment", "30s", "How many goals?", "--schema", "goals int",
               "-j", "1", "--no-stream", "--json")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 4
    assert all(req.json().get("response_format") == {"type": "json_object"} for req in server.received)
    assert all('"goals"' in text_of(req) for req in server.received)  # the schema in every text
    record = json.loads(run.stdout)
    assert record["data"] == {"goals": 2}
    assert [s["data"] for s in record["segments"]] == [{"goals": 1}, {"goals": 0}, {"goals": 1}]


@needs_ffmpeg
def test_after_a_failed_part_cache_sends_only_that_part_and_the_merge(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    """Every part and the merge are in the run log: run again with --cache, and only the rest is paid."""
    server.queue(answer("one"), error_json(400, "bad frame", "invalid_request_error"), answer("three"))
    first = mimo("ask", str(video), "--segment", "30s", "What?", "-j", "1", "--no-stream")
    assert first.exit_code == 1 and len(server.received) == 3
    assert "--cache" in first.stderr  # the hint says how to send only the rest
    server.received.clear()
    server.queue(answer("two"), answer("the whole video"))
    again = mimo("ask", str(video), "--segment", "30s", "What?", "-j", "1", "--no-stream", "--cache")
    assert again.exit_code == 0, again.stderr
    texts = [text_of(req) for req in server.received]
    assert len(texts) == 2  # part 2 and the merge: parts 1 and 3 came from the log
    assert "part 2 of 3" in texts[0] and server.received[1].videos() == []
    assert again.stdout.strip() == "the whole video"
    assert "one" in texts[1] and "three" in texts[1]  # the merge got the answers from the log too
    server.received.clear()
    third = mimo("ask", str(video), "--segment", "30s", "What?", "-j", "1", "--no-stream", "--cache")
    assert third.exit_code == 0 and server.received == [] and third.stdout.strip() == "the whole video"


@needs_ffmpeg
def test_a_budget_stops_the_parts_that_would_pass_it(mimo: Any, server: FakeServer, video: Path) -> None:
    """--budget with --segment: a part whose estimate would take the tokens used past the budget is not sent."""
    run = mimo("describe", str(video), "--segment", "30s", "-j", "1", "--no-stream", "--json",
               "--budget", "150")  # fmt: skip
    record = json.loads(run.stdout)
    statuses = [s["status"] for s in record["segments"]]
    kinds = [(s["error"] or {}).get("kind") for s in record["segments"]]
    assert run.exit_code == 1 and "budget" in kinds and len(server.received) == statuses.count("ok") < 3
    plain = mimo("describe", str(video), "--budget", "100")
    assert plain.exit_code == 2 and "--budget needs --segment" in plain.stderr
