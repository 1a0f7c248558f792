"""--segment: parts sent in parallel, at most -j at a time, shown in order, one failure does not stop the rest."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from mimo_cli.errors import Kind, MimoError
from mimo_cli.result import sum_usage
from mimo_cli.segment.plan import Part, plan_parts
from mimo_cli.segment.record import entry, failed_parts, overall_error
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


# -- the record -----------------------------------------------------------------------------------------


@dataclass
class Answered:
    answer: str
    reasoning: str = ""
    finish_reason: str | None = "stop"
    usage: dict[str, Any] | None = None
    attempts: int = 1
    data: dict[str, Any] | None = None


def test_usage_is_summed_field_by_field_nested_objects_too() -> None:
    first = {"prompt_tokens": 100, "total_tokens": 130, "prompt_tokens_details": {"video_tokens": 90}}
    second = {"prompt_tokens": 7, "total_tokens": 9, "completion_tokens": 2, "prompt_tokens_details": None}
    third = {"prompt_tokens_details": {"video_tokens": 10, "audio_tokens": 5}, "model": "x"}
    assert sum_usage([first, None, second, third]) == {
        "prompt_tokens": 107, "total_tokens": 139, "completion_tokens": 2, "model": "x",
        "prompt_tokens_details": {"video_tokens": 100, "audio_tokens": 5},
    }  # fmt: skip
    assert sum_usage([None, {}]) is None
    assert first == {"prompt_tokens": 100, "total_tokens": 130, "prompt_tokens_details": {"video_tokens": 90}}


def test_a_segment_entry_has_the_fields_of_the_spec_in_its_order() -> None:
    part = plan_parts(300, 100)[1]
    ok = entry(Outcome(part, value=Answered("seen", usage={"total_tokens": 3}, attempts=2)))
    assert list(ok) == [
        "index", "start", "end", "status", "answer", "reasoning", "finish_reason", "usage", "attempts", "error",
    ]  # fmt: skip
    assert (ok["index"], ok["start"], ok["end"], ok["status"], ok["answer"]) == (
        2,
        100.0,
        200.0,
        "ok",
        "seen",
    )
    assert (ok["reasoning"], ok["usage"], ok["attempts"], ok["error"]) == (None, {"total_tokens": 3}, 2, None)
    failure = MimoError(Kind.SERVER, "server error 500", http_status=500)
    failure.attempts = 4
    bad = entry(Outcome(part, error=failure), events=[])
    assert (bad["status"], bad["answer"], bad["attempts"], bad["events"]) == ("error", None, 4, [])
    assert bad["error"] == {"kind": "server", "message": "server error 500", "http_status": 500}


def test_the_error_of_the_whole_names_the_failed_parts_and_takes_an_auth_kind_first() -> None:
    parts = plan_parts(400, 100)
    late = MimoError(Kind.AUTH, "invalid key", "check MIMO_API_KEY", http_status=401)
    outcomes: list[Outcome[Answered]] = [
        Outcome(parts[0], value=Answered("a")),
        Outcome(parts[1], error=MimoError(Kind.TIMEOUT, "timed out")),
        Outcome(parts[2], error=late),
        Outcome(parts[3], error=MimoError(Kind.AUTH, "part 4 was not sent: invalid key"), sent=False),
    ]
    error = overall_error(outcomes)
    assert error is not None and error.kind is Kind.AUTH and error.exit_code == 3 and error.http_status == 401
    assert (
        error.message == "3 of 4 parts failed (parts 2, 3, 4): invalid key"
        and error.hint == "check MIMO_API_KEY"
    )
    assert [p.index for p in failed_parts(outcomes)] == [2, 3, 4]
    merge = MimoError(Kind.SERVER, "merge failed")
    assert overall_error(outcomes[:1]) is None and overall_error(outcomes[:1], merge) is merge


def test_with_timestamps_each_part_is_read_on_the_source_timeline(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types
    from dataclasses import replace

    from mimo_cli import core
    from mimo_cli.result import Result
    from mimo_cli.segment.pipeline import Segmented
    from mimo_cli.settings import Settings

    calls: list[tuple[str, float, float]] = []

    def parse_events(answer: str, start: float = 0.0, end: float = 0.0) -> Any:
        calls.append((answer, start, end))
        events = [{"start": start + 5, "end": end, "text": answer}]
        return types.SimpleNamespace(events=events, dropped=1 if start else 0)

    module = types.ModuleType("mimo_cli.timeline.events")
    module.parse_events = parse_events  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mimo_cli.timeline", types.ModuleType("mimo_cli.timeline"))
    monkeypatch.setitem(sys.modules, "mimo_cli.timeline.events", module)
    parts = plan_parts(200, 100)
    job = core.Job(["v.mp4"], "Describe.", replace(Settings(), segment=100.0))
    outcomes = [Outcome(p, value=Result("m", answer=f"[0:05] part {p.index}")) for p in reversed(parts)]
    done = Segmented(job, 200, outcomes)
    warnings: list[str] = []
    done.read_events(lambda message, hint: warnings.append(message))
    assert sorted(calls) == [("[0:05] part 1", 0, 100), ("[0:05] part 2", 100, 200)]
    record = done.record()
    assert [e["start"] for e in record["events"]] == [5, 105]
    assert [s["events"][0]["text"] for s in record["segments"]] == ["[0:05] part 2", "[0:05] part 1"]
    assert warnings == ["part 2: 1 time(s) outside the part or going back were dropped"]
