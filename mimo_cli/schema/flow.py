"""Asking for a schema and repairing the answer: the loop around the requests, with no HTTP of its own.

:func:`settle` is the one entry: the caller gives it two ways to send (the first request, with its
video; a repair, text only) and gets back every result, and the object or the problems. ``core`` calls it
for describe, ask and each batch input; ``--segment`` calls it per part and for the merge.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from mimo_cli.callbacks import Notice
from mimo_cli.errors import Kind, MimoError
from mimo_cli.schema.answer import Problem, check_answer
from mimo_cli.schema.text import refuses_response_format, repair_text

if TYPE_CHECKING:
    from collections.abc import Callable


class Answered(Protocol):
    """What settle needs of a request's result (``mimo_cli.result.Result`` is one)."""

    @property
    def answer(self) -> str: ...


R = TypeVar("R", bound=Answered)


@dataclass
class Structured:
    """``--schema`` for a whole run (a batch shares one): the schema, how many repairs, and whether the
    server still gets ``response_format`` (off for the rest of the run once a server refuses it)."""

    schema: dict[str, Any]
    retries: int = 1
    json_mode: bool = True
    notice: Notice | None = None  # for stderr: a repair request is sent, or JSON mode is dropped
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def refused(self) -> None:
        with self._lock:
            told, self.json_mode = self.json_mode, False
        if told:
            self.tell("the server refused response_format: asking again without it (not sent again this run)")

    def tell(self, message: str) -> None:
        if self.notice is not None:
            self.notice(message, None)


@dataclass
class Settled(Generic[R]):
    """Every result, the first request's then each repair's; the object when the last one matched."""

    results: list[R]
    data: dict[str, Any] | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def last(self) -> R:
        return self.results[-1]


class SchemaMismatch(MimoError):
    """Kind ``schema``: the last answer still does not match. ``result`` is the request's result (with the
    raw answer and the usage of every request), for the record."""

    def __init__(self, problems: tuple[Problem, ...], result: object, attempts: int = 0) -> None:
        first = problems[0] if problems else Problem("$", "no answer")
        super().__init__(
            Kind.SCHEMA,
            f"the answer does not match the schema at {first.path}: {first.message}",
            "--schema-retries N sends more repair requests; --json keeps the raw answer in its record",
        )
        self.problems = problems
        self.result = result
        self.attempts = attempts


def send(structured: Structured, call: Callable[[bool], R]) -> R:
    """``call(json_mode)``; when the server refuses ``response_format``, once more without it (and the
    run stops sending it)."""
    json_mode = structured.json_mode
    try:
        return call(json_mode)
    except MimoError as exc:
        if not json_mode or not refuses_response_format(exc.http_status, exc.message):
            raise
    structured.refused()
    return call(False)


def settle(
    structured: Structured,
    ask: Callable[[bool], R],
    repair: Callable[[str, bool], R],
) -> Settled[R]:
    """Send ``ask`` (the request with the video, its text ending with the schema), read its answer, and
    send ``repair(text, json_mode)`` (text only) up to ``structured.retries`` times while it does not
    match. Errors of the requests themselves propagate."""
    results = [send(structured, ask)]
    checked = check_answer(structured.schema, results[-1].answer)
    for n in range(1, max(0, structured.retries) + 1):
        if checked.ok:
            break
        structured.tell(
            f"the answer does not match the schema at {checked.problems[0]}; "
            f"sending a repair request ({n} of {structured.retries})"
        )
        text = repair_text(structured.schema, results[-1].answer, checked.problems)
        results.append(send(structured, _bind(repair, text)))
        checked = check_answer(structured.schema, results[-1].answer)
    return Settled(results, checked.data, checked.problems)


def _bind(repair: Callable[[str, bool], R], text: str) -> Callable[[bool], R]:
    def call(json_mode: bool) -> R:
        return repair(text, json_mode)

    return call
