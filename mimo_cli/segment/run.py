"""Sending a long video's parts in parallel, with at most ``jobs`` of them (and their files) at a time.

:func:`run_parts` hands each part, in order, to ``work`` (cut it, send it, delete its file) in worker
threads, each holding one of the run's :class:`Slots` while it works: in batch one ``Slots`` is shared
by every input, so ``-j`` bounds all requests in flight and all part files on disk. Outcomes come back
to the calling thread, which alone calls ``on_finished`` (in the order parts end: progress) and
``on_ready`` (in the parts' order, as soon as a part and every part before it are done: the answer on
a terminal), so those callbacks need no lock.

A part that fails does not stop the others, except with an ``auth`` or ``quota`` error, which would
fail every other part the same way: the parts not yet started are then not sent, and neither are they
after ``stopping`` is set (Ctrl-C). Workers are daemon threads, so an interrupted run does not wait
for the requests in flight to end; the caller removes the part files (they live in one directory).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from mimo_cli.errors import Kind, MimoError
from mimo_cli.segment.plan import Part

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

T = TypeVar("T")
#: Errors that stop the parts not yet started (as they stop a batch).
STOP_KINDS = (Kind.AUTH, Kind.QUOTA)


@dataclass
class Outcome(Generic[T]):
    """How one part went: ``value`` (what ``work`` returned) or ``error``; ``sent`` False when skipped."""

    part: Part
    value: T | None = None
    error: MimoError | None = None
    sent: bool = True
    crash: BaseException | None = None  # a bug in ``work``: re-raised by run_parts

    @property
    def ok(self) -> bool:
        return self.error is None and self.crash is None


class Slots:
    """At most ``size`` parts worked on at a time, shared by every input of a run; keeps a high-water mark."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._free = threading.Semaphore(self.size)
        self._lock = threading.Lock()
        self.in_use = 0
        self.most = 0  # the most ever in use at once

    def acquire(self, stopping: threading.Event) -> bool:
        """Wait for a slot; False (and no slot held) when ``stopping`` is set meanwhile."""
        while not self._free.acquire(timeout=0.05):
            if stopping.is_set():
                return False
        if stopping.is_set():
            self._free.release()
            return False
        with self._lock:
            self.in_use += 1
            self.most = max(self.most, self.in_use)
        return True

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._free.release()


class LinkedEvent(threading.Event):
    """Set on its own (an auth error in one input's parts) or when ``parent`` is (the batch's Ctrl-C)."""

    def __init__(self, parent: threading.Event) -> None:
        super().__init__()
        self.parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self.parent.is_set()


def _not_sent(part: Part, why: MimoError | None) -> Outcome[T]:
    if why is None:
        error = MimoError(Kind.INTERRUPTED, f"part {part.index} was not sent: interrupted")
    else:
        error = MimoError(why.kind, f"part {part.index} was not sent: {why.message}", why.hint)
    return Outcome(part, error=error, sent=False)


def run_parts(
    parts: Sequence[Part],
    work: Callable[[Part], T],
    *,
    jobs: int,
    slots: Slots | None = None,
    stopping: threading.Event | None = None,
    on_finished: Callable[[Outcome[T]], None] | None = None,
    on_ready: Callable[[Outcome[T]], None] | None = None,
) -> list[Outcome[T]]:
    """Do ``work(part)`` for every part, ``jobs`` at a time; the outcomes in the parts' order."""
    slots = slots or Slots(jobs)
    stopping = stopping or threading.Event()
    todo: queue.SimpleQueue[Part] = queue.SimpleQueue()
    for part in parts:
        todo.put(part)
    done: queue.SimpleQueue[Outcome[T]] = queue.SimpleQueue()
    stopped_by: list[MimoError] = []  # the auth/quota error that stopped the rest (set before `stopping`)

    def worker() -> None:
        while True:
            try:
                part = todo.get_nowait()
            except queue.Empty:
                return
            if stopping.is_set() or not slots.acquire(stopping):
                done.put(_not_sent(part, stopped_by[0] if stopped_by else None))
                continue
            try:
                done.put(Outcome(part, value=work(part)))
            except MimoError as e:
                if e.kind in STOP_KINDS and not stopping.is_set():
                    stopped_by.append(e)
                    stopping.set()
                done.put(Outcome(part, error=e))
            except BaseException as e:  # a bug: the calling thread re-raises it
                stopping.set()
                done.put(Outcome(part, crash=e))
            finally:
                slots.release()

    for _ in range(min(max(1, jobs), len(parts))):
        threading.Thread(target=worker, name="mimo-part", daemon=True).start()
    return _collect(len(parts), done, on_finished, on_ready)


def _collect(
    count: int,
    done: queue.SimpleQueue[Outcome[T]],
    on_finished: Callable[[Outcome[T]], None] | None,
    on_ready: Callable[[Outcome[T]], None] | None,
) -> list[Outcome[T]]:
    results: dict[int, Outcome[T]] = {}
    ready = 1
    while len(results) < count:
        try:
            outcome = done.get(timeout=0.1)  # a timeout, so Ctrl-C reaches the calling thread
        except queue.Empty:
            continue
        if outcome.crash is not None:
            raise outcome.crash
        results[outcome.part.index] = outcome
        if on_finished:
            on_finished(outcome)
        while ready in results:
            if on_ready:
                on_ready(results[ready])
            ready += 1
    return [results[index] for index in sorted(results)]
