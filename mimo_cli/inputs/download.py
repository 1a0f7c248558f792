"""--inline-url: download an http(s) URL here, to send it inline.

Bounded as a whole: the download ends at --timeout however the server trickles (each read gets only
what is left of it), and at :attr:`~mimo_cli.settings.Settings.spool_limit` bytes however it is encoded
(a gzip bomb is counted decoded); whatever ends it, nothing is left in the temporary folder.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from mimo_cli.errors import Kind, MimoError, input_error
from mimo_cli.inputs.local import DOWNLOAD_HINT, local_file, too_much
from mimo_cli.inputs.tempfiles import release_temp, temp_file

if TYPE_CHECKING:
    from collections.abc import Iterator

    import httpx

    from mimo_cli.callbacks import Notice
    from mimo_cli.inputs.video import Video
    from mimo_cli.settings import Settings


class _Late(Exception):
    """The download's deadline passed between two chunks."""


class _Deadline:
    """--timeout for the download as a whole: httpx's timeouts bound each read, this bounds their sum."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.timeouts: dict[str, float] = {}

    def left(self) -> float:
        return self.end - time.monotonic()

    def trace(self, event: str, _info: dict[str, Any]) -> None:
        if event.endswith(".started"):  # each phase of httpcore gets only what is left
            left = max(self.left(), 0.001)
            for key in ("connect", "read", "write", "pool"):
                self.timeouts[key] = min(self.timeouts.get(key, left), left)

    def chunks(self, response: httpx.Response) -> Iterator[bytes]:
        for chunk in response.iter_bytes():  # as they come (a chunk size would wait for a whole chunk)
            if self.left() <= 0:
                raise _Late
            yield chunk


def download(url: str, settings: Settings, notice: Notice | None) -> Video:
    """--inline-url: stream ``url`` to a temporary file, then treat it as a local file.

    It stops as soon as it passes the spool limit: the inline limit, or --max-download-mb when the video
    is going to be converted or cut (--fit, --start/--end).
    """
    name = os.path.basename(urllib.parse.urlsplit(url).path) or "download"
    path = temp_file("url-", os.path.splitext(name)[1][:8])
    try:
        _fetch(url, path, settings)
    except BaseException:
        release_temp(path)
        raise
    return local_file(path, url, settings, notice, temporary=True, name=name, hint=DOWNLOAD_HINT)


def _fetch(url: str, path: os.PathLike[str], settings: Settings) -> None:
    import httpx

    from mimo_cli import __version__

    deadline = _Deadline(settings.timeout)
    late = MimoError(
        Kind.TIMEOUT,
        f"downloading {url} did not finish within --timeout {settings.timeout:g} s",
        "raise --timeout, or check the URL",
    )
    timeout = httpx.Timeout(settings.timeout, connect=min(30.0, settings.timeout))
    headers = {"User-Agent": f"mimo-video/{__version__}"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True) as client, open(path, "wb") as out:
            request = client.build_request("GET", url, headers=headers, extensions={"trace": deadline.trace})
            deadline.timeouts = request.extensions["timeout"]
            response = client.send(request, stream=True)
            try:
                _save(response, out, url, settings, deadline)
            finally:
                response.close()
    except (_Late, httpx.TimeoutException):
        raise late from None
    except httpx.HTTPError as e:
        raise MimoError(Kind.NETWORK, f"downloading {url} failed: {e}") from None


def _save(response: httpx.Response, out: Any, url: str, settings: Settings, deadline: _Deadline) -> None:
    if response.status_code >= 400:
        raise input_error(
            f"downloading {url} failed: HTTP {response.status_code} {response.reason_phrase}",
            "check the URL; --inline-url downloads it from this machine",
        )
    cap = settings.spool_limit
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _with_hint(too_much(url, settings), settings)
    got = 0
    for chunk in deadline.chunks(response):
        got += len(chunk)
        if got > cap:
            raise _with_hint(too_much(url, settings), settings)
        out.write(chunk)


def _with_hint(error: Exception, settings: Settings) -> Exception:
    if isinstance(error, MimoError) and not (settings.fit or settings.cutting):
        error.hint = DOWNLOAD_HINT
    return error
