"""Sidecars: each answer written next to its video, or under --out-dir."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import input_error, usage_error
from mimo_cli.fsutil import write_atomically
from mimo_cli.inputs.sniff import ACCEPTED_EXT, OTHER_VIDEO_EXT
from mimo_cli.redact import redact
from mimo_cli.timeline.subtitles import SUBTITLE_FORMATS, write

if TYPE_CHECKING:
    from mimo_cli.batch.plan import Item

# -- sidecars ---------------------------------------------------------------------------------------------


def check_sidecar_ext(ext: str) -> str:
    ext = ext.removeprefix(".")
    if not ext or "/" in ext or "\\" in ext or ext in (".", ".."):
        raise usage_error(f"--sidecar takes an extension such as txt or json, got {ext!r}")
    if f".{ext.lower()}" in ACCEPTED_EXT or f".{ext.lower()}" in OTHER_VIDEO_EXT:
        raise usage_error(f"--sidecar {ext} would overwrite videos", "use an extension such as txt or json")
    return ext


def sidecar_path(item: Item, ext: str, out_dir: Path | None) -> Path | None:
    """Where an input's sidecar goes (None: nowhere, e.g. a URL without --out-dir)."""
    if out_dir is None:
        return item.path.with_suffix(f".{ext}") if item.path is not None else None
    if item.rel is None:
        return None
    return out_dir.joinpath(*Path(item.rel).with_suffix(f".{ext}").parts)


def write_inside(target: Path, text: str, root: Path) -> None:
    """Write ``text`` to ``target`` atomically, refusing to leave ``root`` (checked before any folder is made)."""
    root_real = os.path.realpath(root)
    parent_real = os.path.realpath(target.parent)
    if os.path.commonpath([root_real, parent_real]) != root_real or target.name in ("", ".", ".."):
        raise input_error(f"refusing to write {target}: it is outside {root}")
    os.makedirs(parent_real, exist_ok=True)
    write_atomically(Path(parent_real) / target.name, text)


def sidecar_text(record: dict[str, Any], ext: str) -> str:
    if ext.lower() == "json":
        return redact(json.dumps(record, ensure_ascii=False, indent=2)) + "\n"
    if ext.lower() in SUBTITLE_FORMATS:  # --sidecar srt|vtt: the events (--timestamps) as subtitles
        return redact(write(ext.lower(), record.get("events") or []))
    answer = redact(str(record.get("answer") or ""))
    return answer if answer.endswith("\n") else answer + "\n"
