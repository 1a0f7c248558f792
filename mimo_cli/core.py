"""The pipeline: inputs -> request -> send -> result. Every request mimo makes goes through here.

``mimo describe`` and ``mimo ask`` call :func:`prepare` (so that ``--dry-run`` can show the request before
anything is sent) and then :func:`send`; ``mimo batch`` calls :func:`run` for each input, in worker
threads. One request, step by step, one module each:

1. :mod:`mimo_cli.inputs.resolve`  INPUT as typed -> a checked :class:`~mimo_cli.inputs.video.Video`
2. :mod:`mimo_cli.ffmpeg.convert`  ``prepare``: converted or cut when --fit or --start/--end ask for it
3. :mod:`mimo_cli.request`         the JSON body, streamed from disk with an exact Content-Length
4. :mod:`mimo_cli.transport.client` sent with retries and a deadline; the answer read (SSE or JSON)
5. :mod:`mimo_cli.result`          the :class:`~mimo_cli.result.Result` and its JSON record
6. :mod:`mimo_cli.render.answer`   shown (by the CLI: this module never prints)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from mimo_cli.costs import estimate_of as estimate_of  # (callers ask the pipeline for it)
from mimo_cli.costs import estimate_record as estimate_record
from mimo_cli.costs import usage_cost
from mimo_cli.errors import Kind, MimoError
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.inputs.video import Video, shorten_data_uri
from mimo_cli.prompts import preset_text
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result, make_record, usage_numbers
from mimo_cli.runlog.identity import InputRef, RequestKey
from mimo_cli.runlog.recorder import NO_LOG, Recorder
from mimo_cli.schema.flow import SchemaMismatch
from mimo_cli.settings import Settings
from mimo_cli.timeline.events import with_instruction as with_time_instruction
from mimo_cli.timing import add_events as add_events
from mimo_cli.timing import timeline_span

if TYPE_CHECKING:
    from mimo_cli.callbacks import Info, Notice, OnDelta, Status
    from mimo_cli.estimate.tokens import Estimate
    from mimo_cli.schema.flow import Structured
    from mimo_cli.transport.client import Client


@dataclass(frozen=True)
class Job:
    """What one request asks: the inputs as typed, the prompt, the settings."""

    inputs: Sequence[str]
    prompt: str
    settings: Settings
    single: bool = True  # the record's "input" is a string (describe, batch), not a list (ask)
    kind: str = "describe"  # for the run log: describe, ask, batch (parts, merges, repairs: their own)

    @property
    def record_input(self) -> str | list[str]:
        labels = [shorten_data_uri(text) for text in self.inputs]
        return labels[0] if self.single else labels


def prompt_of(settings: Settings, question: str | None = None) -> str:
    """The text of the request: the question (ask), else --prompt, else the preset's text; with
    --timestamps, followed by the instruction to begin every line with its time."""
    if question is None:
        question = settings.prompt or preset_text(settings.preset, settings.presets)
    return with_time_instruction(question) if settings.timestamps else question


def request_text(prompt: str, settings: Settings) -> str:
    """The text part of a request: the prompt, and with --schema the instruction and the schema after it."""
    if settings.schema is None:
        return prompt
    from mimo_cli.schema import with_instruction

    return with_instruction(prompt, dict(settings.schema))


def structured(settings: Settings, notice: Notice | None = None) -> Structured | None:
    """--schema for a run (describe, ask, a whole batch): share it between the run's requests, so that a
    server that refused ``response_format`` is not sent it again."""
    if settings.schema is None:
        return None
    from mimo_cli.schema import Structured

    return Structured(dict(settings.schema), settings.schema_retries, notice=notice)


def require_key(settings: Settings) -> None:
    """Sending needs a key (--dry-run does not): exit 3 with the ways to set one."""
    if not settings.api_key:
        others = settings.key_profiles
        if others:
            names = ", ".join(others)
            hint = (f"this profile has no key, but {names} {'has' if len(others) == 1 else 'have'} one: "
                    f"--profile {others[0]} (or save one here with mimo config set api_key)")  # fmt: skip
        else:
            hint = ("export MIMO_API_KEY=sk-... (or pass --api-key, or save it with mimo config set api_key); "
                    "--dry-run shows the request without one")  # fmt: skip
        raise MimoError(Kind.AUTH, "no API key is set", hint)


def open_video(
    text: str,
    settings: Settings,
    notice: Notice | None = None,
    *,
    stdin: IO[bytes] | None = None,
    info: Info | None = None,
    status: Status | None = None,
) -> Video:
    """One INPUT -> the Video that is sent (resolved, then converted or cut when asked).

    ``notice`` hears warnings; ``info`` what a conversion did (default: ``notice``); ``status`` how far a
    conversion is (a transient line on a terminal).
    """
    video = resolve_input(text, settings, notice=notice, stdin=stdin)
    return prepare_video(video, settings, notice, info=info, status=status)


def prepare_video(
    video: Video,
    settings: Settings,
    notice: Notice | None = None,
    *,
    info: Info | None = None,
    status: Status | None = None,
) -> Video:
    """A resolved video as it is sent: itself, or converted or cut by ffmpeg when resolving said so."""
    if video.needs_ffmpeg is None:
        return video
    from mimo_cli.ffmpeg.convert import prepare  # only a video to convert pays for importing it

    if info is None and notice is not None:
        said = notice

        def info(message: str) -> None:
            said(message, None)

    return prepare(video, settings, info, status)


def _close(videos: Sequence[Video]) -> None:
    for video in videos:
        video.close()


def _resolve(job: Job, notice: Notice | None) -> list[Video]:
    """Step 1 for every input (nothing converted yet)."""
    videos: list[Video] = []
    try:
        for text in job.inputs:
            videos.append(resolve_input(text, job.settings, notice=notice))
    except BaseException:
        _close(videos)
        raise
    return videos


def _convert(
    job: Job, sources: list[Video], notice: Notice | None, info: Info | None, status: Status | None
) -> ChatRequest:
    """Step 2 for every input, then the request; closes every source whatever happens."""
    videos: list[Video] = []
    try:
        while sources:
            videos.append(prepare_video(sources.pop(0), job.settings, notice, info=info, status=status))
        span = timeline_span(videos, job.settings) if job.settings.timestamps else None
    except BaseException:
        _close(videos + sources)
        raise
    settings = job.settings
    return ChatRequest(
        settings, videos, request_text(job.prompt, settings), json_mode=settings.schema is not None, span=span
    )


def prepare(
    job: Job, notice: Notice | None = None, *, info: Info | None = None, status: Status | None = None
) -> ChatRequest:
    """Resolve the inputs and build the request; close it (:meth:`ChatRequest.close`) when done."""
    return _convert(job, _resolve(job, notice), notice, info, status)


# -- the run log -------------------------------------------------------------------------------------------


def source_ref(video: Video, settings: Settings) -> InputRef:
    """What identifies a resolved (not yet converted) video: the SHA-256 of its file (a local file, spooled
    stdin, a download) or of its data URI, else its URL; and the span --start/--end send of it."""
    if video.path is not None:
        return InputRef.of_file(video.label, video.path, settings.start, settings.end)
    assert video.url is not None
    if video.url.startswith("data:"):
        return InputRef.of_text(video.label, video.url, settings.start, settings.end)
    return InputRef.of_url(video.url, settings.start, settings.end)


@dataclass
class Prepared:
    """A job ready to send (``request``), or answered from the run log (``hit``, and no request)."""

    job: Job
    request: ChatRequest | None
    key: RequestKey | None = None
    hit: dict[str, Any] | None = None
    started_at: float = 0.0  # time.time()
    sent: bool = False  # set by the caller when the request goes out (a failure after that is recorded)

    def close(self) -> None:
        if self.request is not None:
            self.request.close()


def open_job(
    job: Job,
    notice: Notice | None = None,
    recorder: Recorder = NO_LOG,
    *,
    info: Info | None = None,
    status: Status | None = None,
) -> Prepared:
    """:func:`prepare`, with the run log: the inputs are resolved and hashed (only when the log is on),
    and with --cache an ok answer to the same request is taken from the log before anything is converted
    or sent."""
    started_at = time.time()
    sources = _resolve(job, notice)
    key = None
    try:
        if recorder.on:
            refs = [source_ref(v, job.settings) for v in sources]
            key = recorder.key(job.settings, refs, job.prompt, schema=job.settings.schema)
        hit = recorder.lookup(key)
    except OSError as e:  # the file went away between its checks and its hash: it cannot be sent either
        _close(sources)
        raise MimoError(Kind.INPUT, f"cannot read {e.filename}: {e.strerror or e}") from None
    except BaseException:
        _close(sources)
        raise
    if hit is not None:
        _close(sources)
        return Prepared(job, None, key, hit, started_at)
    return Prepared(job, _convert(job, sources, notice, info, status), key, None, started_at)


def replay(hit: dict[str, Any]) -> Result:
    """The Result of an answer taken from the run log, as it was the first time."""
    data = hit.get("data")
    return Result(
        model=str(hit.get("model") or ""),
        answer=str(hit.get("answer") or ""),
        reasoning=str(hit.get("reasoning") or ""),
        finish_reason=hit.get("finish_reason"),
        usage=hit.get("usage"),
        request_id=hit.get("request_id"),
        elapsed_s=float(hit.get("elapsed_s") or 0.0),
        attempts=int(hit.get("attempts") or 0),
        data=data if isinstance(data, dict) else None,
        estimate=hit.get("estimate") if isinstance(hit.get("estimate"), dict) else None,
        events=hit.get("events") if isinstance(hit.get("events"), list) else None,
    )


def finish(
    prepared: Prepared,
    recorder: Recorder,
    result: Result | None = None,
    error: MimoError | None = None,
    elapsed_s: float = 0.0,
    estimate: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The job's record (``"cached": true`` added when it came from the log), written to the run log."""
    job = prepared.job
    rec = record(job, result, error, elapsed_s, estimate)
    if prepared.hit is not None:
        rec["cached"] = True
    recorder.write(prepared.key, rec, kind=job.kind, started_at=prepared.started_at,
                   cached=prepared.hit is not None)  # fmt: skip
    return rec


def send(
    request: ChatRequest,
    client: Client,
    on_delta: OnDelta | None = None,
    structured: Structured | None = None,
    notice: Notice | None = None,
    *,
    estimate: Estimate | None = None,
) -> Result:
    """Send a prepared request and return its result (raises MimoError). With ``structured`` (--schema),
    see :func:`send_structured`; ``notice`` hears of a usage no video request can have. The result keeps
    the estimate made before sending (``estimate``, else made now) and, when prices are set, the usage's
    cost."""
    est = estimate if estimate is not None else estimate_of(request)
    if structured is None:
        result = client.chat(request, on_delta)
    else:
        result = send_structured(request, client, structured, on_delta)
    if notice is not None and request.videos and usage_numbers(result.usage)["prompt"] == 0:
        notice(  # impossible for a video: a gateway made the usage (and maybe the end) up
            "the server reported 0 prompt tokens for a request with a video: a gateway in between may "
            "have cut the answer, or not passed the video on",
            "ask the endpoint directly to compare, or run with --debug to see who answered",
        )
    result.estimate = estimate_record(est, request.settings)
    result.cost = usage_cost(result.usage, request.settings)
    if request.span is not None:  # --timestamps; ``notice`` gets the warning about times dropped
        add_events(result, *request.span, notice)
    return result


def send_structured(
    request: ChatRequest, client: Client, structured: Structured, on_delta: OnDelta | None = None
) -> Result:
    """--schema: the request (with ``response_format`` unless the server refused it), then text-only repair
    requests while its answer does not match. Returns one Result holding the last answer, its ``data`` and
    the usage of every request; raises :class:`SchemaMismatch` (kind ``schema``) when none matched.

    ``request`` may carry no video (``--segment``'s merge): its text must end with the schema
    (:func:`request_text`)."""
    from mimo_cli.schema import settle, sum_usage

    def ask(json_mode: bool) -> Result:
        sent = (
            request if request.json_mode == json_mode else dataclasses.replace(request, json_mode=json_mode)
        )
        return client.chat(sent, on_delta)

    def repair(text: str, json_mode: bool) -> Result:
        return client.chat(ChatRequest(request.settings, [], text, json_mode=json_mode), on_delta)

    settled = settle(structured, ask, repair)
    results = settled.results
    result = dataclasses.replace(
        settled.last,
        usage=sum_usage(r.usage for r in results),
        elapsed_s=sum(r.elapsed_s for r in results),
        attempts=sum(r.attempts for r in results),
        data=settled.data,
    )
    if not settled.ok:
        raise SchemaMismatch(settled.problems, result, result.attempts)
    return result


def run(
    job: Job,
    client: Client,
    *,
    notice: Notice | None = None,
    on_delta: OnDelta | None = None,
    structured: Structured | None = None,
) -> Result:
    """The whole pipeline for one request: the inputs are opened right before it and closed right after,
    so temporary files (stdin spools, converted videos) exist only while their request is in flight."""
    request = prepare(job, notice)
    try:
        return send(request, client, on_delta, structured, notice)
    finally:
        request.close()


def record(job: Job, result: Result | None = None, error: MimoError | None = None,
           elapsed_s: float = 0.0, estimate: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The JSON record of a finished (or failed) job."""
    if isinstance(error, SchemaMismatch) and isinstance(error.result, Result):
        return make_record(job.record_input, job.settings.model, error.result, error)
    if result is not None:
        return make_record(job.record_input, result.model, result)
    assert error is not None
    failed = make_record(job.record_input, job.settings.model, error=error, elapsed_s=elapsed_s,
                         attempts=error.attempts, estimate=estimate)  # fmt: skip
    if job.settings.timestamps:  # the record of --timestamps has its events, none when it failed
        failed.setdefault("events", None)
    return failed
