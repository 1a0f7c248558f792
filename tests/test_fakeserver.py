"""Checks of the fake OpenAI-compatible server itself, against a live instance, with httpx."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fakeserver import DEFAULT_USAGE, FakeServer, Reply, error_json, html_error

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def srv() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server
    assert server.errors == []


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # verify=False: no CA bundle to load (plain HTTP anyway); trust_env=False: ignore *_PROXY variables.
    with httpx.Client(verify=False, trust_env=False) as client:
        yield client


def _chat(server: FakeServer, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "mimo-v2-omni", "messages": [{"role": "user", "content": "hi"}]}
    body.update(extra)
    return body


def _sse_data(lines: list[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def test_default_non_streamed(srv: FakeServer, http: httpx.Client) -> None:
    r = http.post(srv.url + "/chat/completions", json=_chat(srv, model="mimo-v2.5-omni"))
    assert r.status_code == 200
    assert r.headers["x-request-id"]
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    data = r.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "mimo-v2.5-omni"
    assert data["id"].startswith("chatcmpl-")
    choice = data["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {
        "role": "assistant",
        "content": srv.answer,
        "reasoning_content": srv.reasoning,
        "tool_calls": None,
    }
    assert data["usage"] == DEFAULT_USAGE


def test_default_streamed_with_usage(srv: FakeServer, http: httpx.Client) -> None:
    body = _chat(srv, stream=True, stream_options={"include_usage": True})
    with http.stream("POST", srv.url + "/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["connection"] == "close"
        lines = list(r.iter_lines())
    data = _sse_data(lines)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "mimo-v2-omni" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = [d["reasoning_content"] for d in deltas if d.get("reasoning_content")]
    content = [d["content"] for d in deltas if d.get("content")]
    assert 2 <= len(reasoning) <= 3 and "".join(reasoning) == srv.reasoning
    assert len(content) >= 3 and "".join(content) == srv.answer
    choice_chunks = [c for c in chunks if c["choices"]]
    assert [c["choices"][0]["finish_reason"] for c in choice_chunks][-1] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in choice_chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == DEFAULT_USAGE


def test_default_streamed_without_usage_and_custom_answer(srv: FakeServer, http: httpx.Client) -> None:
    srv.answer = "Two dogs."
    srv.reasoning = None
    with http.stream("POST", srv.url + "/chat/completions", json=_chat(srv, stream=True)) as r:
        data = _sse_data(list(r.iter_lines()))
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["choices"] for c in chunks)
    assert all("reasoning_content" not in c["choices"][0]["delta"] or not c["choices"][0]["delta"]
               ["reasoning_content"] for c in chunks)  # fmt: skip
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Two dogs."


def test_models_and_unknown_paths(srv: FakeServer) -> None:
    with httpx.Client(base_url=srv.url, verify=False, trust_env=False) as client:
        r = client.get("/models")
        assert r.status_code == 200
        assert r.json() == {
            "object": "list",
            "data": [
                {"id": "mimo-v2-omni", "object": "model", "owned_by": "xiaomi"},
                {"id": "mimo-v2.5-omni", "object": "model", "owned_by": "xiaomi"},
            ],
        }
        r = client.get("/nope?x=1")
        assert r.status_code == 404
        assert r.json()["error"] == {
            "message": "not found",
            "type": "invalid_request_error",
            "code": "not_found",
            "param": None,
        }
        assert client.post(srv.root_url + "/chat/completions", json={}).status_code == 404
    assert [(q.method, q.path, q.query) for q in srv.received] == [
        ("GET", "/v1/models", ""),
        ("GET", "/v1/nope", "x=1"),
        ("POST", "/chat/completions", ""),
    ]


def test_received_body_headers_and_videos(srv: FakeServer, http: httpx.Client) -> None:
    clip = os.urandom(3000) + b"\x00\xff"
    uri = "data:video/mp4;base64," + base64.b64encode(clip).decode()
    body = {
        "model": "mimo-v2-omni",
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [{"type": "video_url", "video_url": {"url": "data:video/webm;base64,AA=="}}],
            },
            {"role": "assistant", "content": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": uri}, "fps": 2},
                    {"type": "text", "text": "what is this?"},
                    {"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}},
                ],
            },
        ],
    }
    raw = json.dumps(body).encode()
    r = http.post(
        srv.url + "/chat/completions",
        content=raw,
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"},
    )
    assert r.status_code == 200
    (req,) = srv.received
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.body == raw
    assert req.json() == body
    assert req.headers["authorization"] == "Bearer sk-test"
    assert req.headers["content-type"] == "application/json"
    assert req.videos() == [("video/mp4", clip), ("url", "https://example.com/a.mp4")]


def test_queue_is_fifo_then_default(srv: FakeServer) -> None:
    srv.queue(
        Reply.json({"n": 1}),
        Reply.text("two", 503, headers={"Retry-After": "1"}),
        error_json(429, "slow down", "rate_limit_error", "rate_limited"),
    )
    srv.queue(html_error(502))
    assert srv.pending() == 4
    with httpx.Client(
        base_url=srv.url, verify=False, trust_env=False
    ) as client:  # keep-alive: all on one connection
        r1 = client.post("/chat/completions", json=_chat(srv))
        r2 = client.post("/chat/completions", json=_chat(srv))
        r3 = client.post("/chat/completions", json=_chat(srv))
        r4 = client.post("/chat/completions", json=_chat(srv))
        r5 = client.post("/chat/completions", json=_chat(srv))
    assert (r1.status_code, r1.json()) == (200, {"n": 1})
    assert (r2.status_code, r2.text, r2.headers["retry-after"]) == (503, "two", "1")
    assert r2.headers["content-type"] == "text/plain"
    assert r3.status_code == 429
    assert r3.json()["error"] == {"message": "slow down", "type": "rate_limit_error", "code": "rate_limited",
                                  "param": None}  # fmt: skip
    assert r4.status_code == 502 and r4.headers["content-type"].startswith("text/html")
    assert r4.headers["server"].startswith("nginx")
    assert "<script" in r4.text and "<style>" in r4.text and "502 Bad Gateway" in r4.text
    assert r5.json()["choices"][0]["message"]["content"] == srv.answer
    assert srv.pending() == 0 and len(srv.received) == 5


def test_cloudflare_html_error() -> None:
    reply = html_error(524)
    assert reply.status == 524
    assert reply.headers["Server"] == "cloudflare"
    page = reply.body.decode()
    assert "<script>" in page and "<style>" in page and "A timeout occurred" in page


def test_sse_script_with_raw_events_and_comments(srv: FakeServer, http: httpx.Client) -> None:
    srv.queue(
        Reply.sse(
            [{"choices": [{"index": 0, "delta": {"content": "a"}}]}, "data: {broken\n\n", "event: error\n"],
            comments=True,
        )
    )
    with http.stream("POST", srv.url + "/chat/completions", json=_chat(srv, stream=True)) as r:
        text = r.read().decode()
    assert text.count(": keep-alive\n\n") == 4
    assert 'data: {"choices": [{"index": 0, "delta": {"content": "a"}}]}\n\n' in text
    assert "data: {broken\n\n" in text and "event: error\n" in text
    assert text.endswith("data: [DONE]\n\n")


def test_sse_done_false_closes_stream(srv: FakeServer, http: httpx.Client) -> None:
    srv.queue(Reply.sse([{"x": 1}, {"x": 2}], done=False))
    with http.stream("POST", srv.url + "/chat/completions", json=_chat(srv, stream=True)) as r:
        lines = list(r.iter_lines())  # ends at EOF without [DONE]
    assert _sse_data(lines) == ['{"x": 1}', '{"x": 2}']


def test_sse_chunked_done_false_is_an_incomplete_body(srv: FakeServer) -> None:
    srv.queue(Reply.sse([{"x": 1}], chunked=True, done=False), Reply.sse([{"x": 2}], chunked=True))
    with httpx.Client(verify=False, trust_env=False) as client:
        got: list[str] = []
        with (
            pytest.raises(httpx.RemoteProtocolError),
            client.stream("POST", srv.url + "/chat/completions", json={}) as r,
        ):
            assert r.headers["transfer-encoding"] == "chunked"
            got.extend(r.iter_lines())
        assert _sse_data(got) == ['{"x": 1}']
        with client.stream("POST", srv.url + "/chat/completions", json={}) as r:
            assert _sse_data(list(r.iter_lines())) == ['{"x": 2}', "[DONE]"]


def test_drop_raises(srv: FakeServer, http: httpx.Client) -> None:
    srv.queue(Reply.drop())
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post(srv.url + "/chat/completions", json=_chat(srv))
    assert len(srv.received) == 1
    assert http.post(srv.url + "/chat/completions", json=_chat(srv)).status_code == 200


def test_hang_before_headers_times_out_client(srv: FakeServer, http: httpx.Client) -> None:
    srv.queue(Reply.hang(5))
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.post(srv.url + "/chat/completions", json=_chat(srv), timeout=httpx.Timeout(5, read=0.1))
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("kwargs", [{}, {"after_headers": True}, {"sse_events_first": [{"x": 1}]}])
def test_hang_is_interrupted_by_stop(kwargs: dict[str, Any], http: httpx.Client) -> None:
    server = FakeServer().start()
    server.queue(Reply.hang(30, **kwargs))
    outcome: list[object] = []

    def client() -> None:
        try:
            with http.stream(
                "POST", server.url + "/chat/completions", json={"stream": True}, timeout=10
            ) as r:
                outcome.append(r.status_code)
                outcome.append(list(r.iter_lines()))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    assert server.wait_for_requests(1, timeout=2)
    time.sleep(0.05)
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 0.5
    thread.join(timeout=2)
    assert not thread.is_alive()
    if kwargs:
        assert outcome[0] == 200
        assert outcome[1] == (['data: {"x": 1}', ""] if "sse_events_first" in kwargs else [])
    else:
        assert isinstance(outcome[0], (httpx.RemoteProtocolError, httpx.ReadError))


def test_stop_with_idle_keepalive_connection_is_prompt() -> None:
    server = FakeServer().start()
    with httpx.Client(verify=False, trust_env=False) as client:
        assert client.get(server.url + "/models").status_code == 200
        t0 = time.monotonic()
        server.stop()
        assert time.monotonic() - t0 < 0.5
    server.stop()  # idempotent


def test_chunked_request_body(srv: FakeServer, http: httpx.Client) -> None:
    raw = json.dumps(_chat(srv, padding="x" * 300_000)).encode()

    def gen() -> Iterator[bytes]:
        for i in range(0, len(raw), 65_536):
            yield raw[i : i + 65_536]

    r = http.post(srv.url + "/chat/completions", content=gen(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    (req,) = srv.received
    assert req.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in req.headers
    assert req.body == raw


def test_large_body(srv: FakeServer, http: httpx.Client) -> None:
    clip = os.urandom(8 * 1024 * 1024)
    body = {
        "model": "mimo-v2-omni",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "video_url",
                        "video_url": {"url": "data:video/mp4;base64," + base64.b64encode(clip).decode()},
                    }
                ],
            }
        ],
    }
    r = http.post(srv.url + "/chat/completions", json=body)
    assert r.status_code == 200
    req = srv.received[0]
    assert len(req.body) > 10 * 1024 * 1024
    assert req.videos() == [("video/mp4", clip)]


def test_survives_client_disconnects(
    srv: FakeServer, capfd: pytest.CaptureFixture[str], http: httpx.Client
) -> None:
    port = srv.port
    # Disconnect mid-upload.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b"{" * 1000
        )
    # Disconnect mid-response (slow SSE stream).
    srv.queue(Reply.sse([{"x": i} for i in range(20)], delay_between=0.01))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST
    time.sleep(0.1)
    assert http.get(srv.url + "/models").status_code == 200
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert len(srv.received) == 2  # the aborted upload is not recorded


def test_response_delay_and_reply_delay(srv: FakeServer, http: httpx.Client) -> None:
    srv.response_delay = 0.05
    srv.queue(Reply.json({"ok": True}, delay=0.05))
    t0 = time.monotonic()
    assert http.post(srv.url + "/chat/completions", json=_chat(srv)).json() == {"ok": True}
    assert http.post(srv.url + "/chat/completions", json=_chat(srv)).status_code == 200
    assert 0.1 <= time.monotonic() - t0 < 1


def test_invalid_json_body_gets_400(srv: FakeServer, http: httpx.Client) -> None:
    r = http.post(srv.url + "/chat/completions", content=b"{nope")
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
