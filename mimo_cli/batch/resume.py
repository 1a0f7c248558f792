"""Fingerprints of inputs and ``--resume``.

The fingerprint of an input (stored in each record as ``"fingerprint"``) is the SHA-256 of

- the input as recorded,
- for a local file its size and modification time (nanoseconds); for a URL or data URI, the text alone,
- the request options that change the answer: the prompt text, model, fps, resolution, system prompt
  (as given: the default one counts as "default", so the date in it does not matter), max tokens,
  temperature, top_p, thinking, --force-mime, --schema (not --schema-retries), and the input options
  that change what is sent.

Options that only change how the answer travels (base URL, key, timeout, retries, stream) are left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import usage_error

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.batch.plan import Item
    from mimo_cli.callbacks import Notice
    from mimo_cli.settings import Settings

#: Settings that do not change the answer, so they are not part of the fingerprint.
NOT_FINGERPRINTED = {"api_key", "base_url", "timeout", "retries", "stream", "presets", "preset", "prompt",
                     "max_inline_mb", "key_profiles", "schema_retries"}  # fmt: skip
FINGERPRINT_VERSION = 1

# -- fingerprints and resume ------------------------------------------------------------------------------


#: The settings every fingerprint of mimo 0.1 holds. A setting added since counts only when it is not at
#: its default, so that a new option does not make --resume send again what an older mimo finished.
FINGERPRINTED_V1 = {"end", "fit", "force_mime", "fps", "inline_url", "max_tokens", "model", "resolution",
                    "start", "system", "temperature", "thinking", "top_p"}  # fmt: skip


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def options_digest(settings: Settings, prompt: str) -> str:
    """A hash of the request options that change the answer (see the module docstring)."""
    options: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if f.name in NOT_FINGERPRINTED:
            continue
        if f.name in FINGERPRINTED_V1 or value != _default(f):
            options[f.name] = value
    options["prompt_text"] = prompt
    text = json.dumps(options, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def fingerprint(item: Item, digest: str) -> str:
    """The fingerprint of one input (``size`` and ``mtime_ns`` of a local file; -1 when it cannot be read)."""
    content: list[Any] = [item.input]
    if item.path is not None:
        try:
            st = item.path.stat()
            content += [st.st_size, st.st_mtime_ns]
        except OSError:
            content += [-1, -1]
    text = json.dumps([FINGERPRINT_VERSION, content, digest], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def load_done(path: Path, notice: Notice | None = None) -> dict[str, dict[str, Any]]:
    """The ``ok`` records of an earlier run, by fingerprint; a torn last line is cut off the file.

    A crash or kill can leave the last line half written: it is removed (it holds no complete answer), so
    the next record starts on a line of its own and the file stays valid JSON Lines. A complete last
    line that only lacks its newline gets one.
    """
    done: dict[str, dict[str, Any]] = {}
    try:
        f = open(path, "rb+")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return done
    except OSError as e:
        raise usage_error(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        offset = 0
        for raw in f:
            complete = raw.endswith(b"\n")
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not complete:
                if record is None:
                    f.truncate(offset)
                    if notice:
                        notice(f"removed a torn last line ({len(raw):,} bytes) from {path}", None)
                else:
                    f.seek(0, os.SEEK_END)
                    f.write(b"\n")
            offset += len(raw)
            if isinstance(record, dict) and record.get("status") == "ok" and record.get("fingerprint"):
                done[str(record["fingerprint"])] = record
            if not complete:
                break
    return done
