"""The one error type of mimo, its kinds and the exit codes they map to."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes (documented in README.md, "Exit codes")."""

    OK = 0
    FAILED = 1  # a request failed (in batch: any input failed)
    USAGE = 2  # usage error or bad input; nothing was sent
    AUTH = 3  # authentication or quota problem
    INTERRUPTED = 130  # Ctrl-C


class Kind(str, enum.Enum):
    """What went wrong: the ``error.kind`` of a JSON record."""

    USAGE = "usage"  # a bad option value; never reaches a record
    INPUT = "input"
    AUTH = "auth"
    QUOTA = "quota"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    NO_CHANNEL = "no_channel"
    MODEL = "model"
    CONTENT_FILTER = "content_filter"
    BAD_REQUEST = "bad_request"
    SERVER = "server"
    NETWORK = "network"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"
    SCHEMA = "schema"  # the answer does not match --schema, even after the repair requests
    BUDGET = "budget"  # not sent: it would pass --budget
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        if self in (Kind.USAGE, Kind.INPUT):
            return ExitCode.USAGE
        if self in (Kind.AUTH, Kind.QUOTA):
            return ExitCode.AUTH
        if self is Kind.INTERRUPTED:
            return ExitCode.INTERRUPTED
        return ExitCode.FAILED


class MimoError(Exception):
    """An expected failure: printed as ``error: message`` (and ``hint: hint``), never as a traceback."""

    def __init__(
        self,
        kind: Kind,
        message: str,
        hint: str | None = None,
        *,
        http_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.http_status = http_status
        self.retryable = retryable
        self.retry_after = retry_after
        self.request_id = request_id
        self.attempts = 0  # set by the client: how many attempts were made

    @property
    def exit_code(self) -> ExitCode:
        return self.kind.exit_code

    def as_record(self) -> dict[str, object]:
        return {"kind": self.kind.value, "message": self.message, "http_status": self.http_status}

    def __repr__(self) -> str:
        return f"MimoError({self.kind.value!r}, {self.message!r})"


def usage_error(message: str, hint: str | None = None) -> MimoError:
    return MimoError(Kind.USAGE, message, hint)


def input_error(message: str, hint: str | None = None) -> MimoError:
    return MimoError(Kind.INPUT, message, hint)
