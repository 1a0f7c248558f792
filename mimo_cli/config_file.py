"""The config file (TOML, see README.md "Configuration"): where it is, reading, checking, writing.

Read with tomllib; written with tomlkit, so ``mimo config set`` keeps the user's comments and layout. A
profile is a ``[profiles.NAME]`` table of the settings in :data:`~mimo_cli.settings.PROFILE_KEYS`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import usage_error
from mimo_cli.fsutil import write_atomically
from mimo_cli.redact import register_secret
from mimo_cli.settings import DEFAULT_PROFILE, PROFILE_KEYS, Settings, check_value, resolve

if TYPE_CHECKING:
    from collections.abc import Mapping


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
    data: dict[str, Any] = tomllib.loads(text)
    return data


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
    name = profile_name(profile, env)
    settings = resolve(options, env, loaded.profile(name))
    if settings.api_key:
        return settings
    holding = tuple(n for n, p in sorted(loaded.profiles.items()) if n != name and p.get("api_key"))
    return dataclasses.replace(settings, key_profiles=holding)


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
        import difflib

        close = difflib.get_close_matches(setting, PROFILE_KEYS, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise usage_error(
            f"unknown setting {key!r}", f"{hint}settings: {', '.join(PROFILE_KEYS)}, presets.NAME"
        )
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


def read_document(path: Path) -> Any:
    """The file as a tomlkit document, to change and write back with its comments and layout kept.

    ({} as a new document when there is no file yet; a file that does not parse is a usage error, named
    as :func:`read_config` names it.)
    """
    import tomlkit

    read_config(path)  # the same checks and messages as every other command
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return tomlkit.document()


def toml_value(value: Any) -> str:
    """A value as TOML writes it (``mimo config set`` says what it wrote)."""
    import tomlkit

    return str(tomlkit.item(value).as_string())


def dumps(data: Mapping[str, Any]) -> str:
    """TOML for the shapes of the config file (``mimo config show``)."""
    import tomlkit

    return str(tomlkit.dumps(data))


def save_config(path: Path, data: Mapping[str, Any]) -> Path:
    """Write the file atomically, readable by its owner only (0600); a symlink is written through to its
    target. Returns the path written."""
    import tomlkit
    from tomlkit.exceptions import ConvertError

    target = Path(os.path.realpath(path))
    try:
        text = tomlkit.dumps(data)
    except ConvertError as e:
        raise usage_error(
            f"cannot rewrite the config file: {e}",
            "edit the file by hand (mimo config path shows where it is)",
        ) from None
    try:
        write_atomically(target, text, mode=0o600, make_parents=0o700)
    except OSError as e:
        raise usage_error(f"cannot write the config file {target}: {e.strerror or e}") from None
    return target
