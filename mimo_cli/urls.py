"""The ``user:password@`` of a base URL: found (and made secrets), and left out of what is shown."""

from __future__ import annotations

from mimo_cli.redact import register_secret


def url_credentials(url: str) -> tuple[str, str] | None:
    """The ``user:password`` of a URL (``http://user:password@host/v1``), each registered as a secret."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    if "@" not in parts.netloc:
        return None
    userinfo = parts.netloc.rpartition("@")[0]
    user, _, password = userinfo.partition(":")
    for secret in (userinfo, password, urllib.parse.unquote(password)):
        register_secret(secret)
    return user, password


def without_credentials(url: str) -> str:
    """The URL with its ``user:password@`` left out (what may be shown of it)."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))
