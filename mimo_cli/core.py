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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.inputs.video import Video, shorten_data_uri
from mimo_cli.prompts import preset_text
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result, make_record
from mimo_cli.schema.flow import SchemaMismatch
from mimo_cli.settings import Settings

if TYPE_CHECKING:
    from mimo_cli.callbacks import Info, Notice, OnDelta, Status
    from mimo_cli.schema.flow import Structured
    from mimo_cli.transport.client import Client


@dataclass(frozen=True)
class Job:
    """What one request asks: the inputs as typed, the prompt, the settings."""

    inputs: Sequence[str]
    prompt: str
    settings: Settings
    single: bool = True  # the record's "input" is a string (describe, batch), not a list (ask)

    @property
    def record_input(self) -> str | list[str]:
        labels = [shorten_data_uri(text) for text in self.inputs]
        return labels[0] if self.single else labels


def prompt_of(settings: Settings, question: str | None = None) -> str:
    """The text of the request: the question (ask), else --prompt, else the preset's text."""
    if question is not None:
        return question
    return settings.prompt or preset_text(settings.preset, settings.presets)


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
    if video.needs_ffmpeg is None:
        return video
    from mimo_cli.ffmpeg.convert import prepare  # only a video to convert pays for importing it

    if info is None and notice is not None:
        said = notice

        def info(message: str) -> None:
            said(message, None)

    return prepare(video, settings, info, status)


def prepare(
    job: Job, notice: Notice | None = None, *, info: Info | None = None, status: Status | None = None
) -> ChatRequest:
    """Resolve the inputs and build the request; close it (:meth:`ChatRequest.close`) when done."""
    videos: list[Video] = []
    try:
        for text in job.inputs:
            videos.append(open_video(text, job.settings, notice, info=info, status=status))
    except BaseException:
        for video in videos:
            video.close()
        raise
    settings = job.settings
    return ChatRequest(
        settings, videos, request_text(job.prompt, settings), json_mode=settings.schema is not None
    )


def send(
    request: ChatRequest,
    client: Client,
    on_delta: OnDelta | None = None,
    structured: Structured | None = None,
) -> Result:
    """Send a prepared request and return its result (raises MimoError). With ``structured`` (--schema),
    see :func:`send_structured`."""
    if structured is None:
        return client.chat(request, on_delta)
    return send_structured(request, client, structured, on_delta)


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
        return send(request, client, on_delta, structured)
    finally:
        request.close()


def record(job: Job, result: Result | None = None, error: MimoError | None = None,
           elapsed_s: float = 0.0) -> dict[str, Any]:  # fmt: skip
    """The JSON record of a finished (or failed) job."""
    if isinstance(error, SchemaMismatch) and isinstance(error.result, Result):
        return make_record(job.record_input, job.settings.model, error.result, error)
    if result is not None:
        return make_record(job.record_input, result.model, result)
    assert error is not None
    return make_record(job.record_input, job.settings.model, error=error, elapsed_s=elapsed_s,
                       attempts=error.attempts)  # fmt: skip
