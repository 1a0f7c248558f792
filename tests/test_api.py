"""The transport's pure parts: error mapping, backoff, Retry-After, redaction, and the SSE/JSON readers.

The readers get property tests: whatever bytes a server sends, they return a Result or raise MimoError.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

import pytest
from conftest import KEY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import StreamRedactor, redact, register_secret
from mimo_cli.result import Result, make_record
from mimo_cli.transport.classify import http_error
from mimo_cli.transport.deadline import Deadline, _Expired
from mimo_cli.transport.response import read_body
from mimo_cli.transport.retry import backoff, retry_after
from mimo_cli.transport.sse import iter_lines

# -- http_error: status + body -> kind, message, hint ------------------------------------------------------


def official(message: str, param: str | None = None, code: str = "400", type_: str = "") -> str:
    return json.dumps({"error": {"code": code, "message": message, "param": param, "type": type_}})


def openai(message: str, type_: str | None = None, code: str | None = None) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "code": code, "param": None}})


ROWS: list[tuple[int, str, Kind, bool]] = [
    (400, openai('Unexpected role "tool"', "invalid_request_error"), Kind.BAD_REQUEST, False),
    (400, official("Param Incorrect", "Not supported model mimo-v2-flash"), Kind.MODEL, False),
    (401, openai("Invalid token", "invalid_request_error"), Kind.AUTH, False),
    (401, openai("该令牌额度已用尽", "new_api_error"), Kind.QUOTA, False),
    (402, openai("Insufficient Balance", "unknown_error"), Kind.QUOTA, False),
    (403, json.dumps({"message": "用户额度不足, 剩余额度: $-1.74", "success": False}), Kind.QUOTA, False),
    (403, "Forbidden", Kind.QUOTA, False),
    (
        429,
        openai("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        Kind.QUOTA,
        False,
    ),
    (429, openai("user quota is not enough", "new_api_error", "insufficient_user_quota"), Kind.QUOTA, False),
    (429, openai("Rate limit reached for requests", "rate_limit_error"), Kind.RATE_LIMIT, True),
    (404, openai("not found", "invalid_request_error", "not_found"), Kind.BAD_REQUEST, False),
    (
        404,
        openai("The model `mimo-x` does not exist", "invalid_request_error", "model_not_found"),
        Kind.MODEL,
        False,
    ),
    (408, "", Kind.TIMEOUT, True),
    (409, openai("conflict"), Kind.SERVER, True),
    (413, "<html><title>413 Request Entity Too Large</title></html>", Kind.BAD_REQUEST, False),
    (421, openai("content is not allowed"), Kind.CONTENT_FILTER, False),
    (400, openai("The response was filtered", code="content_filter"), Kind.CONTENT_FILTER, False),
    (422, json.dumps({"detail": [{"loc": ["body"], "msg": "field required"}]}), Kind.BAD_REQUEST, False),
    (500, openai("internal error", "server_error"), Kind.SERVER, True),
    (500, openai("The model is overloaded. Please try again later", "server_error"), Kind.OVERLOADED, True),
    (501, "Not Implemented", Kind.SERVER, False),
    (502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", Kind.SERVER, True),
    (503, "", Kind.OVERLOADED, True),
    (
        503,
        openai("当前分组 default 下对于模型 mimo-v2-omni 无可用渠道", "new_api_error", "model_not_found"),
        Kind.NO_CHANNEL,
        True,
    ),
    (503, openai("No available channel for model mimo-v2-omni under group default"), Kind.NO_CHANNEL, True),
    (429, openai("No available channel for model mimo-v2-omni"), Kind.NO_CHANNEL, True),
    (
        404,
        openai("No available channel for model mimo-v2-omni"),
        Kind.NO_CHANNEL,
        False,
    ),  # 404: never retried
    (400, openai("The model is overloaded"), Kind.OVERLOADED, False),
    (504, "upstream request timeout", Kind.SERVER, True),
    (520, "", Kind.SERVER, True),
    (529, openai("overloaded_error"), Kind.OVERLOADED, True),
]


@pytest.mark.parametrize(("status", "body", "kind", "retryable"), ROWS)
def test_http_error_kinds(status: int, body: str, kind: Kind, retryable: bool) -> None:
    e = http_error(status, body, {}, model="mimo-v2-omni")
    assert (e.kind, e.retryable, e.http_status) == (kind, retryable, status)
    assert e.message.startswith(f"HTTP {status}")
    assert e.hint
    assert "<" not in e.message and "\n" not in e.message and len(e.message) < 400


def test_the_official_detail_in_param_is_shown_and_the_hint_names_model_and_models() -> None:
    e = http_error(
        400, official("Param Incorrect", "Not supported model mimo-v2-flash"), model="mimo-v2-flash"
    )
    assert e.message == "HTTP 400: Not supported model mimo-v2-flash (Param Incorrect)"
    assert (
        e.hint is not None and "--model" in e.hint and "mimo models" in e.hint and "mimo-v2-flash" in e.hint
    )
    retired = http_error(
        400, official("Param Incorrect", "Not supported model mimo-v2-omni"), model="mimo-v2-omni"
    )
    assert retired.hint is not None and "retired" in retired.hint
    field = http_error(400, openai("Invalid value").replace('"param": null', '"param": "fps"'))
    assert field.message == "HTTP 400: Invalid value (param: fps)"


def test_message_bodies_plain_text_and_empty_bodies() -> None:
    assert http_error(403, json.dumps({"message": "用户额度不足, 剩余额度: $-1.74"})).message == (
        "HTTP 403: 用户额度不足, 剩余额度: $-1.74"
    )
    assert http_error(500, "upstream   connect\n error").message == "HTTP 500: upstream connect error"
    assert http_error(502, "").message == "HTTP 502 Bad Gateway"
    assert http_error(400, json.dumps({"error": "bad thing"})).message == "HTTP 400: bad thing"


def test_an_html_page_is_its_status_and_a_short_cleaned_excerpt() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{width:35em}</style>"
        "<script>window.x = 'secret stuff';</script></head><body><h1>502 Bad Gateway</h1>"
        + "<p>filler</p>" * 500
        + "</body></html>"
    )
    e = http_error(502, page, {"server": "nginx/1.24.0"})
    assert e.message == "HTTP 502: 502 Bad Gateway (an HTML page from nginx/1.24.0, not the API's JSON)"
    no_title = http_error(404, "<html><body><h1>Not Found</h1><p>x</p></body></html>")
    assert no_title.message == "HTTP 404: Not Found (an HTML page, not the API's JSON)"
    assert no_title.hint is not None and "--base-url" in no_title.hint


def test_quota_403_without_a_quota_message_says_what_it_may_be() -> None:
    assert "may not be allowed" in (http_error(403, "Forbidden").hint or "")
    assert "top it up" in (http_error(403, json.dumps({"message": "余额不足"})).hint or "")


@given(status=st.integers(100, 599), body=st.text(max_size=300))
def test_http_error_never_fails(status: int, body: str) -> None:
    e = http_error(status, body, {"retry-after": body[:20]})
    assert isinstance(e, MimoError) and isinstance(e.kind, Kind) and e.message


@given(obj=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["error", "message", "code", "param", "type", "detail", "msg", "status"]), inner, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_http_error_takes_any_json_shape(obj: Any) -> None:
    e = http_error(400, json.dumps(obj))
    assert isinstance(e, MimoError) and e.message.startswith("HTTP 400")


# -- backoff and Retry-After -------------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_jittered_down_by_at_most_a_quarter() -> None:
    assert [backoff(n, None, lambda: 0.0) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]
    assert [backoff(n, None, lambda: 0.999999) for n in (1, 5)] == pytest.approx([0.375, 6.0], rel=1e-4)
    assert backoff(1, 7.5) == 7.5 and backoff(1, 120) == 120  # the server's wait, as it is
    assert backoff(1, 121) is None  # longer than 120 s: not waited for


@given(attempt=st.integers(1, 50), r=st.floats(0, 1, exclude_max=True))
def test_backoff_bounds(attempt: int, r: float) -> None:
    base = min(0.5 * 2 ** (attempt - 1), 8)
    wait = backoff(attempt, None, lambda: r)
    assert wait is not None and 0.75 * base <= wait <= base


def test_retry_after_seconds_date_and_ms() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    wait = retry_after({"retry-after": future})
    assert wait is not None and 28 <= wait <= 30
    # no wait at all (0, negative, a date gone by) means the usual backoff: None (SPEC "Other additions")
    assert retry_after({"retry-after": email.utils.formatdate(time.time() - 60, usegmt=True)}) is None
    assert retry_after({"retry-after": "soon"}) is None and retry_after({}) is None
    assert retry_after({"retry-after": "-4"}) is None and retry_after({"retry-after": "inf"}) is None


@given(st.text(max_size=40), st.text(max_size=40))
def test_retry_after_never_fails(value: str, ms: str) -> None:
    wait = retry_after({"retry-after": value, "retry-after-ms": ms})
    assert wait is None or wait >= 0


# -- secrets ----------------------------------------------------------------------------------------------


def test_stream_redactor_catches_a_key_split_across_pieces() -> None:
    register_secret(KEY)
    r = StreamRedactor()
    shown = r.feed("my key is sk-test-SEC") + r.feed("RET-0123456789abcdef, ok") + r.flush()
    assert shown == "my key is ***, ok"
    r = StreamRedactor()
    assert r.feed("plain s") == "plain "  # "s" could start the key: held back ...
    assert r.feed("un") == "sun"  # ... and let go when it cannot
    assert (
        r.feed(" sk-") == " " and r.flush() == "sk-"
    )  # a tail that never became the key is shown at the end


@given(text=st.text(max_size=60), cuts=st.lists(st.integers(0, 200), max_size=6))
def test_stream_redactor_equals_redact_of_the_whole(text: str, cuts: list[int]) -> None:
    register_secret(KEY)
    whole = text + KEY + text + KEY[:10]
    points = sorted({min(c, len(whole)) for c in cuts})
    pieces = [whole[a:b] for a, b in zip([0, *points], [*points, len(whole)], strict=True)]
    r = StreamRedactor()
    out = "".join(r.feed(p) for p in pieces) + r.flush()
    assert out == redact(whole) and KEY not in out


# -- readers -----------------------------------------------------------------------------------------------


def sse(*events: Any, done: bool = True) -> list[bytes]:
    out = [b"data: " + json.dumps(e).encode() + b"\n\n" if not isinstance(e, bytes) else e for e in events]
    return out + ([b"data: [DONE]\n\n"] if done else [])


def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def test_lines_split_at_lf_crlf_and_cr_even_across_chunks() -> None:
    assert list(iter_lines([b"a\r", b"\nb\rc\n", b"\xe4\xb8", b"\xad\n", b"tail"])) == [
        "a",
        "b",
        "c",
        "中",
        "tail",
    ]


def test_stream_variants() -> None:
    chunks = [b"\xef\xbb\xbf: keep-alive\r\n\r\n", *sse(delta({"reasoning_content": "Hm", "reasoning": "Hm"}),
              delta({"content": "Hi"}, "stop"), {"choices": [], "usage": {"total_tokens": 3}})]  # fmt: skip
    seen: list[tuple[str, str]] = []
    result = read_body(chunks, "text/event-stream", "m", lambda k, t: seen.append((k, t)))
    assert seen == [("reasoning", "Hm"), ("content", "Hi")]
    assert (result.answer, result.reasoning, result.finish_reason) == ("Hi", "Hm", "stop")
    assert result.usage == {"total_tokens": 3}
    # SSE sent with a JSON content type, and JSON sent for a streamed request, are both read
    assert read_body(chunks, "application/json", "m").answer == "Hi"
    completion = {"choices": [{"message": {"content": "A", "reasoning": "R"}, "finish_reason": "stop"}]}
    assert read_body([json.dumps(completion).encode()], "text/event-stream; x", "m").answer == "A"


@pytest.mark.parametrize(
    ("chunks", "ctype", "kind", "words"),
    [
        (sse(delta({"content": "The vid"}), done=False), "text/event-stream", Kind.BAD_RESPONSE, "ended before"),
        (sse(delta({"content": "x"}), b"data: {not json\n\n"), "text/event-stream", Kind.BAD_RESPONSE, "malformed"),
        (sse(delta({"content": "x"}, "content_filter")), "text/event-stream", Kind.CONTENT_FILTER, "content filter"),
        (sse({"error": {"message": "insufficient_user_quota", "code": 403}}), "text/event-stream", Kind.QUOTA,
         "insufficient"),
        (sse({"error": {"message": "The model is overloaded"}}), "text/event-stream", Kind.OVERLOADED, "overloaded"),
        ([b"event: error\ndata: upstream died\n\n"], "text/event-stream", Kind.SERVER, "upstream died"),
        ([b"<html><title>Login</title></html>"], "text/html", Kind.BAD_RESPONSE, "expected JSON, got text/html"),
        ([b""], "application/json", Kind.BAD_RESPONSE, "empty body"),
        ([b"[" * 100_000], "application/json", Kind.BAD_RESPONSE, "expected JSON"),
        ([json.dumps({"code": 500, "message": "upstream error"}).encode()], "application/json", Kind.SERVER,
         "upstream error"),
        ([json.dumps({"choices": []}).encode()], "application/json", Kind.BAD_RESPONSE, "no choices"),
    ],
)  # fmt: skip
def test_stream_and_json_failures(chunks: list[bytes], ctype: str, kind: Kind, words: str) -> None:
    with pytest.raises(MimoError) as info:
        read_body(chunks, ctype, "m")
    assert info.value.kind is kind and words in info.value.message


def test_a_cut_stream_may_be_retried_a_malformed_one_not() -> None:
    with pytest.raises(MimoError) as cut:
        read_body(sse(done=False), "text/event-stream", "m")
    with pytest.raises(MimoError) as malformed:
        read_body([b"data: {\n\n"], "text/event-stream", "m")
    assert cut.value.retryable and not malformed.value.retryable


def _check_reader(chunks: list[bytes], ctype: str) -> None:
    try:
        result = read_body(chunks, ctype, "m", lambda k, t: None)
    except MimoError as e:
        assert isinstance(e.kind, Kind) and e.message
        return
    assert isinstance(result, Result)
    json.dumps(make_record("x", result.model, result), allow_nan=False)  # printable as the record


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(chunks=st.lists(st.binary(max_size=80), max_size=8),
       ctype=st.sampled_from(["text/event-stream", "application/json", "text/html", ""]))  # fmt: skip
def test_any_bytes_give_a_result_or_a_mimo_error(chunks: list[bytes], ctype: str) -> None:
    _check_reader(chunks, ctype)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["choices", "delta", "message", "content", "reasoning_content", "reasoning",
                         "finish_reason", "usage", "id", "model", "error", "code", "prompt_tokens"]),
        inner, max_size=4,
    ),
    max_leaves=15,
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(JSON, max_size=5), done=st.booleans(), split=st.integers(1, 50))
def test_any_json_chunks_give_a_result_or_a_mimo_error(events: list[Any], done: bool, split: int) -> None:
    raw = b"".join(sse(*events, done=done))
    chunks = [raw[i : i + split] for i in range(0, len(raw), split)]
    _check_reader(chunks, "text/event-stream")
    for event in events:
        _check_reader([json.dumps(event).encode()], "application/json")


# -- deadlines --------------------------------------------------------------------------------------------


def test_deadline_gives_each_phase_what_is_left() -> None:
    clock = [100.0]
    d = Deadline(30, monotonic=lambda: clock[0])
    d.timeouts = {"connect": 10.0, "read": 30.0, "write": 30.0, "pool": 30.0}
    clock[0] += 25
    d.trace("http11.receive_response_body.started", {})
    assert d.phase == "read" and d.timeouts["read"] == pytest.approx(5) and d.timeouts["connect"] == 5
    assert "did not finish within --timeout 30 s" in d.error("u").message
    clock[0] += 10
    d.trace("http11.receive_response_headers.started", {})
    assert d.timeouts["read"] == 0.001  # past the deadline: the next read fails at once
    with pytest.raises(_Expired):
        list(d.chunks([b"x"]))
    d.phase = "connect"
    assert d.error("http://h/v1").message == "could not connect to http://h/v1 within 10 s"
    assert Deadline(2).connect == 2  # connecting never gets longer than the attempt
