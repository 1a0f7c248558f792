"""``mimo doctor``: the checks, each an ok / warning / problem with a hint. Nothing is printed here."""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mimo_cli.config_file import config_path, load_config, profile_name
from mimo_cli.errors import Kind, MimoError
from mimo_cli.prompts import all_presets
from mimo_cli.settings import ENVIRONMENT, Settings, mask_key, resolve

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

OK, WARNING, PROBLEM = "ok", "warning", "problem"
DOCTOR_TIMEOUT = 15.0  # seconds: doctor should answer quickly even when --timeout is long


@dataclass
class Check:
    """One line of the report. A ``problem`` blocks requests; a ``warning`` does not."""

    name: str
    status: str
    detail: str
    hint: str | None = None


def _source(name: str, options: Mapping[str, Any], env: Mapping[str, str], profile: Mapping[str, Any],
            where: str) -> str:  # fmt: skip
    if options.get(name) is not None:
        return "--" + name.replace("_", "-")
    if name in ENVIRONMENT and env.get(ENVIRONMENT[name]):
        return ENVIRONMENT[name]
    if profile.get(name) is not None:
        return where
    return "default"


def check_config(path: Path, name: str) -> tuple[Check, dict[str, Any]]:
    """Does the file parse, is the profile in it, can others read it? Returns the check and the profile."""
    if not path.exists():
        if name != "default":
            return Check("config", PROBLEM, f"no config file at {path}, so no profile {name!r}",
                         f"create it: mimo config set --profile {name} KEY VALUE"), {}  # fmt: skip
        return Check("config", OK, f"no config file at {path} (optional)"), {}
    try:
        profile = load_config(path).profile(name)
    except MimoError as e:
        return Check("config", PROBLEM, e.message, e.hint or f"fix the file, or move it away: {path}"), {}
    mode = stat.S_IMODE(path.stat().st_mode)
    detail = f"{path} parses (profile {name!r})"
    if os.name == "posix" and mode & 0o077:
        return Check("config", WARNING, f"{detail}, but other users can read it (mode {mode:04o})",
                     f"chmod 600 {path}"), profile  # fmt: skip
    return Check("config", OK, detail), profile


def run_checks(
    options: Mapping[str, Any],
    *,
    config: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Check]:
    env = os.environ if env is None else env
    path = config_path(config, env)
    name = profile_name(profile, env)
    config_check, values = check_config(path, name)
    checks = [config_check]
    try:
        settings = resolve(options, env, values)
    except MimoError as e:
        checks.append(Check("settings", PROBLEM, e.message, e.hint))
        return checks
    where = f"profile {name!r}"
    if settings.preset not in all_presets(settings.presets):
        checks.append(Check("preset", PROBLEM, f"the preset {settings.preset!r} (from {_source('preset', options, env, values, where)}) "
                            "is not defined", f"known presets: {', '.join(sorted(all_presets(settings.presets)))}"))  # fmt: skip
    if settings.api_key:
        source = _source("api_key", options, env, values, where)
        checks.append(Check("API key", OK, f"{mask_key(settings.api_key)} (from {source})"))
    else:
        checks.append(Check("API key", PROBLEM, "no API key is set",
                            "export MIMO_API_KEY=sk-..., or save it in the config file: mimo config set api_key"))  # fmt: skip
    models = check_endpoint(settings, checks, quick=options.get("timeout") is None)
    if models is not None:
        ids = [str(m.get("id", "")) for m in models]
        if settings.model in ids:
            checks.append(Check("model", OK, f"{settings.model} is served"))
        else:
            shown = ", ".join(ids[:8]) + (" …" if len(ids) > 8 else "")
            checks.append(Check("model", WARNING, f"{settings.model} is not among the models listed: {shown or 'none'}",
                                "choose one with --model, or: mimo config set model NAME"))  # fmt: skip
    checks.append(check_libmagic())
    checks.append(check_ffmpeg())
    return checks


def check_endpoint(
    settings: Settings, checks: list[Check], quick: bool = True
) -> list[dict[str, Any]] | None:
    """Does the base URL answer? Appends its check (and a model check when it cannot list models)."""
    from mimo_cli.transport.client import Client

    # doctor answers within DOCTOR_TIMEOUT unless its own --timeout says otherwise
    timeout = min(settings.timeout, DOCTOR_TIMEOUT) if quick else settings.timeout
    checked = dataclasses.replace(settings, timeout=timeout)
    url = settings.base_url
    try:
        with Client(checked) as client:
            models = client.models()
    except MimoError as e:
        checks.append(_endpoint_failed(url, e, bool(settings.api_key)))
        if not (e.kind in (Kind.NETWORK, Kind.TIMEOUT) or (e.kind is Kind.AUTH and not settings.api_key)):
            checks.append(Check("model", WARNING, f"cannot tell whether {settings.model} is served"))
        return None
    checks.append(Check("base URL", OK, f"{url} answers ({len(models)} models listed)"))
    return models


def _endpoint_failed(url: str, e: MimoError, has_key: bool) -> Check:
    """The base URL check when GET /models failed: a problem unless the endpoint merely lists no models
    (404, 405) or asks for the key that is not set."""
    status = e.http_status or 0
    if e.kind in (Kind.NETWORK, Kind.TIMEOUT):
        return Check("base URL", PROBLEM, f"{url} cannot be reached: {e.message}", e.hint)
    if e.kind in (Kind.AUTH, Kind.QUOTA) and has_key:
        return Check("base URL", PROBLEM, f"{url} answers, but refuses the key: {e.message}", e.hint)
    if e.kind is Kind.AUTH:
        return Check("base URL", OK, f"{url} answers ({e.message} without a key)")
    if status >= 500 or (has_key and 400 <= status < 500 and status not in (404, 405)):
        return Check("base URL", PROBLEM, f"{url} answers with an error: {e.message}",
                     e.hint or "requests would fail the same way: check --base-url, or try later")  # fmt: skip
    return Check("base URL", WARNING, f"{url} answers, but does not list models: {e.message}",
                 "is it an OpenAI-compatible endpoint (it usually ends in /v1)?")  # fmt: skip


def check_libmagic() -> Check:
    from mimo_cli.inputs.sniff import load_magic

    magic = load_magic(None)
    if magic is None:
        return Check("libmagic", WARNING, "cannot be loaded: video types are told by file extension",
                     "install it: sudo apt-get install libmagic1 (Debian/Ubuntu), brew install libmagic (macOS)")  # fmt: skip
    version = getattr(magic, "version", None)
    try:
        shown = f"version {int(version()) / 100:.2f}" if callable(version) else "loads"
    except Exception:
        shown = "loads"
    return Check("libmagic", OK, shown)


def check_ffmpeg() -> Check:
    from mimo_cli.ffmpeg.tools import locate

    tools = locate()
    if tools:
        return Check(
            "ffmpeg", OK, tools.ffmpeg if tools.origin == "PATH" else f"{tools.ffmpeg} ({tools.origin})"
        )
    return Check("ffmpeg", WARNING, "not found: --fit, --start and --end need it",
                 "install ffmpeg (apt-get install ffmpeg, brew install ffmpeg), or: pipx install 'mimo-video[ffmpeg]'")  # fmt: skip
