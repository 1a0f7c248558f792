"""Replies shaped the way real gateways send them (LiteLLM, lm-proxy, nginx in front of an API), against the
fake server: each must come out as the kind SPEC.md names, with its message, the right retries and waits,
the request id a gateway renames, and doctor's verdict. Issue 15 found every one of them in use."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, KEY, http_server, padded_mp4
from fakeserver import FakeServer, Reply, error_json, html_error
from hypothesis import given
from hypothesis import strategies as st

from mimo_cli.transport import gateway

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

CLIP = str(FIXTURES / "clip.mp4")
MiB = 1024 * 1024


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def litellm_error(status: int, message: str, type_: str = "None", code: str | None = None) -> Reply:
    """LiteLLM's error body: its own type, ``param: "None"`` and the status as a string in ``code``."""
    body = {"error": {"message": message, "type": type_, "param": "None", "code": code or str(status)}}
    return Reply.json(body, status)


def record_of(run: Any) -> dict[str, Any]:
    return json.loads(run.stdout)


def hint_of(run: Any) -> str:
    return next((line for line in run.stderr.splitlines() if line.startswith("hint: ")), "")


# -- kinds ---------------------------------------------------------------------------------------------------

NO_DB = "Authentication Error, No connected db."
COOLDOWN = (
    "litellm.RateLimitError: No deployments available for selected model, Try again in 5 seconds. "
    "Passed model=mimo-v2-omni. pre-call-checks=False, cooldown_list=[('1f3c', {'exception_received': "
    "'litellm.RateLimitError', 'status_code': '429'})]"
)
FILTER = (
    "litellm.BadRequestError: OpenAIException - Input data may contain inappropriate content. "
    "Received Model Group=mimo-v2-omni"
)
RELAYED_401 = (
    "litellm.AuthenticationError: AuthenticationError: OpenAIException - Error code: 401 - "
    "{'error': {'message': 'Invalid API Key', 'type': 'authentication_error', 'code': 'invalid_api_key'}}"
)

# name, reply, kind, exit code, attempts (default --retries 3), words the message keeps
KINDS: list[tuple[str, Callable[[], Reply], str, int, int, str]] = [
    ("litellm no db", lambda: litellm_error(400, NO_DB, "auth_error"), "auth", 3, 1, "No connected db"),
    ("litellm cooldown", lambda: litellm_error(429, COOLDOWN), "no_channel", 1, 4, "No deployments available"),
    ("cooldown code", lambda: error_json(429, "All deployments are cooling down", "None",
                                         "all_deployments_in_cooldown"), "no_channel", 1, 4, "cooling down"),
    ("lm-proxy 403", lambda: Reply.json({"detail": {"error": {
        "message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}},
        403), "auth", 3, 1, "Incorrect API key provided"),
    ("detail text", lambda: Reply.json({"detail": "Upstream refused: model busy"}, 400), "bad_request", 1, 1,
     "Upstream refused"),
    ("invalid_api_key 400", lambda: error_json(400, "bad key", "invalid_request_error", "invalid_api_key"),
     "auth", 3, 1, "bad key"),
    ("filter message", lambda: litellm_error(400, FILTER, "invalid_request_error"), "content_filter", 1, 1,
     "inappropriate content"),
    ("filter code", lambda: error_json(400, "Input data may contain inappropriate content.",
                                       "invalid_request_error", "data_inspection_failed"), "content_filter",
     1, 1, "inappropriate content"),
    ("relayed 401 in a 500", lambda: litellm_error(500, RELAYED_401), "auth", 3, 1, "Invalid API Key"),
    ("relayed 401 in a stream", lambda: Reply.sse([{"error": {"message": RELAYED_401, "type": None}}]),
     "auth", 3, 1, "Invalid API Key"),
    ("relayed 401 as text", lambda: Reply.sse([f"event: error\ndata: {RELAYED_401}\n\n"]), "auth", 3, 1,
     "Invalid API Key"),
    ("relayed 429 quota", lambda: litellm_error(500, "Error code: 429 - {'error': {'message': 'You exceeded "
                                                "your current quota', 'code': 'insufficient_quota'}}"),
     "quota", 3, 1, "exceeded your current quota"),
    ("relayed 503", lambda: litellm_error(500, "OpenAIException - Error code: 503 - upstream unavailable"),
     "overloaded", 1, 4, "upstream unavailable"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "reply", "kind", "code", "attempts", "words"), KINDS, ids=[row[0] for row in KINDS]
)
def test_gateway_errors_come_out_as_their_kind(
    mimo: Any, server: FakeServer, sleeps: list[float], name: str, reply: Callable[[], Reply], kind: str,
    code: int, attempts: int, words: str,
) -> None:  # fmt: skip
    server.queue(*[reply() for _ in range(4)])
    run = mimo("describe", CLIP, "--json")
    assert run.exit_code == code, run.stderr
    record = record_of(run)
    assert record["error"]["kind"] == kind
    assert words in record["error"]["message"]
    assert record["attempts"] == attempts and len(server.received) == attempts
    assert "Traceback" not in run.stderr


def test_cooldown_hint_is_not_send_fewer(mimo: Any, server: FakeServer, sleeps: list[float]) -> None:
    server.queue(*[litellm_error(429, COOLDOWN) for _ in range(4)])
    run = mimo("describe", CLIP)
    assert run.exit_code == 1
    assert "fewer at once" not in run.stderr and "channel" in hint_of(run)


def test_no_connected_db_stops_the_batch(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.mp4").write_bytes((FIXTURES / "clip.mp4").read_bytes())
    server.queue(*[litellm_error(400, NO_DB, "auth_error") for _ in range(3)])
    run = mimo("batch", str(tmp_path), "-j", "1")
    assert run.exit_code == 3, run.stderr
    assert len(server.received) == 1


# -- long messages -------------------------------------------------------------------------------------------

UNSUPPORTED = (
    "litellm.UnsupportedParamsError: openai does not support parameters: ['thinking'], for model=mimo-v2-omni. "
    "To drop these, set `litellm.drop_params=True` or for proxy:\n\n`litellm_settings:\n drop_params: true`\n. "
    "\n If you want to use these params dynamically send allowed_openai_params=['thinking'] in your request."
)


def test_a_long_message_keeps_its_informative_end(mimo: Any, server: FakeServer) -> None:
    server.queue(litellm_error(400, UNSUPPORTED + " Received Model Group=mimo-v2-omni " + "x" * 40))
    run = mimo("describe", CLIP, "--thinking", "--json")
    assert run.exit_code == 1
    message = record_of(run)["error"]["message"]
    assert "allowed_openai_params" in message and "UnsupportedParamsError" in message
    assert len(message) <= 420
    source_words = {*" ".join(UNSUPPORTED.split()).split(), "Received", "Model", "Group=mimo-v2-omni"}
    shown = message.removeprefix("HTTP 400: ").replace("…", " ").split()
    assert all(word in source_words or set(word) == {"x"} for word in shown), shown  # no word cut in two


def test_a_gateway_refusing_thinking_is_named_in_the_hint(mimo: Any, server: FakeServer) -> None:
    server.queue(litellm_error(400, UNSUPPORTED))
    run = mimo("describe", CLIP, "--thinking")
    hint = hint_of(run)
    assert run.exit_code == 1 and "thinking" in hint
    assert "--no-thinking" in hint or "leave" in hint
    assert "--extra-body" in hint or "admin" in hint


# -- headers a gateway renames -------------------------------------------------------------------------------


def test_llm_provider_retry_after_is_honoured(mimo: Any, server: FakeServer, sleeps: list[float]) -> None:
    server.queue(error_json(429, "slow down", "rate_limit_error", headers={"llm_provider-retry-after": "1"}))
    run = mimo("describe", CLIP)
    assert run.exit_code == 0, run.stderr
    assert sleeps == [1.0]


@pytest.mark.parametrize("header", ["request-id", "x-litellm-call-id"])
def test_renamed_request_id_headers_reach_the_record(mimo: Any, server: FakeServer, header: str) -> None:
    server.queue(
        error_json(400, "bad", "invalid_request_error", headers={"x-request-id": "", header: "id-42"})
    )
    run = mimo("describe", CLIP, "--json")
    assert run.exit_code == 1 and record_of(run)["request_id"] == "id-42"
    body = {"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "ok"}}]}  # fmt: skip
    server.queue(Reply.json(body, headers={"x-request-id": "", header: "id-43"}))
    run = mimo("describe", CLIP, "--json", "--no-stream")
    assert run.exit_code == 0 and record_of(run)["request_id"] == "id-43"


@pytest.mark.parametrize("value", ["0", "-3", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_a_retry_after_of_no_time_means_the_usual_backoff(
    mimo: Any, server: FakeServer, sleeps: list[float], value: str
) -> None:
    server.queue(*[error_json(503, "busy", headers={"Retry-After": value}) for _ in range(3)])
    run = mimo("describe", CLIP)
    assert run.exit_code == 0, run.stderr
    assert sleeps == [0.5, 1.0, 2.0]


# -- 413 and cut streams -------------------------------------------------------------------------------------


def test_413_from_a_proxy_names_the_body_size_and_max_inline_mb(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    video = padded_mp4(tmp_path / "big.mp4", 2 * MiB)
    server.queue(html_error(413))
    run = mimo("describe", str(video))
    assert run.exit_code == 1
    sent = len(server.received[0].body) / MiB
    assert f"{sent:.1f} MiB" in run.stderr
    hint = hint_of(run)
    assert "--max-inline-mb" in hint and "--fit" in hint and "proxy" in run.stderr


def test_a_stream_cut_mid_answer_says_so_and_what_was_kept(mimo: Any, server: FakeServer) -> None:
    server.queue(Reply.sse([chunk({"content": "The video shows"})], done=False))
    run = mimo("describe", CLIP)
    assert run.exit_code == 1 and len(server.received) == 1
    assert "OpenAI-compatible" not in run.stderr
    hint = hint_of(run)
    assert "cut" in hint and "kept" in hint and "15 characters" in hint


# -- batch stops without sleeping ----------------------------------------------------------------------------


def test_an_auth_stop_does_not_wait_out_another_inputs_retry(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.mp4").write_bytes((FIXTURES / "clip.mp4").read_bytes())
    # The first request to arrive is told to come back in 5 s; the other gets a 401 a moment later.
    refused = error_json(401, "Invalid token")
    refused.delay = 0.3
    server.queue(error_json(503, "busy", headers={"Retry-After": "5"}), refused)
    started = time.monotonic()
    run = mimo("batch", str(tmp_path), "-j", "2")
    elapsed = time.monotonic() - started
    assert run.exit_code == 3, run.stderr
    assert elapsed < 3.0, f"batch waited {elapsed:.1f} s after the auth stop"
    assert len(server.received) == 2


# -- doctor --------------------------------------------------------------------------------------------------


@pytest.fixture
def models_endpoint() -> Iterator[Callable[[int, bytes], str]]:
    """An endpoint whose GET /v1/models answers with the status and body given."""
    urls: list[Any] = []

    def start(status: int, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body[:1] == b"{" else "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        ctx = http_server(Handler, ThreadingHTTPServer)
        urls.append(ctx)
        return ctx.__enter__() + "/v1"

    yield start
    for ctx in urls:
        ctx.__exit__(None, None, None)


def _doctor_base_url_line(run: Any) -> str:
    return next((line for line in run.stdout.splitlines() if "base URL" in line), "")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
        (400, json.dumps({"error": {"message": "Authentication Error, No connected db.", "type": "auth_error",
                                    "param": "None", "code": "400"}}).encode()),
        (400, b'{"error": {"message": "malformed request", "type": "invalid_request_error"}}'),
        (500, b'{"error": {"message": "internal error"}}'),
    ],
    ids=["502", "400 no db", "400", "500"],
)  # fmt: skip
def test_doctor_a_failing_models_endpoint_is_a_problem(
    mimo: Any, models_endpoint: Callable[[int, bytes], str], status: int, body: bytes
) -> None:
    run = mimo("doctor", "--base-url", models_endpoint(status, body))
    assert run.exit_code != 0, run.stdout
    assert _doctor_base_url_line(run).startswith("problem"), run.stdout
    assert f"HTTP {status}" in run.stdout and KEY not in run.output


@pytest.mark.parametrize("status", [404, 405])
def test_doctor_an_endpoint_without_models_stays_a_warning(
    mimo: Any, models_endpoint: Callable[[int, bytes], str], status: int
) -> None:
    run = mimo("doctor", "--base-url", models_endpoint(status, b'{"error": {"message": "no such route"}}'))
    assert _doctor_base_url_line(run).startswith("warning"), run.stdout
    assert "does not list models" in run.stdout


# -- the model error looks the models up -----------------------------------------------------------------------

UNSUPPORTED_MODEL = {"error": {"code": "400", "message": "Param Incorrect", "param": "Unsupported model",
                               "type": ""}}  # fmt: skip
LISTED = ["text-embed-1", "mimo-v2-flash", "gpt-4o", "mimo-v2.5", "mimo-v2-omni", "qwen-vl-max",
          "whisper-1", "mimo-v2.5-pro", "tts-1"]  # fmt: skip


def models_requests(server: FakeServer) -> list[str]:
    return [r.path for r in server.received if r.method == "GET"]


def models_named(text: str, refused: str = "mimo-v2-omni") -> list[str]:
    """The listed models a hint names, in the order it first names them (the refused one left out)."""
    out: list[str] = []
    for token in re.split(r"[\s,;:()`]+", text):
        if token in LISTED and token != refused and token not in out:
            out.append(token)
    return out


def test_the_model_error_names_served_models_video_first(mimo: Any, server: FakeServer) -> None:
    server.models = list(LISTED)
    server.queue(Reply.json(UNSUPPORTED_MODEL, 400))
    run = mimo("describe", CLIP)
    assert run.exit_code == 1
    assert models_requests(server) == ["/v1/models"]
    hint = hint_of(run)
    # Up to five; those that look like video models (omni, v2.5, vl) first, each group in the listed order.
    assert models_named(hint) == [
        "mimo-v2.5",
        "qwen-vl-max",
        "mimo-v2.5-pro",
        "text-embed-1",
        "mimo-v2-flash",
    ]
    assert "--model mimo-v2.5" in hint and "mimo config set model mimo-v2.5" in hint


def test_the_models_lookup_is_done_once_per_run(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.mp4").write_bytes((FIXTURES / "clip.mp4").read_bytes())
    server.models = list(LISTED)
    server.queue(*[Reply.json(UNSUPPORTED_MODEL, 400) for _ in range(3)])
    run = mimo("batch", str(tmp_path), "-j", "1")
    assert run.exit_code == 1
    assert len([r for r in server.received if r.method == "POST"]) == 3
    assert models_requests(server) == ["/v1/models"]
    assert "--model mimo-v2.5" in run.stderr


def test_no_models_lookup_for_other_errors(mimo: Any, server: FakeServer, sleeps: list[float]) -> None:
    server.queue(error_json(400, "bad thing", "invalid_request_error"), *[Reply.text("", 503)] * 4)
    assert mimo("describe", CLIP).exit_code == 1
    assert mimo("describe", CLIP).exit_code == 1
    assert models_requests(server) == []


class _ModelRefused(BaseHTTPRequestHandler):
    """POST: the official model error; GET /models: 404 here, no answer for 20 s in the subclass."""

    stop = threading.Event()
    gets = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._reply(400, json.dumps(UNSUPPORTED_MODEL).encode())

    def do_GET(self) -> None:
        type(self).gets += 1
        self._reply(404, b'{"error": {"message": "no such route"}}')

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _SlowModels(_ModelRefused):
    def do_GET(self) -> None:
        type(self).gets += 1
        self.stop.wait(20)


def test_without_a_model_list_the_hint_stays_as_it_was(mimo: Any) -> None:
    _ModelRefused.gets = 0
    with http_server(_ModelRefused, ThreadingHTTPServer) as url:
        run = mimo("describe", CLIP, "--base-url", url + "/v1")
    assert run.exit_code == 1 and "Unsupported model" in run.stderr and "Traceback" not in run.stderr
    assert "mimo models" in hint_of(run) and "--model" in hint_of(run)
    assert _ModelRefused.gets <= 1


def test_the_models_lookup_is_bounded_by_the_deadline(mimo: Any) -> None:
    _SlowModels.stop.clear()
    with http_server(_SlowModels, ThreadingHTTPServer) as url:
        started = time.monotonic()
        run = mimo("describe", CLIP, "--timeout", "2", "--base-url", url + "/v1")
        elapsed = time.monotonic() - started
        _SlowModels.stop.set()
    assert run.exit_code == 1 and "Unsupported model" in run.stderr
    assert elapsed < 6, f"the /models lookup took {elapsed:.1f} s"


# -- the pure parts ------------------------------------------------------------------------------------------


@given(st.lists(st.text(alphabet="abcdefghij-_'[]=.", min_size=1, max_size=30), min_size=1, max_size=80))
def test_shorten_never_cuts_a_word_and_stays_short(words: list[str]) -> None:
    text = " ".join(words)
    short = gateway.shorten(text, 120)
    assert len(short) <= 120 + 30  # a head or tail word longer than its room is kept whole
    assert set(short.replace(" … ", " ").split()) <= set(words)
    if len(text) <= 120:
        assert short == text
    else:
        assert short.startswith(words[0][:1]) and short.endswith(words[-1])


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"llm_provider-retry-after": "1"}, 1.0),
        ({"retry-after": "0", "llm_provider-retry-after": "3"}, 3.0),
        ({"retry-after": "0"}, None),
        ({"retry-after": "-4"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_every_name_and_ignores_no_wait(
    headers: dict[str, str], wait: float | None
) -> None:
    assert gateway.retry_after(headers) == wait


def test_relayed_status_and_request_id() -> None:
    assert gateway.relayed_status(RELAYED_401) == 401
    assert gateway.relayed_status("Error code: 999 - nothing") is None
    assert gateway.relayed_status("no code here") is None
    assert gateway.request_id({"x-request-id": "", "request-id": "a"}) == "a"
    assert gateway.request_id({"x-litellm-call-id": "b"}) == "b"
    assert gateway.request_id({}) is None


def test_suggest_models_puts_video_models_first() -> None:
    got = gateway.suggest_models(LISTED, "mimo-v2-omni")
    assert got == ["mimo-v2.5", "qwen-vl-max", "mimo-v2.5-pro", "text-embed-1", "mimo-v2-flash"]
    assert gateway.suggest_models(["a", "a", "b"], None, 1) == ["a"]
