"""``mimo presets``, ``mimo models``, ``mimo doctor`` and ``mimo completions``."""

import enum
import sys
from typing import Annotated

import typer

from mimo_cli.cli.app import COMPLETE_VAR, app, state
from mimo_cli.cli.options import (
    ApiKeyOption,
    BaseUrlOption,
    ConfigOption,
    ProfileOption,
    TimeoutOption,
    resolve_settings,
)
from mimo_cli.errors import ExitCode
from mimo_cli.redact import register_secret

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command(
    epilog="""\b
Examples:
  mimo presets
  mimo presets --profile dmxapi --json
  mimo config set presets.brief "Describe this video in three sentences."
  mimo describe clip.mp4 --preset brief"""
)
def presets(profile: ProfileOption = None, config: ConfigOption = None, json_out: JsonOption = False) -> None:
    """List the prompt presets and their text."""
    import textwrap

    from mimo_cli.config_file import config_path, load_config, profile_name
    from mimo_cli.prompts import BUILTIN_PRESETS

    name = profile_name(profile)
    loaded = load_config(config_path(config))
    loaded.profile(name)  # an unknown profile is a usage error
    rows: dict[str, tuple[str, str]] = {n: ("built-in", text) for n, text in BUILTIN_PRESETS.items()}
    sources = [("user", loaded.data.get("presets") or {}),
               (f"user, profile {name}", loaded.profiles.get(name, {}).get("presets") or {})]  # fmt: skip
    for source, table in sources:
        for preset, text in table.items():
            rows[preset] = (source, text)
    if json_out:
        from mimo_cli.render.console import print_json

        items = [{"name": n, "user": s != "built-in", "source": s, "text": t} for n, (s, t) in rows.items()]
        print_json(items, indent=2)
        return
    width = max(40, min(100, _terminal_width()) - 4)
    lines = []
    for preset, (source, text) in rows.items():
        replaces = ", replaces the built-in" if preset in BUILTIN_PRESETS and source != "built-in" else ""
        lines.append(f"{preset} ({source}{replaces})")
        lines.extend(textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    ") or ["    "])
    sys.stdout.write("\n".join(lines) + "\n")


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


@app.command(
    epilog="""\b
Examples:
  mimo models
  mimo models --json | jq -r '.[].id'
  mimo models --profile dmxapi
  mimo models --base-url http://localhost:8000/v1 --api-key none
  mimo models --timeout 10"""
)
def models(
    ctx: typer.Context,
    json_out: JsonOption = False,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    timeout: TimeoutOption = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> None:
    """List the models the endpoint serves.

    Asks GET {base_url}/models; a table on a terminal, one model per line in a pipe.
    """
    from mimo_cli.core import require_key
    from mimo_cli.render.console import print_json
    from mimo_cli.render.reports import models_table
    from mimo_cli.transport.client import Client

    settings = resolve_settings(
        {"base_url": base_url, "api_key": api_key, "timeout": timeout}, config, profile
    )
    require_key(settings)
    with Client(settings, clock=state(ctx).clock) as client:
        items = client.models()
    if json_out:
        print_json(items, indent=2)
        return
    models_table(items, settings.model, settings.base_url)


@app.command(
    epilog="""\b
Examples:
  mimo doctor
  mimo doctor --profile dmxapi
  MIMO_API_KEY=sk-... mimo doctor --base-url https://api.xiaomimimo.com/v1
  mimo doctor --timeout 60      (the endpoint check takes at most 15 s unless told)"""
)
def doctor(
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    timeout: TimeoutOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            metavar="NAME",
            help="Model to look for [env: MIMO_MODEL; default: mimo-v2-omni].",
        ),
    ] = None,
    profile: ProfileOption = None,
    config: ConfigOption = None,
) -> ExitCode | None:
    """Check that mimo is ready to send requests.

    Checks the config file, the key, the endpoint, the model, libmagic and ffmpeg; exits 1 when a
    problem blocks requests (no key, endpoint unreachable or refusing the key, config file broken).
    """
    from mimo_cli.doctor import run_checks
    from mimo_cli.render.reports import doctor_report

    register_secret(api_key)
    checks = run_checks(
        {"base_url": base_url, "api_key": api_key, "model": model, "timeout": timeout},
        config=config,
        profile=profile,
    )
    return ExitCode.FAILED if doctor_report(checks) else None


class Shell(str, enum.Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion_script(shell: str) -> str:
    """The completion script of a shell: it asks ``mimo`` itself for the candidates (``_MIMO_COMPLETE``)."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="mimo", complete_var=COMPLETE_VAR, shell=shell) + "\n"


@app.command(
    epilog="""\b
Examples:
  mimo completions bash > ~/.local/share/bash-completion/completions/mimo
  mimo completions zsh > "${fpath[1]}/_mimo"
  mimo completions fish > ~/.config/fish/completions/mimo.fish"""
)
def completions(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script of a shell (bash, zsh, fish)."""
    sys.stdout.write(completion_script(shell.value))
