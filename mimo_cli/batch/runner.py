"""Running a batch: ``jobs`` requests in flight, one record written per input as soon as it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli import core
from mimo_cli.clock import REAL, Clock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mimo_cli.callbacks import Debug, Notice
    from mimo_cli.estimate.budget import Budget
    from mimo_cli.settings import Settings
    from mimo_cli.transport.client import Client

import contextlib
import json
import os
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from mimo_cli.batch.output import OutputGone, Records
from mimo_cli.batch.plan import Item, label
from mimo_cli.batch.resume import fingerprint, load_done, options_digest
from mimo_cli.batch.sender import Sender
from mimo_cli.batch.sidecar import sidecar_path, sidecar_text, write_inside
from mimo_cli.batch.summary import Progress, Summary
from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact
from mimo_cli.runlog.recorder import Recorder

# -- running ----------------------------------------------------------------------------------------------


@dataclass
class Options:
    """What the batch command asked for, beyond the request settings."""

    jobs: int = 4
    rpm: float | None = None
    fail_fast: bool = False
    sidecar: str | None = None
    out_dir: Path | None = None
    budget: int | None = None  # --budget TOKENS
    renamed: dict[str, Path] = field(default_factory=dict)  # sidecars named apart (sidecar.name_apart)


class Runner:
    """Sends the items with ``jobs`` requests in flight; writes each record as soon as it is known.

    ``chat(item) -> record`` does one input (resolve, send, close); it runs in worker threads.
    Records, sidecars and progress are handled in the calling thread only, so the output needs no lock.
    """

    def __init__(
        self,
        chat: Callable[[Item], dict[str, Any]],
        out: IO[str] | Records,
        options: Options,
        progress: Progress,
        summary: Summary,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat = chat
        self.out = out if isinstance(out, Records) else Records(None, out)
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

        def handler(_signum: int, _frame: Any) -> None:
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
        if self.summary.stopped_by in ("broken pipe", "output"):
            return
        try:
            self.out.write(redact(json.dumps(record, ensure_ascii=False)) + "\n")
        except OutputGone as e:  # `| head -3` (the reader has gone), a full disk: stop asking
            self.stopping.set()
            self.summary.stopped_by = "broken pipe" if e.quiet else "output"
            self.summary.output_error = None if e.quiet else e.reason

    def write_sidecar(self, item: Item, record: dict[str, Any]) -> None:
        ext = self.options.sidecar
        assert ext is not None
        target = sidecar_path(item, ext, self.options.out_dir, self.options.renamed)
        if target is None:
            return
        if item.path is not None and os.path.realpath(target) == os.path.realpath(item.path):
            self.progress.message(f"warning: not writing the sidecar of {item.input} over the video itself")
            self.summary.sidecar_failures += 1
            return
        root = self.options.out_dir or (item.path.parent if item.path is not None else Path("."))
        try:
            write_inside(target, sidecar_text(record, ext), root)
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
        if kind == Kind.BUDGET.value:  # not a failure of the input: the smaller ones still fit
            return
        if kind in (Kind.AUTH.value, Kind.QUOTA.value) and not self.stopping.is_set():
            self.stopping.set()
            self.summary.stopped_by = kind
            article = "an" if kind[0] in "aeiou" else "a"
            self.progress.message(
                f"stopping: {article} {kind} error would fail every other input the same way"
            )
        elif self.options.fail_fast and not self.stopping.is_set():
            self.stopping.set()
            self.summary.stopped_by = "fail-fast"
            self.progress.message("stopping: --fail-fast and an input failed")


def open_client(
    settings: Settings, jobs: int, notice: Notice, debug: Debug | None = None, clock: Clock = REAL
) -> Client:
    """One client shared by every worker (httpx.Client is thread-safe), with room for ``jobs`` connections."""
    from mimo_cli.transport.client import Client

    return Client(settings, notice=notice, debug=debug, clock=clock, connections=jobs)


@dataclass
class Outcome:
    summary: Summary
    abandoned: bool = False
    auth_error: bool = False


def dry_run(
    items: list[Item], settings: Settings, prompt: str, output: Path | None, resume: bool
) -> Iterator[dict[str, Any]]:
    """What a run would do, one entry per input: ``send`` or ``skip`` (an ok record exists); nothing is sent."""
    from mimo_cli.ffmpeg.facts import source_estimate

    digest = options_digest(settings, prompt)
    done = load_done(output, mend=False) if resume and output is not None else {}
    for item in items:
        fp = fingerprint(item, digest)
        skip = fp in done
        estimate = None if skip else source_estimate(item.path, label(item), settings, prompt)
        yield {"input": label(item), "action": "skip" if skip else "send", "fingerprint": fp,
               "estimate": None if estimate is None else core.estimate_record(estimate, settings)}  # fmt: skip


def dry_run_totals(entries: list[dict[str, Any]], settings: Settings) -> tuple[dict[str, Any], int]:
    """The sum of the estimates of the inputs to send, and how many of them have no estimate."""
    from mimo_cli.estimate.tokens import Estimate, total

    keys = Estimate.__dataclass_fields__
    estimates = [
        Estimate(**{k: e["estimate"][k] for k in keys}) for e in entries if e["estimate"] is not None
    ]
    summed, unknown = total(estimates)
    return core.estimate_record(summed, settings), unknown


def _budget(tokens: int | None) -> Budget | None:
    from mimo_cli.estimate.budget import Budget

    return Budget(tokens) if tokens is not None else None


def _split(
    items: list[Item], digest: str, done: dict[str, dict[str, Any]], summary: Summary
) -> tuple[list[tuple[Item, str]], list[tuple[Item, dict[str, Any]]]]:
    """(what to send with its fingerprint, what is done with its record)."""
    todo: list[tuple[Item, str]] = []
    restore: list[tuple[Item, dict[str, Any]]] = []
    for item in items:
        fp = fingerprint(item, digest)
        if fp in done:
            summary.skipped += 1
            restore.append((item, done[fp]))
        else:
            todo.append((item, fp))
    return todo, restore


def _stoppable(clock: Clock, runner: Runner) -> Clock:
    """The clock of the batch's client: its real sleeps end as soon as the batch stops."""
    if clock.sleep is not time.sleep:  # a test's instant clock
        return clock

    def pause(seconds: float) -> None:
        runner.stopping.wait(seconds)

    return replace(clock, sleep=pause)


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
    debug: Debug | None = None,
    clock: Clock = REAL,
) -> Outcome:
    """Run the batch: skip what is done, send the rest, write the records; Ctrl-C stops it cleanly."""
    summary = Summary(
        total=len(items), prices=(settings.price_input, settings.price_output, settings.currency)
    )

    def warn(message: str, _hint: str | None = None) -> None:
        progress.message(f"warning: {message}")

    out = Records.open(output) if output is not None else Records(None, stdout)  # locked first
    client = None
    abandoned = False
    recorder = Recorder.open(settings, None if quiet else warn)
    try:
        done = load_done(output, warn) if resume and output is not None else {}
        todo, restore = _split(items, options_digest(settings, prompt), done, summary)
        if todo:  # only when something is to be sent: a finished batch needs no key
            core.require_key(settings)
        out.start(resume)
        sender = Sender(settings, prompt, None, progress.message, clock, _budget(options.budget), recorder)
        sender.quiet = quiet
        sender.jobs = options.jobs
        runner = Runner(sender, out, options, progress, summary, clock.monotonic)
        sender.stopping = runner.stopping
        if options.sidecar:  # an answer whose sidecar was lost is written again, not asked again
            for item, record in restore:
                target = sidecar_path(item, options.sidecar, options.out_dir, options.renamed)
                if target is not None and not target.exists():
                    runner.write_sidecar(item, record)
        progress.start(len(items), summary.skipped)
        if todo:
            # A backoff ends as soon as the batch stops (an auth or quota error, Ctrl-C, --fail-fast),
            # and the retry it waited for is not sent.
            client = open_client(settings, options.jobs, sender.notice, debug, _stoppable(clock, runner))
            client.stop = runner.stopping
            sender.client = client
            with runner.sigint():
                runner.run(todo)
        abandoned = runner.abandon.is_set()
        if abandoned:
            sender.close_all()
    finally:
        progress.stop()
        out.close()
        if client is not None and not abandoned:
            client.close()
        if not abandoned:
            recorder.close()
    return Outcome(summary, abandoned, summary.stopped_by in (Kind.AUTH.value, Kind.QUOTA.value))
