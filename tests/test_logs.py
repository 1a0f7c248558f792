"""The run log through the CLI: every request recorded, ``mimo logs``, ``--cache``, ``--no-log``; checked
against what the fake server received and against the database itself."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY
from fakeserver import DEFAULT_ANSWER, FakeServer, error_json

from mimo_cli.runlog import log_path


def db_rows(sql: str = "SELECT * FROM requests ORDER BY id") -> list[sqlite3.Row]:
    path = log_path()
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_default_path_is_under_xdg_data_home(mimo: Any) -> None:
    run = mimo("logs", "path")
    assert run.exit_code == 0
    assert run.stdout.strip() == str(Path(os.environ["XDG_DATA_HOME"]) / "mimo" / "logs.db")
    other = mimo("logs", "path", env={"MIMO_LOG_PATH": "/somewhere/else.db"})
    assert other.stdout.strip() == "/somewhere/else.db"


def test_describe_and_ask_are_recorded(mimo: Any, server: FakeServer, clip: Path) -> None:
    assert mimo("describe", str(clip)).exit_code == 0
    assert mimo("ask", str(clip), str(clip), "Which is longer?").exit_code == 0
    rows = db_rows()
    assert [r["kind"] for r in rows] == ["describe", "ask"] and len(server.received) == 2
    assert rows[0]["answer"] == server.answer and rows[1]["prompt"] == "Which is longer?"
    assert rows[0]["total_tokens"] == server.usage["total_tokens"]
    assert rows[0]["base_url"] == server.url and rows[0]["cached"] == 0
    sent_text = server.received[0].json()["messages"][1]["content"][-1]["text"]
    assert rows[0]["prompt"] == sent_text
    inputs = db_rows("SELECT * FROM inputs ORDER BY request_id, position")
    assert [(i["request_id"], i["position"]) for i in inputs] == [(1, 0), (2, 0), (2, 1)]
    import hashlib

    assert {i["sha256"] for i in inputs} == {hashlib.sha256(clip.read_bytes()).hexdigest()}
    assert sqlite3.connect(log_path()).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_logs_json_is_the_json_record_plus_id_started_at_cached(
    mimo: Any, server: FakeServer, clip: Path
) -> None:
    first = mimo("describe", str(clip), "--json")
    record = json.loads(first.stdout)
    (listed,) = lines(mimo("logs", "--json").stdout)
    assert listed == {"id": 1, "started_at": listed["started_at"], **record, "cached": False}
    piped = mimo("logs")  # stdout is not a terminal: JSON Lines too
    assert lines(piped.stdout) == [listed]


def test_failed_requests_are_recorded_and_filtered(mimo: Any, server: FakeServer, clip: Path) -> None:
    server.queue(error_json(400, "bad video", "invalid_request_error"))
    assert mimo("describe", str(clip)).exit_code == 1
    assert mimo("describe", str(clip), "-m", "mimo-v2.5-omni").exit_code == 0
    assert [r["status"] for r in lines(mimo("logs").stdout)] == ["ok", "error"]  # newest first
    (error,) = lines(mimo("logs", "--status", "error").stdout)
    assert error["error"]["kind"] == "bad_request" and error["answer"] is None
    assert [r["model"] for r in lines(mimo("logs", "--model", "mimo-v2.5-omni").stdout)] == ["mimo-v2.5-omni"]
    assert mimo("logs", "--status", "maybe").exit_code == 2


def test_input_errors_are_not_requests(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    missing = mimo("describe", str(tmp_path / "missing.mp4"))
    assert missing.exit_code == 2 and server.received == [] and db_rows() == []


def test_logs_n_search_and_input(mimo: Any, server: FakeServer, clip: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.mp4"
    shutil.copy(clip, renamed)
    other = tmp_path / "other.mp4"
    other.write_bytes(clip.read_bytes() + b"\0\0\0\x08free")
    for i, (path, answer) in enumerate([(clip, "a kitten"), (other, "a dog"), (clip, "Kitten again")]):
        server.answer = answer
        assert mimo("describe", str(path), "-p", f"prompt {i}").exit_code == 0
    assert [r["answer"] for r in lines(mimo("logs", "-n", "2").stdout)] == ["Kitten again", "a dog"]
    assert [r["answer"] for r in lines(mimo("logs", "--search", "kitten").stdout)] == [
        "Kitten again",
        "a kitten",
    ]
    assert [r["answer"] for r in lines(mimo("logs", "--search", "prompt 1").stdout)] == ["a dog"]
    by_content = lines(mimo("logs", "--input", str(renamed)).stdout)  # another name, the same bytes
    assert [r["answer"] for r in by_content] == ["Kitten again", "a kitten"]
    assert lines(mimo("logs", "--input", str(other), "--search", "kitten").stdout) == []
    assert mimo("logs", "--input", str(tmp_path / "nothing.mp4")).exit_code == 2


def test_logs_table_on_a_terminal(mimo: Any, server: FakeServer, clip: Path) -> None:
    server.answer = "First line of the answer\nsecond line"
    assert mimo("describe", str(clip)).exit_code == 0
    run = mimo("logs", env={"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "160"})
    assert run.exit_code == 0
    assert "First line of the answer" in run.stdout and "second line" not in run.stdout
    assert "clip.mp4" in run.stdout and "mimo-v2-omni" in run.stdout and "1,488" in run.stdout
    assert not run.stdout.lstrip().startswith("{")


def test_empty_log(mimo: Any) -> None:
    run = mimo("logs")
    assert run.exit_code == 0 and run.stdout == ""
    assert not log_path().exists()  # listing does not create it


# -- --cache ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["--json"], ["--no-stream"]])
def test_cache_answers_from_the_log(mimo: Any, server: FakeServer, clip: Path, args: list[str]) -> None:
    first = mimo("describe", str(clip), *args)
    again = mimo("describe", str(clip), "--cache", *args)
    assert first.exit_code == again.exit_code == 0
    assert len(server.received) == 1  # nothing sent the second time
    if "--json" in args:
        assert json.loads(again.stdout) == {**json.loads(first.stdout), "cached": True}
    else:
        assert again.stdout == first.stdout and DEFAULT_ANSWER in again.stdout
    assert "answered from the run log" in again.stderr and "nothing sent" in again.stderr
    rows = db_rows()
    assert [r["cached"] for r in rows] == [0, 1] and rows[1]["answer"] == rows[0]["answer"]
    quiet = mimo("describe", str(clip), "--cache", "--quiet", *args)
    assert "run log" not in quiet.stderr and len(server.received) == 1


def test_cache_needs_the_same_request(mimo: Any, server: FakeServer, clip: Path, tmp_path: Path) -> None:
    assert mimo("describe", str(clip)).exit_code == 0
    changed = tmp_path / "clip.mp4"  # same name elsewhere, other bytes
    changed.write_bytes(clip.read_bytes() + b"\0\0\0\x08free")
    variants = [
        [str(clip), "--fps", "1"],
        [str(clip), "-p", "Another prompt"],
        [str(clip), "--temperature", "0.2"],
        [str(clip), "--system", "Be terse."],
        [str(clip), "--thinking"],
        [str(clip), "-m", "mimo-v2.5-omni"],
        [str(changed)],
    ]
    for n, variant in enumerate(variants, start=2):
        assert mimo("describe", *variant, "--cache").exit_code == 0
        assert len(server.received) == n, variant
    renamed = tmp_path / "renamed.mp4"
    shutil.copy(clip, renamed)
    hit = mimo("describe", str(renamed), "--cache")  # the same content under another name
    assert len(server.received) == len(variants) + 1 and "run log" in hit.stderr


def test_cache_from_env_and_config_and_no_key_needed(mimo: Any, server: FakeServer, clip: Path) -> None:
    assert mimo("describe", str(clip)).exit_code == 0
    assert mimo("describe", str(clip), env={"MIMO_CACHE": "1"}).exit_code == 0
    assert len(server.received) == 1
    assert mimo("config", "set", "cache", "true").exit_code == 0
    nokey = mimo("describe", str(clip), env={"MIMO_API_KEY": ""})  # nothing to send: no key needed
    assert nokey.exit_code == 0 and len(server.received) == 1
    assert mimo("describe", str(clip), "--no-cache").exit_code == 0 and len(server.received) == 2
    assert mimo("describe", str(clip), env={"MIMO_CACHE": "maybe"}).exit_code == 2


def test_a_failed_answer_is_not_a_cache_hit(mimo: Any, server: FakeServer, clip: Path) -> None:
    server.queue(error_json(500, "boom", "server_error"), error_json(500, "boom", "server_error"))
    assert mimo("describe", str(clip), "--retries", "0").exit_code == 1
    assert mimo("describe", str(clip), "--cache", "--retries", "0").exit_code == 1
    assert len(server.received) == 2
    assert mimo("describe", str(clip), "--cache").exit_code == 0 and len(server.received) == 3
    assert mimo("describe", str(clip), "--cache").exit_code == 0 and len(server.received) == 3  # now a hit


def test_batch_rerun_with_cache_sends_only_what_has_no_answer(
    mimo: Any, server: FakeServer, clip: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    for i in range(4):
        (folder / f"v{i}.mp4").write_bytes(clip.read_bytes() + b"\0\0\0\x08free" * (i + 1))
    server.queue(error_json(400, "bad", "invalid_request_error"))  # one input fails the first time
    first = mimo("batch", str(folder), "-j", "1")
    assert first.exit_code == 1 and len(server.received) == 4
    again = mimo("batch", str(folder), "--cache", "-j", "2")
    assert again.exit_code == 0 and len(server.received) == 5  # only the failed one is sent again
    records = lines(again.stdout)
    assert sorted(bool(r.get("cached")) for r in records) == [False, True, True, True]
    assert "3 from the run log" in again.stderr
    rows = db_rows()
    assert len(rows) == 8 and {r["kind"] for r in rows} == {"batch"} and sum(r["cached"] for r in rows) == 3
    third = mimo("batch", str(folder), "--cache", "-o", str(tmp_path / "out.jsonl"))
    assert third.exit_code == 0 and len(server.received) == 5


def test_batch_jobs_record_every_request(mimo: Any, server: FakeServer, clip: Path, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"v{i:02d}.mp4").write_bytes(clip.read_bytes() + b"\0\0\0\x08free" * (i + 1))
    assert mimo("batch", str(folder), "-j", "8").exit_code == 0
    assert len(server.received) == 12 and len(db_rows()) == 12
    assert len({r["sha256"] for r in db_rows("SELECT sha256 FROM inputs")}) == 12


# -- --no-log, and the key ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--no-log"], {}), ([], {"MIMO_LOG": "0"}), ([], {"MIMO_LOG": "false"})],
)
def test_no_log_leaves_no_row(mimo: Any, server: FakeServer, clip: Path, args: list[str],
                              env: dict[str, str]) -> None:  # fmt: skip
    assert mimo("describe", str(clip), *args, env=env).exit_code == 0
    assert mimo("batch", str(clip), *args, env=env).exit_code == 0
    assert len(server.received) == 2 and db_rows() == []


def test_config_log_false(mimo: Any, server: FakeServer, clip: Path) -> None:
    assert mimo("config", "set", "log", "false").exit_code == 0
    assert mimo("describe", str(clip)).exit_code == 0 and db_rows() == []
    assert mimo("describe", str(clip), "--log").exit_code == 0 and len(db_rows()) == 1


def test_the_key_never_reaches_the_log_even_when_echoed(mimo: Any, server: FakeServer, clip: Path) -> None:
    server.answer = f"Your key is {KEY}."
    assert mimo("describe", str(clip), "-p", f"Is {KEY} valid?").exit_code == 0
    server.queue(error_json(401, f"Invalid key {KEY}", "authentication_error"))
    assert mimo("describe", str(clip)).exit_code == 3
    path = log_path()
    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert KEY.encode() not in data and b"***" in data
    assert len(db_rows()) == 2 and KEY not in mimo("logs").stdout


def test_an_unwritable_log_is_one_warning_and_the_request_succeeds(
    mimo: Any, server: FakeServer, clip: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env = {"MIMO_LOG_PATH": str(blocker / "logs.db")}
    run = mimo("describe", str(clip), env=env)
    assert run.exit_code == 0 and run.stdout.strip() == server.answer
    assert run.stderr.count("warning:") == 1 and "run log" in run.stderr
    quiet = mimo("describe", str(clip), "--quiet", env=env)
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr


def test_an_unwritable_log_in_a_batch_warns_once(
    mimo: Any, server: FakeServer, clip: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    for i in range(3):
        (folder / f"v{i}.mp4").write_bytes(clip.read_bytes() + b"\0\0\0\x08free" * (i + 1))
    damaged = tmp_path / "logs.db"
    damaged.write_bytes(b"not a database" * 100)
    run = mimo("batch", str(folder), env={"MIMO_LOG_PATH": str(damaged)})
    assert run.exit_code == 0 and len(lines(run.stdout)) == 3 and len(server.received) == 3
    assert run.stderr.count("cannot be written") == 1


def test_version_and_help_do_not_import_sqlite3() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nfrom mimo_cli.cli import app\n"
        "try:\n    app(['--help'], prog_name='mimo')\nexcept SystemExit:\n    pass\n"
        "print('SQLITE', 'sqlite3' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert "SQLITE False" in done.stdout, done.stdout + done.stderr


def test_stdin_is_identified_by_its_bytes(mimo: Any, server: FakeServer, clip: Path) -> None:
    data = clip.read_bytes()
    assert mimo("describe", "-", input=data).exit_code == 0
    hit = mimo("describe", str(clip), "--cache")  # the same bytes, from a file this time
    assert len(server.received) == 1 and "run log" in hit.stderr
    assert mimo("describe", "-", "--cache", input=data + b"\0\0\0\x08free").exit_code == 0
    assert len(server.received) == 2
    assert [r["input"] for r in db_rows("SELECT input FROM inputs ORDER BY request_id")] == [
        "-",
        str(clip),
        "-",
    ]
