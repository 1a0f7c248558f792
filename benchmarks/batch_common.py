"""Helpers shared by the batch benchmarks: a fake server, video trees, timed runs of the installed mimo."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(__file__).resolve().parent / ".work"
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeServer  # noqa: E402

CLIP = ROOT / "tests" / "fixtures" / "clip.mp4"
KEY = "sk-bench-0123456789abcdef"
__all__ = ["KEY", "WORK", "FakeServer", "ServerProcess", "make_tree", "mimo_command", "run_mimo"]


class ServerProcess:
    """A FakeServer in a process of its own, so that what it holds does not weigh on this one (a child
    forked from a large process starts with that process's resident pages in its peak RSS)."""

    def __init__(self, delay: float = 0.0) -> None:
        code = (
            "import sys, time; sys.path.insert(0, sys.argv[1]); from fakeserver import FakeServer\n"
            "s = FakeServer().start(); s.response_delay = float(sys.argv[2]); print(s.url, flush=True)\n"
            "sys.stdin.read()"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, str(ROOT / "tests"), str(delay)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def make_tree(name: str, count: int, size: int = 0) -> Path:
    """``count`` MP4s of distinct content (``size`` bytes each, or the fixture's size) in WORK/name."""
    root = WORK / name
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    data = CLIP.read_bytes()
    for i in range(count):
        size_i = max(size, len(data) + 8 + i)
        with open(root / f"v{i:04d}.mp4", "wb") as f:
            f.write(data)
            f.write(struct.pack(">I4s", size_i - len(data), b"free"))
            f.truncate(size_i)
    return root


def mimo_command() -> list[str]:
    exe = Path(sys.executable).with_name("mimo")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mimo_cli"]


def run_mimo(args: list[str], server: FakeServer | ServerProcess, cwd: Path = WORK) -> tuple[float, int, int]:
    """Run the installed mimo; returns (wall seconds, exit code, peak RSS in KiB) of that process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    env.update(MIMO_BASE_URL=server.url, MIMO_API_KEY=KEY)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*mimo_command(), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, proc.returncode, usage.ru_maxrss
