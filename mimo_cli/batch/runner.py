"""Running a batch: ``jobs`` requests in flight, one record written per input as soon as it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mimo_cli import core
from mimo_cli.clock import REAL, Clock

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mimo_cli.callbacks import Debug, Notice
    from mimo_cli.estimate.budget import Budget
    from mimo_cli.request import ChatRequest
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
from mimo_cli.batch.sidecar import sidecar_path, sidecar_text, write_inside
from mimo_cli.batch.summary import Progress, Summary
from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact
from mimo_cli.runlog.recorder import NO_LOG, Recorder

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


class Sender:
    """Does one input in a worker thread: resolve it, send it, close it; returns its record.

    The input is resolved right before its request and closed right after, so temporary files (stdin
    spools, converted videos) exist at most one per job.
    """

    def __init__(
        self,
        settings: Settings,
        prompt: str,
        client: Client | None,
        message: Callable[[str], None],
        clock: Clock = REAL,
        budget: Budget | None = None,
        recorder: Recorder = NO_LOG,
    ) -> None:
        self.settings = settings
        self.recorder = recorder
        self.prompt = prompt
        self.client = client
        self.message = message
        self.clock = clock
        self.budget = budget
        self.quiet = False
        self.jobs = 4  # with --segment: the parts in flight, of every input together (see slots)
        self.slots: Any = None  # with --segment: a mimo_cli.segment.run.Slots shared by every input
        self.stopping = threading.Event()  # with --segment: set by the runner on Ctrl-C or an auth error
        self.structured = core.structured(settings, self.notice)  # --schema: one for the whole batch
        self._local = threading.local()
        self._open: dict[int, ChatRequest] = {}
        self._lock = threading.Lock()
        self._hinted = False

    def notice(self, text: str, _hint: str | None = None) -> None:
        """For the shared client's retries: the message, prefixed with the input it is about."""
        if self.quiet:
            return
        name = getattr(self._local, "label", None)
        self.message(f"{name}: {text}" if name else text)

    def input_notice(self, text: str, _hint: str | None = None) -> None:
        """For resolving an input, whose notices (a URL it cannot reach, a conversion) name it already."""
        if not self.quiet:
            self.message(text)

    def __call__(self, item: Item) -> dict[str, Any]:
        assert self.client is not None
        self._local.label = label(item)
        job = core.Job([item.input], self.prompt, self.settings, kind="batch")
        started = self.clock.monotonic()
        if self.settings.segment is not None:
            return self._segmented(job, started)
        prepared = None
        shown = None
        try:
            prepared = core.open_job(job, self.input_notice, self.recorder)
            if prepared.hit is not None:
                return core.finish(prepared, self.recorder, core.replay(prepared.hit))
            assert prepared.request is not None
            with self._lock:
                self._open[threading.get_ident()] = prepared.request
            estimate = core.estimate_of(prepared.request)
            shown = core.estimate_record(estimate, self.settings)
            prepared.sent = True
            return core.finish(prepared, self.recorder, self._send(prepared.request, estimate, item))
        except MimoError as e:
            if e.kind is Kind.MODEL and e.hint and not self._hinted:  # every input fails alike: say it once
                self._hinted = True
                self.message(f"hint: {e.hint}")
            elapsed = self.clock.monotonic() - started
            if prepared is not None and prepared.sent and e.kind is not Kind.BUDGET:  # sent, and failed
                return core.finish(prepared, self.recorder, error=e, elapsed_s=elapsed, estimate=shown)
            return core.record(job, error=e, elapsed_s=elapsed, estimate=shown)
        finally:
            with self._lock:
                self._open.pop(threading.get_ident(), None)
            if prepared is not None:
                prepared.close()
            self._local.label = None

    def _send(self, request: ChatRequest, estimate: Any, item: Item) -> Any:
        """Send one request; with --budget, only when its estimate fits (else the ``budget`` error)."""
        assert self.client is not None
        if self.budget is None:
            return core.send(
                request, self.client, structured=self.structured, notice=self.notice, estimate=estimate
            )
        from mimo_cli.ffmpeg.facts import charge

        reserved = self.budget.reserve(charge(request, estimate), item.input)
        result = None
        try:
            result = core.send(
                request, self.client, structured=self.structured, notice=self.notice, estimate=estimate
            )
            return result
        finally:  # a failed request reports no usage: it counts nothing
            self.budget.finish(reserved, result.usage if result else None, sent=result is not None)

    def _segmented(self, job: core.Job, started: float) -> dict[str, Any]:
        """An input in parts (--segment): its parts share the run's slots with every other input's."""
        from mimo_cli.segment import pipeline
        from mimo_cli.segment.run import LinkedEvent, Slots

        assert self.client is not None
        with self._lock:
            if self.slots is None:
                self.slots = Slots(self.jobs)
        prepared = None
        try:
            prepared = pipeline.prepare(job, self.input_notice)
            done = pipeline.send(prepared, job, self.client, jobs=self.jobs, merge=bool(self.settings.merge),
                                 slots=self.slots, stopping=LinkedEvent(self.stopping),
                                 notice=self.input_notice, structured=self.structured,
                                 recorder=self.recorder)  # fmt: skip
            return done.record()
        except MimoError as e:
            return core.record(job, error=e, elapsed_s=self.clock.monotonic() - started)
        finally:
            if prepared is not None:
                prepared.close()
            self._local.label = None

    def close_all(self) -> None:
        """Remove the temporary files of the requests in flight (when they are abandoned)."""
        with self._lock:
            requests = list(self._open.values())
        for request in requests:
            with contextlib.suppress(OSError):
                request.close()


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
