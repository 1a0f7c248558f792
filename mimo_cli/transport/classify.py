"""HTTP errors and error bodies -> the error kinds of SPEC.md, with a message and a hint.

Pure functions: no I/O.
"""

from __future__ import annotations

import html
import http
import json
import re
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import redact, shown, strip_controls
from mimo_cli.transport.gateway import (
    AUTH_TEXT,
    COOLDOWN_TEXT,
    FILTER_TEXT,
    relayed_status,
    request_id,
    shorten,
    unwrap_detail,
)
from mimo_cli.transport.retry import retry_after

if TYPE_CHECKING:
    from collections.abc import Iterator


RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 529}
#: Statuses never retried, whatever the body says (SPEC.md): the same request would fail the same way.
NEVER_RETRY = {400, 401, 403, 404, 413, 422}

ERROR_BODY_LIMIT = 64 * 1024
RETIRED = {"mimo-v2-omni": "the official API retired mimo-v2-omni on 2026-06-30"}

HINTS = {
    Kind.AUTH: "check the key: --api-key or MIMO_API_KEY (mimo doctor checks the setup)",
    Kind.QUOTA: "the balance or quota of this key is spent: top it up with your provider, or use another key",
    Kind.RATE_LIMIT: "too many requests: wait a little, raise --retries, or send fewer at once "
    "(mimo batch --jobs, --rpm)",
    Kind.OVERLOADED: "the model is busy: try again in a few minutes (--retries N tries more times)",
    Kind.NO_CHANNEL: "the gateway has no working channel for this model: it may not offer it (mimo models "
    "lists those it does) or its channels are down; try later or another --model",
    Kind.MODEL: "choose a model this endpoint serves with --model (or MIMO_MODEL); mimo models lists them",
    Kind.CONTENT_FILTER: "the provider's content filter blocked the request or the answer; try another "
    "video or prompt",
    Kind.BAD_REQUEST: "the server refused the request as sent; --dry-run shows what would be sent",
    Kind.SERVER: "the server failed; try again later",
    Kind.NETWORK: "check the network connection, a proxy (HTTPS_PROXY) and --base-url",
    Kind.TIMEOUT: "raise --timeout, or send less video (a lower --fps, a shorter clip)",
    Kind.BAD_RESPONSE: "is --base-url an OpenAI-compatible endpoint (it usually ends in /v1)?",
}
#: The hints of a cut stream and of an empty answer, whose cause is not the endpoint's kind.
CUT_HINT = (
    "the connection was cut before the answer was complete: try again (--retries N); a gateway or proxy "
    "in between may be closing long responses"
)
EMPTY_HINT = (
    "the server said the answer was complete but sent no text: a gateway in between may have cut it or "
    "made it up; try again, or ask the endpoint directly"
)
NO_DB_HINT = (
    "a LiteLLM proxy without a database accepts only its master key: check the key (--api-key or "
    "MIMO_API_KEY) with the gateway's admin"
)
#: How a retry notice names what went wrong: ``retrying in 2.0 s: 503 overloaded (attempt 2 of 4)``.
RETRY_LABELS = {
    Kind.RATE_LIMIT: "rate limited",
    Kind.NO_CHANNEL: "no channel",
    Kind.SERVER: "server error",
    Kind.NETWORK: "network error",
    Kind.BAD_RESPONSE: "broken response",
}
STATUS_HINTS = {
    403: "the server refused access: the key's balance or quota may be spent, or the key may not be allowed "
    "this model; check with your provider",
    404: "check --base-url: the API's root usually ends in /v1 (mimo doctor checks it)",
    413: "the request is too large for this server: send a smaller video (--fit) or a public URL",
    504: "the gateway gave up waiting for the model: try again, or send less video (a lower --fps)",
}

_QUOTA = re.compile(
    r"insufficient_user_quota|insufficient_quota|insufficient[ _]?(?:account[ _])?balance"
    r"|exceeded your current quota|quota (?:is )?(?:exceeded|exhausted|used up)|out of credits?"
    r"|用户额度不足|额度不足|额度已用尽|余额不足|剩余额度|欠费",
    re.I,
)
_NO_CHANNEL = re.compile(r"no available channel|无可用渠道|没有可用(?:的)?渠道", re.I)
_MODEL_NOT_FOUND = re.compile(r"model_not_found", re.I)
_MODEL = re.compile(
    r"not supported model|unsupported model|model_not_supported|unknown model|invalid model"
    r"|model[^.\n]{0,80}?(?:does not exist|not found|not supported|is not available|not exist)"
    r"|模型[^。\n]{0,40}?(?:不存在|不支持)|不支持(?:的|该)?模型",
    re.I,
)
_OVERLOADED = re.compile(r"overload|负载已满|过载|服务繁忙|too busy|server is busy", re.I)
_CONTENT_FILTER = re.compile(
    r"content[_ ]filter|content_policy_violation|data_inspection_failed|sensitive content|敏感|内容安全|违规",
    re.I,
)
_CERTIFICATE = re.compile(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|self[- ]signed", re.I)


def excerpt(text: str, limit: int = 200) -> str:
    """A short, cleaned, one-line excerpt of a (possibly HTML) body: an HTML page gives its title.

    Redacted before it is cut (a key that straddles the cut is still the key), without control
    characters or escape sequences: it is shown as it is.
    """
    text = strip_controls(text)
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>|<!--.*?-->", " ", text)
    for tag in ("title", "h1"):
        found = re.search(rf"(?is)<{tag}[^>]*>(.*?)</{tag}\s*>", text)
        if found and found.group(1).strip():
            text = found.group(1)
            break
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", text))
    return shown(" ".join(text.split()), limit)


def _looks_html(body: str) -> bool:
    head = body.lstrip()[:200].lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body", "<?xml", "<center", "<h1")) or (
        "<html" in head
    )


def _strings(obj: Any, depth: int = 0) -> Iterator[str]:
    """Every string (and number) inside a JSON value, keys left out: what the kind is matched against."""
    if depth > 20:
        return
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value, depth + 1)
    elif obj is not None:
        yield str(obj)


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return " ".join(str(value).split())


def _error_fields(body: str, headers: Any = None) -> tuple[str, str]:
    """(message to show, all text to match) from an error body in any of the shapes gateways use.

    ``{"error": {"message", "type", "code", "param"}}`` (official MiMo puts the detail in ``param``:
    ``Not supported model mimo-v2-flash``), ``{"error": "..."}``, ``{"message": ...}``, ``{"detail": ...}``,
    plain text, or an HTML page (its title, and the ``Server`` that sent it).
    """
    try:
        data = unwrap_detail(json.loads(body))
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        err = data.get("error") if data.get("error") else data
        match = " ".join(_strings(data))
        if isinstance(err, dict):
            message = ""
            for key in ("message", "msg", "error_msg", "errmsg", "detail", "error_description"):
                message = _text(err.get(key))
                if message:
                    break
            if not message and isinstance(err.get("detail"), list):
                message = excerpt(
                    "; ".join(_text(d.get("msg")) for d in err["detail"] if isinstance(d, dict))
                )
            param = _text(err.get("param"))
            if param in ("None", "null"):  # LiteLLM writes an absent param as the string "None"
                param = ""
            if param and param not in message:
                if " " in param:  # a sentence: the useful detail (official MiMo)
                    message = f"{param} ({message})" if message else param
                else:  # a field name
                    message = f"{message} (param: {param})" if message else f"param: {param}"
            if not message:
                message = _text(err.get("code")) or _text(err.get("type"))
            return shorten(message), match
        if isinstance(err, str):
            return shorten(err), match
    if _looks_html(body):
        title = excerpt(body, 120)
        server = _text(headers.get("server")) if headers is not None else ""
        page = f"an HTML page from {excerpt(server, 40)}" if server else "an HTML page"
        message = f"{title} ({page}, not the API's JSON)" if title else f"{page}, not the API's JSON"
        return message, title
    return excerpt(body), body[:ERROR_BODY_LIMIT]


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def retired_note(model: str) -> str:
    return f" ({RETIRED[model]})" if model in RETIRED else ""


def cut_mid_answer_hint(received: dict[str, int]) -> str:
    """A stream cut after part of the answer was passed on: say so, and what was kept."""
    content, reasoning = received.get("content", 0), received.get("reasoning", 0)
    what = f"{content} characters of it" if content else f"{reasoning} characters of reasoning"
    return (
        f"the connection was cut mid-answer, after {what}: what arrived is kept as shown, and not sent "
        "again (part of the answer was already passed on); run it again for the whole answer"
    )


def _model_hint(kind: Kind, model: str | None) -> str | None:
    if model is None:
        return HINTS.get(kind)
    retired = retired_note(model)
    if kind is Kind.MODEL:
        return (
            f"this endpoint does not serve {model}{retired}: choose one it serves with --model "
            f"(or MIMO_MODEL); mimo models lists them"
        )
    return (
        f"the gateway has no working channel for {model}: it may not offer this model (mimo models lists "
        f"those it does) or its channels are down; try later or another --model"
    )


def classify(status: int, text: str) -> tuple[Kind, bool]:
    """The kind of an HTTP error and whether it may be retried, from its status and its body's text."""
    if status == 402 or _QUOTA.search(text):
        return Kind.QUOTA, False
    if status == 421 or _CONTENT_FILTER.search(text) or FILTER_TEXT.search(text):
        return Kind.CONTENT_FILTER, False
    if status == 401 or AUTH_TEXT.search(text):
        return Kind.AUTH, False
    if status == 403:
        return Kind.QUOTA, False
    if _NO_CHANNEL.search(text) or COOLDOWN_TEXT.search(text):
        return Kind.NO_CHANNEL, True
    if _MODEL_NOT_FOUND.search(text) and (status >= 500 or status == 429):
        return Kind.NO_CHANNEL, True
    if _OVERLOADED.search(text):
        return Kind.OVERLOADED, True
    if _MODEL.search(text) or _MODEL_NOT_FOUND.search(text):
        return Kind.MODEL, False
    if status == 429:
        return Kind.RATE_LIMIT, True
    if status in (503, 529):
        return Kind.OVERLOADED, True
    if status == 408:
        return Kind.TIMEOUT, True
    if status >= 500 or status == 409:
        return Kind.SERVER, status in RETRY_STATUSES
    if status < 400:
        return Kind.BAD_RESPONSE, False
    return Kind.BAD_REQUEST, False


def http_error(status: int, body: str, headers: Any = None, *, model: str | None = None) -> MimoError:
    """Map an HTTP error status and body to the error kind of SPEC.md, with a message and a hint."""
    message, text = _error_fields(body, headers)
    carried = relayed_status(text) or status  # a gateway's 500 that relays "Error code: 401 - ..." is a 401
    kind, retry = classify(carried, text)
    retry = retry and carried not in NEVER_RETRY
    rid = request_id(headers)
    if kind in (Kind.MODEL, Kind.NO_CHANNEL):
        hint = _model_hint(kind, model)
    elif kind is Kind.AUTH and "no connected db" in text.lower():
        hint = NO_DB_HINT
    elif kind is Kind.QUOTA and status == 403 and not _QUOTA.search(text):
        hint = STATUS_HINTS[403]
    else:
        hint = STATUS_HINTS.get(status) if kind in (Kind.BAD_REQUEST, Kind.SERVER) else None
        hint = hint or HINTS.get(kind)
    phrase = _phrase(status)
    text_shown = f"HTTP {status}: {message}" if message else f"HTTP {status} {phrase}".rstrip()
    return MimoError(
        kind,
        redact(text_shown),
        redact(hint) if hint else None,
        http_status=status,
        retryable=retry,
        retry_after=retry_after(headers),
        request_id=shown(rid, 200) if rid else None,
    )


def bad_response(
    message: str, status: int | None = 200, *, retryable: bool = False, hint: str | None = None
) -> MimoError:
    return MimoError(
        Kind.BAD_RESPONSE,
        shown(message),
        hint or HINTS[Kind.BAD_RESPONSE],
        http_status=status,
        retryable=retryable,
    )


def embedded_error(obj: dict[str, Any], model: str | None = None) -> MimoError:
    """An error object sent inside a 200 response (some gateways do this, even mid-stream)."""
    err = obj.get("error")
    status = None
    for source in (err, obj):
        if isinstance(source, dict):
            for key in ("status", "http_status", "status_code", "code"):
                value = source.get(key)
                if isinstance(value, str) and value.isdigit():
                    value = int(value)
                if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
                    status = value
                    break
        if status:
            break
    e = http_error(status or 500, json.dumps(obj, ensure_ascii=False), model=model)
    if status is None:  # the server said nothing of a status: report none, keep the text-based kind
        e.http_status = None
        detail = e.message.removeprefix("HTTP 500: ") if e.message.startswith("HTTP 500: ") else ""
        e.message = (
            f"the server sent an error: {detail}" if detail else "the server sent an error with no message"
        )
    return e
