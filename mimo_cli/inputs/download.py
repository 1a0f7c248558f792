"""--inline-url: download an http(s) URL here, to send it inline."""

from __future__ import annotations

import os
import urllib.parse
from typing import TYPE_CHECKING

from mimo_cli.errors import input_error
from mimo_cli.inputs.local import DOWNLOAD_HINT, local_file
from mimo_cli.inputs.tempfiles import release_temp, temp_file
from mimo_cli.inputs.video import Video, human_size, largest_fitting

if TYPE_CHECKING:
    from mimo_cli.callbacks import Notice
    from mimo_cli.settings import Settings

DOWNLOAD_CHUNK = 1024 * 1024


def download(url: str, settings: Settings, notice: Notice | None) -> Video:
    """--inline-url: stream ``url`` to a temporary file, then treat it as a local file.

    Unless it is going to be converted or cut (--fit, --start/--end), the download stops as soon as it
    passes the inline limit.
    """
    import httpx

    from mimo_cli import __version__
    from mimo_cli.errors import Kind, MimoError

    name = os.path.basename(urllib.parse.urlsplit(url).path) or "download"
    capped = not settings.fit and not settings.cutting
    cap = largest_fitting(settings.inline_limit, "video/mp4")  # the most any accepted video may have
    path = temp_file("url-", os.path.splitext(name)[1][:8])
    too_large = input_error(
        f"{url} is too large to send inline: over {human_size(cap)} of video, which makes a data URI "
        f"over the {human_size(settings.inline_limit)} limit",
        DOWNLOAD_HINT,
    )
    try:
        with open(path, "wb") as out:
            timeout = httpx.Timeout(settings.timeout, connect=min(30.0, settings.timeout))
            headers = {"User-Agent": f"mimo-video/{__version__}"}
            try:
                with httpx.stream(
                    "GET", url, headers=headers, timeout=timeout, follow_redirects=True
                ) as response:
                    if response.status_code >= 400:
                        raise input_error(
                            f"downloading {url} failed: HTTP {response.status_code} {response.reason_phrase}",
                            "check the URL; --inline-url downloads it from this machine",
                        )
                    declared = response.headers.get("content-length", "")
                    if capped and declared.isdigit() and int(declared) > cap:
                        raise too_large
                    got = 0
                    for chunk in response.iter_bytes(DOWNLOAD_CHUNK):
                        got += len(chunk)
                        if capped and got > cap:
                            raise too_large
                        out.write(chunk)
            except httpx.TimeoutException:
                raise MimoError(
                    Kind.TIMEOUT, f"downloading {url} timed out", "raise --timeout, or check the URL"
                ) from None
            except httpx.HTTPError as e:
                raise MimoError(Kind.NETWORK, f"downloading {url} failed: {e}") from None
    except BaseException:
        release_temp(path)
        raise
    return local_file(path, url, settings, notice, temporary=True, name=name, hint=DOWNLOAD_HINT)
