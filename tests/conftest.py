"""Shared fixtures: a clean environment, the fake OpenAI-compatible server, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import struct
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import FakeServer

from mimo_cli import redact
from mimo_cli.cli import app
from mimo_cli.cli.app import State
from mimo_cli.clock import REAL, Clock
from mimo_cli.inputs import sniff

if TYPE_CHECKING:
    from collections.abc import Iterator

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(autouse=True)
def env_setup(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MIMO_* or proxy variables from the developer's shell; a private config dir; no leftover state."""
    for name in list(os.environ):
        if name.startswith("MIMO_") or name.lower() in (
            "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ssl_cert_file", "ssl_cert_dir", "requests_ca_bundle",
        ) or name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("COLUMNS", "120")
    redact._SECRETS.clear()
    yield
    redact._SECRETS.clear()
    sniff._magic_state.clear()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as fake:
        yield fake


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    result: Any

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Clocks:
    """The clock the CLI runs get (the seam of :class:`mimo_cli.clock.Clock`): real unless a test asks."""

    def __init__(self) -> None:
        self.clock: Clock = REAL


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def sleeps(clocks: Clocks) -> list[float]:
    """Backoff without waiting: the waits the client would sleep, recorded (jitter at its largest)."""
    waits: list[float] = []
    clocks.clock = Clock(sleep=waits.append, random=lambda: 0.0)
    return waits


@pytest.fixture
def mimo(server: FakeServer, clocks: Clocks) -> Any:
    """Run the CLI in-process against the fake server, with a key set; returns stdout and stderr apart."""

    def run(*args: str, input: bytes | str | None = None, env: dict[str, str] | None = None) -> Run:
        full_env = {"MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY, **(env or {})}
        result = CliRunner().invoke(app, list(args), input=input, env=full_env, catch_exceptions=True,
                                    obj=State(clock=clocks.clock))  # fmt: skip
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr, result)

    return run


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A copy of the small MP4 fixture in a temp dir (tests may rename or modify it)."""
    target = tmp_path / "clip.mp4"
    shutil.copy(FIXTURES / "clip.mp4", target)
    return target


@contextmanager
def http_server(handler: Any, server_class: type[HTTPServer] = HTTPServer) -> Iterator[str]:
    """A small stdlib server of a test's own on 127.0.0.1, port 0, in a thread: yields its root URL."""
    httpd = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def padded_mp4(path: Path, size: int) -> Path:
    """A real MP4 grown to ``size`` bytes with a trailing ``free`` box: still a valid MP4."""
    data = (FIXTURES / "clip.mp4").read_bytes()
    pad = size - len(data)
    assert pad >= 8
    with open(path, "wb") as f:
        f.write(data)
        f.write(struct.pack(">I4s", pad, b"free"))
        f.truncate(size)
    return path
