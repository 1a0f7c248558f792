"""Settings: command-line option > environment > config profile > built-in default.

One resolution layer for every command. ``resolve()`` takes the options as the CLI received them
(``None`` for an option not given) and returns validated :class:`Settings`. The config file (TOML, see
README.md "Configuration") is read by :func:`load_config` and written by :func:`save_config`; a profile
is a ``[profiles.NAME]`` table of the settings in :data:`PROFILE_KEYS`.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mimo_cli.errors import register_secret, usage_error

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
    "preset": "detailed",
}

#: Settings read from the environment, and the variable that holds each.
ENVIRONMENT = {
    "api_key": "MIMO_API_KEY",
    "base_url": "MIMO_BASE_URL",
    "model": "MIMO_MODEL",
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
    force_mime: str | None = None
    fit: bool = False  # convert a local video that is too large or of another container (needs ffmpeg)
    start: float | None = None  # seconds: send only the span from here (needs ffmpeg)
    end: float | None = None  # seconds: ... up to here
    inline_url: bool = False  # download http(s) URLs and send them inline
    presets: Mapping[str, str] = field(default_factory=dict)  # user presets (config file)

    @property
    def inline_limit(self) -> int:
        """The largest data URI, in characters, that may be sent inline."""
        return int(self.max_inline_mb * 1024 * 1024)

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
    base_url = merged["base_url"]
    problem = check_value("base_url", base_url)
    if problem:
        raise usage_error(
            f"the base URL {problem}",
            "set it with --base-url or MIMO_BASE_URL, e.g. https://api.xiaomimimo.com/v1",
        )


_RANGES: dict[str, tuple[float, float | None]] = {
    "fps": (0.1, 10),
    "temperature": (0, 1.5),
    "top_p": (0.01, 1),
    "max_tokens": (1, None),
    "retries": (0, 100),
}


def check_value(name: str, value: Any) -> str | None:
    """What is wrong with a (typed) setting value, as ``must be …, got …``; None when it is fine."""
    if value is None:
        return None
    kind = PROFILE_KEYS[name]
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"must be a number, got {value!r}"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be a whole number, got {value!r}"
    if kind is bool and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    if kind is str and not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if kind in (int, float):
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if name in _RANGES:
            low, high = _RANGES[name]
            if value < low or (high is not None and value > high):
                bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                return f"must be {bound}, got {value:g}"
        if name in ("timeout", "max_inline_mb") and value <= 0:
            unit = " seconds" if name == "timeout" else ""
            return f"must be more than 0{unit}, got {value:g}"
    if name == "resolution" and value not in RESOLUTIONS:
        return f"must be one of {', '.join(RESOLUTIONS)}, got {value!r}"
    if name == "base_url" and not str(value).startswith(("http://", "https://")):
        return f"must start with http:// or https://, got {value!r}"
    if name in ("model", "api_key", "preset") and not value.strip():
        return "must not be empty"
    return None


def parse_value(name: str, text: str) -> Any:
    """A setting typed on the command line (``mimo config set KEY VALUE``) -> its TOML value.

    Raises :class:`ValueError` with the reason when the text is not a value of the setting's type.
    """
    kind = PROFILE_KEYS[name]
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


_TIME = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+(?:\.\d*)?|\.\d+)$")


def parse_time(text: str | float | int, option: str = "--start") -> float:
    """Seconds from ``90``, ``90.5``, ``1:30`` or ``0:01:30.5`` (a usage error otherwise)."""
    if isinstance(text, bool):
        raise usage_error(f"{option} must be seconds or [hh:]mm:ss, got {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = _TIME.match(text.strip())
        if not match:
            raise usage_error(
                f"{option} must be seconds or [hh:]mm:ss, got {text!r}", "e.g. 90, 1:30 or 00:01:30.5"
            )
        hours, minutes, secs = match.groups()
        if (hours is not None or minutes is not None) and float(secs) >= 60:
            raise usage_error(f"{option}: the seconds of {text!r} must be below 60")
        if hours is not None and int(minutes) >= 60:
            raise usage_error(f"{option}: the minutes of {text!r} must be below 60")
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs)
    if not math.isfinite(seconds) or seconds < 0:
        raise usage_error(f"{option} must be a time of 0 or more, got {text!r}")
    return seconds


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


# -- the config file --------------------------------------------------------------------------------------


def config_path(option: str | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``--config``, else ``MIMO_CONFIG``, else ``$XDG_CONFIG_HOME/mimo/config.toml``, else the platform's
    config folder (``~/.config`` on Linux, ``~/Library/Application Support`` on macOS, ``%APPDATA%`` on
    Windows)."""
    env = os.environ if env is None else env
    if option:
        return Path(option).expanduser()
    if env.get("MIMO_CONFIG"):
        return Path(env["MIMO_CONFIG"]).expanduser()
    if env.get("XDG_CONFIG_HOME"):
        base = Path(env["XDG_CONFIG_HOME"]).expanduser()
    elif sys.platform == "win32" and env.get("APPDATA"):
        base = Path(env["APPDATA"])
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path.home() / ".config"
    return base / "mimo" / "config.toml"


def profile_name(option: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``--profile``, else ``MIMO_PROFILE``, else ``default``."""
    env = os.environ if env is None else env
    return option or env.get("MIMO_PROFILE") or DEFAULT_PROFILE


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def read_config(path: Path) -> dict[str, Any]:
    """The file as TOML data ({} when it does not exist); a file that does not parse is a usage error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as e:
        raise usage_error(f"the config file {path} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise usage_error(f"cannot read the config file {path}: {e.strerror or e}") from None
    try:
        return _toml_loads(text)
    except ValueError as e:  # tomllib.TOMLDecodeError
        message = str(e)
        found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
        if found:
            where = f"line {found.group(1)}"
            message = message[: found.start()]
        else:
            where = f"line {text.count(chr(10)) + 1}"
            message = re.sub(r"\s*\(at end of document\)$", " (at the end of the file)", message)
        raise usage_error(f"the config file {path} does not parse: {where}: {message}") from None


def _bad(path: Path, key: str, problem: str, hint: str | None = None) -> Exception:
    return usage_error(f"bad config file {path}: {key} {problem}", hint)


def _check_presets(path: Path, where: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise _bad(path, where, 'must be a table of name = "prompt text" lines')
    for name, text in table.items():
        if not isinstance(text, str) or not text.strip():
            raise _bad(path, f"{where}.{name}", "must be a non-empty string (the prompt text)")
    return dict(table)


def check_config(path: Path, data: Mapping[str, Any]) -> None:
    """Validate the whole file: known keys, types and ranges; a problem names the file and the key."""
    known = ", ".join(sorted(PROFILE_KEYS))
    for key, value in data.items():
        if key == "presets":
            _check_presets(path, "presets", value)
        elif key == "profiles":
            if not isinstance(value, dict):
                raise _bad(path, "profiles", "must be tables: [profiles.NAME]")
            for name, profile in value.items():
                where = f"profiles.{name}"
                if not isinstance(profile, dict):
                    raise _bad(path, where, "must be a table: [profiles.NAME]")
                for setting, v in profile.items():
                    if setting == "presets":
                        _check_presets(path, f"{where}.presets", v)
                        continue
                    if setting not in PROFILE_KEYS:
                        raise _bad(path, f"{where}.{setting}", "is not a setting", f"settings: {known}")
                    problem = check_value(setting, v)
                    if problem:
                        raise _bad(path, f"{where}.{setting}", problem)
        else:
            raise _bad(
                path, key, "is not a table mimo knows", "the file holds [profiles.NAME] tables and [presets]"
            )


class Config:
    """A loaded config file (a plain class, not a dataclass: building one at import costs start-up time)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        profiles = self.data.get("profiles")
        return (
            {k: v for k, v in profiles.items() if isinstance(v, dict)} if isinstance(profiles, dict) else {}
        )

    def profile(self, name: str) -> dict[str, Any]:
        """The settings of a profile, with the user presets merged in (the profile's win) as ``presets``.

        An unknown profile is a usage error listing the known ones; ``default`` may be absent.
        """
        profiles = self.profiles
        if name not in profiles and name != DEFAULT_PROFILE:
            known = ", ".join(sorted(profiles)) or "none"
            where = f"in {self.path}" if self.path.exists() else f"({self.path} does not exist)"
            raise usage_error(
                f"no profile {name!r} {where}",
                f"known profiles: {known}; create one with: mimo config set --profile {name} KEY VALUE",
            )
        values = {k: v for k, v in profiles.get(name, {}).items() if k != "presets"}
        presets = {**(self.data.get("presets") or {}), **(profiles.get(name, {}).get("presets") or {})}
        if presets:
            values["presets"] = presets
        return values


def load_config(path: Path, validate: bool = True) -> Config:
    """Read (and unless told otherwise validate) the config file; every key it holds becomes a secret."""
    data = read_config(path)
    config = Config(path, data)
    for profile in config.profiles.values():
        if isinstance(profile, dict) and isinstance(profile.get("api_key"), str):
            register_secret(profile["api_key"])
    if validate:
        check_config(path, data)
    return config


def load_settings(
    options: Mapping[str, Any],
    *,
    config: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings for a command: the config file's profile under the environment under the options."""
    env = os.environ if env is None else env
    loaded = load_config(config_path(config, env))
    return resolve(options, env, loaded.profile(profile_name(profile, env)))


# -- mimo config set / unset ------------------------------------------------------------------------------


def key_path(key: str, profile: str | None, env: Mapping[str, str] | None = None) -> list[str]:
    """Where KEY of ``mimo config set/unset`` lives in the file.

    A setting (``model``, ``max-tokens`` …) lives in the profile (``--profile``, ``MIMO_PROFILE`` or
    ``default``); ``presets.NAME`` in the top-level ``[presets]`` table, or with ``--profile`` in that
    profile's own ``[profiles.NAME.presets]``.
    """
    if key.lower().startswith("presets."):
        name = key[len("presets.") :]
        if not name.strip():
            raise usage_error(
                "a preset needs a name: presets.NAME", 'e.g. mimo config set presets.brief "..."'
            )
        return ["presets", name] if profile is None else ["profiles", profile, "presets", name]
    setting = key.strip().lower().replace("-", "_")
    if setting not in PROFILE_KEYS:
        raise usage_error(f"unknown setting {key!r}", f"settings: {', '.join(PROFILE_KEYS)}, presets.NAME")
    return ["profiles", profile_name(profile, env), setting]


def set_key(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``data[path[0]][path[1]]… = value``, creating the tables on the way."""
    table = data
    for i, part in enumerate(path[:-1]):
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            raise usage_error(f"cannot set {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a table")
        table = child
    table[path[-1]] = value


def unset_key(data: dict[str, Any], path: list[str]) -> bool:
    """Remove the key (and a ``presets`` table it leaves empty); False when it was not set."""
    tables = [data]
    for part in path[:-1]:
        child = tables[-1].get(part)
        if not isinstance(child, dict):
            return False
        tables.append(child)
    if path[-1] not in tables[-1]:
        return False
    del tables[-1][path[-1]]
    if path[-2] == "presets" and not tables[-1]:
        del tables[-2]["presets"]
    return True


# -- writing TOML -----------------------------------------------------------------------------------------

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if key and _BARE_KEY_CHARS.issuperset(key) else toml_string(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise usage_error(
        f"cannot rewrite the config file: it holds a {type(value).__name__} value mimo does not write",
        "edit the file by hand (mimo config path shows where it is)",
    )


def _table(lines: list[str], header: str, table: Mapping[str, Any]) -> None:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
    if scalars or not subtables:
        if lines:
            lines.append("")
        lines.append(f"[{header}]")
        lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in scalars.items())
    for k, v in subtables.items():
        _table(lines, f"{header}.{toml_key(k)}", v)


def dumps(data: Mapping[str, Any]) -> str:
    """TOML for the shapes of the config file: tables of strings, numbers and booleans, nested."""
    lines: list[str] = []
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    lines.extend(f"{toml_key(k)} = {toml_value(v)}" for k, v in top.items())
    for key, value in data.items():
        if isinstance(value, dict):
            _table(lines, toml_key(key), value)
    return "\n".join(lines) + "\n" if lines else ""


def save_config(path: Path, data: Mapping[str, Any]) -> Path:
    """Write the file atomically (a temp file renamed over it), readable by its owner only (0600).

    A symlinked config file is written through to its target. Returns the path written.
    """
    import tempfile

    target = Path(os.path.realpath(path))
    text = dumps(data)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=target.parent)
    except OSError as e:
        raise usage_error(f"cannot write the config file {target}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise usage_error(f"cannot write the config file {target}: {e.strerror or e}") from None
        raise
    return target
