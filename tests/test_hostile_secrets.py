"""The key (and any other secret) never shows, against servers of our own that try every way to print it:
echoes at every offset around each cut mimo makes, split by escape sequences, in headers, model ids, request
ids, finish reasons; credentials in a base URL; a key of the wrong type in the config file. And no control
byte a server sends (OSC 52, a title change, ESC[2J, NUL) reaches the terminal.

The hostile servers are in ``tests/hostile.py``.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, KEY
from hostile import (
    USAGE,
    Behaviour,
    Hostile,
    chunk,
    completion,
    controls,
    each,
    leaks,
    on_screen,
    reply,
    sse,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

CLIP = str(FIXTURES / "clip.mp4")
SHIFTS = (10, 15, 22)  # the key starts this many characters before a cut: 9 to 21 of them would show


def at(offset: int, prefix: str = "") -> str:
    """``prefix`` + padding + KEY + a tail, with KEY starting at ``offset`` of the whole string."""
    return prefix + "x" * max(0, offset - len(prefix)) + KEY + " and more text after it"


def _completion_with(**fields: Any) -> dict[str, Any]:
    body = completion("fine", usage=USAGE)
    for name, value in fields.items():
        if name == "finish_reason":
            body["choices"][0]["finish_reason"] = value
        else:
            body[name] = value
    return body


# name -> (the cuts the text meets on its way out, a server that puts the key at an offset)
FIELDS: dict[str, tuple[tuple[int, ...], Callable[[int], Behaviour]]] = {
    "error.message": ((300,), lambda o: reply(400, {"error": {"message": at(o), "type": "invalid"}})),
    "error.param": ((300,), lambda o: reply(400, {"error": {"message": "Param Incorrect",
                                                            "param": at(o, "Not supported model ")}})),
    "error string": ((300,), lambda o: reply(400, {"error": at(o)})),
    "message": ((300,), lambda o: reply(400, {"message": at(o)})),
    "detail list": ((200,), lambda o: reply(422, {"detail": [{"msg": at(o)}]})),
    "text body": ((200, 500), lambda o: reply(400, at(o), "text/plain")),
    "html title": ((120,), lambda o: reply(400, f"<html><title>{at(o)}</title></html>", "text/html")),
    "server header": ((40,), lambda o: reply(403, "<html><title>Denied</title></html>", "text/html",
                                             [("Server", at(o))])),
    "200 html title": ((120,), lambda o: reply(200, f"<html><title>{at(o)}</title></html>", "text/html")),
    "200 not json": ((120,), lambda o: reply(200, at(o), "application/json")),
    "finish_reason": ((100,), lambda o: reply(200, _completion_with(finish_reason=at(o)))),
    "model": ((200,), lambda o: reply(200, _completion_with(model=at(o)))),
    "id": ((200,), lambda o: reply(200, _completion_with(id=at(o)))),
    "x-request-id": ((200,), lambda o: reply(400, {"error": {"message": "no"}}, headers=[("x-request-id", at(o))])),
    "stream finish_reason": ((100,), lambda o: sse([chunk({"content": "ok"}, at(o)), {"choices": [], "usage": USAGE}])),
    "stream model and id": ((200,), lambda o: sse([chunk({"content": "ok"}, "stop", model=at(o), id=at(o))])),
    "stream error event": ((200,), lambda o: sse([f"event: error\ndata: {at(o)}\n\n".encode()], done=False)),
    "stream malformed": ((80,), lambda o: sse(["{" + at(o, "{")], done=False)),
    "stream embedded error": ((300,), lambda o: sse([{"error": {"message": at(o), "type": "x"}}])),
}  # fmt: skip
MODES = (["--json"], [], ["--debug", "--json"])


def offsets(cuts: tuple[int, ...]) -> list[int]:
    return [cut - shift for cut in cuts for shift in SHIFTS]


def check_no_leak(run: Any, where: str) -> None:
    found = leaks(run.output, KEY)
    assert not found, f"{where}: pieces of the key in the output: {found}\n{run.output}"


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_no_piece_of_the_key_at_any_cut(mimo: Any, field: str) -> None:
    cuts, make = FIELDS[field]
    where = offsets(cuts)
    with Hostile(chat=each(lambda i: make(where[i]))) as srv:
        for i, offset in enumerate(where):
            run = mimo("describe", CLIP, "--retries", "0", *MODES[i % 3], env={"MIMO_BASE_URL": srv.url})
            check_no_leak(run, f"{field} at {offset} {MODES[i % 3]}")
    posts = [r for r in srv.received if r.method == "POST"]  # (a model error also asks GET /models)
    assert len(posts) == len(where)  # every one of them was asked


def test_no_piece_of_the_key_in_batch_records(mimo: Any, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(CLIP, folder / name)
    behaviours = [
        reply(400, {"error": {"message": at(290)}}),
        reply(200, _completion_with(finish_reason=at(90), model=at(190), id=at(185))),
        reply(400, f"<html><title>{at(110)}</title></html>", "text/html", [("Server", at(30))]),
    ]
    out = tmp_path / "out.jsonl"
    with Hostile(chat=each(lambda i: behaviours[i % 3])) as srv:
        run = mimo("batch", str(folder), "-o", str(out), "--retries", "0", "-j", "1",
                   env={"MIMO_BASE_URL": srv.url})  # fmt: skip
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and len(srv.received) == 3
    check_no_leak(run, "batch output")
    assert not leaks(out.read_text(), KEY), out.read_text()


# -- an echo split by escape sequences, and control bytes -------------------------------------------------

SEQUENCES = {
    "SGR": "\x1b[0m",
    "title": "\x1b]0;owned\x07",
    "OSC 52": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "clear": "\x1b[2J",
    "NUL": "\x00",
    "C1 CSI": "\x9b1m",
}


def split(seq: str) -> str:
    return KEY[:12] + seq + KEY[12:]


def echo_everywhere(seq: str) -> list[tuple[list[str], Behaviour]]:
    """Modes and servers that put ``seq`` (and the key split by it) into each place a server's text shows."""
    text = f"look {seq}here{seq} {split(seq)} done"
    return [
        ([], reply(200, completion(text, usage=USAGE))),
        (["--reasoning"], sse([chunk({"reasoning_content": text}), chunk({"content": text}, "stop")])),
        (["--json"], sse([chunk({"content": text}), chunk({}, "stop", model=text)])),
        ([], reply(400, {"error": {"message": text}})),
        ([], reply(400, text, "text/plain")),
        ([], reply(502, f"<html><title>{text}</title></html>", "text/html")),
        ([], sse([{"error": {"message": text}}])),
        ([], sse([f"event: error\ndata: {text}\n\n".encode()], done=False)),
        (["--debug"], reply(400, text, "text/plain")),
    ]


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_control_bytes_from_a_server_never_reach_the_terminal(mimo: Any, name: str) -> None:
    cases = echo_everywhere(SEQUENCES[name])
    with Hostile(chat=each(lambda i: cases[i][1])) as srv:
        for mode, _ in cases:
            run = mimo("describe", CLIP, "--retries", "0", *mode, env={"MIMO_BASE_URL": srv.url})
            assert not controls(run.output), (mode, run.output)
            check_no_leak(run, f"{name} {mode}")  # the key, whole once the terminal ate the sequence
            assert "here" in run.output  # the text around it still shows
            if "--json" in mode:
                record = json.loads(run.stdout)
                assert not controls(record["answer"] + record["model"])


def test_a_plain_echo_of_the_key_is_masked_on_screen(mimo: Any) -> None:
    """What already works stays working: the whole key, streamed or not, shows as ***."""
    with Hostile(chat=each(lambda i: sse([chunk({"content": f"key {KEY}"}, "stop")]))) as srv:
        run = mimo("describe", CLIP, env={"MIMO_BASE_URL": srv.url})
    assert run.exit_code == 0 and run.stdout == "key ***\n"
    assert on_screen(run.stdout) == run.stdout


def test_file_names_with_control_bytes_are_shown_clean(mimo: Any, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    evil = folder / "evil\x1b]0;owned\x07\x1b[2J.mp4"
    shutil.copy(CLIP, evil)
    with Hostile(chat=each(lambda i: reply(500, {"error": {"message": "no"}}))) as srv:
        env = {"MIMO_BASE_URL": srv.url}
        runs = [
            mimo("batch", str(folder), "--retries", "0", env=env),
            mimo("describe", str(evil), "--retries", "0", env=env),
            mimo("describe", str(folder / "gone\x1b[2J.mp4"), env=env),
        ]
    assert (
        "evil]0;owned[2J.mp4" not in runs[0].stderr and "evil" in runs[0].stderr
    )  # the sequences went whole
    assert "gone.mp4" in runs[2].stderr
    for run in runs:
        assert run.exit_code != 0 and not controls(run.stderr), run.stderr


# -- the key as a model id --------------------------------------------------------------------------------

MODEL_IDS = [KEY, at(30), split("\x1b[0m"), "mimo-v2.5-omni", f"evil\x1b]0;owned\x07{split(chr(0))}"]


@pytest.mark.parametrize("args", [["models"], ["models", "--json"], ["doctor"]])
def test_models_never_show_the_key_as_a_model_id(mimo: Any, args: list[str]) -> None:
    listing = {"object": "list", "data": [{"id": m, "owned_by": m} for m in MODEL_IDS]}
    with Hostile(models=reply(200, listing)) as srv:
        plain = mimo(*args, env={"MIMO_BASE_URL": srv.url})
        tty = mimo(*args, env={"MIMO_BASE_URL": srv.url, "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    for run in (plain, tty):
        assert "mimo-v2.5-omni" in run.stdout
        check_no_leak(run, str(args))
        assert "\x1b]" not in run.output and "\x00" not in run.output and "\x1b[2J" not in run.output
    assert not controls(plain.output)
    if "--json" in args:
        assert not any(controls(m["id"]) for m in json.loads(plain.stdout))


# -- credentials in the base URL --------------------------------------------------------------------------

PASSWORD = "hunter2-PASSWORD-4711"


def check_no_password(run: Any, where: str) -> None:
    found = leaks(run.output, PASSWORD)
    assert not found, f"{where}: pieces of the URL's password in the output: {found}\n{run.output}"
    assert "Traceback" not in run.output


@pytest.mark.parametrize(
    "args",
    [[], ["--json"], ["--dry-run"], ["--dry-run", "--json"], ["--debug"], ["--debug", "--json"]],
    ids=lambda a: " ".join(a) or "plain",
)
def test_a_password_in_the_base_url_is_never_shown_nor_sent_as_basic_auth(mimo: Any, args: list[str]) -> None:
    with Hostile(chat=each(lambda i: reply(200, completion("fine", usage=USAGE)))) as srv:
        url = srv.url.replace("http://", f"http://user:{PASSWORD}@")
        by_env = mimo("describe", CLIP, *args, env={"MIMO_BASE_URL": url})
        by_option = mimo("describe", CLIP, "--base-url", url, *args)
    for run in (by_env, by_option):
        check_no_password(run, str(args))
    for got in srv.received:  # sent, if at all, with the key: never Basic auth from the URL
        assert got.headers.get("Authorization") == f"Bearer {KEY}", got.headers


def test_a_password_in_the_base_url_is_never_shown_by_other_commands(mimo: Any, tmp_path: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(CLIP, folder / "a.mp4")
    out = tmp_path / "out.jsonl"
    listing = {"data": [{"id": "mimo-v2.5-omni"}]}
    with Hostile(chat=each(lambda i: reply(500, {"error": {"message": "down"}})),
                 models=reply(200, listing)) as srv:  # fmt: skip
        url = srv.url.replace("http://", f"http://user:{PASSWORD}@")
        env = {"MIMO_BASE_URL": url}
        runs = {
            "models": mimo("models", env=env),
            "doctor": mimo("doctor", env=env),
            "batch": mimo("batch", str(folder), "-o", str(out), "--retries", "0", env=env),
            "config set": mimo("config", "set", "base_url", url),
            "config show": mimo("config", "show"),
            "ask": mimo("ask", CLIP, "what?", "--retries", "0", "--json", env=env),
        }
    for name, run in runs.items():
        check_no_password(run, name)
    if out.exists():
        assert not leaks(out.read_text(), PASSWORD)
    assert all(not got.headers.get("Authorization", "").startswith("Basic") for got in srv.received)


# -- a key of the wrong type in the config file -----------------------------------------------------------

CONFIG_KEY = "sk-config-ONLY-9876543210fedcba"


@pytest.mark.parametrize(
    "value",
    [f'["{CONFIG_KEY}"]', f'{{ key = "{CONFIG_KEY}" }}', f'[["{CONFIG_KEY}", 1]]'],
    ids=["list", "table", "nested"],
)
def test_a_key_of_the_wrong_type_in_the_config_is_never_shown(mimo: Any, tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[profiles.default]\napi_key = {value}\n")
    env: dict[str, Any] = {"MIMO_API_KEY": None, "MIMO_CONFIG": str(config)}
    runs = [
        mimo("describe", CLIP, "--dry-run", env=env),
        mimo("config", "show", env=env),
        mimo("doctor", env=env),
        mimo("models", env=env),
    ]
    for run in runs:
        assert not leaks(run.output, CONFIG_KEY), run.output
        assert "Traceback" not in run.output and "api_key" in run.output
    assert runs[0].exit_code == 2 and runs[0].stderr.startswith("error: ")


def test_a_key_split_by_a_sequence_across_streamed_chunks_is_masked(mimo: Any) -> None:
    pieces = [KEY[:10] + "\x1b[", "0m" + KEY[10:20], "\x1b]0;", "owned\x07" + KEY[20:] + " end"]
    events = [chunk({"content": "key: " + pieces[0]}), *[chunk({"content": p}) for p in pieces[1:]]]
    with Hostile(chat=sse([*events, chunk({}, "stop")])) as srv:
        run = mimo("describe", CLIP, env={"MIMO_BASE_URL": srv.url})
        tty = mimo("describe", CLIP, env={"MIMO_BASE_URL": srv.url, "TTY_COMPATIBLE": "1", "NO_COLOR": "1"})
    assert run.exit_code == 0 and run.stdout == "key: *** end\n"
    assert not leaks(tty.output, KEY) and "\x1b]" not in tty.output
