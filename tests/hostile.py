"""Hostile servers of the test-suite's own: servers that echo the key, send control bytes, never end a line,
send gzip bombs or huge answers, trickle, stay silent, or hold a finished stream open.

Standard library only. Each server is a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, run in a daemon
thread; every handler loop is bounded in count (bytes) and in time (:data:`MAX_SECONDS`), and stops as soon
as the client goes away or the server is closed. A server routes by path to a *behaviour*: a function
given a :class:`Conn` that writes the whole response, status line and headers included, by hand (so that
any header can be forged, ``Server`` among them).

Usage::

    with Hostile(chat=reply(400, {"error": {"message": "x" * 190 + KEY}})) as srv:
        run = mimo("describe", CLIP, env={"MIMO_BASE_URL": srv.url})
        assert srv.received[0].path == "/v1/chat/completions"

:func:`run_cli` runs ``python -m mimo_cli`` in a child process and reports its peak memory (``VmHWM``) and
CPU time as well as its output.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

MAX_SECONDS = 20.0  # no handler runs longer than this, whatever it was asked to do
MIB = 1024 * 1024
CHILD_ADDRESS_SPACE = 4 * 1024 * MIB  # a child run that goes wild dies of MemoryError, not the machine

Behaviour = Callable[["Conn"], None]


# -- what a test looks for in the output ------------------------------------------------------------------

_ESCAPES = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]"
)
#: Characters no server may put on a terminal through mimo: C0 controls but tab and newline, DEL, C1.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def on_screen(text: str) -> str:
    """What a terminal shows of ``text``: escape sequences are interpreted (so removed), other controls too."""
    return CONTROLS.sub("", _ESCAPES.sub("", text))


def pieces(secret: str, n: int = 8) -> set[str]:
    """Every ``n``-character piece of a secret: what is left of it when a cut falls inside it."""
    return {secret[i : i + n] for i in range(len(secret) - n + 1)}


def leaks(text: str, secret: str, n: int = 8) -> list[str]:
    """The pieces of ``secret`` (``n`` characters or more) found in ``text`` as sent or as shown."""
    found = {p for p in pieces(secret, n) if p in text or p in on_screen(text)}
    return sorted(found)


def controls(text: str) -> list[str]:
    """The control characters in ``text`` (tab and newline are fine)."""
    return sorted(set(CONTROLS.findall(text)))


# -- the server -------------------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body_length: int


class Conn:
    """One request, as a behaviour sees it: write the response, stop when the client or the server is gone."""

    def __init__(self, handler: BaseHTTPRequestHandler, stop: threading.Event, index: int) -> None:
        self.handler = handler
        self.stop = stop
        self.index = index  # how many requests this route served before this one
        self.end = time.monotonic() + MAX_SECONDS
        self.sent = 0
        self.gone = False

    def alive(self) -> bool:
        return not self.gone and not self.stop.is_set() and time.monotonic() < self.end

    def head(
        self, status: int = 200, headers: Iterable[tuple[str, str]] = (), reason: str | None = None
    ) -> None:
        """The status line and headers, exactly as given (plus ``Connection: close``)."""
        if reason is None:
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers), "Connection: close"]
        self.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape"), count=False)

    def write(self, data: bytes, *, count: bool = True) -> bool:
        """Send ``data``; False once the client is gone (or the time is up)."""
        if not self.alive():
            return False
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
        except OSError:
            self.gone = True
            return False
        if count:
            self.sent += len(data)
        return True

    def hold(self, seconds: float) -> None:
        """Keep the connection open, sending nothing, for ``seconds`` (or until the server closes)."""
        self.stop.wait(max(0.0, min(seconds, self.end - time.monotonic())))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        left = length
        while left > 0:  # read (and drop) the request body: a video can be megabytes
            data = self.rfile.read(min(left, MIB))
            if not data:
                break
            left -= len(data)
        srv = self.server
        route = srv.route(self.path)
        with srv.lock:
            srv.received.append(Received(self.command, self.path, dict(self.headers.items()), length))
            index = srv.counts.get(route, 0)
            srv.counts[route] = index + 1
        behaviour = srv.routes.get(route) or reply(404, {"error": {"message": "no such route"}})
        conn = Conn(self, srv.stop, index)
        try:
            behaviour(conn)
        except OSError:
            pass
        self.close_connection = True

    do_GET = do_POST = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, routes: dict[str, Behaviour]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.received: list[Received] = []
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    @staticmethod
    def route(path: str) -> str:
        path = path.split("?")[0]
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/models"):
            return "models"
        return "file"


class Hostile:
    """A hostile server: ``chat``, ``models`` and ``file`` (any other path, e.g. a video for --inline-url)."""

    def __init__(
        self, chat: Behaviour | None = None, models: Behaviour | None = None, file: Behaviour | None = None
    ) -> None:
        routes = {
            name: b for name, b in (("chat", chat), ("models", models), ("file", file)) if b is not None
        }
        self._server = _Server(routes)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        """The base URL to give mimo."""
        return self.root + "/v1"

    @property
    def received(self) -> list[Received]:
        return self._server.received

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# -- behaviours -------------------------------------------------------------------------------------------


def _body(body: bytes | str | Mapping[str, Any] | list[Any]) -> tuple[bytes, str]:
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode("utf-8", "surrogateescape"), "text/plain; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode(), "application/json"


def reply(
    status: int,
    body: bytes | str | Mapping[str, Any] | list[Any] = b"",
    content_type: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """A whole response with a Content-Length."""
    data, guessed = _body(body)
    ctype = content_type or guessed

    def behave(conn: Conn) -> None:
        conn.head(status, [("Content-Type", ctype), ("Content-Length", str(len(data))), *headers])
        conn.write(data)

    return behave


def sequence(*behaviours: Behaviour) -> Behaviour:
    """The first request gets the first behaviour, the second the second …; the last one is repeated."""

    def behave(conn: Conn) -> None:
        behaviours[min(conn.index, len(behaviours) - 1)](conn)

    return behave


def each(make: Callable[[int], Behaviour]) -> Behaviour:
    """Request number ``i`` (0, 1, …) gets ``make(i)``."""
    return lambda conn: make(conn.index)(conn)


def sse_event(obj: Any) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False)
    return f"data: {data}\n\n".encode("utf-8", "surrogateescape")


def sse(
    events: Iterable[Any],
    *,
    done: bool = True,
    hold: float = 0.0,
    piece: int = 0,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """A streamed answer: each event (a chunk object, a raw ``data`` string or raw bytes) written as it is;
    ``[DONE]`` unless ``done=False``; then the connection held open for ``hold`` seconds. ``piece`` > 0
    writes in pieces of that many bytes."""
    raw = [e if isinstance(e, bytes) else sse_event(e) for e in events]
    if done:
        raw.append(b"data: [DONE]\n\n")

    def behave(conn: Conn) -> None:
        conn.head(200, [("Content-Type", "text/event-stream; charset=utf-8"), *headers])
        for data in raw:
            step = piece or len(data) or 1
            for start in range(0, len(data), step):
                if not conn.write(data[start : start + step]):
                    return
        conn.hold(hold)

    return behave


def chunk(delta: Mapping[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``chat.completion.chunk``."""
    choice = {"index": 0, "delta": dict(delta or {}), "finish_reason": finish}
    return {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "choices": [choice], **extra}


def completion(content: str = "ok", finish: str = "stop", **extra: Any) -> dict[str, Any]:
    """A whole ``chat.completion``."""
    message = {"role": "assistant", "content": content}
    return {"id": "chatcmpl-hostile", "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], **extra}  # fmt: skip


USAGE = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}


def endless(
    prefix: bytes,
    unit: bytes,
    total: int,
    content_type: str,
    *,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """``prefix`` then ``unit`` over and over, up to ``total`` bytes (no Content-Length: the body has no end
    the client could know of). A unit of 64 KiB or so is written at a time."""
    times = max(1, 64 * 1024 // max(1, len(unit)))
    block = unit * times

    def behave(conn: Conn) -> None:
        conn.head(status, [("Content-Type", content_type), *headers])
        if not conn.write(prefix):
            return
        while conn.sent < total and conn.write(block[: total - conn.sent]):
            pass

    return behave


def gzip_segments(unit: bytes, total: int) -> Iterator[bytes]:
    """A gzip stream of ``unit`` repeated to ``total`` bytes (rounded up to whole MiB), made in a streaming
    way: one MiB is compressed once with a full flush (which resets the dictionary, so the compressed
    segment stands alone) and that segment is repeated. About 1 KB sent per MiB; never finished (no final
    block, no trailer): a client that stops at its limit never needs them."""
    block = (unit * (MIB // len(unit) + 1))[:MIB]
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    yield first
    for _ in range(-(-total // MIB) - 1):
        yield segment


def gzip_bomb(
    unit: bytes,
    total: int,
    content_type: str,
    *,
    status: int = 200,
    hold: float = 5.0,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """``Content-Encoding: gzip``: a few KB on the wire, ``total`` bytes once decoded."""

    def behave(conn: Conn) -> None:
        conn.head(status, [("Content-Type", content_type), ("Content-Encoding", "gzip"), *headers])
        batch = b""
        for segment in gzip_segments(unit, total):
            batch += segment
            if len(batch) >= 16 * 1024:
                if not conn.write(batch):
                    return
                batch = b""
        conn.write(batch)
        conn.hold(hold)  # never finish: the client must stop by itself

    return behave


def trickle(
    head: bytes,
    drip: bytes,
    *,
    every: float = 0.05,
    seconds: float = 10.0,
    content_type: str = "application/json",
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
) -> Behaviour:
    """``head``, then ``drip`` every ``every`` seconds for ``seconds``: each read gets data, so only a
    deadline on the whole response stops it."""

    def behave(conn: Conn) -> None:
        conn.head(status, [("Content-Type", content_type), *headers])
        if not conn.write(head):
            return
        end = time.monotonic() + seconds
        while conn.alive() and time.monotonic() < end:
            conn.stop.wait(every)
            if not conn.write(drip):
                return

    return behave


def silent(conn: Conn) -> None:
    """Read the request, answer nothing, keep the connection open (10 s at most)."""
    conn.hold(10.0)


# -- the command in a child process, measured ------------------------------------------------------------

_WRAPPER = """
import atexit, json, os, resource, sys
def _report():
    with open('/proc/self/status') as f:
        hwm = next((int(l.split()[1]) for l in f if l.startswith('VmHWM:')), 0)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ['HOSTILE_REPORT'], 'w') as out:
        json.dump({'hwm_kb': hwm, 'cpu_s': ru.ru_utime + ru.ru_stime}, out)
atexit.register(_report)
sys.argv = ['mimo', *sys.argv[1:]]
from mimo_cli.__main__ import main
main()
"""


@dataclass
class Child:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    hwm_mb: float  # peak resident memory (VmHWM)
    cpu_s: float | None  # user + system CPU of the child; None if it was killed before it could say
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))


def _poll_hwm(pid: int, peak: list[int], done: threading.Event) -> None:
    path = f"/proc/{pid}/status"
    while not done.is_set():
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        done.wait(0.05)


def run_cli(
    *args: str,
    env: Mapping[str, str],
    tmp: Path,
    stdin: Any = subprocess.DEVNULL,
    timeout: float = 60.0,
) -> Child:
    """``python -m mimo_cli ARGS`` (through a wrapper that reports VmHWM and CPU time at exit), with a clean
    environment plus ``env``, TMPDIR in ``tmp/tmpdir`` and an address-space limit."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    report = tmp / f"report-{time.monotonic_ns()}.json"
    full_env = {**base, "TMPDIR": str(tmpdir), "HOSTILE_REPORT": str(report), "COLUMNS": "120", **env}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *args],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, preexec_fn=_limit_memory,
    )  # fmt: skip
    peak = [0]
    done = threading.Event()
    poller = threading.Thread(target=_poll_hwm, args=(proc.pid, peak, done), daemon=True)
    poller.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    finally:
        done.set()
        poller.join(2)
    elapsed = time.monotonic() - started
    cpu = None
    if report.exists():
        data = json.loads(report.read_text() or "{}")
        peak[0] = max(peak[0], int(data.get("hwm_kb", 0)))
        cpu = data.get("cpu_s")
        report.unlink()
    return Child(
        proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        elapsed,
        peak[0] / 1024,
        cpu,
    )


def leftovers(tmp: Path) -> list[str]:
    """What a child run left in its TMPDIR (see :func:`run_cli`)."""
    folder = tmp / "tmpdir"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


GENERATOR = """
import sys
head = open(sys.argv[1], 'rb').read() if sys.argv[1] != '-' else b''
block = bytes(1 << 20)
total = int(sys.argv[2])
sent = 0
try:
    sys.stdout.buffer.write(head)
    sent += len(head)
    while sent < total:
        sys.stdout.buffer.write(block)
        sys.stdout.buffer.flush()
        sent += len(block)
except (BrokenPipeError, OSError):
    pass
sys.stderr.write(str(sent))
"""


def generator(head: Path | None, total: int) -> subprocess.Popen[bytes]:
    """A process writing ``head`` (a file's bytes) then zeros, up to ``total`` bytes, to its stdout, like
    ``cat head /dev/zero`` but bounded; it reports on stderr how many bytes it managed to write."""
    return subprocess.Popen(
        [sys.executable, "-c", GENERATOR, str(head) if head else "-", str(total)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
