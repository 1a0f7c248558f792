"""The config file: precedence, profiles, presets, mimo config path/show/set/unset, TOML writing."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import FIXTURES, KEY
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from mimo_cli.cli import app
from mimo_cli.config_file import config_path, dumps, load_settings, save_config
from mimo_cli.errors import MimoError
from mimo_cli.settings import OFFICIAL_BASE_URL, TOKEN_PLAN_BASE_URL, mask_key

if TYPE_CHECKING:
    from fakeserver import FakeServer

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TP_KEY = "tp-test-SECRET-abcdef0123456789"
CLIP = str(FIXTURES / "clip.mp4")


def cfg_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "mimo" / "config.toml"


def write(text: str, path: Path | None = None) -> Path:
    path = path or cfg_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), env=env or {}, input=input, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


# -- precedence: option > environment > profile > default, for every setting -----------------------------

# setting, environment variable (or None), option value, environment value, profile value, default
PRECEDENCE = [
    ("api_key", "MIMO_API_KEY", "sk-option-0123456789", "sk-environ-0123456789", "sk-profile-0123456789", None),
    ("base_url", "MIMO_BASE_URL", "http://option/v1", "http://environ/v1", "http://profile/v1", OFFICIAL_BASE_URL),
    ("model", "MIMO_MODEL", "m-option", "m-environ", "m-profile", "mimo-v2-omni"),
    ("fps", None, 3.0, None, 4.5, 2.0),
    ("resolution", None, "max", None, "max", "default"),
    ("max_tokens", None, 100, None, 200, None),
    ("temperature", None, 0.2, None, 0.7, None),
    ("top_p", None, 0.3, None, 0.9, None),
    ("thinking", None, False, None, True, None),
    ("stream", None, False, None, False, True),
    ("preset", None, "caption", None, "tags", "detailed"),
    ("system", None, "option system", None, "profile system", None),
    ("timeout", None, 30.0, None, 60.0, 300.0),
    ("retries", None, 1, None, 5, 3),
    ("max_inline_mb", None, 5.0, None, 20.0, 10.0),
]  # fmt: skip


def _toml(value: Any) -> str:
    return dumps({"x": value}).split(" = ", 1)[1].strip()


@pytest.mark.parametrize(("name", "var", "option", "environ", "profile", "default"), PRECEDENCE,
                         ids=[row[0] for row in PRECEDENCE])  # fmt: skip
@pytest.mark.parametrize("layers", ["option+env+profile", "env+profile", "profile", "none"])
def test_precedence(
    name: str, var: str | None, option: Any, environ: Any, profile: Any, default: Any, layers: str
) -> None:
    given_layers = layers.split("+")
    if "profile" in given_layers:
        write(f"[profiles.default]\n{name} = {_toml(profile)}\n")
    env = {var: environ} if var and "env" in given_layers else {}
    options = {name: option} if "option" in given_layers else {}
    settings = load_settings(options, env={**os.environ, **env})
    expected = (
        option if "option" in given_layers
        else environ if var and "env" in given_layers
        else profile if "profile" in given_layers
        else default
    )  # fmt: skip
    assert getattr(settings, name) == expected


def test_an_option_of_a_cli_run_beats_the_profile_which_beats_the_default(
    mimo: Any, server: FakeServer
) -> None:
    write(
        '[profiles.default]\nfps = 1\nresolution = "max"\nmax_tokens = 99\nthinking = false\nmodel = "m-prof"\n'
    )
    run = mimo("describe", CLIP, "--fps", "3", "--no-stream", env={"MIMO_MODEL": "m-env"})
    assert run.exit_code == 0, run.stderr
    body = server.received[0].json()
    part = body["messages"][-1]["content"][0]
    assert (part["fps"], part["media_resolution"]) == (3.0, "max")
    assert body["max_completion_tokens"] == 99 and body["thinking"] == {"type": "disabled"}
    assert body["model"] == "m-env" and "stream" not in body


def test_a_named_profile_supplies_url_key_and_model(server: FakeServer) -> None:
    write(f'[profiles.default]\nmodel = "other"\n\n[profiles.gw]\nbase_url = "{server.url}"\n'
          f'api_key = "{KEY}"\nmodel = "mimo-v2.5-omni"\n')  # fmt: skip
    for args, env in ((["--profile", "gw"], {}), ([], {"MIMO_PROFILE": "gw"})):
        run = cli("describe", CLIP, "--no-stream", *args, env=env)
        assert run.exit_code == 0, run.stderr
        received = server.received[-1]
        assert received.headers["authorization"] == f"Bearer {KEY}"
        assert received.json()["model"] == "mimo-v2.5-omni"
        assert KEY not in run.stdout + run.stderr


def test_the_config_option_and_environment_choose_the_file(tmp_path: Path, server: FakeServer) -> None:
    other = write(f'[profiles.default]\nbase_url = "{server.url}"\napi_key = "{KEY}"\n', tmp_path / "o.toml")
    assert config_path(str(other)) == other
    assert config_path(None, {"MIMO_CONFIG": str(other)}) == other
    assert config_path(None, {"XDG_CONFIG_HOME": "/x"}) == Path("/x/mimo/config.toml")
    for args, env in ((["--config", str(other)], {}), ([], {"MIMO_CONFIG": str(other)})):
        run = cli("describe", CLIP, "--no-stream", *args, env=env)
        assert run.exit_code == 0, run.stderr
    assert len(server.received) == 2


@pytest.mark.parametrize(("platform", "env", "expected"), [
    ("darwin", {}, Path.home() / "Library" / "Application Support" / "mimo" / "config.toml"),
    ("win32", {"APPDATA": "C:/Users/u/AppData/Roaming"}, Path("C:/Users/u/AppData/Roaming/mimo/config.toml")),
    ("linux", {}, Path.home() / ".config" / "mimo" / "config.toml"),
])  # fmt: skip
def test_the_platform_config_dir(monkeypatch: pytest.MonkeyPatch, platform: str, env: dict[str, str],
                                 expected: Path) -> None:  # fmt: skip
    monkeypatch.setattr(sys, "platform", platform)
    assert config_path(None, env) == expected


def test_token_plan_keys_use_the_token_plan_url_unless_one_is_configured() -> None:
    write(f'[profiles.default]\napi_key = "{TP_KEY}"\n\n[profiles.own]\napi_key = "{TP_KEY}"\n'
          'base_url = "https://gw.example/v1"\n')  # fmt: skip
    env = dict(os.environ)
    assert load_settings({}, env=env).base_url == TOKEN_PLAN_BASE_URL
    assert load_settings({}, env={**env, "MIMO_BASE_URL": "http://env/v1"}).base_url == "http://env/v1"
    assert load_settings({}, env=env, profile="own").base_url == "https://gw.example/v1"
    assert load_settings({"api_key": KEY}, env=env).base_url == OFFICIAL_BASE_URL
    write("")
    assert load_settings({}, env={**env, "MIMO_API_KEY": TP_KEY}).base_url == TOKEN_PLAN_BASE_URL


def test_token_plan_url_in_a_dry_run() -> None:
    write(f'[profiles.tp]\napi_key = "{TP_KEY}"\n')
    run = cli("describe", CLIP, "--dry-run", "--profile", "tp")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(f"POST {TOKEN_PLAN_BASE_URL}/chat/completions\n")
    assert f"Authorization: Bearer {mask_key(TP_KEY)}" in run.stdout and TP_KEY not in run.stdout


def test_user_presets_top_level_and_profile_the_profile_wins(mimo: Any, server: FakeServer) -> None:
    write('[presets]\nbrief = "top brief"\nshort = "top short"\n\n'
          '[profiles.p]\npreset = "brief"\n\n[profiles.p.presets]\nbrief = "profile brief"\n')  # fmt: skip
    assert mimo("describe", CLIP, "--preset", "short").exit_code == 0
    assert mimo("describe", CLIP, "--preset", "brief").exit_code == 0
    assert mimo("describe", CLIP, "--profile", "p").exit_code == 0
    texts = [r.json()["messages"][-1]["content"][-1]["text"] for r in server.received]
    assert texts == ["top short", "top brief", "profile brief"]
    run = mimo("describe", CLIP, "--preset", "nope")
    assert run.exit_code == 2 and "brief" in run.stderr and "short" in run.stderr and "caption" in run.stderr


def test_unknown_profile_lists_the_known_ones_but_default_may_be_absent(
    mimo: Any, server: FakeServer
) -> None:
    write('[profiles.dmxapi]\nmodel = "x"\n\n[profiles.shubiaobiao]\nmodel = "y"\n')
    run = mimo("describe", CLIP, "--profile", "dmx")
    assert run.exit_code == 2 and server.received == []
    assert "no profile 'dmx'" in run.stderr and "dmxapi, shubiaobiao" in run.stderr
    assert mimo("describe", CLIP).exit_code == 0  # no [profiles.default]: fine


@pytest.mark.parametrize(("text", "words"), [
    ("[profiles.default]\nfps = 20\n", "profiles.default.fps must be between 0.1 and 10, got 20"),
    ('[profiles.default]\nfps = "fast"\n', "profiles.default.fps must be a number, got 'fast'"),
    ('[profiles.x]\nresolution = "huge"\n', "profiles.x.resolution must be one of default, max"),
    ("[profiles.default]\nthinking = 1\n", "profiles.default.thinking must be true or false"),
    ("[profiles.default]\nmax_tokens = 1.5\n", "profiles.default.max_tokens must be a whole number"),
    ('[profiles.default]\nbase_url = "api.example/v1"\n', "profiles.default.base_url must start with http"),
    ('[profiles.default]\nmodle = "x"\n', "profiles.default.modle is not a setting"),
    ('[presets]\nbrief = 3\n', "presets.brief must be a non-empty string"),
    ('[profile.default]\nmodel = "x"\n', "profile is not a table mimo knows"),
])  # fmt: skip
def test_a_bad_value_in_the_file_is_exit_2_naming_file_and_key(
    mimo: Any, server: FakeServer, text: str, words: str
) -> None:
    path = write(text)
    run = mimo("describe", CLIP)
    assert run.exit_code == 2 and server.received == []
    assert run.stderr.splitlines()[0].startswith(f"error: bad config file {path}: {words}")


@pytest.mark.parametrize(("text", "line"), [
    ('[profiles.default]\nmodel = "x"\nfps = \n', 3),
    ("[profiles.default\n", 1),
    ('[profiles.default]\nsystem = "unterminated\n', 2),
])  # fmt: skip
def test_a_file_that_does_not_parse_is_exit_2_with_one_line_naming_file_and_line(
    mimo: Any, server: FakeServer, text: str, line: int
) -> None:
    path = write(text)
    for args in (["describe", CLIP], ["config", "show"], ["config", "set", "fps", "1"], ["models"]):
        run = mimo(*args)
        assert run.exit_code == 2, args
        lines = run.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(
            f"error: the config file {path} does not parse: line {line}: "
        )
    assert server.received == []
    assert path.read_text() == text  # set did not touch it


def test_config_is_read_only_when_a_command_needs_settings() -> None:
    write("this is not toml\n")
    for args in (
        ["--version"],
        ["--help"],
        ["describe", "--help"],
        ["config", "path"],
        ["completions", "bash"],
    ):
        assert cli(*args).exit_code == 0, args


# -- mimo config path / show / set / unset -----------------------------------------------------------------


def test_config_path() -> None:
    run = cli("config", "path")
    assert run.exit_code == 0 and run.stdout == f"{cfg_file()}\n"
    assert cli("config", "path", "--config", "/tmp/x.toml").stdout == "/tmp/x.toml\n"
    assert cli("config", "path", env={"MIMO_CONFIG": "/tmp/y.toml"}).stdout == "/tmp/y.toml\n"


def test_set_show_unset_round_trip() -> None:
    assert cli("config", "set", "api_key", "-", input=KEY + "\n").exit_code == 0
    assert cli("config", "set", "model", "mimo-v2.5-omni").exit_code == 0
    assert cli("config", "set", "max-tokens", "512").exit_code == 0
    assert cli("config", "set", "thinking", "off").exit_code == 0
    assert cli("config", "set", "fps", "1").exit_code == 0
    assert cli("config", "set", "--profile", "dmxapi", "base_url", "https://www.dmxapi.cn/v1").exit_code == 0
    assert cli("config", "set", "presets.brief", 'Say "hi"\\ \n\tthere ✓').exit_code == 0
    assert cli("config", "set", "--profile", "dmxapi", "presets.brief", "mine").exit_code == 0
    data = tomllib.loads(cfg_file().read_text())
    assert data == {
        "profiles": {
            "default": {
                "api_key": KEY,
                "model": "mimo-v2.5-omni",
                "max_tokens": 512,
                "thinking": False,
                "fps": 1.0,
            },
            "dmxapi": {"base_url": "https://www.dmxapi.cn/v1", "presets": {"brief": "mine"}},
        },
        "presets": {"brief": 'Say "hi"\\ \n\tthere ✓'},
    }
    settings = load_settings({}, env=dict(os.environ))
    assert (settings.api_key, settings.max_tokens, settings.thinking) == (KEY, 512, False)
    assert load_settings({}, env=dict(os.environ), profile="dmxapi").presets == {"brief": "mine"}

    show = cli("config", "show")
    assert show.exit_code == 0 and KEY not in show.stdout + show.stderr
    assert f'api_key = "{mask_key(KEY)}"' in show.stdout and 'model = "mimo-v2.5-omni"' in show.stdout
    assert tomllib.loads(show.stdout)["profiles"]["dmxapi"]["base_url"] == "https://www.dmxapi.cn/v1"
    one = cli("config", "show", "--profile", "dmxapi")
    assert tomllib.loads(one.stdout) == {"profiles": {"dmxapi": data["profiles"]["dmxapi"]}}

    for key in ("api_key", "max_tokens", "presets.brief"):
        run = cli("config", "unset", key)
        assert run.exit_code == 0 and "removed" in run.stderr
    assert cli("config", "unset", "--profile", "dmxapi", "presets.brief").exit_code == 0
    data = tomllib.loads(cfg_file().read_text())
    assert data == {"profiles": {"default": {"model": "mimo-v2.5-omni", "thinking": False, "fps": 1.0},
                                 "dmxapi": {"base_url": "https://www.dmxapi.cn/v1"}}}  # fmt: skip
    again = cli("config", "unset", "api_key")
    assert again.exit_code == 0 and "not set" in again.stderr


def test_set_never_echoes_the_key_and_writes_mode_0600() -> None:
    run = cli("config", "set", "api_key", KEY)
    assert run.exit_code == 0 and KEY not in run.stdout + run.stderr and mask_key(KEY) in run.stderr
    if os.name == "posix":
        assert stat.S_IMODE(cfg_file().stat().st_mode) == 0o600
        os.chmod(cfg_file(), 0o644)
        assert cli("config", "set", "model", "m").exit_code == 0
        assert stat.S_IMODE(cfg_file().stat().st_mode) == 0o600
    assert [p.name for p in cfg_file().parent.iterdir()] == ["config.toml"]  # no temp file left behind


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_set_writes_through_a_symlinked_file(tmp_path: Path) -> None:
    real = write('[profiles.default]\nmodel = "a"\n', tmp_path / "dotfiles" / "mimo.toml")
    cfg_file().parent.mkdir(parents=True)
    cfg_file().symlink_to(real)
    assert cli("config", "set", "model", "b").exit_code == 0
    assert cfg_file().is_symlink() and tomllib.loads(real.read_text())["profiles"]["default"]["model"] == "b"


@pytest.mark.parametrize(("args", "words"), [
    (["fps", "20"], "fps must be between 0.1 and 10, got 20"),
    (["fps", "fast"], "fps must be a number, got 'fast'"),
    (["thinking", "maybe"], "thinking must be true or false"),
    (["resolution", "huge"], "resolution must be one of default, max"),
    (["base_url", "ftp://x"], "base_url must start with http"),
    (["retries", "2.5"], "retries must be a whole number"),
    (["modle", "x"], "unknown setting 'modle'"),
    (["preset", "nope"], "unknown preset 'nope'"),
    (["presets.", "x"], "a preset needs a name"),
])  # fmt: skip
def test_set_validates_keys_and_values(args: list[str], words: str) -> None:
    run = cli("config", "set", *args)
    assert run.exit_code == 2 and words in run.stderr
    assert not cfg_file().exists()


def test_set_preset_accepts_a_user_preset_and_show_without_a_file() -> None:
    show = cli("config", "show")
    assert show.exit_code == 0 and show.stdout == "" and "no config file" in show.stderr
    assert cli("config", "set", "presets.brief", "Be brief.").exit_code == 0
    assert cli("config", "set", "preset", "brief").exit_code == 0
    assert cli("config", "show", "--profile", "nope").exit_code == 2


def test_unset_can_repair_a_bad_value(mimo: Any) -> None:
    write("[profiles.default]\nfps = 99\n")
    assert mimo("describe", CLIP).exit_code == 2
    assert cli("config", "unset", "fps").exit_code == 0
    assert mimo("describe", CLIP).exit_code == 0


# -- TOML writing ------------------------------------------------------------------------------------------

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(st.dictionaries(_text, st.one_of(_text, st.booleans(), st.integers(-(2**63), 2**63 - 1),
                                        st.floats(allow_nan=False, allow_infinity=False)), max_size=5),
       st.dictionaries(_text, _text, max_size=3))  # fmt: skip
def test_dumps_round_trips_through_tomllib(profile: dict[str, Any], presets: dict[str, str]) -> None:
    data = {"presets": presets, "profiles": {"default": {**profile, "presets": presets}}}
    assert tomllib.loads(dumps(data)) == data


def test_save_config_writes_into_a_new_folder(tmp_path: Path) -> None:
    target = save_config(tmp_path / "a" / "b" / "config.toml", {"profiles": {"default": {"model": "m"}}})
    assert tomllib.loads(target.read_text()) == {"profiles": {"default": {"model": "m"}}}
    with pytest.raises(MimoError):
        save_config(tmp_path / "c.toml", {"profiles": {"default": {"x": {1, 2}}}})


def test_a_config_path_that_cannot_be_written_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "dir.toml").mkdir()
    run = cli("config", "set", "model", "m", "--config", str(tmp_path / "dir.toml"))
    assert run.exit_code == 2 and "cannot" in run.stderr and "Traceback" not in run.stderr


def test_an_empty_api_key_option_means_no_key(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", CLIP, "--api-key", "")
    assert run.exit_code == 3 and "no API key is set" in run.stderr and server.received == []


def test_config_set_keeps_the_users_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = (
        "# my mimo setup\n"
        "[presets]\n"
        'brief = "Three sentences."  # for quick looks\n'
        "\n"
        "# the gateway at work\n"
        "[profiles.work]\n"
        'base_url = "https://gw.example.com/v1"   # aligned on purpose\n'
        "fps = 1\n"
    )
    path.write_text(text)
    assert (
        cli("config", "set", "--profile", "work", "model", "mimo-v2.5", "--config", str(path)).exit_code == 0
    )
    assert cli("config", "unset", "--profile", "work", "fps", "--config", str(path)).exit_code == 0
    written = path.read_text()
    for line in text.splitlines():
        if line and "fps" not in line:
            assert line in written, line  # every comment and the hand alignment are still there
    assert tomllib.loads(written)["profiles"]["work"] == {
        "base_url": "https://gw.example.com/v1",
        "model": "mimo-v2.5",
    }
