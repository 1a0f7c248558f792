"""``mimo batch``: many videos, one request each, in parallel, resumable and shardable.

The flow: :func:`plan` turns the PATH arguments into sorted, deduplicated, filtered :class:`Item` s (and
picks this machine's shard); :func:`load_done` reads the fingerprints of the ``ok`` records an earlier run
left in the output file; :class:`Runner` sends the rest with ``--jobs`` requests in flight, writes one JSON
record per input as soon as its request ends, and reports to a :class:`Progress`.

The fingerprint of an input (stored in each record as ``"fingerprint"``) is the SHA-256 of

- the input as recorded,
- for a local file its size and modification time (nanoseconds); for a URL or data URI, the text alone,
- the request options that change the answer: the prompt text, model, fps, resolution, system prompt
  (as given: the default one counts as "default", so the date in it does not matter), max tokens,
  temperature, top_p, thinking, --force-mime, and the input options that change what is sent.

Options that only change how the answer travels (base URL, key, timeout, retries, stream) are left out.

Progress is shown through the small :class:`Progress` interface; :class:`NullProgress` is its no-op twin
for ``--quiet`` and tests. Nothing else here prints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from mimo_cli.config import Settings
from mimo_cli.errors import Kind, MimoError, input_error, redact, usage_error
from mimo_cli.media import ACCEPTED_EXT, OTHER_VIDEO_EXT, shorten_data_uri
from mimo_cli.result import make_record, usage_numbers

Notice = Callable[[str, "str | None"], None]

#: Settings that do not change the answer, so they are not part of the fingerprint.
NOT_FINGERPRINTED = {"api_key", "base_url", "timeout", "retries", "stream", "presets", "preset", "prompt",
                     "max_inline_mb"}  # fmt: skip
FINGERPRINT_VERSION = 1


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


# -- fingerprints and resume ------------------------------------------------------------------------------


def options_digest(settings: Settings, prompt: str) -> str:
    """A hash of the request options that change the answer (see the module docstring)."""
    options: dict[str, Any] = {
        f.name: getattr(settings, f.name)
        for f in dataclasses.fields(settings)
        if f.name not in NOT_FINGERPRINTED
    }
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


def write_atomically(target: Path, text: str, root: Path) -> None:
    """Write ``text`` to ``target`` through a temporary file and a rename, refusing to leave ``root``."""
    root_real = os.path.realpath(root)
    parent_real = os.path.realpath(target.parent)  # checked before any directory is made
    if os.path.commonpath([root_real, parent_real]) != root_real or target.name in ("", ".", ".."):
        raise input_error(f"refusing to write {target}: it is outside {root}")
    os.makedirs(parent_real, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent_real, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, os.path.join(parent_real, target.name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_UMASK: list[int] = []


def _umask() -> int:
    if not _UMASK:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]


def sidecar_text(record: dict[str, Any], ext: str) -> str:
    if ext.lower() == "json":
        return redact(json.dumps(record, ensure_ascii=False, indent=2)) + "\n"
    answer = redact(str(record.get("answer") or ""))
    return answer if answer.endswith("\n") else answer + "\n"


# -- progress ---------------------------------------------------------------------------------------------


@dataclass
class Summary:
    total: int = 0  # inputs of this run (this shard), skipped ones included
    done: int = 0
    failed: int = 0
    skipped: int = 0
    not_started: int = 0
    abandoned: int = 0
    tokens: int = 0
    video_tokens: int = 0
    reasoning_tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    interrupted: bool = False
    stopped_by: str | None = None  # why the batch stopped early (--fail-fast, an auth error)
    sidecar_failures: int = 0

    def add(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            self.done += 1
        else:
            self.failed += 1
        n = usage_numbers(record.get("usage"))
        self.tokens += n["total"] or 0
        self.video_tokens += n["video"] or 0
        self.reasoning_tokens += n["reasoning"] or 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self) -> str:
        parts = [f"{self.done:,} done", f"{self.failed:,} failed", f"{self.skipped:,} skipped"]
        if self.not_started:
            parts.append(f"{self.not_started:,} not started")
        if self.abandoned:
            parts.append(f"{self.abandoned:,} abandoned")
        tokens = f"{self.tokens:,} tokens ({self.video_tokens:,} video, {self.reasoning_tokens:,} reasoning)"
        return f"batch: {', '.join(parts)} · {tokens} · {self.elapsed:.1f} s"


class Progress(Protocol):
    """What the runner tells about its progress. Implementations print on stderr, never on stdout."""

    def start(self, total: int, skipped: int) -> None: ...
    def finished(self, record: dict[str, Any], summary: Summary) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


class NullProgress:
    """The no-op twin: for --quiet and tests."""

    def start(self, total: int, skipped: int) -> None:
        pass

    def finished(self, record: dict[str, Any], summary: Summary) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def stop(self) -> None:
        pass


def skipping_line(total: int, skipped: int) -> str:
    return f"skipping {skipped:,} of {total:,} inputs: they already have an ok record"


def record_line(record: dict[str, Any]) -> str:
    """``ok     media/a.mp4 · 1,488 tokens · 3.2 s`` or ``failed media/b.mp4: input: ...``."""
    name = record["input"]
    if record["status"] == "ok":
        total = usage_numbers(record.get("usage"))["total"]
        tokens = f"{total:,} tokens" if total is not None else "no usage reported"
        return f"ok     {name} · {tokens} · {record['elapsed_s']:.1f} s"
    err = record["error"] or {}
    return f"failed {name}: {err.get('kind')}: {err.get('message')}"


class LineProgress:
    """Not a terminal: one line per finished input on stderr."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream
        self._lock = threading.RLock()

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stderr
        with self._lock:
            stream.write(redact(text) + "\n")
            stream.flush()

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self._write(skipping_line(total, skipped))

    def finished(self, record: dict[str, Any], summary: Summary) -> None:
        self._write(record_line(record))

    def message(self, text: str) -> None:
        self._write(text)

    def stop(self) -> None:
        pass


class RichProgress:
    """A terminal: a rich progress bar with the ETA and the running token total; failures above it."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        from mimo_cli import render

        self.console = render.console()
        self.bar = Bar(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[tokens]} tokens · {task.fields[failed]}"),
            console=self.console,
            transient=False,
        )
        self.task: Any = None

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.message(skipping_line(total, skipped))
        self.task = self.bar.add_task("batch", total=total - skipped, tokens="0", failed="0 failed")
        self.bar.start()

    def finished(self, record: dict[str, Any], summary: Summary) -> None:
        if record["status"] != "ok":
            self.message(record_line(record))
        self.bar.update(
            self.task, advance=1, tokens=f"{summary.tokens:,}", failed=f"{summary.failed:,} failed"
        )

    def message(self, text: str) -> None:
        self.bar.console.print(redact(text), markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.bar.stop()


# -- running ----------------------------------------------------------------------------------------------


@dataclass
class Options:
    """What the batch command asked for, beyond the request settings."""

    jobs: int = 4
    rpm: float | None = None
    fail_fast: bool = False
    sidecar: str | None = None
    out_dir: Path | None = None


class Runner:
    """Sends the items with ``jobs`` requests in flight; writes each record as soon as it is known.

    ``chat(item) -> record`` does one input (resolve, send, close); it runs in worker threads.
    Records, sidecars and progress are handled in the calling thread only, so the output needs no lock.
    """

    def __init__(
        self,
        chat: Callable[[Item], dict[str, Any]],
        out: IO[str],
        options: Options,
        progress: Progress,
        summary: Summary,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat = chat
        self.out = out
        self.options = options
        self.progress = progress
        self.summary = summary
        self.clock = clock
        self.stopping = threading.Event()  # no new requests
        self.abandon = threading.Event()  # second Ctrl-C: do not wait for the requests in flight
        self.start_times: list[float] = []  # when each request was handed to a worker (clock())

    # Ctrl-C ---------------------------------------------------------------------------------------------

    def interrupt(self) -> None:
        """First call: start nothing new, let the requests in flight end. Second: abandon them."""
        if self.stopping.is_set() and self.summary.interrupted:
            self.abandon.set()
            return
        self.summary.interrupted = True
        self.stopping.set()

    @contextlib.contextmanager
    def sigint(self) -> Iterator[None]:
        """Turn SIGINT into :meth:`interrupt` while the batch runs (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.interrupt()  # only flags: the loop does the talking (a handler must not take locks)

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    # the loop -------------------------------------------------------------------------------------------

    def write(self, item: Item, record: dict[str, Any], fingerprint: str) -> None:
        if record["status"] == "ok" and self.options.sidecar:
            self.write_sidecar(item, record)
        record = {**record, "fingerprint": fingerprint}
        if self.summary.stopped_by == "broken pipe":
            return
        try:
            self.out.write(redact(json.dumps(record, ensure_ascii=False)) + "\n")
            self.out.flush()
        except BrokenPipeError:  # `mimo batch dir | head -3`: the reader has gone; stop asking
            self.stopping.set()
            self.summary.stopped_by = "broken pipe"

    def write_sidecar(self, item: Item, record: dict[str, Any]) -> None:
        ext = self.options.sidecar
        assert ext is not None
        target = sidecar_path(item, ext, self.options.out_dir)
        if target is None:
            return
        if item.path is not None and os.path.realpath(target) == os.path.realpath(item.path):
            self.progress.message(f"warning: not writing the sidecar of {item.input} over the video itself")
            self.summary.sidecar_failures += 1
            return
        root = self.options.out_dir or (item.path.parent if item.path is not None else Path("."))
        try:
            write_atomically(target, sidecar_text(record, ext), root)
        except MimoError as e:
            self.progress.message(f"warning: {e.message}")
            self.summary.sidecar_failures += 1
        except OSError as e:
            self.progress.message(f"warning: cannot write {target}: {e.strerror or e}")
            self.summary.sidecar_failures += 1

    def run(self, todo: list[tuple[Item, str]]) -> None:
        """Send every (item, fingerprint) of ``todo``; returns when all ended, or the batch was stopped."""
        jobs = max(1, self.options.jobs)
        interval = 60.0 / self.options.rpm if self.options.rpm else 0.0
        queue = iter(todo)
        nxt = next(queue, None)
        next_start = self.clock()
        in_flight: dict[Future[dict[str, Any]], tuple[Item, str]] = {}
        pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="mimo-batch")
        told = False
        try:
            while True:
                now = self.clock()
                while nxt is not None and not self.stopping.is_set() and len(in_flight) < jobs:
                    if now < next_start:
                        break
                    item, fp = nxt
                    in_flight[pool.submit(self.chat, item)] = (item, fp)
                    self.start_times.append(now)
                    next_start = max(now, next_start) + interval
                    nxt = next(queue, None)
                if not in_flight:
                    if nxt is None or self.stopping.is_set():
                        break
                    self.stopping.wait(min(0.1, max(0.0, next_start - now)))  # waiting for --rpm
                    continue
                timeout = 0.1
                if nxt is not None and len(in_flight) < jobs and not self.stopping.is_set():
                    timeout = min(timeout, max(0.0, next_start - now))
                finished, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
                if self.abandon.is_set():
                    break
                if self.summary.interrupted and not told:
                    told = True
                    self.progress.message(
                        f"interrupted: no new requests start; waiting for the {len(in_flight)} in flight "
                        "(Ctrl-C again to abandon them)"
                    )
                for future in sorted(finished, key=lambda f: in_flight[f][0].input):
                    item, fp = in_flight.pop(future)
                    record = future.result()
                    self.summary.add(record)
                    self.write(item, record, fp)
                    self.progress.finished(record, self.summary)
                    self._after(record)
        finally:
            self.summary.not_started = (1 if nxt is not None else 0) + sum(1 for _ in queue)
            self.summary.abandoned = len(in_flight)  # after a second Ctrl-C; --resume sends them again
            pool.shutdown(wait=not self.abandon.is_set(), cancel_futures=True)

    def _after(self, record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            return
        kind = (record.get("error") or {}).get("kind")
        if kind in (Kind.AUTH.value, Kind.QUOTA.value) and not self.stopping.is_set():
            self.stopping.set()
            self.summary.stopped_by = kind
            self.progress.message(f"stopping: an {kind} error would fail every other input the same way")
        elif self.options.fail_fast and not self.stopping.is_set():
            self.stopping.set()
            self.summary.stopped_by = "fail-fast"
            self.progress.message("stopping: --fail-fast and an input failed")


class Sender:
    """Does one input in a worker thread: resolve it, send it, close it; returns its record.

    The input is resolved right before its request and closed right after, so temporary files (stdin
    spools, converted videos) exist at most one per job.
    """

    def __init__(self, settings: Settings, prompt: str, client: Any, message: Callable[[str], None]) -> None:
        self.settings = settings
        self.prompt = prompt
        self.client = client
        self.message = message
        self.quiet = False
        self._local = threading.local()
        self._open: dict[int, Any] = {}
        self._lock = threading.Lock()

    def notice(self, text: str, hint: str | None = None) -> None:
        """For the shared client's retries: the message, prefixed with the input it is about."""
        if self.quiet:
            return
        name = getattr(self._local, "label", None)
        self.message(f"{name}: {text}" if name else text)

    def input_notice(self, text: str, hint: str | None = None) -> None:
        """For resolve_input, whose notices (a URL it cannot reach, a conversion) name the input already."""
        if not self.quiet:
            self.message(text)

    def __call__(self, item: Item) -> dict[str, Any]:
        from mimo_cli.media import resolve_input
        from mimo_cli.request import ChatRequest

        self._local.label = label(item)
        started = time.monotonic()
        video = None
        try:
            video = resolve_input(item.input, self.settings, notice=self.input_notice)
            with self._lock:
                self._open[threading.get_ident()] = video
            result = self.client.chat(ChatRequest(self.settings, [video], self.prompt))
            return make_record(label(item), self.settings.model, result)
        except MimoError as e:
            elapsed = time.monotonic() - started
            return make_record(
                label(item), self.settings.model, error=e, elapsed_s=elapsed, attempts=e.attempts
            )
        finally:
            with self._lock:
                self._open.pop(threading.get_ident(), None)
            if video is not None:
                video.close()
            self._local.label = None

    def close_all(self) -> None:
        """Remove the temporary files of the requests in flight (when they are abandoned)."""
        with self._lock:
            videos = list(self._open.values())
        for video in videos:
            with contextlib.suppress(OSError):
                video.close()


def open_client(
    settings: Settings, jobs: int, notice: Notice, debug: Callable[[str], None] | None = None
) -> Any:
    """One client shared by every worker (httpx.Client is thread-safe), with room for ``jobs`` connections.

    The client is built as describe builds it; only when ``jobs`` passes httpx's default pool (20 kept
    alive) is its httpx.Client replaced by one with the same timeout and a pool of ``jobs``.
    """
    import httpx

    from mimo_cli.api import Client

    client = Client(settings, notice=notice, debug=debug)
    if jobs > DEFAULT_KEEPALIVE:
        old = client.http
        client.http = httpx.Client(
            timeout=old.timeout,
            follow_redirects=old.follow_redirects,
            limits=httpx.Limits(max_connections=jobs, max_keepalive_connections=jobs),
        )
        old.close()
    return client


DEFAULT_KEEPALIVE = 20  # httpx.Limits() keeps 20 connections alive (100 at most)


@dataclass
class Outcome:
    summary: Summary
    abandoned: bool = False
    auth_error: bool = False


def dry_run(
    items: list[Item], settings: Settings, prompt: str, output: Path | None, resume: bool
) -> Iterator[dict[str, Any]]:
    """What a run would do, one entry per input: ``send`` or ``skip`` (an ok record exists); nothing is sent."""
    digest = options_digest(settings, prompt)
    done = load_done(output) if resume and output is not None else {}
    for item in items:
        fp = fingerprint(item, digest)
        yield {"input": label(item), "action": "skip" if fp in done else "send", "fingerprint": fp}


def execute(
    items: list[Item],
    settings: Settings,
    prompt: str,
    options: Options,
    *,
    output: Path | None,
    resume: bool,
    progress: Progress,
    stdout: IO[str] | None = None,
    quiet: bool = False,
    require_key: Callable[[Settings], None] | None = None,
    debug: Callable[[str], None] | None = None,
) -> Outcome:
    """Run the batch: skip what is done, send the rest, write the records; Ctrl-C stops it cleanly."""
    summary = Summary(total=len(items))
    digest = options_digest(settings, prompt)

    def warn(message: str, hint: str | None = None) -> None:
        progress.message(f"warning: {message}")

    done = load_done(output, warn) if resume and output is not None else {}
    todo: list[tuple[Item, str]] = []
    restore: list[tuple[Item, dict[str, Any]]] = []
    for item in items:
        fp = fingerprint(item, digest)
        if fp in done:
            summary.skipped += 1
            restore.append((item, done[fp]))
        else:
            todo.append((item, fp))
    if todo and require_key is not None:  # only when something is to be sent: a finished batch needs no key
        require_key(settings)
    out: IO[str]
    if output is not None:
        try:
            mode = "a" if resume else "w"
            out = open(output, mode, encoding="utf-8", errors="backslashreplace", newline="\n")  # noqa: SIM115
        except OSError as e:
            raise usage_error(f"cannot write {output}: {e.strerror or e}") from None
    else:
        out = stdout or sys.stdout
    client = None
    abandoned = False
    try:
        sender = Sender(settings, prompt, None, progress.message)
        sender.quiet = quiet
        runner = Runner(sender, out, options, progress, summary)
        if options.sidecar:  # an answer whose sidecar was lost is written again, not asked again
            for item, record in restore:
                target = sidecar_path(item, options.sidecar, options.out_dir)
                if target is not None and not target.exists():
                    runner.write_sidecar(item, record)
        progress.start(len(items), summary.skipped)
        if todo:
            client = open_client(settings, options.jobs, sender.notice, debug)
            sender.client = client
            with runner.sigint():
                runner.run(todo)
        abandoned = runner.abandon.is_set()
        if abandoned:
            sender.close_all()
    finally:
        progress.stop()
        if out is not sys.stdout and out is not stdout:
            out.close()
        else:
            out.flush()
        if client is not None and not abandoned:
            client.close()
    return Outcome(summary, abandoned, summary.stopped_by in (Kind.AUTH.value, Kind.QUOTA.value))


def make_progress(quiet: bool, records_on_terminal: bool) -> Progress:
    """The rich bar on a terminal (unless the records go to that terminal too), lines otherwise."""
    if quiet:
        return NullProgress()
    from mimo_cli import render

    if render.console().is_terminal and not records_on_terminal:
        return RichProgress()
    return LineProgress()
