"""The run log's cost: recording one request (goal < 5 ms) and listing 20 of a 100,000-record log
(goal < 0.5 s), each against a baseline run in this same process.

- recording: :meth:`RunLog.record` of a typical request (a 1.5 KB answer, 1 KB of reasoning, one input),
  against a bare ``INSERT`` of the same answer into a one-table WAL database with the same settings
  (what any SQLite log must pay); plus the SHA-256 of a 10 MB video, which identifies its content.
- listing: ``RunLog.query`` (open, then the newest 20; with ``--model``, ``--status``, ``--search`` of a
  rare and a common word), in a fresh handle each time, against a bare ``SELECT … ORDER BY id DESC
  LIMIT 20`` of the same database.

Run: python benchmarks/runlog.py   (builds benchmarks/.work/runlog/big.db once, 600 MB)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mimo_cli.runlog import InputRef, Query, RequestKey, RunLog, sha256_file  # noqa: E402
from mimo_cli.runlog.store import _INSERT_INPUT, _INSERT_REQUEST  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WORK = Path(__file__).resolve().parent / ".work" / "runlog"
BIG = 100_000
WORDS = [
    "a",
    "cat",
    "sits",
    "on",
    "a",
    "red",
    "sofa",
    "while",
    "the",
    "light",
    "of",
    "a",
    "window",
    "moves",
    "slowly",
    "across",
    "the",
    "room",
]


def answer(i: int) -> str:
    words = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(280)]  # about 1.5 KB
    if i % 1000 == 1:
        words.append("zebra")  # a rare word: one record in a thousand
    return " ".join(words)


def request(i: int) -> tuple[RequestKey, dict[str, object]]:
    ref = InputRef(f"media/v{i:06d}.mp4", 5_000_000 + i, hashlib.sha256(str(i).encode()).hexdigest())
    model = "mimo-v2-omni" if i % 10 else "other-model"
    key = RequestKey(model, "https://api.xiaomimimo.com/v1", (ref,), "Describe this video in detail.")
    ok = i % 50 != 0
    record = {
        "input": ref.input, "status": "ok" if ok else "error", "model": model,
        "answer": answer(i) if ok else None, "reasoning": "r" * 1000 if ok else None,
        "finish_reason": "stop", "request_id": f"req-{i}", "elapsed_s": 3.2, "attempts": 1,
        "usage": {"prompt_tokens": 1500, "completion_tokens": 300, "total_tokens": 1800},
        "error": None if ok else {"kind": "server", "message": "boom", "http_status": 500},
    }  # fmt: skip
    return key, record


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def timings_ms(fn: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """median, mean and 95th percentile, in ms."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), statistics.fmean(times), times[int(runs * 0.95)]


def bench_record(folder: Path, big: Path, runs: int = 500) -> None:
    bare = sqlite3.connect(folder / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode = WAL")
    bare.execute("PRAGMA synchronous = NORMAL")
    bare.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, answer TEXT)")
    texts = iter(request(i)[1]["answer"] for i in range(1, runs + 1))
    base, base_mean, _ = timings_ms(lambda: bare.execute("INSERT INTO t (answer) VALUES (?)", (next(texts),)),
                                    runs)  # fmt: skip
    print(f"recording one request (goal < 5 ms), {runs} runs; baseline: a bare INSERT of the same answer "
          f"{base:.3f} ms (mean {base_mean:.3f} ms)")  # fmt: skip
    for name, path in (("a new log", folder / "one.db"), (f"a log of {BIG:,}", big)):
        log = RunLog(path)
        log.record(*request(0), kind="batch")  # open and create outside the timing
        todo = iter(request(BIG + i) for i in range(1, runs + 1))

        def one(log: RunLog = log, todo: Iterator[Any] = todo) -> None:
            log.record(*next(todo), kind="batch")

        median, mean, p95 = timings_ms(one, runs)
        print(f"  into {name:18} median {median:.2f} ms ({median / base:.0f} x), mean {mean:.2f} ms, "
              f"95th percentile {p95:.2f} ms")  # fmt: skip
        assert log._conn is not None
        log._conn.execute("DELETE FROM requests WHERE id > ?", (BIG,))
        log.close()
    video = folder / "video.bin"
    video.write_bytes(os.urandom(10 * 1024 * 1024))
    hashing = median_ms(lambda: sha256_file(video), 10)
    print(f"  SHA-256 of a 10 MB video (identifies its content): {hashing:.1f} ms")


def build(path: Path) -> None:
    """A log of BIG requests, written with the same rows RunLog writes, in one transaction."""
    log = RunLog(path)
    log.record(*request(0), kind="batch")
    conn = log._conn
    assert conn is not None
    conn.execute("BEGIN")
    trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'requests_fts_insert'").fetchone()
    if trigger:  # index the text once at the end: much faster than row by row, the same index
        conn.execute("DROP TRIGGER requests_fts_insert")
    t0 = time.time() - BIG
    for i in range(1, BIG):
        key, record = request(i)
        row, inputs = log._row(key, record, "batch", t0 + i, False, None)
        rid = conn.execute(_INSERT_REQUEST, row).lastrowid
        conn.executemany(_INSERT_INPUT, [(rid, n, *values) for n, values in enumerate(inputs)])
    if trigger:
        conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('rebuild')")
        conn.execute(trigger[0])
    conn.execute("COMMIT")
    log.close()


def bench_list(path: Path) -> None:
    def listing(**filters: object) -> Callable[[], object]:
        def run() -> None:
            log = RunLog(path)
            assert len(log.query(Query(n=20, **filters))) == 20  # type: ignore[arg-type]
            log.close()

        return run

    def bare() -> None:
        conn = sqlite3.connect(path)
        assert len(conn.execute("SELECT id, record FROM requests ORDER BY id DESC LIMIT 20").fetchall()) == 20
        conn.close()

    base = median_ms(bare, 20)
    print(
        f"listing 20 of {BIG:,} records (median of 20 runs, each opening the log; goal < 500 ms); "
        f"a bare SELECT … LIMIT 20: {base:.1f} ms"
    )
    cases = {"newest 20": {}, "--model": {"model": "other-model"}, "--status error": {"status": "error"},
             "--search zebra (1 in 1000)": {"search": "zebra"}, "--search sofa (all)": {"search": "sofa"},
             "--search ze (a scan)": {"search": "ze"}}  # fmt: skip
    for name, filters in cases.items():
        ms = median_ms(listing(**filters), 20)
        print(f"  {name:28} {ms:7.1f} ms ({ms / base:5.1f} x)")
    print(f"  database size: {sum(p.stat().st_size for p in path.parent.glob('big.db*')) / 1e6:.0f} MB")


def bench_command(path: Path, runs: int = 9) -> None:
    """``mimo logs -n 20`` as a user runs it (a new process), against ``mimo --version``."""
    mimo = shutil.which("mimo") or "mimo"
    env = {**os.environ, "MIMO_LOG_PATH": str(path)}

    def run(*args: str) -> Callable[[], object]:
        return lambda: subprocess.run([mimo, *args], env=env, check=True, capture_output=True)

    version = median_ms(run("--version"), runs)
    start = median_ms(run("logs", "path"), runs)  # the same start-up, no database read
    listing = median_ms(run("logs", "-n", "20", "--json"), runs)
    search = median_ms(run("logs", "-n", "20", "--json", "--search", "zebra"), runs)
    print(f"mimo logs -n 20 on {BIG:,} records (a new process, median of {runs}; goal < 500 ms): {listing:.0f} ms, "
          f"--search zebra {search:.0f} ms; mimo logs path {start:.0f} ms ({listing / start:.2f} x), "
          f"mimo --version {version:.0f} ms")  # fmt: skip


def schema_of(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(str(r[0]) for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
    finally:
        conn.close()


def main() -> None:
    shutil.rmtree(WORK / "small", ignore_errors=True)
    (WORK / "small").mkdir(parents=True)
    fresh = RunLog(WORK / "small" / "schema.db")
    fresh.record(*request(0), kind="batch")
    fresh.close()
    big = WORK / "big.db"
    if (
        not big.exists()
        or schema_of(big) != schema_of(WORK / "small" / "schema.db")
        or RunLog(big).query(Query(n=1))[0]["id"] != BIG
    ):  # built by an older version of this script, or of the log
        for p in WORK.glob("big.db*"):
            p.unlink()
        t = time.perf_counter()
        build(big)
        print(f"built a log of {BIG:,} requests in {time.perf_counter() - t:.0f} s")
    bench_record(WORK / "small", big)
    bench_list(big)
    bench_command(big)


if __name__ == "__main__":
    main()
