"""The inputs of a batch: PATH arguments expanded, filtered, deduplicated, sorted, sharded."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mimo_cli.errors import usage_error
from mimo_cli.inputs.sniff import ACCEPTED_EXT, OTHER_VIDEO_EXT
from mimo_cli.inputs.video import shorten_data_uri

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# -- planning ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One input of the batch."""

    input: str  # as recorded: the path as given, or the directory given joined with the path below it
    path: Path | None = None  # a local file (None for a URL or data URI)
    rel: str | None = None  # where its sidecar goes below --out-dir (posix), None when it has no place


def video_extensions(fit: bool) -> set[str]:
    """The extensions a directory is searched for (with ``--fit``, the containers it converts too)."""
    exts = set(ACCEPTED_EXT)
    if fit:
        exts |= set(OTHER_VIDEO_EXT)
    return exts


def is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://", "data:"))


def read_lines(stream: IO[str]) -> list[str]:
    """The paths or URLs of ``-``: one per line; blank lines and ``#`` comments are skipped."""
    out = []
    for line in stream:
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _walk(root: str, exts: set[str]) -> Iterator[tuple[str, str]]:
    """(input as recorded, path below root) of each video under a directory; hidden entries are skipped,
    symlinked directories are not followed (no loops)."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in exts:
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            yield os.path.join(root, rel), rel


def _own_rel(text: str) -> str:
    """Where a file given by itself goes below --out-dir: its relative path, or its name."""
    norm = os.path.normpath(text).replace(os.sep, "/")
    if os.path.isabs(norm) or norm == ".." or norm.startswith("../"):
        return os.path.basename(norm)
    return norm


def _url_rel(url: str) -> str | None:
    if url.lower().startswith("data:"):
        return None
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    name = name.replace("/", "_").replace("\\", "_").strip()
    return name if name not in ("", ".", "..") else None


def matches(item: Item, globs: Iterable[str]) -> bool:
    """True when a glob matches the input as recorded, its path below the directory, or its file name."""
    names = {item.input}
    if item.rel:
        names |= {item.rel, item.rel.rsplit("/", 1)[-1]}
    return any(fnmatch.fnmatchcase(name, g) for g in globs for name in names)


def shard_of(text: str, n: int) -> int:
    """The shard (1..n) an input belongs to: a stable hash of the input as recorded."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def parse_shard(text: str) -> tuple[int, int]:
    k, sep, n = text.partition("/")
    try:
        kk, nn = int(k), int(n)
    except ValueError:
        kk = nn = 0
    if not sep or nn < 1 or not 1 <= kk <= nn:
        raise usage_error(f"--shard must be K/N with 1 <= K <= N, got {text!r}", "e.g. --shard 2/4")
    return kk, nn


def plan(
    paths: Iterable[str],
    *,
    fit: bool = False,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    shard: tuple[int, int] | None = None,
    stdin: IO[str] | None = None,
) -> list[Item]:
    """The inputs of a batch: expanded, filtered, deduplicated, sorted, and this shard's only."""
    exts = video_extensions(fit)
    texts: list[str] = []
    for text in paths:
        if text == "-":
            texts += [t for t in read_lines(stdin if stdin is not None else sys.stdin) if t != "-"]
        else:
            texts.append(text)
    items: list[Item] = []
    for text in texts:
        if is_url(text):
            items.append(Item(text, None, _url_rel(text)))
        elif os.path.isdir(text):
            root = text.rstrip("/") or "/"
            items += [Item(recorded, Path(recorded), rel) for recorded, rel in _walk(root, exts)]
        else:
            items.append(Item(text, Path(text), _own_rel(text)))
    include, exclude = list(include), list(exclude)
    if include:
        items = [i for i in items if matches(i, include)]
    if exclude:
        items = [i for i in items if not matches(i, exclude)]
    seen: set[str] = set()
    unique: list[Item] = []
    for item in items:  # the first mention of a file wins, in the order the paths were given
        key = os.path.realpath(item.path) if item.path is not None else item.input
        if key not in seen:
            seen.add(key)
            unique.append(item)
    unique.sort(key=lambda i: i.input)
    if shard is not None:
        k, n = shard
        unique = [i for i in unique if shard_of(i.input, n) == k]
    return unique


def label(item: Item) -> str:
    return shorten_data_uri(item.input)
