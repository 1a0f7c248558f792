"""How the commands are wired to the core: shell completions, settings, and the callbacks that print."""

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import typer

from mimo_cli.errors import MimoError
from mimo_cli.redact import register_secret
from mimo_cli.settings import Settings


def _complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --profile: the profiles of the config file (of --config when given)."""
    from mimo_cli.config_file import config_path, load_config

    try:
        names = load_config(config_path(ctx.params.get("config")), validate=False).profiles
    except MimoError:
        return []
    return [name for name in sorted(names) if name.startswith(incomplete)]


def _complete_presets(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of --preset: the built-in presets and the config file's (of --config when given)."""
    from mimo_cli.config_file import config_path, load_config
    from mimo_cli.prompts import BUILTIN_PRESETS

    names = set(BUILTIN_PRESETS)
    try:
        config = load_config(config_path(ctx.params.get("config")), validate=False)
        for table in [config.data.get("presets"), *[p.get("presets") for p in config.profiles.values()]]:
            if isinstance(table, dict):
                names.update(table)
    except MimoError:
        pass
    return [name for name in sorted(names) if name.startswith(incomplete)]


def _complete_resolutions(incomplete: str) -> list[str]:
    """Shell completion of --resolution."""
    from mimo_cli.settings import RESOLUTIONS

    return [name for name in RESOLUTIONS if name.startswith(incomplete)]


def resolve_settings(options: dict[str, Any], config: str | None, profile: str | None) -> Settings:
    """Resolve the settings (reading the config file only now, when a command needs them)."""
    register_secret(options.get("api_key"))
    from mimo_cli.config_file import load_settings

    settings = load_settings(options, config=config, profile=profile)
    register_secret(settings.api_key)
    return settings


def with_common_of(common: Any, func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options of :class:`Common` to a command, which receives them as one ``opts`` argument."""
    own = [p for p in inspect.signature(func, eval_str=True).parameters.values() if p.name != "opts"]
    shared = [
        inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
        for f in fields(common)
    ]

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        opts = common(**{f.name: kwargs.pop(f.name) for f in fields(common)})
        return func(**kwargs, opts=opts)

    wrapper.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    del wrapper.__wrapped__  # typer must see the new signature, not the function's own
    return wrapper


def notice_for(quiet: bool, *, dim: bool = False) -> Callable[[str, "str | None"], None]:
    """The ``notice`` callback of the core: a warning line (a dim line for retries), or nothing with
    --quiet."""

    def notice(message: str, hint: str | None = None) -> None:
        if quiet:
            return
        from mimo_cli.render.console import info, warning

        if dim:
            info(message)
        else:
            warning(message, hint)

    return notice


def debug_log(on: bool) -> Callable[[str], None] | None:
    """With --debug or MIMO_DEBUG=1: where the client writes request and response headers."""
    if not on:
        return None
    from mimo_cli.render.console import debug

    return debug
