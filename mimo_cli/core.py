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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError
from mimo_cli.inputs.resolve import resolve_input
from mimo_cli.inputs.video import Video, shorten_data_uri
from mimo_cli.prompts import preset_text
from mimo_cli.request import ChatRequest
from mimo_cli.result import Result, make_record
from mimo_cli.settings import Settings

if TYPE_CHECKING:
    from mimo_cli.callbacks import Notice, OnDelta
    from mimo_cli.estimate.tokens import Estimate
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
    text: str, settings: Settings, notice: Notice | None = None, *, stdin: IO[bytes] | None = None
) -> Video:
    """One INPUT -> the Video that is sent (resolved, then converted or cut when asked)."""
    video = resolve_input(text, settings, notice=notice, stdin=stdin)
    if video.needs_ffmpeg is None:
        return video
    from mimo_cli.ffmpeg.convert import prepare  # only a video to convert pays for importing it

    return prepare(video, settings, notice)


def prepare(job: Job, notice: Notice | None = None) -> ChatRequest:
    """Resolve the inputs and build the request; close it (:meth:`ChatRequest.close`) when done."""
    videos: list[Video] = []
    try:
        for text in job.inputs:
            videos.append(open_video(text, job.settings, notice))
    except BaseException:
        for video in videos:
            video.close()
        raise
    return ChatRequest(job.settings, videos, job.prompt)


def send(
    request: ChatRequest, client: Client, on_delta: OnDelta | None = None, *, estimate: Estimate | None = None
) -> Result:
    """Send a prepared request and return its result (raises MimoError); the result keeps the estimate
    made before sending (``estimate``, else made now) and, when prices are set, the usage's cost."""
    est = estimate if estimate is not None else estimate_of(request)
    result = client.chat(request, on_delta)
    result.estimate = estimate_record(est, request.settings)
    result.cost = usage_cost(result.usage, request.settings)
    return result


def estimate_of(request: ChatRequest) -> Estimate:
    """The prompt tokens a prepared request will cost, before it is sent (see :mod:`mimo_cli.estimate`)."""
    from mimo_cli.ffmpeg.facts import request_estimate

    return request_estimate(request)


def estimate_record(est: Estimate, settings: Settings) -> dict[str, Any]:
    """The ``estimate`` of records and ``--dry-run --json``; with prices, its input's ``cost`` too."""
    from mimo_cli.estimate.tokens import cost

    shown: dict[str, Any] = dict(est.as_dict())
    amount = cost(est.prompt_tokens, None, settings.price_input, settings.price_output)
    if amount is not None:
        shown["cost"] = round(amount, 6)
        shown["currency"] = settings.currency
    return shown


def usage_cost(usage: dict[str, Any] | None, settings: Settings) -> str | None:
    """What a usage cost at the profile's prices (``¥0.0123``); None without prices or usage."""
    from mimo_cli.estimate.tokens import cost, format_cost
    from mimo_cli.result import usage_numbers

    n = usage_numbers(usage)
    amount = cost(n["prompt"], n["completion"], settings.price_input, settings.price_output)
    return None if amount is None else format_cost(amount, settings.currency)


def run(job: Job, client: Client, *, notice: Notice | None = None, on_delta: OnDelta | None = None) -> Result:
    """The whole pipeline for one request: the inputs are opened right before it and closed right after,
    so temporary files (stdin spools, converted videos) exist only while their request is in flight."""
    request = prepare(job, notice)
    try:
        return send(request, client, on_delta)
    finally:
        request.close()


def record(job: Job, result: Result | None = None, error: MimoError | None = None,
           elapsed_s: float = 0.0, estimate: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """The JSON record of a finished (or failed) job."""
    if result is not None:
        return make_record(job.record_input, result.model, result)
    assert error is not None
    return make_record(job.record_input, job.settings.model, error=error, elapsed_s=elapsed_s,
                       attempts=error.attempts, estimate=estimate)  # fmt: skip
