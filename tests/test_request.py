"""The request body: every field of SPEC.md "Request", streamed with an exact Content-Length."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, padded_mp4

from mimo_cli.errors import MimoError
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.prompts import default_system_prompt
from mimo_cli.request import ChatRequest
from mimo_cli.settings import resolve

if TYPE_CHECKING:
    from pathlib import Path


def request(paths: list[str], prompt: str = "What happens?", **options: Any) -> ChatRequest:
    settings = resolve(options, env={})
    return ChatRequest(settings, [resolve_input(p, settings) for p in paths], prompt)


def test_system_prompt_is_the_documents_with_the_date() -> None:
    assert default_system_prompt(dt.date(2025, 12, 16)) == (
        "You are MiMo, an AI assistant developed by Xiaomi. Today is date: Tuesday, December 16, 2025. "
        "Your knowledge cutoff date is December 2024."
    )


def test_default_body_has_every_field_in_order() -> None:
    req = request([str(FIXTURES / "clip.mp4"), "https://example.com/b.mov"])
    body = json.loads(req.body_bytes())
    clip = base64.b64encode((FIXTURES / "clip.mp4").read_bytes()).decode()
    assert body == {
        "model": "mimo-v2-omni",
        "messages": [
            {"role": "system", "content": default_system_prompt()},
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{clip}"}, "fps": 2.0,
                     "media_resolution": "default"},
                    {"type": "video_url", "video_url": {"url": "https://example.com/b.mov"}, "fps": 2.0,
                     "media_resolution": "default"},
                    {"type": "text", "text": "What happens?"},
                ],
            },
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }  # fmt: skip


def test_optional_fields_appear_only_when_given() -> None:
    body = json.loads(
        request(
            [str(FIXTURES / "clip.avi")], fps=0.5, resolution="max", max_tokens=512, temperature=0.3,
            top_p=0.9, thinking=False, stream=False, system="", model="mimo-v2.5-omni",
        ).body_bytes()
    )  # fmt: skip
    assert body["model"] == "mimo-v2.5-omni"
    assert [m["role"] for m in body["messages"]] == ["user"]  # --system "" sends none
    part = body["messages"][0]["content"][0]
    assert (part["fps"], part["media_resolution"]) == (0.5, "max")
    assert body["max_completion_tokens"] == 512
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert body["thinking"] == {"type": "disabled"}
    assert "stream" not in body and "stream_options" not in body
    assert json.loads(request([str(FIXTURES / "clip.avi")], thinking=True).body_bytes())["thinking"] == {
        "type": "enabled"
    }


@pytest.mark.parametrize(
    "options",
    [{"fps": 0.05}, {"fps": 11}, {"temperature": 1.6}, {"top_p": 0}, {"resolution": "high"},
     {"max_tokens": 0}, {"timeout": 0}, {"fps": "fast"}, {"base_url": "api.example.com"}],
)  # fmt: skip
def test_out_of_range_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(MimoError) as err:
        resolve(options, env={})
    assert err.value.exit_code == 2


def test_content_length_is_exact_and_the_body_streams_in_bounded_chunks(tmp_path: Path) -> None:
    big = padded_mp4(tmp_path / "big.mp4", 3_000_000)
    req = request([str(big), str(FIXTURES / "clip.mov")], prompt='两段视频有什么不同？ "quoted" \\ </script>')
    chunks = list(req.iter_body())
    body = b"".join(chunks)
    assert req.content_length() == len(body)
    assert max(len(c) for c in chunks) <= 300_000  # never the whole video at once
    decoded = json.loads(body)
    assert decoded["messages"][1]["content"][2]["text"] == '两段视频有什么不同？ "quoted" \\ </script>'
    url = decoded["messages"][1]["content"][0]["video_url"]["url"]
    assert base64.b64decode(url.removeprefix("data:video/mp4;base64,")) == big.read_bytes()
    assert b"".join(req.iter_body()) == body  # a fresh stream per attempt


def test_preview_shortens_payloads_and_keeps_urls() -> None:
    req = request([str(FIXTURES / "clip.mp4"), "https://example.com/b.mov"])
    parts = req.body(preview=True)["messages"][1]["content"]
    preview = parts[0]["video_url"]["url"]
    assert preview.startswith("data:video/mp4;base64,AAAA") and "base64 chars)" in preview
    assert len(preview) < 100
    assert parts[1]["video_url"]["url"] == "https://example.com/b.mov"
