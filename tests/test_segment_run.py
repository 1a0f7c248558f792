"""--segment: parts sent in parallel, at most -j at a time, shown in order, one failure does not stop the rest."""

from __future__ import annotations

import random
import threading
import time

import pytest

from mimo_cli.errors import Kind, MimoError
from mimo_cli.segment.plan import Part, plan_parts
from mimo_cli.segment.run import Outcome, Slots, run_parts


class Worker:
    """Records how many parts it is working on at once; part ``fail`` raises ``kind``."""

    def __init__(self, fail: dict[int, Kind] | None = None, delay: float = 0.02) -> None:
        self.fail = fail or {}
        self.delay = delay
        self.lock = threading.Lock()
        self.busy = 0
        self.most = 0
        self.started: list[int] = []

    def __call__(self, part: Part) -> str:
        with self.lock:
            self.busy += 1
            self.most = max(self.most, self.busy)
            self.started.append(part.index)
        try:
            time.sleep(self.delay * random.uniform(0.2, 2))
            if part.index in self.fail:
                raise MimoError(self.fail[part.index], f"part {part.index} went wrong")
            return f"answer {part.index}"
        finally:
            with self.lock:
                self.busy -= 1


def test_parts_run_jobs_at_a_time_and_are_ready_in_order_as_soon_as_those_before_are_done() -> None:
    parts = plan_parts(7200, 300)  # 24 parts
    work = Worker()
    finished: list[int] = []
    ready: list[int] = []

    def on_ready(outcome: Outcome[str]) -> None:
        assert all(i in finished for i in range(1, outcome.part.index + 1))  # it and every one before
        ready.append(outcome.part.index)

    outcomes = run_parts(
        parts, work, jobs=4, on_finished=lambda o: finished.append(o.part.index), on_ready=on_ready
    )
    assert work.most == 4
    assert ready == list(range(1, 25)) and sorted(finished) == ready
    assert [o.value for o in outcomes] == [f"answer {k}" for k in range(1, 25)]
    assert work.started[:4] == [1, 2, 3, 4]  # handed out in order


def test_one_slots_shared_by_several_inputs_bounds_them_all() -> None:
    slots = Slots(3)
    work = Worker()
    runs = [
        threading.Thread(
            target=run_parts, args=(plan_parts(600, 60), work), kwargs={"jobs": 3, "slots": slots}
        )
        for _ in range(3)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)
    assert len(work.started) == 30
    assert work.most <= 3 and slots.most == 3 and slots.in_use == 0


def test_a_failed_part_does_not_stop_the_others() -> None:
    work = Worker(fail={2: Kind.SERVER, 5: Kind.TIMEOUT})
    outcomes = run_parts(plan_parts(600, 100), work, jobs=2)
    assert [o.ok for o in outcomes] == [True, False, True, True, False, True]
    assert [o.error.kind for o in outcomes if o.error] == [Kind.SERVER, Kind.TIMEOUT]
    assert all(o.sent for o in outcomes) and sorted(work.started) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("kind", [Kind.AUTH, Kind.QUOTA])
def test_an_auth_or_quota_error_stops_the_parts_not_yet_started(kind: Kind) -> None:
    work = Worker(fail={1: kind}, delay=0.05)
    outcomes = run_parts(plan_parts(1200, 100), work, jobs=2)
    assert len(outcomes) == 12 and outcomes[0].error and outcomes[0].error.kind is kind
    skipped = [o for o in outcomes if not o.sent]
    assert len(work.started) < 12 and len(skipped) == 12 - len(work.started)
    assert all(o.error and o.error.kind is kind and "was not sent" in o.error.message for o in skipped)


def test_once_stopping_is_set_nothing_new_starts() -> None:
    stopping = threading.Event()
    work = Worker(delay=0.05)

    def finished(outcome: Outcome[str]) -> None:
        stopping.set()

    outcomes = run_parts(plan_parts(1200, 100), work, jobs=2, stopping=stopping, on_finished=finished)
    assert len(work.started) <= 3
    assert {o.error.kind for o in outcomes if not o.sent and o.error} == {Kind.INTERRUPTED}


def test_a_bug_in_the_work_is_raised_not_turned_into_a_record() -> None:
    def broken(part: Part) -> str:
        raise ZeroDivisionError("bug")

    with pytest.raises(ZeroDivisionError):
        run_parts(plan_parts(600, 100), broken, jobs=2)
