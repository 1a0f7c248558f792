"""``mimo config``: show or change the config file (comments and layout are kept)."""

import sys
from typing import Annotated, Any

import typer

from mimo_cli.cli.app import app
from mimo_cli.cli.options import ConfigOption, ProfileOption
from mimo_cli.errors import usage_error
from mimo_cli.redact import register_secret
from mimo_cli.settings import mask_key

config_app = typer.Typer(
    name="config",
    help="Show or change the config file (profiles).",
    epilog="""\b
Examples:
  mimo config path
  mimo config set api_key            (asks for the key without echoing it)
  mimo config set --profile dmxapi base_url https://www.dmxapi.cn/v1
  mimo config show""",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)
app.add_typer(config_app)


@config_app.command(
    "path",
    epilog="""\b
Examples:
  mimo config path
  $EDITOR "$(mimo config path)\"""",
)
def config_path_command(config: ConfigOption = None) -> None:
    """Print where the config file is (it need not exist yet)."""
    from mimo_cli.config_file import config_path

    sys.stdout.write(f"{config_path(config)}\n")


@config_app.command(
    "show",
    epilog="""\b
Examples:
  mimo config show
  mimo config show --profile dmxapi""",
)
def config_show(profile: ProfileOption = None, config: ConfigOption = None) -> None:
    """Print the config file, with every key masked.

    With --profile, only that profile.
    """
    from mimo_cli.config_file import config_path, dumps, load_config

    loaded = load_config(config_path(config), validate=False)
    if not loaded.path.exists():
        from mimo_cli.render.console import warning

        warning(f"there is no config file yet at {loaded.path}", "create it: mimo config set KEY VALUE")
        return
    data: dict[str, Any] = loaded.data
    if profile is not None:
        loaded.profile(profile)  # an unknown profile is a usage error
        data = {"profiles": {profile: loaded.profiles.get(profile, {})}}
    shown = _masked(data)
    from mimo_cli.redact import redact

    sys.stdout.write(redact(f"# {loaded.path}\n" + dumps(shown)))


def _masked(data: Any, key: str = "") -> Any:
    if isinstance(data, dict):
        return {k: _masked(v, k) for k, v in data.items()}
    if key == "api_key" and isinstance(data, str):
        return mask_key(data)
    return data


def _read_value(key: str, secret: bool) -> str:
    if sys.stdin.isatty():
        return str(typer.prompt(key, hide_input=secret))
    return sys.stdin.read().rstrip("\r\n")


@config_app.command(
    "set",
    epilog="""\b
Examples:
  mimo config set api_key                  (asks for it; or: ... | mimo config set api_key -)
  mimo config set model mimo-v2-omni
  mimo config set --profile dmxapi base_url https://www.dmxapi.cn/v1
  mimo config set fps 1
  mimo config set presets.brief "Describe this video in three sentences."
  mimo config set --profile dmxapi presets.brief "Describe it in one paragraph.\"""",
)
def config_set(
    key: Annotated[str, typer.Argument(help="A setting (api_key, base_url, model, fps, …) or presets.NAME.")],
    value: Annotated[str | None, typer.Argument(help="The value; - or none reads it from stdin.")] = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Set a setting of a profile, or a preset, in the config file."""
    from mimo_cli.config_file import config_path, key_path, read_document, save_config, set_key, toml_value
    from mimo_cli.prompts import BUILTIN_PRESETS
    from mimo_cli.settings import check_value, parse_value

    path = config_path(config)
    where = key_path(key, profile)
    name = where[-1]
    data = read_document(path)
    text = _read_value(key, secret=name == "api_key") if value in (None, "-") else value
    typed: Any
    if where[-2] == "presets":
        if not text.strip():
            raise usage_error(f"the text of preset {name!r} is empty")
        typed = text
    else:
        if name == "api_key":
            text = text.strip()
            register_secret(text)
        try:
            typed = parse_value(name, text)
        except ValueError as e:
            raise usage_error(f"{name} {e}") from None
        problem = check_value(name, typed)
        if problem:
            raise usage_error(f"{name} {problem}")
        if name == "preset":
            known = {**BUILTIN_PRESETS, **(data.get("presets") or {}),
                     **((data.get("profiles") or {}).get(where[1], {}).get("presets") or {})}  # fmt: skip
            if typed not in known:
                raise usage_error(f"unknown preset {typed!r}", f"known presets: {', '.join(sorted(known))}")
    set_key(data, where, typed)
    written = save_config(path, data)
    shown = mask_key(typed) if name == "api_key" and where[-2] != "presets" else toml_value(typed)
    _info(f"set {'.'.join(where)} = {shown} in {written}")


@config_app.command(
    "unset",
    epilog="""\b
Examples:
  mimo config unset api_key
  mimo config unset --profile dmxapi model
  mimo config unset presets.brief""",
)
def config_unset(
    key: Annotated[str, typer.Argument(help="A setting (api_key, base_url, model, fps, …) or presets.NAME.")],
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """Remove a setting of a profile, or a preset, from the config file."""
    from mimo_cli.config_file import config_path, key_path, read_document, save_config, unset_key

    path = config_path(config)
    where = key_path(key, profile)
    data = read_document(path)
    if not unset_key(data, where):
        _info(f"{'.'.join(where)} is not set in {path}: nothing to do")
        return
    written = save_config(path, data)
    _info(f"removed {'.'.join(where)} from {written}")


def _info(message: str) -> None:
    from mimo_cli.render.console import info

    info(message)
