"""INPUT -> a :class:`~mimo_cli.inputs.video.Video`: URL, data URI, standard input or a local file."""

from __future__ import annotations
