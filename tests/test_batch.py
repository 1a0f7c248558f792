"""mimo batch end to end against the fake server: discovery, records, resume, shards, sidecars, signals."""

from __future__ import annotations

import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, KEY, padded_mp4
from fakeserver import DEFAULT_ANSWER, FakeServer, Reply, error_json

from mimo_cli.prompts import BUILTIN_PRESETS

RECORD_KEYS = ["input", "status", "model", "answer", "reasoning", "finish_reason", "usage", "request_id",
               "elapsed_s", "attempts", "error", "data", "fingerprint"]  # fmt: skip


@pytest.fixture(autouse=True)
def instant_backoff(sleeps: list[float]) -> list[float]:
    return sleeps


def make_videos(root: Path, names: list[str]) -> dict[bytes, str]:
    """MP4s of distinct content at ``root/name``; returns content -> name, to tell requests apart."""
    by_content = {}
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        padded_mp4(path, 4100 + 16 * i)
        by_content[path.read_bytes()] = name
    return by_content


def sent(server: FakeServer, by_content: dict[bytes, str]) -> list[str]:
    """The names of the videos the server received, one per request, in arrival order."""
    return [by_content[data] for req in server.received for _, data in req.videos()]  # type: ignore[index]


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


TREE = ["a/one.mp4", "a/two.mov", "b/c/three.mp4", "b/four.MP4", "five.avi"]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[bytes, str]:
    """``media/`` with five videos, a text file, a hidden file and a fake .mp4; cwd is tmp_path."""
    monkeypatch.chdir(tmp_path)
    by_content = make_videos(tmp_path / "media", TREE)
    shutil.copy(FIXTURES / "notes.txt", tmp_path / "media" / "a" / "notes.txt")
    shutil.copy(FIXTURES / "clip.mp4", tmp_path / "media" / "a" / ".hidden.mp4")
    return by_content


def test_a_tree_of_videos_with_a_non_video_among_them(mimo: Any, server: FakeServer, tree: Any) -> None:
    shutil.copy(FIXTURES / "fake.mp4", Path("media/b/fake.mp4"))
    run = mimo("batch", "media", "-j", "1")
    assert run.exit_code == 1, run.stderr  # one input failed
    out = records(run.stdout)
    # every video once, in a stable sorted order (-j 1: records in the order sent); not notes.txt, not hidden
    assert [r["input"] for r in out] == sorted(f"media/{n}" for n in [*TREE, "b/fake.mp4"])
    assert sorted(sent(server, tree)) == sorted(TREE)
    fake = next(r for r in out if r["input"] == "media/b/fake.mp4")
    assert fake["status"] == "error" and fake["error"]["kind"] == "input" and fake["attempts"] == 0
    assert "is not a video" in fake["error"]["message"]
    for r in out:
        assert list(r) == RECORD_KEYS  # describe --json's record, then the fingerprint
        if r is not fake:
            assert (r["status"], r["answer"], r["error"]) == ("ok", DEFAULT_ANSWER, None)
    assert "failed media/b/fake.mp4: input:" in run.stderr
    assert "batch: 5 done, 1 failed, 0 skipped" in run.stderr
    assert "7,440 tokens (5,850 video, 505 reasoning)" in run.stderr


def test_one_request_failing_while_the_rest_succeed(mimo: Any, server: FakeServer, tree: Any) -> None:
    server.queue(error_json(400, "Unexpected role", "invalid_request_error"))
    run = mimo("batch", "media", "-j", "1", "--preset", "caption")
    assert run.exit_code == 1
    out = records(run.stdout)
    assert [r["status"] for r in out] == ["error", "ok", "ok", "ok", "ok"]
    assert out[0]["error"] == {
        "kind": "bad_request",
        "message": "HTTP 400: Unexpected role",
        "http_status": 400,
    }
    assert len(server.received) == 5
    assert {req.json()["messages"][1]["content"][1]["text"] for req in server.received} == {
        BUILTIN_PRESETS["caption"]
    }


def test_output_file_and_resume_after_changing_the_prompt(
    mimo: Any, server: FakeServer, tree: Any, tmp_path: Path
) -> None:
    run = mimo("batch", "media", "-o", "out.jsonl")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert len(records(Path("out.jsonl").read_text())) == 5
    again = mimo("batch", "media", "-o", "out.jsonl", "--resume")
    assert again.exit_code == 0 and len(server.received) == 5  # nothing sent again
    assert "skipping 5 of 5 inputs" in again.stderr and "0 done, 0 failed, 5 skipped" in again.stderr
    changed = mimo("batch", "media", "-o", "out.jsonl", "--resume", "-p", "Is it raining?")
    assert changed.exit_code == 0 and len(server.received) == 10  # another prompt: sent again
    assert server.received[-1].json()["messages"][1]["content"][1]["text"] == "Is it raining?"
    # a touched file is sent again; the others are not
    os.utime("media/a/one.mp4", ns=(1, 1))
    mimo("batch", "media", "-o", "out.jsonl", "--resume", "-p", "Is it raining?")
    assert sent(server, tree)[10:] == ["a/one.mp4"]
    # without --resume the file is replaced
    mimo("batch", "media/five.avi", "-o", "out.jsonl")
    assert len(Path("out.jsonl").read_text().splitlines()) == 1


def test_resume_sends_failed_inputs_again(mimo: Any, server: FakeServer, tree: Any) -> None:
    server.queue(error_json(500, "boom"), error_json(500, "boom"))
    run = mimo("batch", "media", "-o", "out.jsonl", "-j", "1", "--retries", "1")
    assert run.exit_code == 1
    again = mimo("batch", "media", "-o", "out.jsonl", "--resume")
    assert again.exit_code == 0
    assert sent(server, tree)[-1] == "a/one.mp4" and len(server.received) == 7
    lines = records(Path("out.jsonl").read_text())
    assert [r["status"] for r in lines] == ["error", "ok", "ok", "ok", "ok", "ok"]


def test_torn_last_line_is_tolerated(mimo: Any, server: FakeServer, tree: Any) -> None:
    mimo("batch", "media", "-o", "out.jsonl")
    text = Path("out.jsonl").read_text()
    last = text.splitlines()[-1]
    Path("out.jsonl").write_text(text.rsplit("\n", 2)[0] + "\n" + last[: len(last) // 2])  # torn by a kill
    run = mimo("batch", "media", "-o", "out.jsonl", "--resume")
    assert run.exit_code == 0, run.stderr
    assert "removed a torn last line" in run.stderr
    assert len(server.received) == 6  # the torn one only
    out = records(Path("out.jsonl").read_text())  # valid JSON Lines again
    assert sorted(r["input"] for r in out) == sorted(f"media/{n}" for n in TREE)


def test_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    from mimo_cli.batch.resume import load_done

    out = tmp_path / "out.jsonl"
    out.write_text('{"status": "ok", "fingerprint": "a"}\n{"status": "ok", "fingerprint": "b"}')
    assert set(load_done(out)) == {"a", "b"}
    assert out.read_text().endswith('"b"}\n')
    out.write_text('{"status": "ok", "fingerprint": "a"}\n{"status": "ok", "fing')
    assert set(load_done(out)) == {"a"}
    assert out.read_text() == '{"status": "ok", "fingerprint": "a"}\n'
    assert load_done(tmp_path / "missing.jsonl") == {}


def test_429_on_a_share_of_first_attempts(
    mimo: Any, server: FakeServer, tree: Any, instant_backoff: list[float]
) -> None:
    server.queue(*[error_json(429, "Rate limit reached", headers={"Retry-After": "0"}) for _ in range(3)])
    run = mimo("batch", "media", "-j", "4")
    assert run.exit_code == 0, run.stderr
    out = records(run.stdout)
    assert all(r["status"] == "ok" for r in out)
    assert sum(r["attempts"] for r in out) == 8 == len(server.received)
    assert set(sent(server, tree)) == set(TREE)  # (which input meets a 429 depends on who asks first)
    assert instant_backoff == [0.0, 0.0, 0.0]
    assert run.stderr.count(": retrying in 0.0 s: ") == 3  # each prefixed with its input


def test_auth_error_stops_the_batch(mimo: Any, server: FakeServer, tree: Any) -> None:
    server.queue(error_json(401, "Invalid token"))
    run = mimo("batch", "media", "-j", "1")
    assert run.exit_code == 3
    assert len(server.received) == 1 and len(records(run.stdout)) == 1
    assert "stopping: an auth error" in run.stderr and "4 not started" in run.stderr


def test_fail_fast(mimo: Any, server: FakeServer, tree: Any) -> None:
    server.queue(error_json(500, "boom"))
    run = mimo("batch", "media", "-j", "1", "--fail-fast", "--retries", "0")
    assert run.exit_code == 1
    assert len(server.received) == 1 and [r["status"] for r in records(run.stdout)] == ["error"]
    assert "--fail-fast" in run.stderr


def test_missing_key_sends_nothing_unless_nothing_is_left_to_send(
    mimo: Any, server: FakeServer, tree: Any
) -> None:
    run = mimo("batch", "media", env={"MIMO_API_KEY": ""})
    assert run.exit_code == 3 and "no API key is set" in run.stderr and server.received == []
    mimo("batch", "media", "-o", "out.jsonl")
    done = mimo("batch", "media", "-o", "out.jsonl", "--resume", env={"MIMO_API_KEY": ""})
    assert done.exit_code == 0 and len(server.received) == 5


def test_stable_sorted_order_and_duplicates_dropped(tree: Any) -> None:
    from mimo_cli.batch.plan import plan

    items = plan(["media/", "media/a/one.mp4", "./media/a/one.mp4", "https://example.com/z.mp4"])
    assert [i.input for i in items] == sorted(["https://example.com/z.mp4", *[f"media/{n}" for n in TREE]])
    assert plan(["media"]) == plan(["media"])
    with_fit = {i.input for i in plan(["media"], fit=True)} - {i.input for i in plan(["media"])}
    assert with_fit == set()
    shutil.copy(FIXTURES / "clip.webm", "media/a/six.webm")
    assert "media/a/six.webm" in {i.input for i in plan(["media"], fit=True)}
    assert "media/a/six.webm" not in {i.input for i in plan(["media"])}


def test_include_and_exclude(mimo: Any, server: FakeServer, tree: Any) -> None:
    from mimo_cli.batch.plan import plan

    assert [i.input for i in plan(["media"], include=["*.mp4"])] == ["media/a/one.mp4", "media/b/c/three.mp4"]
    assert [i.input for i in plan(["media"], exclude=["b/*", "*.avi"])] == [
        "media/a/one.mp4",
        "media/a/two.mov",
    ]
    assert [i.input for i in plan(["media"], include=["b/*"], exclude=["*three*"])] == ["media/b/four.MP4"]
    run = mimo("batch", "media", "--include", "*.mov", "--include", "*.avi")
    assert sorted(sent(server, tree)) == ["a/two.mov", "five.avi"] and run.exit_code == 0


def test_paths_from_stdin(mimo: Any, server: FakeServer, tree: Any) -> None:
    lines = "media/a/one.mp4\n\n# a comment\nmedia/b\n"
    run = mimo("batch", "-", "-j", "1", input=lines)
    assert run.exit_code == 0, run.stderr
    assert [r["input"] for r in records(run.stdout)] == [
        "media/a/one.mp4", "media/b/c/three.mp4", "media/b/four.MP4"
    ]  # fmt: skip


def test_shards_are_disjoint_and_complete(mimo: Any, server: FakeServer, tree: Any) -> None:
    everything = [
        json.loads(line)["input"]
        for line in mimo("batch", "media", "--dry-run", "--json").stdout.splitlines()
    ]
    assert len(everything) == 5 and server.received == []
    shards = []
    for k in (1, 2, 3):
        run = mimo("batch", "media", "--shard", f"{k}/3", "-o", f"part-{k}.jsonl")
        assert run.exit_code == 0, run.stderr
        shards.append([r["input"] for r in records(Path(f"part-{k}.jsonl").read_text())])
    assert sorted(itertools.chain.from_iterable(shards)) == sorted(everything)  # complete, and no input twice
    assert sorted(sent(server, tree)) == sorted(TREE)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--resume"], "--resume needs --output FILE"),
        (["--shard", "0/3"], "--shard must be K/N"),
        (["--shard", "4/3"], "--shard must be K/N"),
        (["--shard", "x"], "--shard must be K/N"),
        (["--sidecar", "mp4"], "would overwrite videos"),
        (["--sidecar", "a/b"], "--sidecar takes an extension"),
        (["--out-dir", "out"], "--out-dir needs --sidecar"),
        (["-j", "0"], "Invalid value for '--jobs'"),
        (["--fps", "20"], "--fps must be between"),
    ],
)
def test_usage_errors(mimo: Any, server: FakeServer, tree: Any, args: list[str], words: str) -> None:
    run = mimo("batch", "media", *args)
    assert run.exit_code == 2
    assert run.stderr.startswith("error: ") and words in run.stderr.splitlines()[0]
    assert server.received == [] and run.stdout == ""


def test_sidecars_next_to_the_videos(mimo: Any, server: FakeServer, tree: Any) -> None:
    run = mimo("batch", "media", "--sidecar", "txt", "-o", "out.jsonl")
    assert run.exit_code == 0, run.stderr
    assert Path("media/a/one.txt").read_text() == DEFAULT_ANSWER + "\n"
    assert Path("media/b/four.txt").exists() and Path("media/five.txt").exists()
    assert not list(Path("media").rglob("*.tmp"))  # the temporary files were renamed
    mimo("batch", "media/a/two.mov", "--sidecar", "json")
    record = json.loads(Path("media/a/two.json").read_text())
    assert record["input"] == "media/a/two.mov" and record["status"] == "ok"
    # --resume writes a lost sidecar again from its record, without asking again
    Path("media/a/one.txt").unlink()
    again = mimo("batch", "media", "--sidecar", "txt", "-o", "out.jsonl", "--resume")
    assert again.exit_code == 0 and len(server.received) == 6
    assert Path("media/a/one.txt").read_text() == DEFAULT_ANSWER + "\n"


def test_sidecars_under_out_dir_mirror_the_tree(mimo: Any, server: FakeServer, tree: Any) -> None:
    run = mimo("batch", "media", "--sidecar", "md", "--out-dir", "captions")
    assert run.exit_code == 0, run.stderr
    written = sorted(str(p.relative_to("captions")) for p in Path("captions").rglob("*") if p.is_file())
    assert written == sorted(["a/one.md", "a/two.md", "b/c/three.md", "b/four.md", "five.md"])
    assert Path("captions/b/c/three.md").read_text() == DEFAULT_ANSWER + "\n"
    assert not list(Path("media").rglob("*.md"))  # nothing next to the videos
    # a file given by itself keeps its relative path; a URL goes by its name
    run = mimo(
        "batch", "media/five.avi", "https://example.com/v/clip.mp4", "--sidecar", "md", "--out-dir", "c2"
    )
    assert run.exit_code == 0, run.stderr
    assert sorted(str(p.relative_to("c2")) for p in Path("c2").rglob("*.md")) == ["clip.md", "media/five.md"]


def test_sidecars_never_leave_the_tree(tmp_path: Path) -> None:
    from mimo_cli.batch.sidecar import write_inside as write_atomically
    from mimo_cli.errors import MimoError

    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(MimoError, match="outside"):
        write_atomically(root / "link" / "x.txt", "hi", root)
    assert list(outside.iterdir()) == []
    write_atomically(root / "a" / "x.txt", "hi", root)
    assert (root / "a" / "x.txt").read_text() == "hi"
    assert oct((root / "a" / "x.txt").stat().st_mode & 0o777) != oct(0o600)


def test_rpm_spaces_the_starts() -> None:
    from mimo_cli.batch.plan import Item
    from mimo_cli.batch.runner import Options, Runner
    from mimo_cli.batch.summary import NullProgress, Summary

    def chat(item: Item) -> dict[str, Any]:
        return {"input": item.input, "status": "ok", "usage": None}

    out = io.StringIO()
    runner = Runner(chat, out, Options(jobs=4, rpm=1200), NullProgress(), Summary())
    runner.run([(Item(f"v{i}.mp4"), f"fp{i}") for i in range(4)])
    gaps = [b - a for a, b in itertools.pairwise(runner.start_times)]
    assert len(gaps) == 3 and min(gaps) >= 0.05 - 1e-9  # 60 / 1200 s apart, at least
    assert [json.loads(line)["fingerprint"] for line in out.getvalue().splitlines()] == [
        "fp0", "fp1", "fp2", "fp3"
    ]  # fmt: skip
    fast = Runner(chat, io.StringIO(), Options(jobs=4), NullProgress(), Summary())
    fast.run([(Item(f"v{i}.mp4"), f"fp{i}") for i in range(4)])
    assert len(fast.start_times) == 4


def test_help_has_examples(mimo: Any) -> None:
    run = mimo("batch", "--help")
    assert run.exit_code == 0
    assert "Examples:" in run.stdout and "mimo batch " in run.stdout and "--shard" in run.stdout
    assert "--fps" in run.stdout  # the common options are there too


# -- the installed command, killed and interrupted ------------------------------------------------------


def _start(args: list[str], server: FakeServer, cwd: Path) -> subprocess.Popen[str]:
    mimo = Path(sys.executable).with_name("mimo")
    command = [str(mimo)] if mimo.exists() else [sys.executable, "-m", "mimo_cli"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    return subprocess.Popen(
        [*command, *args],
        cwd=cwd,
        env={**base, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lines(proc: subprocess.Popen[str], path: Path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= n:
            return
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{path} did not get {n} lines: {proc.communicate()}")


NAMES = [f"v{i:02d}.mp4" for i in range(12)]


def test_sigkill_then_resume_sends_nothing_twice(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    by_content = make_videos(tmp_path / "media", NAMES)
    server.response_delay = 0.3
    proc = _start(["batch", "media", "-o", "out.jsonl", "-j", "2"], server, tmp_path)
    try:
        _wait_for_lines(proc, tmp_path / "out.jsonl", 3)
    finally:
        proc.kill()
        proc.communicate()
    before = records((tmp_path / "out.jsonl").read_text())
    ok_before = {r["input"].removeprefix("media/") for r in before if r["status"] == "ok"}
    assert 3 <= len(ok_before) < len(NAMES)
    server.response_delay = 0
    os.chdir(tmp_path)
    run = mimo("batch", "media", "-o", "out.jsonl", "--resume")
    assert run.exit_code == 0, run.stderr
    counts = Counter(sent(server, by_content))
    assert all(counts[name] == 1 for name in ok_before)  # no second request for a finished input
    assert set(counts) == set(NAMES)
    after = records((tmp_path / "out.jsonl").read_text())
    assert {r["input"] for r in after if r["status"] == "ok"} == {f"media/{n}" for n in NAMES}


def test_sigint_exits_130_with_valid_json_lines(server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", NAMES)
    server.response_delay = 0.3
    proc = _start(["batch", "media", "-o", "out.jsonl", "-j", "2"], server, tmp_path)
    try:
        _wait_for_lines(proc, tmp_path / "out.jsonl", 2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    lines = (tmp_path / "out.jsonl").read_text()
    assert lines.endswith("\n")
    out = records(lines)  # every line is a whole record
    assert 2 <= len(out) < len(NAMES)
    assert len(server.received) == len(out)  # the requests in flight ended and were written
    assert "interrupted: no new requests start" in stderr
    assert "not started" in stderr and "batch: " in stderr and "error: interrupted" in stderr
    assert "Traceback" not in stderr


def test_shard_partition_property() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mimo_cli.batch.plan import plan, shard_of

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.text(min_size=1, max_size=30), max_size=40), st.integers(1, 12))
    def check(names: list[str], n: int) -> None:
        urls = [f"https://example.com/{name}" for name in names]
        whole = [i.input for i in plan(urls)]
        parts = [[i.input for i in plan(urls, shard=(k, n))] for k in range(1, n + 1)]
        assert sorted(itertools.chain.from_iterable(parts)) == sorted(whole)  # complete and disjoint
        for k, part in enumerate(parts, 1):
            assert all(shard_of(u, n) == k for u in part)

    check()


def test_second_sigint_abandons_the_requests_in_flight(server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", NAMES)
    server.queue(Reply.json({"choices": []}, delay=0.1), Reply.json({}, delay=60), Reply.json({}, delay=60))
    server.response_delay = 60
    proc = _start(["batch", "media", "-o", "out.jsonl", "-j", "2"], server, tmp_path)
    try:
        assert server.wait_for_requests(3, timeout=30)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.5)  # two signals in a row would be taken as one
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    out = records((tmp_path / "out.jsonl").read_text())
    assert [r["error"]["kind"] for r in out] == ["bad_response"]  # the one that ended; none for the others
    assert "2 abandoned" in stderr and "error: interrupted" in stderr and "Traceback" not in stderr


def test_dry_run_lists_what_would_be_sent(mimo: Any, server: FakeServer, tree: Any) -> None:
    mimo("batch", "media/a", "-o", "out.jsonl")
    run = mimo("batch", "media", "-o", "out.jsonl", "--resume", "--dry-run")
    assert run.exit_code == 0 and len(server.received) == 2
    assert run.stdout.splitlines() == [
        "skip  media/a/one.mp4", "skip  media/a/two.mov", "send  media/b/c/three.mp4",
        "send  media/b/four.MP4", "send  media/five.avi",
    ]  # fmt: skip
    empty = mimo("batch", "media/a", "--include", "*.webm")
    assert empty.exit_code == 0 and "warning: no inputs found" in empty.stderr and empty.stdout == ""


def test_batch_help_imports_nothing_heavy() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mimo_cli", "batch", "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and "--shard" in proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert not {"httpx", "magic", "rich.markdown", "rich.console", "mimo_cli.batch"} & imported


def test_a_closed_stdout_stops_the_batch_quietly(server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", NAMES)
    server.response_delay = 0.1  # head has long gone when the second record comes
    mimo = Path(sys.executable).with_name("mimo")
    command = [str(mimo)] if mimo.exists() else [sys.executable, "-m", "mimo_cli"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    proc = subprocess.run(
        f"{' '.join(command)} batch media -j 1 | head -n 1",
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**base, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY},
    )  # fmt: skip
    assert json.loads(proc.stdout)["input"] == "media/v00.mp4"
    assert "Traceback" not in proc.stderr and "error:" not in proc.stderr
    assert len(server.received) < len(NAMES)  # it stopped asking


def test_a_sidecar_never_replaces_its_video(mimo: Any, server: FakeServer, tree: Any) -> None:
    shutil.copy("media/a/one.mp4", "media/a/odd.txt")
    run = mimo("batch", "media/a/odd.txt", "--force-mime", "video/mp4", "--sidecar", "txt")
    assert run.exit_code == 1 and "over the video itself" in run.stderr
    assert Path("media/a/odd.txt").read_bytes() == Path("media/a/one.mp4").read_bytes()
    assert records(run.stdout)[0]["status"] == "ok"  # the answer is kept in the record


def test_progress_bar_on_a_terminal(mimo: Any, server: FakeServer, tree: Any) -> None:
    shutil.copy(FIXTURES / "fake.mp4", Path("media/b/fake.mp4"))
    run = mimo("batch", "media", "-o", "out.jsonl", env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert run.exit_code == 1
    assert "6/6" in run.stderr and "ETA" in run.stderr and "7,440 tokens · 1 failed" in run.stderr
    assert "failed media/b/fake.mp4: input:" in run.stderr  # failures are printed above the bar
    assert "ok     media/a/one.mp4" not in run.stderr  # successes only move the bar
    assert "batch: 5 done, 1 failed, 0 skipped" in run.stderr
    quiet = mimo("batch", "media", "-o", "out.jsonl", "--resume", "-q")
    assert quiet.stderr.splitlines()[-1].startswith("batch: 0 done, 1 failed, 5 skipped")
    assert "failed media/b/fake.mp4" not in quiet.stderr  # --quiet: the summary only


def test_many_jobs_share_one_client(mimo: Any, server: FakeServer, tree: Any) -> None:
    run = mimo("batch", "media", "-j", "32")
    assert run.exit_code == 0, run.stderr
    assert sorted(sent(server, tree)) == sorted(TREE)


def test_what_changes_the_fingerprint(tmp_path: Path) -> None:
    from mimo_cli.batch.plan import Item
    from mimo_cli.batch.resume import fingerprint, options_digest
    from mimo_cli.settings import resolve

    video = padded_mp4(tmp_path / "v.mp4", 5000)
    item = Item(str(video), video)

    def fp(prompt: str = "Describe.", **options: Any) -> str:
        return fingerprint(item, options_digest(resolve(options, env={}), prompt))

    base = fp()
    for same in ({"base_url": "https://gw.example/v1"}, {"api_key": "sk-other-key-123456"}, {"timeout": 5},
                 {"retries": 0}, {"stream": False}):  # fmt: skip
        assert fp(**same) == base, same
    for different in ({"model": "mimo-v2.5-omni"}, {"fps": 1}, {"resolution": "max"}, {"system": ""},
                      {"max_tokens": 100}, {"temperature": 0.5}, {"top_p": 0.5}, {"thinking": False},
                      {"force_mime": "video/quicktime"}):  # fmt: skip
        assert fp(**different) != base, different
    assert fp("Another prompt.") != base
    assert fingerprint(Item("other/v.mp4", video), options_digest(resolve({}, env={}), "Describe.")) != base
    os.utime(video, ns=(1, 1))
    assert fp() != base  # a touched file is another file


def test_the_fingerprint_of_mimo_0_1_is_kept_so_resume_does_not_pay_again() -> None:
    """A digest that 0.1 wrote (default settings, prompt "p"): options added since must not change it."""
    from mimo_cli.batch.resume import options_digest
    from mimo_cli.settings import Settings

    digest = "47fe249e06d15c3d986357ff12a679fd25ac8b297b1f75fbba699aef34dfc28e"
    assert options_digest(Settings(api_key="k"), "p") == digest
    assert options_digest(Settings(api_key="k", key_profiles=("work",)), "p") == digest
    assert options_digest(Settings(api_key="k", fps=1), "p") != digest
