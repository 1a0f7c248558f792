"""Helpers of the hostile file-system tests: the installed mimo in a process of its own, /proc children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from conftest import KEY, padded_mp4

if TYPE_CHECKING:
    from fakeserver import FakeServer

NAMES = [f"v{i:02d}.mp4" for i in range(12)]


def mimo_command() -> list[str]:
    exe = Path(sys.executable).with_name("mimo")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "mimo_cli"]


def child_env(server: FakeServer, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    return {**base, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY, **extra}


def start(
    args: list[str], server: FakeServer, cwd: Path, stdout: int | IO[Any] = subprocess.PIPE, **env: str
) -> subprocess.Popen[str]:
    """``mimo ARGS`` in a process of its own (signals reach it alone, not the test runner)."""
    return subprocess.Popen(
        [*mimo_command(), *args],
        cwd=cwd,
        env=child_env(server, **env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(proc: subprocess.Popen[str], what: str, check: Any, timeout: float = 30) -> Any:
    """Poll ``check()`` until it returns something true; fail (killing ``proc``) if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"{what} never happened: {proc.communicate()}")


def line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


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


def _stat(pid: int) -> tuple[str, int, str] | None:
    """(command name, parent pid, state) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return name, int(ppid), state


def children(pid: int, name: str | None = None) -> list[int]:
    """The live children of ``pid`` (those called ``name`` only, when given), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        info = _stat(int(entry))
        if info and info[1] == pid and info[2] != "Z" and (name is None or info[0] == name):
            found.append(int(entry))
    return found


def alive(pid: int, name: str) -> bool:
    """True while ``pid`` is still a running ``name`` (a zombie or another program does not count)."""
    info = _stat(pid)
    return info is not None and info[0] == name and info[2] != "Z"
