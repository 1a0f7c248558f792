"""Settings: command-line option > environment > config profile > built-in default.

One resolution layer for every command. ``resolve()`` takes the options as the CLI received them
(``None`` for an option not given) and returns validated :class:`Settings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimo_cli.errors import usage_error

OFFICIAL_BASE_URL = "https://api.xiaomimimo.com/v1"
TOKEN_PLAN_BASE_URL = "https://token-plan-cn.xiaomimimo.com/v1"
DEFAULT_MODEL = "mimo-v2-omni"

#: Built-in defaults of every setting that has one.
DEFAULTS: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    "fps": 2.0,
    "resolution": "default",
    "stream": True,
    "timeout": 300.0,
    "retries": 3,
    "max_inline_mb": 10.0,
    "preset": "detailed",
}

#: Settings read from the environment, and the variable that holds each.
ENVIRONMENT = {
    "api_key": "MIMO_API_KEY",
    "base_url": "MIMO_BASE_URL",
    "model": "MIMO_MODEL",
}

RESOLUTIONS = ("default", "max")


@dataclass(frozen=True)
class Settings:
    """Everything a request needs, resolved and validated."""

    api_key: str | None = None
    base_url: str = OFFICIAL_BASE_URL
    model: str = DEFAULT_MODEL
    fps: float = 2.0
    resolution: str = "default"
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    thinking: bool | None = None
    stream: bool = True
    system: str | None = None  # None: the default system prompt; "": no system message
    preset: str = "detailed"
    prompt: str | None = None
    timeout: float = 300.0
    retries: int = 3
    max_inline_mb: float = 10.0
    force_mime: str | None = None
    presets: Mapping[str, str] = field(default_factory=dict)  # user presets (config file)

    @property
    def inline_limit(self) -> int:
        """The largest data URI, in characters, that may be sent inline."""
        return int(self.max_inline_mb * 1024 * 1024)

    def request_options(self) -> dict[str, Any]:
        """The options that change what is asked (for fingerprints and records), without secrets."""
        return {
            "model": self.model,
            "fps": self.fps,
            "resolution": self.resolution,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "thinking": self.thinking,
            "system": self.system,
        }


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    return {name: env[var] for name, var in ENVIRONMENT.items() if env.get(var)}


def resolve(
    options: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    profile: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the layers (option > environment > profile > default) and validate the result."""
    env = os.environ if env is None else env
    layers: list[Mapping[str, Any]] = [
        {k: v for k, v in options.items() if v is not None},
        _env_values(env),
        {k: v for k, v in (profile or {}).items() if v is not None},
        DEFAULTS,
    ]
    merged: dict[str, Any] = {}
    for name in Settings.__dataclass_fields__:
        for layer in layers:
            if name in layer:
                merged[name] = layer[name]
                break
    key = merged.get("api_key")
    if "base_url" not in merged:
        merged["base_url"] = (
            TOKEN_PLAN_BASE_URL if isinstance(key, str) and key.startswith("tp-") else OFFICIAL_BASE_URL
        )
    merged["base_url"] = str(merged["base_url"]).rstrip("/")
    _validate(merged)
    return Settings(**merged)


def _number(merged: dict[str, Any], name: str, option: str, kind: type = float) -> None:
    value = merged.get(name)
    if value is None:
        return
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise usage_error(f"{option} must be a number, got {value!r}") from None
    if isinstance(number, float) and not math.isfinite(number):
        raise usage_error(f"{option} must be a finite number, got {value!r}")
    merged[name] = number


def _in_range(merged: dict[str, Any], name: str, option: str, low: float, high: float | None) -> None:
    value = merged.get(name)
    if value is None:
        return
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise usage_error(f"{option} must be {bound}, got {value:g}")


def _validate(merged: dict[str, Any]) -> None:
    for name, option, kind in [
        ("fps", "--fps", float),
        ("temperature", "--temperature", float),
        ("top_p", "--top-p", float),
        ("timeout", "--timeout", float),
        ("max_inline_mb", "--max-inline-mb", float),
        ("max_tokens", "--max-tokens", int),
        ("retries", "--retries", int),
    ]:
        _number(merged, name, option, kind)
    _in_range(merged, "fps", "--fps", 0.1, 10)
    _in_range(merged, "temperature", "--temperature", 0, 1.5)
    _in_range(merged, "top_p", "--top-p", 0.01, 1)
    _in_range(merged, "max_tokens", "--max-tokens", 1, None)
    _in_range(merged, "retries", "--retries", 0, 100)
    if merged.get("timeout") is not None and merged["timeout"] <= 0:
        raise usage_error(f"--timeout must be more than 0 seconds, got {merged['timeout']:g}")
    if merged.get("max_inline_mb") is not None and merged["max_inline_mb"] <= 0:
        raise usage_error(f"--max-inline-mb must be more than 0, got {merged['max_inline_mb']:g}")
    if merged.get("resolution") not in RESOLUTIONS:
        raise usage_error(
            f"--resolution must be one of {', '.join(RESOLUTIONS)}, got {merged.get('resolution')!r}"
        )
    base_url = merged["base_url"]
    if not base_url.startswith(("http://", "https://")):
        raise usage_error(
            f"the base URL must start with http:// or https://, got {base_url!r}",
            "set it with --base-url or MIMO_BASE_URL, e.g. https://api.xiaomimimo.com/v1",
        )


def mask_key(key: str | None) -> str:
    """A key as it may be shown: its prefix and last four characters (``sk-…abcd``), never in full."""
    if not key:
        return "(not set)"
    if len(key) < 16:
        return "…" + "*" * 4
    prefix = key.split("-", 1)[0] + "-" if "-" in key[:6] else key[:2]
    return f"{prefix}…{key[-4:]}"
