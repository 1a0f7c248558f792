"""Hostile ground, part 3 (issue 10): signals, two writers, a full disk, the reader gone.

Each test runs the installed ``mimo`` in a process of its own against the fake server and checks what the
server received (nothing paid twice), what was written, the exit code and the one ``error:`` line.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import textwrap
import time
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from hostile_fs_tools import (
    NAMES,
    alive,
    child_env,
    children,
    line_count,
    make_videos,
    mimo_command,
    records,
    sent,
    start,
    wait_for,
)

if TYPE_CHECKING:
    from pathlib import Path

    from fakeserver import FakeServer

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(not (FFMPEG and shutil.which("ffprobe")), reason="needs ffmpeg and ffprobe")


# -- SIGTERM and SIGHUP: like the first Ctrl-C -----------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_mid_batch_is_a_first_ctrl_c(sig: int, server: FakeServer, tmp_path: Path) -> None:
    by_content = make_videos(tmp_path / "media", NAMES)
    out = tmp_path / "out.jsonl"
    server.response_delay = 0.4
    proc = start(["batch", "media", "-o", "out.jsonl", "-j", "3"], server, tmp_path)
    try:
        wait_for(proc, "two records", lambda: line_count(out) >= 2)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    written = records(out.read_text())
    assert 2 <= len(written) < len(NAMES)
    assert len(server.received) == len(written)  # the requests in flight ended and were recorded
    assert "interrupted: no new requests start" in stderr and "batch: " in stderr
    assert "error: interrupted" in stderr and "Traceback" not in stderr
    server.response_delay = 0
    again = subprocess.run(
        [*mimo_command(), "batch", "media", "-o", "out.jsonl", "--resume"],
        cwd=tmp_path, env=child_env(server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    counts = Counter(sent(server, by_content))
    assert set(counts) == set(NAMES) and set(counts.values()) == {1}  # nothing was paid twice


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_while_waiting_for_an_answer(sig: int, server: FakeServer, clip: Path) -> None:
    server.response_delay = 30
    proc = start(["describe", str(clip)], server, clip.parent)
    try:
        assert server.wait_for_requests(1, timeout=30), proc.communicate()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "error: interrupted" in stderr and "Traceback" not in stderr


@pytest.fixture(scope="session")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s of noise in a ~4.5 MB MP4: --fit --max-inline-mb 1 takes seconds to convert it."""
    path = tmp_path_factory.mktemp("noise") / "noise.mp4"
    subprocess.run(
        [FFMPEG or "ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=240x180:r=20:d=40,noise=alls=60:allf=t",
         "-f", "lavfi", "-i", "anoisesrc=d=40:c=pink:a=0.3", "-c:v", "libx264", "-preset", "ultrafast",
         "-b:v", "700k", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path


@needs_ffmpeg
@pytest.mark.parametrize("command", ["describe", "batch", "batch, twice"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_conversion_leaves_no_file_and_no_ffmpeg(
    sig: int, command: str, server: FakeServer, noise: Path, tmp_path: Path
) -> None:
    """describe: the conversion is stopped. batch: the one in flight ends and is sent (a first Ctrl-C);
    a second signal abandons it, and its ffmpeg is killed before mimo leaves."""
    folder = tmp_path / "tmpdir"
    folder.mkdir()
    batch = command.startswith("batch")
    args = [command.split(",")[0], str(noise), "--fit", "--max-inline-mb", "1", *["-o", "out.jsonl"] * batch]
    proc = start(args, server, tmp_path, TMPDIR=str(folder))
    try:
        wait_for(proc, "a conversion", lambda: any(p.name.startswith("fit-") for p in folder.rglob("*")))
        ffmpegs = wait_for(proc, "an ffmpeg child", lambda: children(proc.pid, "ffmpeg"))
        proc.send_signal(sig)
        if command == "batch, twice":
            time.sleep(0.5)  # two signals in a row would be taken as one
            assert alive(ffmpegs[0], "ffmpeg"), "the conversion in flight should go on after the first"
            proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert len(server.received) == (command == "batch")  # a first signal lets the conversion end
    deadline = time.monotonic() + 0.5  # killed and waited for: gone at once
    while any(alive(pid, "ffmpeg") for pid in ffmpegs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid, "ffmpeg") for pid in ffmpegs), "ffmpeg outlived mimo"
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert list(folder.iterdir()) == []  # no temp file, no temp folder


# -- two writers on one output ----------------------------------------------------------------------------


def test_a_second_batch_on_the_same_output_refuses(server: FakeServer, tmp_path: Path) -> None:
    by_content = make_videos(tmp_path / "media", NAMES)
    server.response_delay = 1.0  # 6 s in all: the second ones start and end meanwhile
    args = ["batch", "media", "-o", "out.jsonl", "-j", "2"]
    first = start(args, server, tmp_path)
    try:
        assert server.wait_for_requests(1, timeout=30), first.communicate()
        for extra in ([], ["--resume"]):
            assert first.poll() is None, "the first batch ended too soon"
            second = subprocess.run(
                [*mimo_command(), *args, *extra], cwd=tmp_path, env=child_env(server),
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert second.returncode == 2, second.stderr
            assert "error: another mimo is writing out.jsonl" in second.stderr, second.stderr
            assert "Traceback" not in second.stderr
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, stderr
    written = records((tmp_path / "out.jsonl").read_text())  # every line a whole record
    assert sorted(r["input"] for r in written) == [f"media/{n}" for n in NAMES]
    assert Counter(sent(server, by_content)) == Counter(NAMES)  # nothing was paid twice


# -- a full disk, a reader gone ------------------------------------------------------------------------


def _assert_disk_full(proc: subprocess.CompletedProcess[str], server: FakeServer) -> None:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1, proc.stderr
    assert len(errors) == 1 and "disk is full" in errors[0], proc.stderr
    assert "this is a bug" not in proc.stderr and "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert "batch: " in proc.stderr  # the summary
    assert 1 <= len(server.received) < len(NAMES)  # it stopped asking


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("where", ["stdout", "-o"])
def test_dev_full_says_the_disk_is_full(where: str, server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", NAMES)
    server.response_delay = 0.05
    args = ["batch", "media", "-j", "1", *(["-o", "/dev/full"] if where == "-o" else [])]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*mimo_command(), *args], cwd=tmp_path, env=child_env(server),
            stdout=full if where == "stdout" else subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, timeout=60,
        )  # fmt: skip
    _assert_disk_full(proc, server)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_describe_to_dev_full_says_the_disk_is_full(server: FakeServer, clip: Path) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*mimo_command(), "describe", str(clip)], cwd=clip.parent, env=child_env(server),
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: cannot write to stdout: the disk is full"), proc.stderr
    assert "this is a bug" not in proc.stderr and "Exception ignored" not in proc.stderr


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=4k tmpfs $d && umount $d"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare -rm and a tmpfs mount")
def test_a_full_tmpfs_keeps_the_records_written(server: FakeServer, tmp_path: Path) -> None:
    make_videos(tmp_path / "media", NAMES)
    server.answer = "A long answer. " * 60  # about 1 KB per record: 8 KiB hold a few
    disk = tmp_path / "disk"
    disk.mkdir()
    script = textwrap.dedent(f"""\
        mount -t tmpfs -o size=8k tmpfs {disk} || exit 99
        "$@" batch media -j 1 -o {disk}/out.jsonl
        code=$?
        cp {disk}/out.jsonl {tmp_path}/kept.jsonl
        exit $code
    """)
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *mimo_command()], cwd=tmp_path,
        env=child_env(server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 99, proc.stderr
    _assert_disk_full(proc, server)
    kept = (tmp_path / "kept.jsonl").read_text()
    assert kept.endswith("\n") and all(r["status"] == "ok" for r in records(kept))  # no torn line
    assert 1 <= len(records(kept)) < len(server.received) + 1


def test_stdout_closed_early_is_the_reader_gone(server: FakeServer, tmp_path: Path) -> None:
    """The reader gone (`| head -1`): no traceback, no bug report, and mimo stops asking."""
    make_videos(tmp_path / "media", NAMES)
    server.response_delay = 0.1
    proc = subprocess.run(
        f"{' '.join(mimo_command())} batch media -j 1 | head -n 1", shell=True, cwd=tmp_path,
        env=child_env(server), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "this is a bug" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert len(server.received) < len(NAMES)
