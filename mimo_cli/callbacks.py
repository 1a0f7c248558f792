"""The callbacks through which core modules talk, since they never print themselves."""

from __future__ import annotations

from collections.abc import Callable

#: ``notice(message, hint)``: a warning or a notice for the user (the CLI prints it on stderr, or not).
Notice = Callable[[str, "str | None"], None]
#: ``on_delta(kind, text)``: streamed text as it arrives; kind is "reasoning" or "content".
OnDelta = Callable[[str, str], None]
#: ``debug(line)``: a --debug line (headers, retry reasons), the key already masked.
Debug = Callable[[str], None]
#: ``info(message)``: a fact worth a line that is not a warning (a conversion done).
Info = Callable[[str], None]
#: ``status(text)``: a transient status line ("converting clip.mov with ffmpeg… 43 %"); None clears it.
Status = Callable[["str | None"], None]
