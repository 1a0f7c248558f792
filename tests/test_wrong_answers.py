"""Inputs and answers that went wrong in use (issue 15, "Wrong answers"): a forgotten question, MIME types
and data URIs that are not videos, an empty prompt, an empty answer, impossible usage, ``fps`` as a float;
and ``--extra-body`` / the profile's ``extra_body`` (SPEC.md "Other additions")."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES
from fakeserver import FakeServer, Reply

if TYPE_CHECKING:
    from collections.abc import Callable

CLIP = str(FIXTURES / "clip.mp4")
MOV = str(FIXTURES / "clip.mov")
ROOT = Path(__file__).resolve().parent.parent


def refused(run: Any, server: FakeServer) -> None:
    """Exit 2, one error line (and a hint), nothing sent, no traceback."""
    assert run.exit_code == 2, run.output
    assert server.received == []
    assert run.stderr.startswith("error: ") and "Traceback" not in run.output


def write_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "mimo" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def video_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    user = [m for m in body["messages"] if m["role"] == "user"][-1]
    return [p for p in user["content"] if p["type"] == "video_url"]


# -- inputs --------------------------------------------------------------------------------------------------


def test_ask_with_the_question_forgotten_is_a_usage_error(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", CLIP, MOV)
    refused(run, server)
    assert "question" in run.stderr


def test_ask_with_a_question_still_goes(mimo: Any, server: FakeServer) -> None:
    run = mimo("ask", CLIP, MOV, "Which one is darker?")
    assert run.exit_code == 0, run.stderr
    user = next(m for m in server.received[0].json()["messages"] if m["role"] == "user")
    assert user["content"][-1] == {"type": "text", "text": "Which one is darker?"}
    assert len(server.received[0].videos()) == 2


@pytest.mark.parametrize("mime", ["banana", "image/png", "text/plain", "video"])
def test_force_mime_takes_only_video_types(mimo: Any, server: FakeServer, mime: str) -> None:
    run = mimo("describe", CLIP, "--force-mime", mime)
    refused(run, server)
    assert "--force-mime" in run.stderr and "video/" in run.stderr


def test_force_mime_with_a_video_type_is_sent_as_that_type(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--force-mime", "video/mp4")
    assert run.exit_code == 0, run.stderr
    assert server.received[0].videos()[0] == ("video/mp4", (FIXTURES / "clip.mp4").read_bytes())


MP4_B64 = base64.b64encode((FIXTURES / "clip.mp4").read_bytes()).decode()


@pytest.mark.parametrize(
    "uri",
    [
        "data:text/plain;base64,aGVsbG8gd29ybGQ=",
        "data:image/png;base64," + base64.b64encode((FIXTURES / "image.png").read_bytes()).decode(),
        "data:video/mp4;base64,!!not*base64!!",
        "data:video/mp4;base64," + MP4_B64[:-3],  # a torn payload: not a whole number of quads
        "data:video/webm;base64," + MP4_B64,  # a container the API does not take
    ],
    ids=["text", "image", "not base64", "torn", "webm"],
)
def test_a_data_uri_must_be_an_accepted_video_in_valid_base64(
    mimo: Any, server: FakeServer, uri: str
) -> None:
    run = mimo("describe", uri)
    refused(run, server)
    assert "data" in run.stderr


def test_a_valid_data_uri_is_sent_as_it_is(mimo: Any, server: FakeServer) -> None:
    uri = "data:video/mp4;base64," + MP4_B64
    run = mimo("describe", uri)
    assert run.exit_code == 0, run.stderr
    assert server.received[0].videos() == [("video/mp4", (FIXTURES / "clip.mp4").read_bytes())]


def test_force_mime_lets_another_video_data_uri_through(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", "data:video/webm;base64," + MP4_B64, "--force-mime", "video/webm")
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 1 and server.received[0].videos()[0][0] == "video/webm"


@pytest.mark.parametrize("command", [("describe", CLIP), ("batch", CLIP)])
def test_an_empty_prompt_is_a_usage_error(mimo: Any, server: FakeServer, command: tuple[str, str]) -> None:
    run = mimo(*command, "--prompt", "")
    refused(run, server)
    assert "--prompt" in run.stderr


# -- answers -------------------------------------------------------------------------------------------------


def empty_completion() -> Reply:
    message = {"role": "assistant", "content": "", "reasoning_content": None}
    body = {"id": "chatcmpl-e", "object": "chat.completion", "model": "mimo-v2-omni",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}  # fmt: skip
    return Reply.json(body)


def empty_stream() -> Reply:
    finish = {
        "id": "chatcmpl-e",
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}],
    }
    return Reply.sse([finish])


@pytest.mark.parametrize(("reply", "flags"), [(empty_completion, ["--no-stream"]), (empty_stream, [])],
                         ids=["json", "stream"])  # fmt: skip
def test_an_empty_answer_is_a_bad_response_and_retried(
    mimo: Any, server: FakeServer, sleeps: list[float], reply: Callable[[], Reply], flags: list[str]
) -> None:
    server.queue(*[reply() for _ in range(4)])
    run = mimo("describe", CLIP, "--json", *flags)
    assert run.exit_code == 1
    record = json.loads(run.stdout)
    assert record["error"]["kind"] == "bad_response" and record["attempts"] == 4
    assert "empty" in record["error"]["message"] or "no answer" in record["error"]["message"]
    server.queue(reply())
    again = mimo("describe", CLIP, "--json", *flags)  # one empty answer, then the real one
    assert again.exit_code == 0 and json.loads(again.stdout)["attempts"] == 2


def test_reasoning_alone_is_an_answer(mimo: Any, server: FakeServer) -> None:
    message = {"role": "assistant", "content": "", "reasoning_content": "Thinking it over."}
    body = {"id": "x", "choices": [{"index": 0, "finish_reason": "length", "message": message}]}
    server.queue(Reply.json(body))
    run = mimo("describe", CLIP, "--json", "--no-stream")
    assert run.exit_code == 0 and json.loads(run.stdout)["reasoning"] == "Thinking it over."


def test_zero_prompt_tokens_for_a_video_warns(mimo: Any, server: FakeServer) -> None:
    server.usage = {"prompt_tokens": 0, "completion_tokens": 9, "total_tokens": 9}
    run = mimo("describe", CLIP)
    assert run.exit_code == 0
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "0 prompt tokens" in warnings[0] and "gateway" in warnings[0]
    server.usage = {"prompt_tokens": 1200, "completion_tokens": 9, "total_tokens": 1209}
    assert "warning" not in mimo("describe", CLIP).stderr


# -- the request ---------------------------------------------------------------------------------------------


def test_a_whole_fps_is_sent_as_an_integer(mimo: Any, server: FakeServer) -> None:
    assert mimo("describe", CLIP).exit_code == 0
    assert mimo("describe", CLIP, "--fps", "3.0").exit_code == 0
    assert mimo("describe", CLIP, "--fps", "0.5").exit_code == 0
    sent = [video_parts(r.json())[0]["fps"] for r in server.received]
    assert sent == [2, 3, 0.5]
    assert [type(f) for f in sent] == [int, int, float]
    assert b'"fps": 2.0' not in server.received[0].body and b'"fps":2.0' not in server.received[0].body


EXTRA = '{"mm_processor_kwargs": {"fps": [1, 2]}, "allowed_openai_params": ["thinking"]}'


def test_extra_body_adds_top_level_fields(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    assert mimo("describe", CLIP, "--extra-body", EXTRA).exit_code == 0
    assert mimo("ask", CLIP, "What?", "--extra-body", EXTRA).exit_code == 0
    other = tmp_path / "b.mp4"
    other.write_bytes((FIXTURES / "clip.mp4").read_bytes())
    assert mimo("batch", CLIP, str(other), "--extra-body", EXTRA).exit_code == 0
    assert len(server.received) == 4
    for req in server.received:
        body = req.json()
        assert body["mm_processor_kwargs"] == {"fps": [1, 2]} and body["allowed_openai_params"] == [
            "thinking"
        ]
        assert body["model"] == "mimo-v2-omni" and body["stream"] is True


@pytest.mark.parametrize(
    "value",
    ['{"model": "other"}', '{"messages": []}', '{"stream": false}', '{"stream_options": {}}', "[1, 2]",
     "{not json", '"text"'],
)  # fmt: skip
def test_extra_body_that_is_not_an_object_or_sets_mimos_keys_is_refused(
    mimo: Any, server: FakeServer, value: str
) -> None:
    run = mimo("describe", CLIP, "--extra-body", value)
    refused(run, server)
    assert "--extra-body" in run.stderr and "No such option" not in run.stderr
    key = next(iter(json.loads(value)), None) if value.startswith('{"') else None
    assert key is None or key in run.stderr


def test_the_profile_extra_body_is_sent_and_the_option_adds_to_it(mimo: Any, server: FakeServer) -> None:
    write_config("[profiles.default]\n[profiles.default.extra_body]\nrepetition_penalty = 1.05\nseed = 7\n")
    assert mimo("describe", CLIP).exit_code == 0
    assert mimo("describe", CLIP, "--extra-body", '{"seed": 8}').exit_code == 0
    first, second = (r.json() for r in server.received)
    assert first["repetition_penalty"] == 1.05 and first["seed"] == 7
    assert second["repetition_penalty"] == 1.05 and second["seed"] == 8


def test_a_profile_extra_body_setting_mimos_keys_is_a_usage_error(mimo: Any, server: FakeServer) -> None:
    write_config('[profiles.default.extra_body]\nmessages = "x"\n')
    run = mimo("describe", CLIP)
    refused(run, server)
    assert "extra_body" in run.stderr and "messages" in run.stderr


def test_dry_run_shows_the_extra_body(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--dry-run", "--extra-body", '{"seed": 8}')
    assert run.exit_code == 0 and server.received == []
    assert '"seed": 8' in run.stdout


# -- README --------------------------------------------------------------------------------------------------


def test_readme_shows_the_way_past_the_retired_default_and_the_gateways_checked() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "--model mimo-v2.5" in quickstart and "mimo config set model mimo-v2.5" in quickstart
    assert "LiteLLM" in readme and "lm-proxy" in readme and "nginx" in readme
    assert "--retries 0" in readme and "multipl" in readme
    assert "--extra-body" in readme and "extra_body" in readme
