"""Every failure a gateway can produce, end to end over real HTTP: kind, exit code, attempts, message, hint;
retries with a fresh body; deadlines that never hang; and the key never shown, whatever the server echoes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, KEY, padded_mp4
from fakeserver import FakeServer, Reply, error_json, html_error

from mimo_cli.clock import Clock
from mimo_cli.errors import Kind

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

CLIP = str(FIXTURES / "clip.mp4")


@pytest.fixture(autouse=True)
def waits(sleeps: list[float]) -> list[float]:
    """The backoff sleeps, recorded instead of slept; jitter off so the waits are exact."""
    return sleeps


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def official(status: int, message: str, param: str) -> Reply:
    return Reply.json(
        {"error": {"code": str(status), "message": message, "param": param, "type": ""}}, status
    )


OVERLOADED = "The model is overloaded. Please try again later"
NO_CHANNEL_CN = "当前分组 default 下对于模型 mimo-v2-omni 无可用渠道"

# name, reply, kind, exit code, attempts (with the default --retries 3), words in the message
TABLE: list[tuple[str, Callable[[], Reply], str, int, int, str]] = [
    ("400", lambda: error_json(400, 'Unexpected role "tool"', "invalid_request_error"), "bad_request", 1, 1,
     'HTTP 400: Unexpected role "tool"'),
    ("400 model", lambda: official(400, "Param Incorrect", "Not supported model mimo-v2-omni"), "model", 1, 1,
     "HTTP 400: Not supported model mimo-v2-omni (Param Incorrect)"),
    ("401", lambda: error_json(401, "Invalid token", "invalid_request_error"), "auth", 3, 1, "Invalid token"),
    ("402", lambda: error_json(402, "Insufficient Balance"), "quota", 3, 1, "Insufficient Balance"),
    ("403 quota", lambda: Reply.json({"message": "用户额度不足, 剩余额度: $-1.74"}, 403), "quota", 3, 1,
     "用户额度不足"),
    ("403 html", lambda: html_error(403), "quota", 3, 1, "HTTP 403: 403 Forbidden (an HTML page from nginx"),
    ("429 quota", lambda: error_json(429, "You exceeded your current quota", "insufficient_quota",
                                     "insufficient_quota"), "quota", 3, 1, "exceeded your current quota"),
    ("429", lambda: error_json(429, "Rate limit reached", "rate_limit_error"), "rate_limit", 1, 4, "Rate limit"),
    ("404", lambda: error_json(404, "not found", "invalid_request_error"), "bad_request", 1, 1, "not found"),
    ("404 model", lambda: error_json(404, "The model `mimo-v2-omni` does not exist", "invalid_request_error",
                                     "model_not_found"), "model", 1, 1, "does not exist"),
    ("408", lambda: Reply.text("", 408), "timeout", 1, 4, "HTTP 408 Request Timeout"),
    ("409", lambda: error_json(409, "conflict"), "server", 1, 4, "conflict"),
    ("413", lambda: html_error(413), "bad_request", 1, 1, "413 Request Entity Too Large"),
    ("421", lambda: error_json(421, "The content is not allowed"), "content_filter", 1, 1, "not allowed"),
    ("422", lambda: Reply.json({"detail": "Unprocessable"}, 422), "bad_request", 1, 1, "Unprocessable"),
    ("500", lambda: error_json(500, "internal error", "server_error"), "server", 1, 4, "internal error"),
    ("500 text", lambda: Reply.text("upstream connect error", 500), "server", 1, 4, "upstream connect error"),
    ("500 overloaded", lambda: error_json(500, OVERLOADED), "overloaded", 1, 4, "overloaded"),
    ("501", lambda: Reply.text("", 501), "server", 1, 1, "HTTP 501 Not Implemented"),
    ("502 nginx", lambda: html_error(502), "server", 1, 4, "HTTP 502: 502 Bad Gateway (an HTML page"),
    ("503", lambda: Reply.text("", 503), "overloaded", 1, 4, "HTTP 503 Service Unavailable"),
    ("503 no channel", lambda: error_json(503, NO_CHANNEL_CN, "new_api_error", "model_not_found"), "no_channel",
     1, 4, "无可用渠道"),
    ("503 no channel en", lambda: error_json(503, "No available channel for model mimo-v2-omni"), "no_channel",
     1, 4, "No available channel"),
    ("504", lambda: html_error(504), "server", 1, 4, "504 Gateway Timeout"),
    ("522 cloudflare", lambda: html_error(522), "server", 1, 4, "522: Connection timed out (an HTML page from "
                                                               "cloudflare"),
    ("200 html", lambda: Reply.text("<html><title>Sign in</title></html>", 200, "text/html"), "bad_response",
     1, 1, "expected JSON, got text/html: Sign in"),
    ("200 stream quota", lambda: Reply.sse([{"error": {"message": "insufficient_user_quota", "code": 403}}]),
     "quota", 3, 1, "insufficient_user_quota"),
    ("200 stream overloaded", lambda: Reply.sse([{"error": {"message": OVERLOADED, "type": "upstream_error"}}]),
     "overloaded", 1, 4, "the server sent an error: " + OVERLOADED),
    ("200 content filter", lambda: Reply.sse([chunk({"content": "A"}, "content_filter")]), "content_filter", 1,
     1, "content filter"),
    ("200 malformed", lambda: Reply.sse(["data: {oops\n\n"]), "bad_response", 1, 1, "malformed chunk"),
    ("200 cut", lambda: Reply.sse([], done=False), "bad_response", 1, 4, "ended before the answer"),
    ("200 cut chunked", lambda: Reply.sse([": hi\n\n"], done=False, chunked=True), "bad_response", 1, 4,
     "connection broke"),
    ("200 cut after text", lambda: Reply.sse([chunk({"content": "The vid"})], done=False), "bad_response", 1, 1,
     "ended before the answer"),
    ("dropped", Reply.drop, "network", 1, 4, "cannot reach"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "reply", "kind", "code", "attempts", "words"), TABLE, ids=[r[0] for r in TABLE]
)
def test_each_failure_gives_its_kind_exit_code_and_attempts(
    mimo: Any, server: FakeServer, waits: list[float], name: str, reply: Callable[[], Reply], kind: str,
    code: int, attempts: int, words: str,
) -> None:  # fmt: skip
    server.queue(*[reply() for _ in range(4)])
    run = mimo("describe", CLIP, "--json")
    assert run.exit_code == code, run.stderr
    record = json.loads(run.stdout)
    assert record["status"] == "error" and record["attempts"] == attempts
    assert record["error"]["kind"] == kind and words in record["error"]["message"]
    status = record["error"]["http_status"]
    assert status == (int(name[:3]) if name[:3].isdigit() and name[:3] != "200" else status)
    assert len(server.received) == attempts
    assert waits == [0.5, 1.0, 2.0][: attempts - 1]
    assert all(
        r.body == server.received[0].body for r in server.received
    )  # a fresh, identical body each time
    lines = run.stderr.splitlines()
    assert [line.split(":")[0] for line in lines[-2:]] == ["error", "hint"]  # one error line and its hint
    assert lines[-2] == f"error: {record['error']['message']}"
    assert "Traceback" not in run.stderr and len(lines) == 2 + (attempts - 1)


def test_the_table_covers_every_kind_a_server_can_cause() -> None:
    server_kinds = {k.value for k in Kind} - {
        "usage",
        "input",
        "interrupted",
        "schema",
        "budget",
    }  # ours, not a server's
    assert {row[2] for row in TABLE} | {"timeout"} == server_kinds


def test_retry_notices_say_why_and_go_quiet_with_q(mimo: Any, server: FakeServer, waits: list[float]) -> None:
    server.queue(Reply.text("", 503), error_json(503, "No available channel for model x"))
    run = mimo("describe", CLIP)
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[:2] == [
        "retrying in 0.5 s: 503 overloaded (attempt 2 of 4)",
        "retrying in 1.0 s: 503 no channel (attempt 3 of 4)",
    ]
    server.queue(Reply.text("", 503))
    quiet = mimo("describe", CLIP, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_retries_option_and_the_backoff_cap(mimo: Any, server: FakeServer, waits: list[float]) -> None:
    server.queue(*[error_json(500, "boom") for _ in range(7)])
    run = mimo("describe", CLIP, "--retries", "6", "--json")
    assert json.loads(run.stdout)["attempts"] == 7
    assert waits == [0.5, 1, 2, 4, 8, 8]
    assert "(attempt 7 of 7)" in run.stderr
    server.queue(error_json(500, "boom"))
    none = mimo("describe", CLIP, "--retries", "0", "--json")
    assert json.loads(none.stdout)["attempts"] == 1


def test_retry_after_in_seconds_ms_and_as_a_date(mimo: Any, server: FakeServer, waits: list[float]) -> None:
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    server.queue(
        error_json(429, "slow down", headers={"Retry-After": "3"}),
        error_json(503, "busy", headers={"retry-after-ms": "1500"}),
        error_json(429, "slow down", headers={"Retry-After": future}),
    )
    run = mimo("describe", CLIP)
    assert run.exit_code == 0, run.stderr
    assert waits[:2] == [3.0, 1.5] and 27 <= waits[2] <= 30


def test_a_wait_over_120_s_is_not_waited_for(mimo: Any, server: FakeServer, waits: list[float]) -> None:
    server.queue(error_json(429, "slow down", headers={"Retry-After": "600"}))
    run = mimo("describe", CLIP, "--json")
    assert run.exit_code == 1 and waits == [] and len(server.received) == 1
    assert json.loads(run.stdout)["error"]["kind"] == "rate_limit"
    assert "hint: the server asks to wait 600 s before trying again" in run.stderr


def test_the_model_hint_names_the_model_the_option_and_mimo_models(mimo: Any, server: FakeServer) -> None:
    server.queue(official(400, "Param Incorrect", "Not supported model mimo-v2-flash"))
    run = mimo("describe", CLIP, "-m", "mimo-v2-flash")
    assert run.exit_code == 1
    assert run.stderr.splitlines() == [
        "error: HTTP 400: Not supported model mimo-v2-flash (Param Incorrect)",
        "hint: this endpoint does not serve mimo-v2-flash: choose one it serves with --model (or MIMO_MODEL); "
        "mimo models lists them",
    ]
    server.queue(official(400, "Param Incorrect", "Not supported model mimo-v2-omni"))
    assert "the official API retired mimo-v2-omni on 2026-06-30" in mimo("describe", CLIP).stderr


def test_connection_refused_is_a_network_error_after_the_retries(mimo: Any, waits: list[float]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    run = mimo("describe", CLIP, "--json", env={"MIMO_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    record = json.loads(run.stdout)
    assert run.exit_code == 1 and record["error"]["kind"] == "network" and record["attempts"] == 4
    assert record["error"]["http_status"] is None and "cannot reach" in record["error"]["message"]
    assert "hint: check the network connection" in run.stderr


def test_a_redirect_is_reported_not_followed(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.text("", 301, headers={"Location": "https://api.example.com/v1/chat/completions"}))
    run = mimo("describe", CLIP, "--json")
    assert json.loads(run.stdout)["error"]["kind"] == "bad_request" and len(server.received) == 1
    assert (
        "redirects to https://api.example.com/v1/chat/completions" in run.stderr
        and "--base-url" in run.stderr
    )


def test_ctrl_c_during_a_backoff_is_exit_130(mimo: Any, server: FakeServer, clocks: Any) -> None:
    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    clocks.clock = Clock(sleep=interrupt)
    server.queue(Reply.text("", 503))
    run = mimo("describe", CLIP)
    assert run.exit_code == 130 and run.stderr.splitlines()[-1] == "error: interrupted"


def test_success_after_retries_reports_the_attempts(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.drop(), html_error(502))
    run = mimo("describe", CLIP, "--json")
    record = json.loads(run.stdout)
    assert run.exit_code == 0 and record["status"] == "ok" and record["attempts"] == 3


# -- deadlines ---------------------------------------------------------------------------------------------


@pytest.fixture
def trickler() -> Iterator[Callable[[bytes, bytes], str]]:
    """A raw server that sends the given headers, then one byte of ``drip`` every 20 ms, forever."""
    stop = threading.Event()
    servers: list[socket.socket] = []

    def start(head: bytes, drip: bytes) -> str:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def serve() -> None:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                headers, _, body = data.partition(b"\r\n\r\n")
                length = int(headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                try:
                    conn.sendall(head)
                    i = 0
                    while not stop.wait(0.02):
                        conn.sendall(drip[i % len(drip) : i % len(drip) + 1])
                        i += 1
                except OSError:
                    return

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{srv.getsockname()[1]}/v1"

    yield start
    stop.set()
    for srv in servers:
        srv.close()


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        (SSE_HEAD, b"x"),  # bytes with no line end: never a whole SSE line
        (SSE_HEAD, b": keep-alive\n\n"),  # comments forever: lines, but never an event
        (JSON_HEAD, b" "),  # a JSON body that never completes
    ],
    ids=["sse-bytes", "sse-comments", "json"],
)
def test_a_server_that_trickles_forever_ends_in_a_timeout(
    mimo: Any, trickler: Callable[[bytes, bytes], str], head: bytes, drip: bytes
) -> None:
    url = trickler(head, drip)
    started = time.monotonic()
    run = mimo("describe", CLIP, "--timeout", "0.5", "--retries", "0", "--json", env={"MIMO_BASE_URL": url})
    record = json.loads(run.stdout)
    assert run.exit_code == 1 and record["error"]["kind"] == "timeout"
    assert "did not finish within --timeout 0.5 s" in record["error"]["message"]
    assert time.monotonic() - started < 15  # ended by the deadline, not by the server


@pytest.mark.parametrize(
    ("reply", "words", "attempts"),
    [
        (lambda: Reply.hang(20), "no answer within --timeout 0.5 s", 2),
        (lambda: Reply.hang(20, after_headers=True), "did not finish within --timeout 0.5 s", 2),
        # not retried once part of the answer was passed on
        (
            lambda: Reply.hang(20, sse_events_first=[chunk({"reasoning_content": "Let me"})]),
            "did not finish",
            1,
        ),
    ],
    ids=["before-headers", "after-headers", "mid-stream"],
)
def test_a_server_that_stalls_ends_in_a_timeout(
    mimo: Any, server: FakeServer, reply: Callable[[], Reply], words: str, attempts: int
) -> None:
    server.queue(reply(), reply())
    started = time.monotonic()
    run = mimo("describe", CLIP, "--timeout", "0.5", "--retries", "1", "--json")
    record = json.loads(run.stdout)
    assert run.exit_code == 1 and record["error"]["kind"] == "timeout" and words in record["error"]["message"]
    assert "hint: raise --timeout" in run.stderr
    assert record["attempts"] == attempts
    assert time.monotonic() - started < 15


def test_an_upload_the_server_does_not_read_ends_in_a_timeout(mimo: Any, tmp_path: Path) -> None:
    big = padded_mp4(tmp_path / "big.mp4", 7 * 1024 * 1024)  # more than the socket buffers hold
    with socket.create_server(("127.0.0.1", 0)) as srv:
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(srv.accept()[0]), daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
        started = time.monotonic()
        run = mimo(
            "describe", str(big), "--timeout", "0.5", "--retries", "0", "--json", env={"MIMO_BASE_URL": url}
        )
        for conn in accepted:
            conn.close()
    record = json.loads(run.stdout)
    assert record["error"]["kind"] == "timeout" and "could not be sent within" in record["error"]["message"]
    assert time.monotonic() - started < 15


def test_the_installed_command_ends_a_stalled_stream_at_the_deadline(server: FakeServer) -> None:
    server.queue(Reply.hang(20, sse_events_first=[chunk({"content": "The vid"})]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    proc = subprocess.run(
        [sys.executable, "-m", "mimo_cli", "describe", CLIP, "--timeout", "0.5"],
        capture_output=True, text=True, timeout=15, stdin=subprocess.DEVNULL,
        env={**env, "MIMO_BASE_URL": server.url, "MIMO_API_KEY": KEY},
    )  # fmt: skip
    assert proc.returncode == 1 and proc.stdout == "The vid\n"  # what arrived was shown, then the error
    assert proc.stderr.startswith("error: the answer did not finish within --timeout 0.5 s")
    assert "Traceback" not in proc.stderr


def test_a_slow_but_steady_answer_within_the_deadline_is_fine(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.sse([chunk({"content": w}) for w in ["one", "two", "three"]] + [chunk({}, "stop")],
                           delay_between=0.05))  # fmt: skip
    run = mimo("describe", CLIP, "--timeout", "5")
    assert run.exit_code == 0 and run.stdout == "onetwothree\n"


# -- secrets ----------------------------------------------------------------------------------------------

ECHO = {"X-Echo-Authorization": f"Bearer {KEY}", "Set-Cookie": f"k={KEY}"}
SPLIT = KEY[:9], KEY[9:]
LEAKY: list[Callable[[], Reply]] = [
    lambda: error_json(401, f"Invalid API key: {KEY}", headers=ECHO),
    lambda: error_json(403, f"用户额度不足 for {KEY}", headers=ECHO),
    lambda: Reply.json({"message": f"bad key {KEY}"}, 400, headers=ECHO),
    lambda: Reply.text(f"<html><title>Denied {KEY}</title></html>", 502, "text/html", headers=ECHO),
    lambda: Reply.text(f"nope {KEY}", 500, headers=ECHO),
    lambda: error_json(429, f"slow down {KEY}", headers={**ECHO, "Retry-After": "999"}),
    lambda: Reply.sse([{"error": {"message": f"quota spent for {KEY}", "type": "insufficient_quota"}}]),
    lambda: Reply.sse([f"data: {{broken {KEY}\n\n"]),
    lambda: Reply.sse([chunk({"content": f"A {KEY}"}, "content_filter")], headers=ECHO),
    lambda: Reply.sse([chunk({"content": "cut " + KEY})], done=False),
    lambda: Reply.text(f"<html><title>{KEY}</title></html>", 200, "text/html"),
    lambda: Reply.json(
        {
            "id": KEY,
            "model": KEY,
            "choices": [
                {"message": {"content": f"ok {KEY}", "reasoning_content": KEY}, "finish_reason": "stop"}
            ],
        },
        headers=ECHO,
    ),
    lambda: Reply.sse(
        [
            chunk({"reasoning_content": "think " + SPLIT[0]}),
            chunk({"reasoning_content": SPLIT[1]}),
            chunk({"content": "the key is " + SPLIT[0]}),
            chunk({"content": SPLIT[1] + "!"}, "stop"),
        ],
        headers={**ECHO, "x-request-id": KEY},
    ),
]
MODES = [[], ["--json"], ["--reasoning"], ["--debug"], ["--json", "--debug"]]


@pytest.mark.parametrize("make", LEAKY)
def test_the_key_never_shows_whatever_the_server_echoes(
    mimo: Any, server: FakeServer, make: Callable[[], Reply]
) -> None:
    for mode in MODES:
        server.queue(*[make() for _ in range(4)])
        run = mimo("describe", CLIP, "--retries", "1", *mode, env={"TTY_COMPATIBLE": "0"})
        assert KEY not in run.output, (mode, run.output)
        assert SPLIT[1] not in run.output  # not even the half of a key split across two chunks
        server.queue(*[make() for _ in range(4)])
        tty = mimo("describe", CLIP, "--retries", "1", *mode, env={"TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
        assert KEY not in tty.output and SPLIT[1] not in tty.output
        while server.pending():
            server._next_reply()


def test_a_key_split_across_deltas_is_masked_and_the_rest_shown(mimo: Any, server: FakeServer) -> None:
    server.queue(
        Reply.sse([chunk({"content": "key: " + SPLIT[0]}), chunk({"content": SPLIT[1] + " done"}, "stop")])
    )
    run = mimo("describe", CLIP)
    assert run.stdout == "key: *** done\n"
    server.queue(Reply.sse([chunk({"content": "ends with s"}), chunk({}, "stop")]))
    assert mimo("describe", CLIP).stdout == "ends with s\n"  # a held-back tail is shown at the end


def test_the_key_never_shows_in_dry_run_errors_or_a_traceback(
    mimo: Any, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (["--dry-run"], ["--dry-run", "--json"], ["--dry-run", "--debug"], ["--fps", "99"]):
        run = mimo("describe", CLIP, *args)
        assert KEY not in run.output
    run = mimo("describe", CLIP, "--api-key", KEY + "\nX", "--retries", "0")
    assert run.exit_code == 3 and KEY not in run.output and "line break" in run.stderr

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"unexpected echo of {KEY}")

    monkeypatch.setattr("mimo_cli.transport.client.read_body", boom)
    plain = mimo("describe", CLIP)
    assert plain.exit_code == 1 and "unexpected RuntimeError: unexpected echo of ***" in plain.stderr
    assert "Traceback" not in plain.stderr
    debug = mimo("describe", CLIP, "--debug")
    assert "Traceback (most recent call last)" in debug.stderr and "RuntimeError" in debug.stderr
    assert KEY not in debug.output
    env_debug = mimo("describe", CLIP, env={"MIMO_DEBUG": "1"})
    assert "Traceback" in env_debug.stderr and KEY not in env_debug.output


# -- --debug ----------------------------------------------------------------------------------------------


def test_debug_shows_headers_with_the_key_masked_and_never_the_body(mimo: Any, server: FakeServer) -> None:
    server.queue(html_error(502))
    run = mimo("describe", CLIP, "--debug")
    assert run.exit_code == 0 and run.stdout.strip()
    lines = run.stderr.splitlines()
    assert f"> POST {server.url}/chat/completions (attempt 1 of 4)" in lines
    assert "> authorization: Bearer sk-…cdef" in lines
    assert any(line.startswith("> content-length: ") for line in lines)
    assert "< HTTP/1.1 502 Bad Gateway" in run.stderr and "< server: nginx/1.24.0" in lines
    assert "< body: 502 Bad Gateway" in lines
    assert "* HTTP 502: 502 Bad Gateway" in run.stderr  # why it retried
    assert "< HTTP/1.1 200 OK" in run.stderr and "< content-type: text/event-stream; charset=utf-8" in lines
    assert "base64" not in run.stderr and "AAAA" not in run.stderr  # never the video
    assert KEY not in run.output
    global_flag = mimo("--debug", "describe", CLIP)
    assert "> authorization: Bearer sk-…cdef" in global_flag.stderr
    assert "> authorization" not in mimo("describe", CLIP).stderr
