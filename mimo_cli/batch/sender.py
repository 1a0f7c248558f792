"""One input of a batch in a worker thread: resolve it, send it, close it; its record."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from mimo_cli import core
from mimo_cli.batch.plan import Item, label
from mimo_cli.clock import REAL, Clock
from mimo_cli.errors import Kind, MimoError
from mimo_cli.runlog.recorder import NO_LOG, Recorder

if TYPE_CHECKING:
    from collections.abc import Callable

    from mimo_cli.estimate.budget import Budget
    from mimo_cli.request import ChatRequest
    from mimo_cli.settings import Settings
    from mimo_cli.transport.client import Client


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
                                 recorder=self.recorder, budget=self.budget)  # fmt: skip
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
