"""The inputs of a batch: PATH arguments expanded, filtered, deduplicated, sorted, sharded."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
import urllib.parse
from pathlib import Path
from typing import IO, TYPE_CHECKING

from mimo_cli.errors import usage_error
from mimo_cli.inputs.sniff import ACCEPTED_EXT, OTHER_VIDEO_EXT
from mimo_cli.inputs.video import shorten_data_uri
from mimo_cli.result import printable

if TYPE_CHECKING:
    from collections.abc import Iterable

# -- planning ---------------------------------------------------------------------------------------------


class Item:
    """One input of the batch.

    ``input``: as recorded, the path as given or the directory given joined with the path below it.
    ``path``: the local file (None for a URL or data URI), made on demand. ``rel``: where its sidecar goes
    below --out-dir (posix), None when it has no place. A planned 100,000-file tree holds 100,000 of these:
    they keep the recorded text only, and where ``rel`` starts in it, not a Path and a second string each.
    """

    __slots__ = ("_path", "_rel", "input")

    def __init__(
        self, input: str, path: Path | None = None, rel: str | None = None, *, _local: int = -1
    ) -> None:
        self.input = input
        self._path: Path | bool | None = path if _local < 0 else True
        self._rel: str | int | None = rel if _local < 0 else _local

    @property
    def path(self) -> Path | None:
        return Path(self.input) if self._path is True else self._path  # type: ignore[return-value]

    @property
    def is_local(self) -> bool:
        return self._path is not None

    @property
    def rel(self) -> str | None:
        if isinstance(self._rel, int):
            rel = self.input[self._rel :]
            return rel if os.sep == "/" else rel.replace(os.sep, "/")
        return self._rel

    def _key(self) -> tuple[str, str | None, str | None]:
        path = self.path
        return self.input, None if path is None else str(path), self.rel

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self.input)

    def __repr__(self) -> str:
        return f"Item({self.input!r}, {self.path!r}, {self.rel!r})"


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


def _taken(entry: os.DirEntry[str], cut: int, exts: set[str], scan: _Scan) -> bool:
    """Whether a file below a directory is an input: its extension is searched for, or an --include glob
    names it (``--include '*.mqv'`` takes an extension the walk does not search by default). A video of
    another container left out is counted, so the summary can say so."""
    ext = os.path.splitext(entry.name)[1].lower()
    if ext in exts:
        return True
    if scan.include and any(
        fnmatch.fnmatchcase(name, glob) for glob in scan.include for name in (entry.name, entry.path[cut:])
    ):
        return True
    if ext in OTHER_VIDEO_EXT:
        scan.left_out[ext] = scan.left_out.get(ext, 0) + 1
    return False


class _Scan:
    """What a walk is told (the --include globs) and tells back (videos left out, by extension)."""

    def __init__(self, include: Iterable[str] = ()) -> None:
        self.include = list(include)
        self.left_out: dict[str, int] = {}


def _walk(root: str, exts: set[str], scan: _Scan | None = None) -> tuple[list[tuple[str, bool]], int]:
    """The videos below a directory: ([(input as recorded, is a symlink)], where the part below root
    starts in each). Hidden entries are skipped; symlinked directories are not followed (no loops).
    One os.scandir per folder and no other system call per file (d_type tells files from folders)."""
    cut = len(root) + (0 if root.endswith(os.sep) else 1)
    found: list[tuple[str, bool]] = []
    stack = [root]
    splitext = os.path.splitext
    scan = scan or _Scan()
    while stack:
        try:
            listing = os.scandir(stack.pop())
        except OSError:  # unreadable, or gone meanwhile: as os.walk does, leave it out
            continue
        with listing:
            for entry in listing:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if splitext(entry.name)[1].lower() not in exts and not _taken(entry, cut, exts, scan):
                        continue
                    link = entry.is_symlink()
                    if not (link and entry.is_dir()):  # a link to a folder is not followed
                        found.append((entry.path, link))
                except OSError:
                    continue
    return found, cut


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


#: (input as recorded, its rel or where rel starts in it, is local, its real path when it must be compared)
_Found = tuple[str, "str | int | None", bool, "str | None"]


def _expand(texts: list[str], exts: set[str], scan: _Scan | None = None) -> list[_Found]:
    """Every input the PATH arguments name. A real path is worked out only where two names may be one
    file: a symlink, or any file when several arguments are given. Below a directory nothing is reached
    through a symlinked folder, so a plain file's real path is the directory's joined with the rest."""
    found: list[_Found] = []
    for text in texts:
        if is_url(text):
            found.append((text, _url_rel(text), False, text))
        elif os.path.isdir(text):
            root = text.rstrip("/") or "/"
            walked, cut = _walk(root, exts, scan)
            compare = len(texts) > 1 or any(link for _, link in walked)
            real = os.path.realpath(root).rstrip(os.sep) if compare else ""
            for path, link in walked:
                key = os.path.realpath(path) if link else (real + path[cut - 1 :] if compare else None)
                found.append((path, cut, True, key))
        else:
            found.append((text, _own_rel(text), True, os.path.realpath(text)))
    return found


def _as_item(found: _Found) -> Item:
    text, rel, local, _ = found
    if isinstance(rel, int):
        return Item(text, _local=rel)
    return Item(text, Path(text) if local else None, rel)


def plan_all(
    paths: Iterable[str],
    *,
    fit: bool = False,
    include: Iterable[str] = (),
    exclude: Iterable[str] = (),
    stdin: IO[str] | None = None,
    left_out: dict[str, int] | None = None,
) -> list[Item]:
    """Every input of a batch, before sharding: expanded, filtered, sorted, without duplicates.

    Of the names of one file (a symlink and its target, a file given twice), the one that sorts first
    is kept (see :func:`_rank`): a rule that depends neither on the order of the arguments nor on that
    of a directory listing, so that every machine of a sharded batch keeps the same name, and the file
    is sent once.
    """
    exts = video_extensions(fit)
    texts: list[str] = []
    for text in paths:
        if text == "-":
            texts += [t for t in read_lines(stdin if stdin is not None else sys.stdin) if t != "-"]
        else:
            texts.append(text)
    include, exclude = list(include), list(exclude)
    scan = _Scan(include)
    found = _expand(texts, exts, scan)
    if left_out is not None:  # videos of other containers found in the directories and not taken
        left_out.update(scan.left_out)
    if include or exclude:
        found = [f for f in found if _wanted(_as_item(f), include, exclude)]
    found = _one_name_each(found)
    found.sort(key=lambda f: f[0])
    return [_as_item(f) for f in found]


def _rank(entry: _Found) -> tuple[str, int, str]:
    """Which name of one file is kept: the first once normalised (``./a.mp4`` counts as ``a.mp4``), then
    the plainer spelling. It depends on the names only, never on the order they were found in."""
    return os.path.normpath(entry[0]), len(entry[0]), entry[0]


def _one_name_each(found: list[_Found]) -> list[_Found]:
    """Drop the other names of a file found twice (by its real path)."""
    chosen: dict[str, _Found] = {}
    twice = False
    for entry in found:
        key = entry[3]
        if key is None:
            continue
        other = chosen.setdefault(key, entry)
        if other is not entry:
            twice = True
            if _rank(entry) < _rank(other):
                chosen[key] = entry
    if not twice:
        return found
    return [f for f in found if f[3] is None or chosen[f[3]] is f]


def _wanted(item: Item, include: list[str], exclude: list[str]) -> bool:
    return (not include or matches(item, include)) and not (exclude and matches(item, exclude))


def this_shard(items: list[Item], shard: tuple[int, int] | None) -> list[Item]:
    """The items of shard K of N (all of them without --shard)."""
    if shard is None:
        return items
    k, n = shard
    return [i for i in items if shard_of(i.input, n) == k]


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
    return this_shard(plan_all(paths, fit=fit, include=include, exclude=exclude, stdin=stdin), shard)


def label(item: Item) -> str:
    """The input as shown and recorded: a data URI shortened, a name that is not UTF-8 escaped."""
    return printable(shorten_data_uri(item.input))
