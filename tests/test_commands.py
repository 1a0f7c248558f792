"""mimo presets, models, doctor and completions."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import KEY, http_server

from mimo_cli.ffmpeg import tools
from mimo_cli.prompts import BUILTIN_PRESETS
from mimo_cli.settings import mask_key

if TYPE_CHECKING:
    from collections.abc import Iterator

    from fakeserver import FakeServer

ROOT = Path(__file__).parent.parent


def write_config(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "mimo" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def free_port() -> int:
    """A port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """An endpoint that answers every request with 401, as for a wrong key."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"error": {"message": "Invalid API Key", "type": "authentication_error"}}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Handler) as url:
        yield url + "/v1"


# -- presets ---------------------------------------------------------------------------------------------


def test_presets_lists_builtin_and_user_presets_with_their_text(mimo: Any) -> None:
    write_config('[presets]\nbrief = "Be brief."\ncaption = "My caption."\n\n'
                 '[profiles.p.presets]\nbrief = "Profile brief."\n')  # fmt: skip
    run = mimo("presets")
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert "detailed (built-in)" in lines and "brief (user)" in lines
    assert "caption (user, replaces the built-in)" in lines
    assert "    Be brief." in lines and "    My caption." in lines
    flat = " ".join(line.strip() for line in lines)
    assert BUILTIN_PRESETS["transcript"] in flat
    items = {p["name"]: p for p in json.loads(mimo("presets", "--profile", "p", "--json").stdout)}
    assert items["brief"] == {
        "name": "brief",
        "user": True,
        "source": "user, profile p",
        "text": "Profile brief.",
    }
    assert items["tags"]["user"] is False and items["tags"]["text"] == BUILTIN_PRESETS["tags"]
    assert mimo("presets", "--profile", "nope").exit_code == 2


# -- models ----------------------------------------------------------------------------------------------


def test_models_lists_ids_in_a_pipe_and_json(mimo: Any, server: FakeServer) -> None:
    run = mimo("models")
    assert run.exit_code == 0 and run.stdout == "mimo-v2-omni\nmimo-v2.5-omni\n"
    received = server.received[0]
    assert (received.method, received.path) == ("GET", "/v1/models")
    assert received.headers["authorization"] == f"Bearer {KEY}"
    data = json.loads(mimo("models", "--json").stdout)
    assert [m["id"] for m in data] == ["mimo-v2-omni", "mimo-v2.5-omni"] and data[0]["owned_by"] == "xiaomi"


def test_models_table_on_a_terminal(mimo: Any, server: FakeServer) -> None:
    run = mimo("models", env={"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "0"})
    assert run.exit_code == 0
    assert "model" in run.stdout and "owned by" in run.stdout
    row = next(line for line in run.stdout.splitlines() if "mimo-v2-omni" in line)
    assert row.lstrip().startswith("*") and "xiaomi" in row


def test_models_uses_the_profile(server: FakeServer, mimo: Any) -> None:
    write_config(f'[profiles.gw]\nbase_url = "{server.url}"\napi_key = "{KEY}"\n')
    run = mimo("models", "--profile", "gw", env={"MIMO_BASE_URL": "", "MIMO_API_KEY": ""})
    assert run.exit_code == 0 and "mimo-v2-omni" in run.stdout


def test_models_errors(mimo: Any, server: FakeServer, refusing_server: str) -> None:
    run = mimo("models", env={"MIMO_API_KEY": ""})
    assert run.exit_code == 3 and "no API key" in run.stderr and server.received == []
    run = mimo("models", "--base-url", refusing_server)
    assert run.exit_code == 3 and "HTTP 401: Invalid API Key" in run.stderr
    run = mimo("models", "--base-url", f"http://127.0.0.1:{free_port()}/v1")
    assert run.exit_code == 1 and "cannot reach" in run.stderr and "Traceback" not in run.output


# -- doctor ----------------------------------------------------------------------------------------------


def lines_of(run: Any) -> dict[str, str]:
    """name -> the check's line (with the hint line under it, if any)."""
    out: dict[str, str] = {}
    last = ""
    for line in run.stdout.splitlines():
        if line.startswith(" ") and last:
            out[last] += "\n" + line.strip()
            continue
        parts = line.split(None, 1)
        if parts and parts[0] in ("ok", "warning", "problem"):
            status, rest = parts[0], parts[1]
            name = (
                "base URL"
                if rest.startswith("base URL")
                else "API key"
                if rest.startswith("API key")
                else rest.split()[0]
            )
            out[name] = " ".join(f"{status} {rest}".split())
            last = name
    return out


def test_doctor_all_good(mimo: Any, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "locate", lambda: tools.Tools("/opt/ffmpeg", "/opt/ffprobe", "PATH"))
    write_config('[profiles.default]\nmodel = "mimo-v2-omni"\n')
    run = mimo("doctor")
    assert run.exit_code == 0, run.stdout
    checks = lines_of(run)
    assert checks["API key"].startswith(f"ok API key {mask_key(KEY)} (from MIMO_API_KEY)")
    assert checks["base URL"].startswith(f"ok base URL {server.url} answers (2 models listed)")
    assert checks["model"].startswith("ok model mimo-v2-omni is served")
    assert checks["libmagic"].startswith("ok") and checks["ffmpeg"] == "ok ffmpeg /opt/ffmpeg"
    assert checks["config"].startswith("ok config") and "parses" in checks["config"]
    assert KEY not in run.output
    assert [r.path for r in server.received] == ["/v1/models"]


def test_doctor_warnings_do_not_block(mimo: Any, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "locate", lambda: None)
    monkeypatch.setattr("mimo_cli.inputs.sniff.load_magic", lambda notice: None)
    path = write_config(f'[profiles.default]\napi_key = "{KEY}"\n')
    if os.name == "posix":
        path.chmod(0o644)
    run = mimo("doctor", "--model", "mimo-v9", env={"MIMO_API_KEY": ""})
    assert run.exit_code == 0, run.stdout
    checks = lines_of(run)
    assert checks["API key"].startswith(f"ok API key {mask_key(KEY)} (from profile 'default')")
    assert checks["model"].startswith("warning model mimo-v9 is not among the models listed: mimo-v2-omni")
    assert checks["ffmpeg"].startswith("warning") and "mimo-cli[ffmpeg]" in checks["ffmpeg"]
    assert checks["libmagic"].startswith("warning") and "libmagic1" in checks["libmagic"]
    if os.name == "posix":
        assert (
            checks["config"].startswith("warning")
            and "other users can read it (mode 0644)" in checks["config"]
        )
        assert f"chmod 600 {path}" in checks["config"]
    assert "ready to send requests; 4 warning(s)" in run.stdout and KEY not in run.output


def test_doctor_blocking_problems(mimo: Any, server: FakeServer) -> None:
    path = write_config("[profiles.default\n")
    run = mimo("doctor", "--base-url", f"http://127.0.0.1:{free_port()}/v1", env={"MIMO_API_KEY": ""})
    assert run.exit_code == 1
    checks = lines_of(run)
    assert checks["config"].startswith(f"problem config the config file {path} does not parse: line 1")
    assert checks["API key"].startswith("problem API key no API key is set")
    assert checks["base URL"].startswith("problem base URL") and "cannot be reached" in checks["base URL"]
    assert "model" not in checks
    assert "3 problem(s) block requests" in run.stdout


def test_doctor_a_refused_key_blocks(mimo: Any, refusing_server: str) -> None:
    run = mimo("doctor", "--base-url", refusing_server)
    assert run.exit_code == 1
    checks = lines_of(run)
    assert checks["base URL"].startswith("problem") and "refuses the key: HTTP 401" in checks["base URL"]
    assert KEY not in run.output


def test_doctor_an_endpoint_without_models_is_a_warning(mimo: Any, server: FakeServer) -> None:
    run = mimo("doctor", "--base-url", server.url + "/elsewhere")
    assert run.exit_code == 0, run.stdout
    checks = lines_of(run)
    assert checks["base URL"].startswith("warning") and "does not list models: HTTP 404" in checks["base URL"]
    assert checks["model"].startswith("warning model cannot tell")


def test_doctor_unknown_profile_blocks(mimo: Any) -> None:
    write_config('[profiles.a]\nmodel = "x"\n')
    run = mimo("doctor", "--profile", "b")
    assert run.exit_code == 1 and "no profile 'b'" in lines_of(run)["config"]


# -- completions -----------------------------------------------------------------------------------------

COMPLETION_FILES = {"bash": "mimo.bash", "zsh": "_mimo", "fish": "mimo.fish"}


@pytest.mark.parametrize("shell", sorted(COMPLETION_FILES))
def test_committed_completion_scripts_are_fresh(mimo: Any, shell: str) -> None:
    run = mimo("completions", shell)
    assert run.exit_code == 0
    committed = (ROOT / "completions" / COMPLETION_FILES[shell]).read_text()
    assert run.stdout == committed, (
        f"regenerate: mimo completions {shell} > completions/{COMPLETION_FILES[shell]}"
    )


def _complete(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("_MIMO")}
    return subprocess.run([sys.executable, "-m", "mimo_cli"], env={**base, **env}, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_completion_candidates_come_from_the_app() -> None:
    write_config(
        '[profiles.dmxapi]\nmodel = "x"\n\n[presets]\ncinematic = "Describe it like a film critic."\n'
    )
    commands = _complete({"_MIMO_COMPLETE": "complete_bash", "COMP_WORDS": "mimo co", "COMP_CWORD": "1"})
    assert commands.returncode == 0 and commands.stdout.split() == ["completions", "config"]
    profiles = _complete({"_MIMO_COMPLETE": "complete_bash", "COMP_WORDS": "mimo describe --profile d",
                          "COMP_CWORD": "3"})  # fmt: skip
    assert profiles.stdout.split() == ["dmxapi"]
    other = Path(os.environ["XDG_CONFIG_HOME"]) / "other.toml"
    other.write_text('[profiles.zeta]\nmodel = "x"\n')
    chosen = _complete({"_MIMO_COMPLETE": "complete_bash", "COMP_WORDS": f"mimo describe --config {other} --profile ",
                        "COMP_CWORD": "5"})  # fmt: skip
    assert chosen.stdout.split() == ["zeta"]
    presets = _complete({"_MIMO_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "mimo ask --preset c"})
    assert "cinematic" in presets.stdout and "caption" in presets.stdout
    fish = _complete({"_MIMO_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
                      "_TYPER_COMPLETE_ARGS": "mimo completions "})  # fmt: skip
    assert fish.stdout.split() == ["bash", "zsh", "fish"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_in_bash(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "mimo").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m mimo_cli "$@"\n')
    (bindir / "mimo").chmod(0o755)
    script = ROOT / "completions" / "mimo.bash"
    proc = subprocess.run(
        ["bash", "-c", f'source "{script}"; COMP_WORDS=(mimo doc); COMP_CWORD=1; _mimo_completion mimo; '
                       'echo "${COMPREPLY[@]}"'],
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.stdout.strip() == "doctor", proc.stderr


def test_doctor_a_profile_preset_that_is_not_defined_blocks(mimo: Any) -> None:
    write_config('[profiles.default]\npreset = "gone"\n')
    run = mimo("doctor")
    assert run.exit_code == 1
    check = lines_of(run)["preset"]
    assert check.startswith("problem preset the preset 'gone' (from profile 'default') is not defined")
    assert "caption" in check


def test_no_key_in_this_profile_names_the_profiles_that_hold_one(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mimo_cli.cli import app

    config = tmp_path / "config.toml"
    config.write_text('[profiles.work]\napi_key = "sk-work-0123456789abcdef"\n[profiles.home]\nmodel = "m"\n')
    clip = str(Path(__file__).parent / "fixtures" / "clip.mp4")
    run = CliRunner().invoke(app, ["describe", clip, "--profile", "home", "--config", str(config)])
    assert run.exit_code == 3 and "no API key is set" in run.stderr
    assert "work has one: --profile work" in run.stderr and "sk-work" not in run.output


def test_small_usage_mistakes_get_the_help_that_fits() -> None:
    from typer.testing import CliRunner

    from mimo_cli.cli import app

    runner = CliRunner()
    typo = runner.invoke(app, ["config", "set", "fsp", "2"])
    assert typo.exit_code == 2 and "did you mean fps?" in typo.stderr
    missing = runner.invoke(app, ["describe", "x.mp4", "-p"])
    assert missing.exit_code == 2 and "see 'mimo describe --help'" in missing.stderr
    alone = runner.invoke(app, [])
    assert alone.exit_code == 0 and "Usage: mimo" in alone.stdout and "error:" not in alone.output
    usage = runner.invoke(app, ["ask", "--help"]).stdout
    assert (
        "Usage: mimo ask [OPTIONS] INPUT... QUESTION" in usage
        and "<list[str]>" not in usage
        and "{" not in usage
    )
    assert (
        "Usage: mimo config set [OPTIONS] KEY [VALUE]"
        in runner.invoke(app, ["config", "set", "--help"]).stdout
    )
