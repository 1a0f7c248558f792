"""The run log (mimo_cli.runlog): where it lives, what it holds and never holds, the cache key, faults,
concurrency. The database is opened with sqlite3 itself to check it."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mimo_cli import errors, redact
from mimo_cli.runlog import InputRef, Query, RequestKey, RunLog, log_path, schema, sha256_file, store
from mimo_cli.runlog.paths import data_dir

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = "sk-runlog-SECRET-0123456789abcdef"


def make_record(answer: str = "A kitten plays.", status: str = "ok", model: str = "mimo-v2-omni",
                **extra: Any) -> dict[str, Any]:  # fmt: skip
    ok = status == "ok"
    return {
        "input": "clip.mp4",
        "status": status,
        "model": model,
        "answer": answer if ok else None,
        "reasoning": "thinking" if ok else None,
        "finish_reason": "stop" if ok else None,
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120} if ok else None,
        "request_id": "req-1",
        "elapsed_s": 1.5,
        "attempts": 1,
        "error": None if ok else {"kind": "server", "message": "boom", "http_status": 500},
        **extra,
    }


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return path


def key_for(video: Path, **changes: Any) -> RequestKey:
    base = RequestKey(
        model="mimo-v2-omni",
        base_url="http://127.0.0.1:9/v1",
        inputs=(InputRef.of_file(video.name, video),),
        text="Describe this video.",
    )
    return dataclasses.replace(base, **changes)


class Warnings(list[tuple[str, "str | None"]]):
    def __call__(self, message: str, hint: str | None) -> None:
        self.append((message, hint))


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture
def log(tmp_path: Path, warnings: Warnings) -> Iterator[RunLog]:
    runlog = RunLog(tmp_path / "data" / "mimo" / "logs.db", warnings)
    yield runlog
    runlog.close()


def rows(path: Path, sql: str = "SELECT * FROM requests") -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def all_bytes(path: Path) -> bytes:
    """The database and its WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


# -- where it lives ---------------------------------------------------------------------------------------


def test_log_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    home = Path.home()
    assert log_path({"MIMO_LOG_PATH": "~/x.db", "XDG_DATA_HOME": "/d"}) == home / "x.db"
    assert log_path({"XDG_DATA_HOME": "/d"}, "linux") == Path("/d/mimo/logs.db")
    assert log_path({"XDG_DATA_HOME": "relative"}, "linux") == home / ".local/share/mimo/logs.db"
    assert log_path({}, "linux") == home / ".local/share/mimo/logs.db"
    assert log_path({}, "darwin") == home / "Library/Application Support/mimo/logs.db"
    assert data_dir({"LOCALAPPDATA": "/w/Local"}, "win32") == Path("/w/Local")
    assert data_dir({"XDG_DATA_HOME": "/d"}, "darwin") == Path("/d")


# -- opening: WAL, schema version, indexes, private files -------------------------------------------------


def test_open_creates_a_private_wal_database(log: RunLog, video: Path) -> None:
    assert log.record(key_for(video), make_record(), kind="describe") == 1
    conn = sqlite3.connect(log.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST >= 1
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        plans = []
        for query in (Query(), Query(model="m"), Query(status="ok"), Query(search="kitten"),
                      Query(model="m", status="ok", search="kitten")):  # fmt: skip
            sql, params = store._select(query, schema.has_fts(conn))
            plans.append(" ".join(str(r) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params)))
    finally:
        conn.close()
    assert {"requests_by_model", "requests_by_status", "requests_by_cache_key", "inputs_by_sha256"} <= names
    if sqlite3.sqlite_version_info >= (3, 34):  # the trigram tokenizer
        assert "requests_fts" in {r["name"] for r in rows(log.path, "SELECT name FROM sqlite_master")}
    assert all("TEMP B-TREE" not in plan for plan in plans), plans  # newest first without sorting
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    assert integrity(log.path) == "ok"


def test_reopening_does_not_migrate_again(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "logs.db"
    for i in range(3):
        runlog = RunLog(path)
        assert runlog.record(key_for(video), make_record(f"answer {i}"), kind="describe") == i + 1
        runlog.close()
    assert [r["answer"] for r in rows(path)] == ["answer 0", "answer 1", "answer 2"]


def test_a_log_from_a_newer_mimo_is_left_alone(tmp_path: Path, video: Path, warnings: Warnings) -> None:
    path = tmp_path / "logs.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()
    runlog = RunLog(path, warnings)
    assert runlog.record(key_for(video), make_record(), kind="describe") is None
    assert len(warnings) == 1 and str(path) in warnings[0][0]
    assert rows(path, "SELECT name FROM sqlite_master") == []


# -- what a record holds ------------------------------------------------------------------------------------


def test_record_holds_the_request(log: RunLog, video: Path) -> None:
    key = key_for(video, inputs=(InputRef.of_file("media/clip.mp4", video, 1.0, 2.5),), temperature=0.3)
    started = time.time() - 5
    rid = log.record(key, make_record(), kind="batch", started_at=started)
    (row,) = rows(log.path)
    assert row["id"] == rid and row["kind"] == "batch" and row["status"] == "ok" and row["cached"] == 0
    assert row["prompt"] == "Describe this video." and row["system"] == "default"
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (100, 20, 120)
    assert json.loads(row["options"])["temperature"] == 0.3
    assert row["base_url"] == "http://127.0.0.1:9/v1"
    (inp,) = rows(log.path, "SELECT * FROM inputs")
    assert inp["sha256"] == hashlib.sha256(video.read_bytes()).hexdigest()
    assert (inp["input"], inp["size"], inp["span_start"], inp["span_end"]) == (
        "media/clip.mp4", video.stat().st_size, 1.0, 2.5)  # fmt: skip
    (listed,) = log.query(Query())
    assert listed == {"id": rid, "started_at": listed["started_at"], **make_record(), "cached": False}
    assert listed["started_at"].endswith("Z")
    assert abs(time.mktime(time.strptime(listed["started_at"][:19], "%Y-%m-%dT%H:%M:%S"))
               - time.timezone - started) < 1  # fmt: skip


def test_extra_record_fields_and_cached_flag_are_kept(log: RunLog, video: Path) -> None:
    events = [{"start": 0.0, "end": 2.0, "text": "a cat"}]
    record = make_record(events=events, data={"animal": "cat"}, segments=[{"index": 1}])
    log.record(key_for(video), record, kind="part", cached=True)
    (listed,) = log.query(Query())
    assert listed["events"] == events and listed["data"] == {"animal": "cat"} and listed["cached"] is True


def test_unknown_kind_is_a_bug(log: RunLog, video: Path) -> None:
    with pytest.raises(ValueError):
        log.record(key_for(video), make_record(), kind="other")


# -- never the key, never the video -----------------------------------------------------------------------


def test_the_key_never_reaches_the_database(log: RunLog, video: Path) -> None:
    redact.register_secret(KEY)
    echo = f"your key {KEY} is wrong"
    key = key_for(video, base_url=f"https://user:{KEY}@gateway.example/v1/", text=f"prompt {KEY}",
                  system=f"system {KEY}", inputs=(InputRef.of_file(f"{KEY}.mp4", video),))  # fmt: skip
    log.record(key, make_record(answer=echo, request_id=KEY, note={KEY: [KEY]}), kind="describe")
    error = {"kind": "auth", "message": echo, "http_status": 401}
    log.record(key, {**make_record(status="error"), "error": error}, kind="ask")
    data = all_bytes(log.path)
    assert KEY.encode() not in data
    assert b"***" in data and b"gateway.example" in data
    listed = log.query(Query(n=0))
    assert len(listed) == 2 and KEY not in json.dumps(listed)
    assert {r["base_url"] for r in rows(log.path)} == {"https://gateway.example/v1"}


def test_no_video_bytes(log: RunLog, video: Path) -> None:
    payload = "QUJD" * 5000
    uri = f"data:video/mp4;base64,{payload}"
    ref = InputRef.of_text(uri, uri)
    log.record(key_for(video, inputs=(ref,)), make_record(input=uri), kind="describe")
    assert payload[:200].encode() not in all_bytes(log.path)
    (listed,) = log.query(Query())
    assert listed["input"].startswith("data:video/mp4;base64,") and "20,022 characters" in listed["input"]
    assert rows(log.path, "SELECT sha256 FROM inputs")[0][0] == hashlib.sha256(uri.encode()).hexdigest()


# -- the cache key ----------------------------------------------------------------------------------------

CHANGES = {
    "model": "other-model",
    "base_url": "http://127.0.0.1:10/v1",
    "text": "Describe it briefly.",
    "system": "You are terse.",
    "fps": 1.0,
    "resolution": "max",
    "max_tokens": 100,
    "temperature": 0.5,
    "top_p": 0.9,
    "thinking": True,
    "schema": {"type": "object"},
}


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_every_option_in_the_cache_key_matters(video: Path, field: str) -> None:
    assert key_for(video).digest() != key_for(video, **{field: CHANGES[field]}).digest()


def test_what_does_not_change_the_key(video: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.mov"
    renamed.write_bytes(video.read_bytes())
    os.utime(renamed, (1, 1))
    same = [
        key_for(video),
        key_for(video, inputs=(InputRef.of_file("renamed.mov", renamed),)),  # name and mtime
        key_for(video, fps=2),  # 2 and 2.0
        key_for(video, base_url="http://user:pw@127.0.0.1:9/v1/"),  # credentials, trailing slash
    ]
    assert len({k.digest() for k in same}) == 1


def test_content_span_and_url_are_in_the_key(video: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    data = bytearray(video.read_bytes())
    data[-1] ^= 1  # same size, same name elsewhere, one bit different
    other.write_bytes(bytes(data))
    os.utime(other, ns=(video.stat().st_atime_ns, video.stat().st_mtime_ns))
    keys = [
        key_for(video),
        key_for(video, inputs=(InputRef.of_file("clip.mp4", other),)),
        key_for(video, inputs=(InputRef.of_file("clip.mp4", video, 0, 5),)),
        key_for(video, inputs=(InputRef.of_url("https://example.com/clip.mp4"),)),
        key_for(video, inputs=(InputRef.of_url("https://example.com/other.mp4"),)),
        key_for(video, inputs=()),
    ]
    assert len({k.digest() for k in keys}) == len(keys)
    assert key_for(video, inputs=(InputRef("-"),)).digest() is None  # content unknown: never cached


def test_sha256_file_streams(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    assert sha256_file(path) == (hashlib.sha256(data).hexdigest(), len(data))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == (hashlib.sha256(b"").hexdigest(), 0)


def test_lookup_finds_the_latest_ok_record(log: RunLog, video: Path) -> None:
    key = key_for(video)
    assert log.lookup(key) is None
    log.record(key, make_record("first"), kind="describe")
    second = log.record(key, make_record("second"), kind="describe")
    log.record(key, make_record(status="error"), kind="describe")
    log.record(key_for(video, temperature=1.0), make_record("other options"), kind="describe")
    found = log.lookup(key)
    assert found is not None and found["id"] == second and found["answer"] == "second"
    assert log.lookup(key_for(video, fps=1.0)) is None
    assert log.lookup(key_for(video, inputs=(InputRef("-"),))) is None


# -- listing ----------------------------------------------------------------------------------------------


def test_query_filters_and_order(log: RunLog, video: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.mp4"
    other.write_bytes(b"other video")
    t0 = time.time()
    plan = [  # (answer, model, status, input file, prompt), in the order they are recorded
        ("a kitten plays", "m1", "ok", video, "Describe"),
        ("a dog 100% sleeps", "m2", "ok", other, "Describe"),
        (None, "m1", "error", video, "What is_here?"),
        ("两只小猫在玩耍", "m2", "ok", video, "Describe"),
        ("A KITTEN again", "m1", "ok", other, "Describe"),
    ]
    index = {}  # id -> place in plan
    for i, (answer, model, status, path, prompt) in enumerate(plan):
        key = key_for(video, model=model, text=prompt, inputs=(InputRef.of_file(path.name, path),))
        rid = log.record(key, make_record(answer or "", status, model), kind="batch", started_at=t0 - i)
        index[rid] = i

    def found(n: int = 0, **filters: Any) -> list[int]:
        return [index[r["id"]] for r in log.query(Query(n=n, **filters))]

    assert found() == [4, 3, 2, 1, 0]  # the last recorded first (whatever time each started)
    assert found(2) == [4, 3]
    assert found(model="m1") == [4, 2, 0]
    assert found(status="error") == [2]
    assert found(status="ok", model="m2") == [3, 1]
    assert found(sha256=sha256_file(other)[0]) == [4, 1]
    assert found(search="kitten") == [4, 0]  # case-insensitive, trigram index
    assert found(search="小猫") == [3]  # two characters: a scan
    assert found(search="小猫在") == [3]
    assert found(search="100%") == [1]
    assert found(search="is_h") == [2]  # in the prompt; "_" is not a wildcard
    assert found(search="s_") == [2] and found(search="t_") == []  # a scan: "_" is still no wildcard
    assert found(search="0%") == [1] and found(search="%") == [1]
    assert found(search='"quoted"') == []
    assert found(search="kitten", model="m2") == []


def test_query_without_a_log(tmp_path: Path) -> None:
    assert RunLog(tmp_path / "none" / "logs.db").query(Query()) == []
    assert not (tmp_path / "none").exists()


def test_query_of_a_damaged_log_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(errors.MimoError) as info:
        RunLog(path).query(Query())
    assert info.value.kind is errors.Kind.INPUT and "damaged" in info.value.message
    assert info.value.hint and str(path) in info.value.hint


# -- faults: a warning once, never an exception -------------------------------------------------------------


def test_damaged_database_warns_once(tmp_path: Path, video: Path, warnings: Warnings) -> None:
    path = tmp_path / "logs.db"
    path.write_bytes(b"garbage" * 1000)
    runlog = RunLog(path, warnings)
    assert runlog.record(key_for(video), make_record(), kind="describe") is None
    assert runlog.lookup(key_for(video)) is None
    assert runlog.record(key_for(video), make_record(), kind="describe") is None
    assert len(warnings) == 1
    message, hint = warnings[0]
    assert "damaged" in message and str(path) in message and hint and "--no-log" in hint
    assert path.read_bytes() == b"garbage" * 1000  # the user's file is left as it was


def test_unwritable_place_warns_once(tmp_path: Path, video: Path, warnings: Warnings) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder should be")
    runlog = RunLog(blocker / "mimo" / "logs.db", warnings)
    for _ in range(3):
        assert runlog.record(key_for(video), make_record(), kind="describe") is None
    assert len(warnings) == 1 and "cannot be written" in warnings[0][0]
    directory = tmp_path / "dir.db"
    directory.mkdir()
    other = Warnings()
    assert RunLog(directory, other).record(key_for(video), make_record(), kind="describe") is None
    assert len(other) == 1


def test_locked_database_warns_and_gives_up(tmp_path: Path, video: Path, warnings: Warnings,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "logs.db"
    RunLog(path).record(key_for(video), make_record(), kind="describe")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        runlog = RunLog(path, warnings)
        t = time.monotonic()
        assert runlog.record(key_for(video), make_record(), kind="describe") is None
        assert runlog.record(key_for(video), make_record(), kind="describe") is None
        assert time.monotonic() - t < 3  # the second one does not wait again
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(warnings) == 1 and "locked" in warnings[0][0]
    assert len(rows(path)) == 1


def run_python(
    code: str, *, limit_bytes: int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    def prepare() -> None:
        if limit_bytes is not None:
            import resource

            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=prepare, check=False)  # fmt: skip


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """A folder nobody may write in: mode 0555, and for root (whom modes do not stop) the immutable flag."""
    folder.chmod(0o555)
    immutable = os.geteuid() == 0
    if (
        immutable
        and subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode
    ):
        folder.chmod(0o755)
        pytest.skip("running as root without chattr +i: a folder cannot be made read-only")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.skipif(sys.platform == "win32" or shutil.which("chattr") is None, reason="POSIX permissions")
@pytest.mark.parametrize("existing", [False, True])
def test_read_only_data_folder_warns_once(tmp_path: Path, video: Path, warnings: Warnings,
                                          existing: bool) -> None:  # fmt: skip
    folder = tmp_path / "mimo"
    folder.mkdir()
    if existing:  # a log written before; its -wal and -shm files are removed when it is closed
        first = RunLog(folder / "logs.db")
        first.record(key_for(video), make_record(), kind="describe")
        first.close()
    before = sorted(p.name for p in folder.iterdir())
    with read_only(folder):
        runlog = RunLog(folder / "logs.db", warnings)
        for _ in range(3):
            assert runlog.record(key_for(video), make_record(), kind="describe") is None
        runlog.close()
        assert sorted(p.name for p in folder.iterdir()) == before
    assert len(warnings) == 1 and "its folder cannot be written" in warnings[0][0], warnings


WRITER = """
import json, sys, time
from pathlib import Path
from mimo_cli.runlog import InputRef, RequestKey, RunLog
path, count, answer = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
warned = []
log = RunLog(path, lambda m, h: warned.append(m))
ok = 0
for i in range(count):
    key = RequestKey("mimo-v2-omni", "http://127.0.0.1:9/v1", (InputRef("clip.mp4", 3, "ab" * 32),),
                     f"prompt {i}")
    record = {"input": "clip.mp4", "status": "ok", "model": "mimo-v2-omni", "answer": answer * 50,
              "usage": {"total_tokens": 1}, "error": None}
    ok += log.record(key, record, kind="batch") is not None
print(json.dumps({"recorded": ok, "warnings": warned}))
"""


def writer(path: Path, count: int, answer: str = "x") -> str:
    return WRITER.replace("sys.argv[1]", repr(str(path))).replace("int(sys.argv[2])", str(count)).replace(
        "sys.argv[3]", repr(answer))  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_full_disk_warns_once(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    assert json.loads(run_python(writer(path, 1)).stdout)["recorded"] == 1
    size = sum(p.stat().st_size for p in tmp_path.glob("logs.db*"))
    done = run_python(writer(path, 200, "y" * 100), limit_bytes=size + 256 * 1024)  # room for a few
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert 0 < report["recorded"] < 200 and len(report["warnings"]) == 1
    assert "disk" in report["warnings"][0] and "cannot be written" in report["warnings"][0]
    assert integrity(path) == "ok"
    assert len(rows(path)) == 1 + report["recorded"]


# -- concurrency ------------------------------------------------------------------------------------------


def test_eight_threads_and_two_processes_record_every_request(tmp_path: Path, video: Path) -> None:
    path = tmp_path / "logs.db"
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(writer(path, 100, f"p{n}"))],
                              stdout=subprocess.PIPE, text=True) for n in range(2)]  # fmt: skip
    warnings = Warnings()
    runlog = RunLog(path, warnings)

    def work(n: int) -> None:
        for i in range(25):
            runlog.record(key_for(video, text=f"thread {n} request {i}"), make_record(), kind="batch")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reports = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    runlog.close()
    assert warnings == [] and [r["recorded"] for r in reports] == [100, 100]
    assert all(r["warnings"] == [] for r in reports)
    assert len(rows(path)) == 400
    assert len({r["prompt"] for r in rows(path) if r["prompt"].startswith("thread")}) == 200
    assert len(rows(path, "SELECT * FROM inputs")) == 400
    assert integrity(path) == "ok"


def test_sigkill_of_a_writer_leaves_a_valid_database(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(writer(path, 100_000, "z" * 40))],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                if len(rows(path, "SELECT id FROM requests")) >= 50:
                    break
            except sqlite3.Error:  # not created yet
                pass
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert integrity(path) == "ok"
    count = len(rows(path, "SELECT id FROM requests"))
    assert count >= 50
    assert len(rows(path, "SELECT DISTINCT request_id FROM inputs")) == count  # whole transactions only
    assert RunLog(path).query(Query(n=1))[0]["id"] == count
