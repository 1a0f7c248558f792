"""--schema end to end against the fake server: what was sent, what came out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakeserver import DEFAULT_USAGE, FakeServer, Reply, error_json

from mimo_cli.render.answer import DataRenderer
from mimo_cli.result import Result
from mimo_cli.schema import concise_schema

FIXTURES = Path(__file__).parent / "fixtures"
CLIP = str(FIXTURES / "clip.mp4")
CONCISE = "title, tags list, people int, speech bool: is anyone talking"
SCHEMA = concise_schema(CONCISE)
GOOD = {"title": "A kitten", "tags": ["cat", "floor"], "people": 0, "speech": False}
BAD = {"title": "A kitten", "tags": ["cat"], "people": "none", "speech": False}


def completion(answer: str, usage: dict[str, Any] | None = None) -> Reply:
    """A whole (non-streamed) chat.completion answering ``answer``."""
    message = {"role": "assistant", "content": answer, "reasoning_content": "thinking"}
    return Reply.json(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "mimo-v2-omni",
            "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            "usage": usage or DEFAULT_USAGE,
        }
    )


def user_content(server: FakeServer, i: int) -> list[dict[str, Any]]:
    messages = server.received[i].json()["messages"]
    content = messages[-1]["content"]
    assert isinstance(content, list)
    return content


def text_of(server: FakeServer, i: int) -> str:
    return "".join(part["text"] for part in user_content(server, i) if part["type"] == "text")


def test_describe_sends_json_mode_and_the_schema_and_prints_the_object(mimo: Any, server: FakeServer) -> None:
    server.answer = "Here you are:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```"
    run = mimo("describe", CLIP, "--schema", CONCISE)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [json.dumps(GOOD)]  # one line in a pipe
    assert len(server.received) == 1
    body = server.received[0].json()
    assert body["response_format"] == {"type": "json_object"}
    assert text_of(server, 0).endswith(json.dumps(SCHEMA))
    assert "one JSON object" in text_of(server, 0)
    assert [mime for mime, _ in server.received[0].videos()] == ["video/mp4"]
    assert "tokens:" in run.stderr


def test_without_schema_nothing_changes(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--json")
    assert run.exit_code == 0, run.stderr
    assert "response_format" not in server.received[0].json()
    assert "JSON Schema" not in text_of(server, 0)
    assert json.loads(run.stdout)["data"] is None


def test_json_record_has_data_and_the_raw_answer(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    schema_file = tmp_path / "scene.schema.json"
    schema_file.write_text(json.dumps(SCHEMA), encoding="utf-8")
    server.answer = "Sure. " + json.dumps(GOOD) + " Done."
    run = mimo("describe", CLIP, "--schema", str(schema_file), "--json")
    assert run.exit_code == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["status"] == "ok"
    assert record["data"] == GOOD
    assert record["answer"] == server.answer
    assert list(record)[-1] == "data"


def test_a_repair_is_text_only_and_its_usage_is_added(mimo: Any, server: FakeServer) -> None:
    server.queue(completion(json.dumps(BAD)), completion(json.dumps(GOOD)))
    run = mimo("describe", CLIP, "--schema", CONCISE, "--json")
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 2
    first, repair = server.received[0].json(), server.received[1].json()
    assert server.received[1].videos() == []  # the video is not sent again
    assert [part["type"] for part in user_content(server, 1)] == ["text"]
    assert repair["response_format"] == {"type": "json_object"}
    assert repair["messages"][0] == first["messages"][0]  # the same system prompt
    assert repair["model"] == first["model"]
    text = text_of(server, 1)
    assert json.dumps(BAD) in text and json.dumps(SCHEMA) in text
    assert "$.people: 'none' is not of type 'integer'" in text
    record = json.loads(run.stdout)
    assert record["data"] == GOOD
    assert record["usage"]["prompt_tokens"] == 2 * DEFAULT_USAGE["prompt_tokens"]
    assert record["usage"]["prompt_tokens_details"]["video_tokens"] == 2 * 1170
    assert record["attempts"] == 2
    assert "sending a repair request (1 of 1)" in run.stderr


def test_no_match_after_the_repairs_is_kind_schema(mimo: Any, server: FakeServer) -> None:
    server.queue(completion(json.dumps(BAD)), completion("no JSON at all"))
    run = mimo("describe", CLIP, "--schema", CONCISE, "--json")
    assert run.exit_code == 1
    assert len(server.received) == 2
    record = json.loads(run.stdout)
    assert record["status"] == "error"
    assert record["error"]["kind"] == "schema"
    assert "$: the answer holds no JSON object" in record["error"]["message"]
    assert record["answer"] == "no JSON at all"  # the raw answer is kept
    assert record["data"] is None
    assert record["usage"]["prompt_tokens"] == 2 * DEFAULT_USAGE["prompt_tokens"]
    assert run.stderr.splitlines()[-2] == f"error: {record['error']['message']}"
    assert "Traceback" not in run.stderr


def test_no_match_in_a_pipe_prints_nothing_on_stdout(mimo: Any, server: FakeServer) -> None:
    server.queue(completion(json.dumps(BAD)), completion(json.dumps(BAD)))
    run = mimo("describe", CLIP, "--schema", CONCISE)
    assert run.exit_code == 1
    assert run.stdout == ""
    assert "error: the answer does not match the schema at $.people: 'none' is not of type 'integer'" in (
        run.stderr
    )
    assert "hint: --schema-retries N" in run.stderr


@pytest.mark.parametrize("retries", [0, 2])
def test_schema_retries_bounds_the_repairs(mimo: Any, server: FakeServer, retries: int) -> None:
    server.queue(*[completion(json.dumps(BAD)) for _ in range(retries + 2)])
    run = mimo("describe", CLIP, "--schema", CONCISE, "--schema-retries", str(retries), "--json")
    assert run.exit_code == 1
    assert len(server.received) == retries + 1
    assert json.loads(run.stdout)["error"]["kind"] == "schema"
    assert server.pending() == 1


def test_a_refused_response_format_is_asked_again_without_it(mimo: Any, server: FakeServer) -> None:
    refused = error_json(400, "Unsupported parameter: response_format", "invalid_request_error")
    server.queue(refused, completion(json.dumps(BAD)), completion(json.dumps(GOOD)))
    run = mimo("ask", CLIP, "How many people?", "--schema", CONCISE)
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout) == GOOD
    bodies = [r.json() for r in server.received]
    assert len(bodies) == 3
    assert "response_format" in bodies[0]
    assert "response_format" not in bodies[1] and "response_format" not in bodies[2]
    assert len(server.received[1].videos()) == 1  # the retry without it still sends the video
    assert server.received[2].videos() == []  # the repair does not
    assert "refused response_format" in run.stderr


def test_another_400_is_not_retried_without_json_mode(mimo: Any, server: FakeServer) -> None:
    server.queue(error_json(400, "max_completion_tokens is too large", "invalid_request_error"))
    run = mimo("describe", CLIP, "--schema", CONCISE, "--json")
    assert run.exit_code == 1
    assert len(server.received) == 1
    assert json.loads(run.stdout)["error"]["kind"] == "bad_request"


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ('{"type": "strin"}', "not valid JSON Schema: $.type"),
        ("title, people integer", "unknown type 'integer'"),
        ('{"type": "object",', "not valid JSON"),
        ("missing.json", "schema file not found"),
    ],
)
def test_a_bad_schema_is_exit_2_and_nothing_is_sent(
    mimo: Any, server: FakeServer, schema: str, words: str
) -> None:
    run = mimo("describe", CLIP, "--schema", schema)
    assert run.exit_code == 2
    assert words in run.stderr
    assert run.stderr.startswith("error: ")
    assert server.received == []
    assert "Traceback" not in run.stderr


def test_bad_schema_retries(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--schema", CONCISE, "--schema-retries", "-1")
    assert run.exit_code == 2
    assert "--schema-retries must be between 0 and 100" in run.stderr
    assert server.received == []


def test_dry_run_shows_json_mode_and_the_schema(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--schema", CONCISE, "--dry-run", "--json")
    assert run.exit_code == 0, run.stderr
    body = json.loads(run.stdout)["body"]
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][-1]["content"][-1]["text"].endswith(json.dumps(SCHEMA))
    assert server.received == []


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_batch_gives_every_record_its_data(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(FIXTURES / "clip.mp4", media / name)
    # -j 1: in order. a matches; b is repaired once; c never matches
    server.queue(
        completion(json.dumps(GOOD)),
        completion(json.dumps(BAD)),
        completion(json.dumps({**GOOD, "title": "B"})),
        completion("nothing"),
        completion("still nothing"),
    )
    out = tmp_path / "scenes.jsonl"
    run = mimo("batch", str(media), "-j", "1", "--schema", CONCISE, "-o", str(out))
    assert run.exit_code == 1
    got = {Path(r["input"]).name: r for r in records(out.read_text(encoding="utf-8"))}
    assert got["a.mp4"]["data"] == GOOD
    assert got["b.mp4"]["data"] == {**GOOD, "title": "B"}
    assert got["c.mp4"]["data"] is None and got["c.mp4"]["error"]["kind"] == "schema"
    assert got["c.mp4"]["answer"] == "still nothing"
    assert len(server.received) == 5
    assert [len(r.videos()) for r in server.received] == [1, 1, 0, 1, 0]
    # the dataset's metadata.jsonl, as the README builds it with jq
    metadata = [{"file_name": r["input"], **r["data"]} for r in got.values() if r["data"]]
    assert [m["title"] for m in metadata] == ["A kitten", "B"]


def test_batch_stops_sending_response_format_once_refused(
    mimo: Any, server: FakeServer, tmp_path: Path
) -> None:
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(FIXTURES / "clip.mp4", tmp_path / name)
    server.answer = json.dumps(GOOD)
    server.queue(error_json(400, "'response_format' is not supported by this model", "invalid_request_error"))
    run = mimo("batch", str(tmp_path), "-j", "1", "--schema", CONCISE)
    assert run.exit_code == 0, run.stderr
    assert [r["data"] for r in records(run.stdout)] == [GOOD, GOOD, GOOD]
    assert len(server.received) == 4
    assert ["response_format" in r.json() for r in server.received] == [True, False, False, False]
    assert run.stderr.count("refused response_format") == 1


def test_batch_without_schema_writes_data_null(mimo: Any, server: FakeServer) -> None:
    run = mimo("batch", CLIP)
    assert run.exit_code == 0, run.stderr
    (record,) = records(run.stdout)
    assert record["data"] is None
    assert "response_format" not in server.received[0].json()


def test_on_a_terminal_the_object_is_indented(capsys: pytest.CaptureFixture[str]) -> None:
    result = Result(model="m", answer=json.dumps(GOOD), data=GOOD, usage=DEFAULT_USAGE)
    DataRenderer(terminal=True, quiet=True).finish(result)
    assert capsys.readouterr().out == json.dumps(GOOD, indent=2) + "\n"
    DataRenderer(terminal=False, quiet=True).finish(result)
    assert capsys.readouterr().out == json.dumps(GOOD) + "\n"


def test_jsonschema_is_not_imported_without_schema(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from mimo_cli.cli import app\n"
        f"r = CliRunner().invoke(app, ['describe', {CLIP!r}, '--dry-run'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('jsonschema' in sys.modules)\n"
        f"r = CliRunner().invoke(app, ['describe', {CLIP!r}, '--dry-run', '--schema', 'a, b int'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('jsonschema' in sys.modules)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.split() == ["False", "True"], done.stderr


def test_resume_asks_again_when_the_schema_changes(mimo: Any, server: FakeServer, tmp_path: Path) -> None:
    server.answer = json.dumps(GOOD)
    out = tmp_path / "out.jsonl"
    assert mimo("batch", CLIP, "--schema", CONCISE, "-o", str(out)).exit_code == 0
    same = mimo("batch", CLIP, "--schema", CONCISE, "--schema-retries", "3", "-o", str(out), "--resume")
    assert same.exit_code == 0, same.stderr
    assert len(server.received) == 1  # the same schema: done already (--schema-retries does not count)
    other = mimo("batch", CLIP, "--schema", "title", "-o", str(out), "--resume")
    assert other.exit_code == 0, other.stderr
    assert len(server.received) == 2
    assert [r["data"] for r in records(out.read_text(encoding="utf-8"))] == [GOOD, GOOD]
