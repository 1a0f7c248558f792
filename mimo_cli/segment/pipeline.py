"""--segment in the pipeline: one long video -> its parts, each cut, sent and removed -> one answer.

:func:`prepare` resolves the input (a file, stdin, or a URL downloaded with --inline-url) and plans
its parts (probe, keyframes near the boundaries); :func:`send` runs the parts with
:func:`mimo_cli.segment.run.run_parts` (each cut just before its request, its file removed right
after) and, when asked and every part succeeded, the merge request. The :class:`Segmented` it returns
gives the answer, the summed usage and the record with ``"segments"``. Never prints: progress goes
through callbacks.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mimo_cli import core
from mimo_cli.errors import Kind, MimoError, usage_error
from mimo_cli.ffmpeg.convert import encode_to_fit
from mimo_cli.ffmpeg.plan import COPY_FORMATS
from mimo_cli.ffmpeg.probe import probe
from mimo_cli.ffmpeg.tools import Tools, kill_children, require
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.inputs.video import Video
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result, sum_usage
from mimo_cli.runlog.identity import InputRef, RequestKey
from mimo_cli.runlog.recorder import NO_LOG, Recorder
from mimo_cli.segment import cut as cutting
from mimo_cli.segment.plan import (
    AUTO,
    Part,
    joined,
    merge_prompt,
    part_length,
    part_prompt,
    plan_parts,
    snap,
    snap_tolerance,
)
from mimo_cli.segment.record import entry, overall_error
from mimo_cli.segment.run import Outcome, Slots, run_parts

if TYPE_CHECKING:
    from pathlib import Path

    from mimo_cli.callbacks import Notice, OnDelta
    from mimo_cli.estimate.budget import Budget
    from mimo_cli.schema import Structured
    from mimo_cli.settings import Settings
    from mimo_cli.transport.client import Client

__all__ = ["AUTO", "Prepared", "Segmented", "check_job", "plan_source", "prepare", "send"]


@dataclass
class Prepared:
    """A source ready to be sent in parts; :meth:`close` removes it when it is ours (stdin, a download)."""

    video: Video
    tools: Tools
    source: cutting.Source
    parts: list[Part]
    encode: cutting.Encoder
    plan_s: float = 0.0  # time spent finding the keyframes near the boundaries

    def close(self) -> None:
        self.video.close()


def check_job(job: core.Job) -> None:
    """What --segment cannot do: a usage error (exit 2) before anything is read or sent."""
    if len(job.inputs) != 1:
        raise usage_error(
            "--segment sends one video in parts, not several videos in one request",
            "ask about one video at a time, or use mimo batch",
        )
    text = job.inputs[0]
    lower = text.lower()
    if lower.startswith(("http://", "https://")) and not job.settings.inline_url:
        raise usage_error(
            f"--segment cuts the video here, but {text} would be fetched by the API itself",
            "add --inline-url to download it here and send it in parts",
        )
    if lower.startswith("data:"):
        raise usage_error("--segment cannot cut a data: URI", "pass the video file itself")
    if job.settings.cutting:
        raise usage_error(
            "--segment cannot be combined with --start/--end", "cut the span first, or drop one"
        )


def prepare(job: core.Job, notice: Notice | None = None) -> Prepared:
    """Resolve the input and plan its parts (needs ffmpeg)."""
    check_job(job)
    settings = replace(job.settings, fit=True)  # any container, any size: the parts are made to fit
    video = resolve_input(job.inputs[0], settings, notice=notice)
    try:
        return plan_source(video, settings)
    except BaseException:
        video.close()
        raise


def plan_source(video: Video, settings: Settings) -> Prepared:
    """Probe a local video, plan its parts and move their boundaries onto keyframes where that is close."""
    assert video.path is not None and settings.segment is not None
    shown = video.display
    tools = require(f"--segment (cutting {shown})")
    media = probe(tools, video.path, shown)
    assert media.duration is not None
    planned = plan_parts(media.duration, part_length(settings.segment, settings.fps))  # type: ignore[arg-type]
    mime = video.mime if video.mime in COPY_FORMATS else None
    started = time.perf_counter()
    keys: list[cutting.Keyframe] = []
    if mime is not None and len(planned) > 1:
        near = [p.start for p in planned[1:]]
        keys = cutting.keyframes(tools, video.path, near, snap_tolerance(planned[0].length))
    plan_s = time.perf_counter() - started
    parts = snap(planned, [k.pts for k in keys])
    source = cutting.Source(
        video.path, shown, mime, video.size, media.duration, media.fps, media.audio is not None, tuple(keys)
    )
    limit = settings.inline_limit

    def encode(path: Path, out: Path, start: float, length: float) -> None:
        encode_to_fit(tools, path, out, media, video.size, (start, length), limit, f"a part of {shown}")

    return Prepared(video, tools, source, parts, encode, plan_s)


@dataclass
class Segmented:
    """The outcome of a segmented request: every part's, and the merge's."""

    job: core.Job
    duration: float
    outcomes: list[Outcome[Result]]
    merged: Result | None = None
    merge_error: MimoError | None = None
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the record (added at the end)

    @property
    def error(self) -> MimoError | None:
        return overall_error(self.outcomes, self.merge_error)

    def answers(self) -> list[tuple[Part, str]]:
        return [(o.part, o.value.answer) for o in self.outcomes if o.ok and o.value is not None]

    def text(self) -> str:
        """The answer: the merged one, or the parts' joined under their times."""
        return self.merged.answer if self.merged is not None else joined(self.answers())

    def results(self) -> list[Result]:
        """Every request's result: the parts', then the merge's (one part is its own merge)."""
        done = [o.value for o in self.outcomes if o.value is not None]
        merged = self.merged
        return done + ([merged] if merged is not None and all(merged is not r for r in done) else [])

    def total(self) -> Result:
        """One Result for the whole: the answer, the usage summed over every request, the attempts."""
        results = self.results()
        reasons = [r.finish_reason for r in results]
        merged = self.merged
        return Result(
            model=self.job.settings.model,
            answer=self.text(),
            reasoning=merged.reasoning if merged is not None else "",
            finish_reason=merged.finish_reason if merged else ("length" if "length" in reasons else
                                                              next((r for r in reasons if r), None)),
            usage=sum_usage(r.usage for r in results),
            request_id=merged.request_id if merged is not None else None,
            elapsed_s=self.elapsed_s,
            data=merged.data if merged is not None else None,
            attempts=sum(r.attempts for r in results) + sum(o.error.attempts for o in self.outcomes if o.error),
        )  # fmt: skip

    def record(self) -> dict[str, Any]:
        """The record of SPEC "Long videos": the usual one, plus ``"segments"``."""
        error = self.error
        total = self.total()
        if error is None:
            record = core.record(self.job, total)
        else:
            record = core.record(self.job, error=error, elapsed_s=self.elapsed_s)
            record.update(answer=total.answer or None, usage=total.usage, attempts=total.attempts)
        if "events" in self.extra:
            record["events"] = self.extra["events"]
        record["segments"] = [entry(o, self.extra.get(f"events-{o.part.index}")) for o in self.outcomes]
        return record

    def read_events(self, notice: Notice | None = None) -> None:
        """--timestamps: each part's answer read into events on the source's timeline (its start added)."""
        from mimo_cli.timeline.events import parse_events

        every: list[Any] = []
        for o in self.outcomes:
            if o.value is None:
                continue
            timeline = parse_events(o.value.answer, o.part.start, o.part.end)
            self.extra[f"events-{o.part.index}"] = list(timeline.events)
            every += timeline.events
            if timeline.dropped and notice:
                notice(f"part {o.part.index}: {timeline.dropped} time(s) outside the part or going back "
                       "were dropped", None)  # fmt: skip
        self.extra["events"] = sorted(every, key=lambda event: event["start"])


OnStep = Callable[[Part, str], None]


def send(
    prepared: Prepared,
    job: core.Job,
    client: Client,
    *,
    jobs: int,
    merge: bool,
    slots: Slots | None = None,
    stopping: threading.Event | None = None,
    on_step: OnStep | None = None,
    on_finished: Callable[[Outcome[Result]], None] | None = None,
    on_ready: Callable[[Outcome[Result]], None] | None = None,
    on_merge_delta: OnDelta | None = None,
    notice: Notice | None = None,
    structured: Structured | None = None,
    recorder: Recorder = NO_LOG,
    budget: Budget | None = None,
) -> Segmented:
    """Send every part (``jobs`` at a time, within ``slots``), then the merge when asked and all went well.

    Each part and the merge are recorded in the run log (``recorder``); with --cache a part (or the merge)
    that has an ok answer there is taken from it, not cut nor sent: a run again after a failure sends
    only the parts that failed."""
    started = time.monotonic()
    stopping = stopping or threading.Event()
    slots = slots or Slots(jobs)
    logged = _PartLog(recorder, job, prepared.video, budget)

    def work(part: Part) -> Result:
        text = core.request_text(part_prompt(part, job.prompt), job.settings)
        key = logged.key(text, part)
        hit = recorder.lookup(key)
        if hit is not None:
            return core.replay(hit)
        clip = cutting.cut(prepared.tools, prepared.source, part, job.settings.inline_limit,
                           prepared.encode, on_step)  # fmt: skip
        if on_step:
            on_step(part, "sending")
        video = Video(
            label=prepared.video.label, path=clip.path, mime=clip.mime, size=clip.size, temporary=True
        )
        request = ChatRequest(job.settings, [video], text, json_mode=structured is not None)
        try:
            return logged.send(key, "part", lambda: core.send(request, client, None, structured), request,
                               f"part {part.index}")  # fmt: skip
        finally:
            request.close()  # removes the part's file

    try:
        outcomes = run_parts(prepared.parts, work, jobs=jobs, slots=slots, stopping=stopping,
                             on_finished=on_finished, on_ready=on_ready)  # fmt: skip
    except BaseException:  # Ctrl-C: start nothing more, stop the ffmpeg runs (the CLI removes the files)
        stopping.set()
        kill_children()
        raise
    done = Segmented(job, prepared.source.duration, outcomes)
    if getattr(job.settings, "timestamps", False):
        done.read_events(notice)
    if merge and len(outcomes) > 1 and all(o.ok for o in outcomes):
        _merge(done, client, slots, stopping, on_merge_delta, structured, logged)
    elif merge and len(outcomes) == 1 and outcomes[0].ok:
        done.merged = outcomes[0].value  # one part: its answer is the answer, no merge to send
    done.elapsed_s = time.monotonic() - started
    return done


def _merge(
    done: Segmented,
    client: Client,
    slots: Slots,
    stopping: threading.Event,
    on_delta: OnDelta | None,
    structured: Structured | None,
    logged: _PartLog,
) -> None:
    """One more request, text only, with the same system prompt and model: the answer for the whole video
    (with --schema: one object for the whole video)."""
    settings = done.job.settings
    text = core.request_text(merge_prompt(done.answers(), done.job.prompt, done.duration), settings)
    request = ChatRequest(settings, [], text, json_mode=structured is not None)
    key = logged.key(text, None)
    hit = logged.recorder.lookup(key)
    if hit is not None:  # shown as it was the first time
        done.merged = core.replay(hit)
        if on_delta is not None:
            if done.merged.reasoning:
                on_delta("reasoning", done.merged.reasoning)
            on_delta("content", done.merged.answer)
        return
    if not slots.acquire(stopping):
        done.merge_error = MimoError(Kind.INTERRUPTED, "the merge was not sent: interrupted")
        return
    try:
        done.merged = logged.send(key, "merge", lambda: core.send(request, client, on_delta, structured),
                                  request, "the merge")  # fmt: skip
    except MimoError as e:
        done.merge_error = MimoError(e.kind, f"the merge request failed: {e.message}", e.hint,
                                     http_status=e.http_status)  # fmt: skip
        done.merge_error.attempts = e.attempts
    finally:
        slots.release()


class _PartLog:
    """The run log's view of a segmented run: the source is hashed once, each part keyed by its span."""

    def __init__(self, recorder: Recorder, job: core.Job, video: Video, budget: Budget | None = None) -> None:
        self.recorder = recorder
        self.job = job
        self.budget = budget
        self.source = None
        if recorder.on and video.path is not None:
            self.source = InputRef.of_file(video.label, video.path)

    def key(self, text: str, part: Part | None) -> RequestKey | None:
        """A part's key (the source's content and the part's span), or the merge's (no video)."""
        if not self.recorder.on or (part is not None and self.source is None):
            return None
        refs = (
            []
            if part is None or self.source is None
            else [dataclasses.replace(self.source, start=round(part.start, 3), end=round(part.end, 3))]
        )
        return self.recorder.key(self.job.settings, refs, text, schema=self.job.settings.schema)

    def send(
        self, key: RequestKey | None, kind: str, call: Callable[[], Result], request: ChatRequest, label: str
    ) -> Result:
        """Send (with --budget, only when its estimate fits: else the ``budget`` error, nothing sent), and
        record the request (an ok answer or its error) whatever happens."""
        reserved = 0
        if self.budget is not None:
            from mimo_cli.ffmpeg.facts import charge

            reserved = self.budget.reserve(charge(request, core.estimate_of(request)), label)
        started_at = time.time()
        result = None
        try:
            result = call()
        except MimoError as e:
            self.recorder.write(key, core.record(self.job, error=e), kind=kind, started_at=started_at)
            raise
        finally:
            if self.budget is not None:
                self.budget.finish(reserved, result.usage if result else None, sent=result is not None)
        self.recorder.write(key, core.record(self.job, result), kind=kind, started_at=started_at)
        return result
