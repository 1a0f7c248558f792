"""Settings: command-line option > environment > config profile > built-in default.

One resolution layer for every command. :func:`resolve` takes the options as the CLI received them
(``None`` for an option not given) and returns validated :class:`Settings`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimo_cli.errors import usage_error
from mimo_cli.extra_body import RESERVED_BODY_KEYS as RESERVED_BODY_KEYS
from mimo_cli.extra_body import _extra_body
from mimo_cli.extra_body import parse_extra_body as parse_extra_body
from mimo_cli.timeline.times import parse_time as _parse_time
from mimo_cli.urls import url_credentials as url_credentials
from mimo_cli.urls import without_credentials as without_credentials

OFFICIAL_BASE_URL = "https://api.xiaomimimo.com/v1"
TOKEN_PLAN_BASE_URL = "https://token-plan-cn.xiaomimimo.com/v1"
DEFAULT_MODEL = "mimo-v2-omni"
DEFAULT_PROFILE = "default"

#: Built-in defaults of every setting that has one.
DEFAULTS: dict[str, Any] = {
    "model": DEFAULT_MODEL,
    "fps": 2.0,
    "resolution": "default",
    "stream": True,
    "timeout": 300.0,
    "retries": 3,
    "max_inline_mb": 10.0,
    "max_download_mb": 2048.0,
    "preset": "detailed",
    "currency": "¥",
    "log": True,
    "cache": False,
}

#: Settings read from the environment, and the variable that holds each.
ENVIRONMENT = {
    "api_key": "MIMO_API_KEY",
    "base_url": "MIMO_BASE_URL",
    "model": "MIMO_MODEL",
    "log": "MIMO_LOG",  # 0 / 1 (also false / true)
    "cache": "MIMO_CACHE",
}

RESOLUTIONS = ("default", "max")

#: The settings a profile may hold, and their TOML type (a float setting also takes an integer).
PROFILE_KEYS: dict[str, type] = {
    "api_key": str,
    "base_url": str,
    "model": str,
    "fps": float,
    "resolution": str,
    "max_tokens": int,
    "temperature": float,
    "top_p": float,
    "thinking": bool,
    "stream": bool,
    "preset": str,
    "system": str,
    "timeout": float,
    "retries": int,
    "max_inline_mb": float,
    "price_input": float,  # per million prompt tokens
    "price_output": float,  # per million completion tokens
    "currency": str,
    "log": bool,
    "cache": bool,
    "max_download_mb": float,
    "extra_body": dict,
}

#: How each setting is named on the command line (for error messages).
OPTION_NAMES = {name: "--" + name.replace("_", "-") for name in PROFILE_KEYS}


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
    max_download_mb: float = 2048.0  # the most copied to a temporary file for ffmpeg (--fit, --start/--end)
    force_mime: str | None = None
    fit: bool = False  # convert a local video that is too large or of another container (needs ffmpeg)
    start: float | None = None  # seconds: send only the span from here (needs ffmpeg)
    end: float | None = None  # seconds: ... up to here
    inline_url: bool = False  # download http(s) URLs and send them inline
    timestamps: bool = False  # --timestamps: ask for timed lines and read them into events
    segment: float | str | None = None  # --segment: a part length in seconds, or "auto" (None: one request)
    merge: bool | None = None  # --merge/--no-merge with --segment (None: the command's default)
    presets: Mapping[str, str] = field(default_factory=dict)  # user presets (config file)
    #: The other profiles of the config file that hold a key (for the hint when this one has none).
    key_profiles: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None  # --schema, loaded and checked (mimo_cli.schema.load_schema)
    schema_retries: int = 1  # --schema-retries: repair requests when an answer does not match
    price_input: float | None = None  # per million prompt tokens: costs are shown when a price is set
    price_output: float | None = None  # per million completion tokens
    currency: str = "¥"
    log: bool = True  # record every request in the run log (mimo_cli.runlog)
    cache: bool = False  # answer a request from the run log when it holds an ok answer to the same one
    extra_body: Mapping[str, Any] = field(default_factory=dict)  # more top-level fields of the body

    @property
    def inline_limit(self) -> int:
        """The largest data URI, in characters, that may be sent inline."""
        return int(self.max_inline_mb * 1024 * 1024)

    @property
    def spool_limit(self) -> int:
        """The most bytes of a download or of standard input copied to a temporary file: what ffmpeg may
        take (--max-download-mb) when it converts or cuts, else the largest video an inline URI holds."""
        if self.fit or self.cutting:
            return int(self.max_download_mb * 1024 * 1024)
        room = self.inline_limit - len("data:video/mp4;base64,")
        return max(0, room // 4 * 3)

    @property
    def cutting(self) -> bool:
        """Whether --start or --end asks for a part of the video."""
        return self.start is not None or self.end is not None

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


#: The largest values that make sense (larger ones overflow the timers and sizes they become).
MAX_TIMEOUT = 86400.0  # seconds: a day
MAX_INLINE_MB = 4096.0
MAX_DOWNLOAD_MB = 1_000_000.0  # a TB


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: env[var] for name, var in ENVIRONMENT.items() if env.get(var)}
    for name, text in values.items():
        if PROFILE_KEYS.get(name) is bool:
            try:
                values[name] = parse_value(name, text)
            except ValueError as e:
                raise usage_error(f"{ENVIRONMENT[name]} {e}", f"e.g. {ENVIRONMENT[name]}=0 or =1") from None
    return values


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
    merged: dict[str, Any] = {"extra_body": _extra_body(options, profile)}
    for name in Settings.__dataclass_fields__:
        if name in merged:
            continue
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
    url_credentials(merged["base_url"])  # a password in it is a secret, whatever happens next
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


def _validate(merged: dict[str, Any]) -> None:
    if merged.get("api_key") == "":  # --api-key "": no key (exit 3 when sending), not a usage error
        merged["api_key"] = None
    for name, kind in PROFILE_KEYS.items():
        if kind in (int, float):
            _number(merged, name, OPTION_NAMES[name], kind)
    for name in merged:
        if name in PROFILE_KEYS and name != "base_url":
            problem = check_value(name, merged[name])
            if problem:
                raise usage_error(f"{OPTION_NAMES[name]} {problem}")
    _span(merged)
    if merged.get("prompt") == "":
        raise usage_error(
            "--prompt must not be empty", "leave it out to use the preset's prompt (--preset NAME)"
        )
    force_mime = merged.get("force_mime")
    if force_mime is not None and not _VIDEO_MIME.fullmatch(force_mime):
        raise usage_error(
            f"--force-mime takes a video/… type, got {force_mime!r}", "e.g. --force-mime video/mp4"
        )
    base_url = merged["base_url"]
    problem = check_value("base_url", base_url)
    if problem:
        raise usage_error(
            f"the base URL {problem}",
            "set it with --base-url or MIMO_BASE_URL, e.g. https://api.xiaomimimo.com/v1",
        )


_VIDEO_MIME = re.compile(r"video/[A-Za-z0-9][A-Za-z0-9.+-]*")
_RANGES: dict[str, tuple[float, float | None]] = {
    "fps": (0.1, 10),
    "temperature": (0, 1.5),
    "top_p": (0.01, 1),
    "max_tokens": (1, None),
    "retries": (0, 100),
    "price_input": (0, None),
    "price_output": (0, None),
    "timeout": (0, MAX_TIMEOUT),  # (more than 0: below)
    "max_inline_mb": (0, MAX_INLINE_MB),
    "max_download_mb": (0, MAX_DOWNLOAD_MB),
}


def _check_url(url: str) -> str | None:
    if url_credentials(url):
        return (
            f"must not hold a user name or password, got {without_credentials(url)!r} with user:***@ in "
            "it: mimo sends the key (--api-key) as a Bearer header, and the URL's would replace it"
        )
    if not url.startswith(("http://", "https://")):
        return f"must start with http:// or https://, got {url!r}"
    return None


def _check_table(value: Any) -> str | None:
    """``extra_body``: a table of fields, none of which mimo sets itself."""
    if not isinstance(value, Mapping):
        return f"must be a table of fields (a JSON object), got {value!r}"
    taken = [key for key in RESERVED_BODY_KEYS if key in value]
    if taken:
        return f"may not set {', '.join(taken)}: mimo sets {', '.join(RESERVED_BODY_KEYS)} itself"
    return None


def _type_problem(name: str, kind: type, value: Any) -> str | None:
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"must be a number, got {value!r}"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be a whole number, got {value!r}"
    if kind is bool and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    if kind is str and not isinstance(value, str):
        # never an api_key's value: it may well be the key, in a list
        shown = f"a {type(value).__name__}" if name == "api_key" else repr(value)
        return f"must be a string, got {shown}"
    if kind is dict:
        return _check_table(value)
    return None


def check_value(name: str, value: Any) -> str | None:
    """What is wrong with a (typed) setting value, as ``must be …, got …``; None when it is fine."""
    if value is None:
        return None
    kind = PROFILE_KEYS[name]
    problem = _type_problem(name, kind, value)
    if problem or kind is dict:
        return problem
    if kind in (int, float):
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if name in _RANGES:
            low, high = _RANGES[name]
            if value < low or (high is not None and value > high):
                bound = f"between {low:g} and {high:,.10g}" if high is not None else f"at least {low:g}"
                return f"must be {bound}, got {value:g}"
        if name in ("timeout", "max_inline_mb", "max_download_mb") and value <= 0:
            unit = " seconds" if name == "timeout" else ""
            bound = "more than 0"
            return f"must be {bound}{unit}, got {value:g}"
    if name == "resolution" and value not in RESOLUTIONS:
        return f"must be one of {', '.join(RESOLUTIONS)}, got {value!r}"
    if name == "base_url":
        return _check_url(str(value))
    if name in ("model", "api_key", "preset", "currency") and not value.strip():
        return "must not be empty"
    return None


def parse_value(name: str, text: str) -> Any:
    """A setting typed on the command line (``mimo config set KEY VALUE``) -> its TOML value.

    Raises :class:`ValueError` with the reason when the text is not a value of the setting's type.
    """
    kind = PROFILE_KEYS[name]
    if kind is dict:
        return parse_extra_body(text)
    if kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"must be true or false, got {text!r}")
    if kind is int:
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {text!r}") from None
    if kind is float:
        try:
            number = float(text.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {text!r}") from None
        return number
    return text


def parse_time(text: str | float | int, option: str = "--start") -> float:
    """Seconds from ``90``, ``90.5``, ``1:30``, ``0:01:30.5``, ``90s``, ``10m``, ``1h30m`` (a usage error
    otherwise): the one reading of times in options, :func:`mimo_cli.timeline.times.parse_time`."""
    return _parse_time(text, option)


def _span(merged: dict[str, Any]) -> None:
    for name in ("start", "end"):
        if merged.get(name) is not None:
            merged[name] = parse_time(merged[name], f"--{name}")
    start, end = merged.get("start"), merged.get("end")
    if end is not None and end <= (start or 0):
        raise usage_error(
            f"--end ({end:g} s) must come after --start ({start or 0:g} s)", "e.g. --start 1:00 --end 2:00"
        )


def mask_key(key: str | None) -> str:
    """A key as it may be shown: its prefix and last four characters (``sk-…abcd``), never in full."""
    if not key:
        return "(not set)"
    if len(key) < 16:
        return "…" + "*" * 4
    prefix = key.split("-", 1)[0] + "-" if "-" in key[:6] else key[:2]
    return f"{prefix}…{key[-4:]}"
