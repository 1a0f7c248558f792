"""Secrets: every key the process uses is registered here, and everything mimo prints or writes goes
through :func:`redact`, so a key never reaches the output, even when a server echoes it back.
"""

from __future__ import annotations

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
