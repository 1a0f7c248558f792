"""Secrets: every key the process uses is registered here, and everything mimo prints or writes goes
through :func:`redact`, so a key never reaches the output, even when a server echoes it back.
"""

from __future__ import annotations

import re

# Every key the process uses is registered here, and everything mimo prints or writes goes through
# redact(): a key never reaches the output, even when a server echoes it back.
_SECRETS: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for secret in tuple(_SECRETS):  # a copy: another thread (mimo batch) may register a key meanwhile
        if secret in text:
            text = text.replace(secret, "***")
    return text


class StreamRedactor:
    """redact() for text that arrives in pieces: a secret split across two pieces is still caught.

    ``feed`` returns what is safe to show now and holds back a tail that could be the start of a secret;
    ``flush`` returns that tail when the text is complete.
    """

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        text = redact(self._held + text)
        keep = 0
        for secret in tuple(_SECRETS):
            for n in range(min(len(secret) - 1, len(text)), keep, -1):
                if text.endswith(secret[:n]):
                    keep = n
                    break
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return redact(held)


# -- what a server sends, made safe to show --------------------------------------------------------------
# A server's text reaches the terminal (answers, reasoning, errors, model ids): an escape sequence in it
# could write the clipboard (OSC 52), retitle the window, clear the screen, or hide the pieces of a key
# it splits. Whole sequences are removed first (so a key split by one is whole again, and redacted), then
# every other control character but newline and tab.

_SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC … BEL or ST: titles, OSC 52 clipboard writes, links
    r"|\x1b[P^_X][^\x1b\x9c]*(?:\x1b\\|\x9c)"  # DCS, PM, APC, SOS strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, ESC[2J
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI as one 8-bit character
    r"|\x9d[^\x07\x9c]*(?:\x07|\x9c)"  # OSC as one 8-bit character
    r"|\x1b[ -/]*[0-~]"  # the other escape sequences (ESC c resets the terminal)
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: The start of a sequence that the next piece of a stream may complete (at most this long is held).
_PARTIAL = re.compile(r"(?:\x1b(?:\[[0-?]*[ -/]*|[\]P^_X][^\x07\x1b\x9c]*\x1b?|[ -/]*)?|\x9b[0-?]*[ -/]*"
                      r"|\x9d[^\x07\x9c]*)\Z")  # fmt: skip
_HOLD_AT_MOST = 4096


def strip_controls(text: str) -> str:
    """``text`` without escape sequences or control characters (newline and tab stay; CRLF becomes LF)."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def _cut_secret_tail(text: str) -> str:
    """A text that ends inside a secret (it was cut there) ends in ``***`` instead of the piece."""
    for secret in tuple(_SECRETS):
        for n in range(min(len(secret) - 1, len(text)), 3, -1):
            if text.endswith(secret[:n]):
                return text[: len(text) - n] + "***"
    return text


def shown(text: str, limit: int | None = None) -> str:
    """What may be shown of a server's text: controls stripped, secrets redacted, then (only then)
    shortened to ``limit`` characters with ``…``. A piece of a secret left at the cut counts as the
    secret, and so does one at the end of a text that was cut before it got here."""
    text = redact(strip_controls(text))
    if limit is not None and len(text) > limit:
        text = _cut_secret_tail(text[: limit - 1].rstrip()) + "…"
    else:
        text = _cut_secret_tail(text)
    return text


class StreamCleaner:
    """strip_controls() for text that arrives in pieces: a sequence split across two pieces is still
    removed whole (the start of one is held back until the next piece, or ``flush``)."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        text = self._held + text
        self._held = ""
        tail = _PARTIAL.search(text[-_HOLD_AT_MOST:])
        if tail and tail.group():
            start = len(text) - len(tail.group())
            text, self._held = text[:start], text[start:]
        return strip_controls(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return strip_controls(held)
