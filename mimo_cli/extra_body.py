"""``--extra-body`` and a profile's ``extra_body``: more top-level fields of the request body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mimo_cli.errors import usage_error

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The keys of the body mimo sets itself: ``--extra-body`` and a profile's ``extra_body`` may not.
RESERVED_BODY_KEYS = ("model", "messages", "stream", "stream_options")


def parse_extra_body(text: str) -> dict[str, Any]:
    """``--extra-body JSON`` (or ``mimo config set extra_body JSON``): one JSON object."""
    import json

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"must be a JSON object, got {text!r} ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"must be a JSON object, got {text!r}")
    return data


def _extra_body(options: Mapping[str, Any], profile: Mapping[str, Any] | None) -> dict[str, Any]:
    """The profile's ``extra_body`` with the keys of ``--extra-body`` over it, key by key."""
    given = options.get("extra_body")
    if isinstance(given, str):
        try:
            given = parse_extra_body(given)
        except ValueError as e:
            raise usage_error(
                f"--extra-body {e}", """e.g. --extra-body '{"mm_processor_kwargs": {"max_pixels": 100352}}'"""
            ) from None
    base = (profile or {}).get("extra_body") or {}
    return {**base, **(given or {})}
