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


def sidecar_path(
    item: Item, ext: str, out_dir: Path | None, renamed: dict[str, Path] | None = None
) -> Path | None:
    """Where an input's sidecar goes (None: nowhere, e.g. a URL without --out-dir); ``renamed``: the
    inputs named apart by :func:`name_apart`."""
    if renamed and item.input in renamed:
        return renamed[item.input]
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


def _place(item: Item, ext: str, out_dir: Path | None, whole: bool) -> str | None:
    """sidecar_path as a normalised string (cheap enough for every input of a big tree); ``whole``: the
    whole name of the video kept (``x.mp4.txt``)."""
    if out_dir is None:
        if not item.is_local:
            return None
        base = item.input
    else:
        rel = item.rel
        if rel is None:
            return None
        base = os.path.join(out_dir, rel)
    return os.path.normpath((base if whole else os.path.splitext(base)[0]) + "." + ext)


def _names(inputs: list[str]) -> str:
    return ", ".join(inputs[:-1]) + " and " + inputs[-1]


def name_apart(items: list[Item], ext: str, out_dir: Path | None) -> tuple[dict[str, Path], list[str]]:
    """Sidecars that would land on one file, found before anything is sent.

    Inputs that would share a sidecar (``x.mp4`` and ``x.mov`` -> ``x.txt``) get theirs under their
    whole names (``x.mp4.txt``, ``x.mov.txt``): returns those new places by input, and one line for each
    such group. Inputs that would share one even so (``a/x.mp4`` and ``b/x.mp4`` into one --out-dir) are
    refused: a usage error, nothing is sent.
    """
    by_place: dict[str, list[Item]] = {}
    for item in items:
        place = _place(item, ext, out_dir, whole=False)
        if place is not None:
            by_place.setdefault(place, []).append(item)
    renamed: dict[str, Path] = {}
    lines: list[str] = []
    for place, group in by_place.items():
        if len(group) < 2:
            continue
        apart = [str(_place(item, ext, out_dir, whole=True)) for item in group]
        clash = [i.input for i, a in zip(group, apart, strict=True) if apart.count(a) > 1 or a in by_place]
        if clash:  # the whole names do not tell them apart either (two trees into one --out-dir)
            raise usage_error(
                f"{_names(clash if len(clash) > 1 else [i.input for i in group])} would both write {place}",
                "write each tree's sidecars to its own --out-dir (one batch each), or leave --out-dir out",
            )
        renamed.update((item.input, Path(a)) for item, a in zip(group, apart, strict=True))
        lines.append(f"{_names([i.input for i in group])} would share {place}: writing {_names(apart)}")
    return renamed, lines
