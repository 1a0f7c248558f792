"""The system prompt and the prompt presets."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from mimo_cli.errors import usage_error
from mimo_cli.timeline.subtitles import CHAPTERS_PRESET

if TYPE_CHECKING:
    from collections.abc import Mapping

BUILTIN_PRESETS: dict[str, str] = {
    "detailed": (
        "Describe this video in detail: the setting, the people, animals and objects in it, what happens "
        "in order, any text shown on screen, and what can be heard (speech, music, sounds)."
    ),
    "caption": (
        "Write one sentence that describes this video, suitable as alt text or a caption. "
        "Reply with the sentence only."
    ),
    "summary": "Summarize this video in a short paragraph: what it shows and what happens in it.",
    "tags": (
        "List keywords for this video as one comma-separated line: subjects, objects, setting, actions, "
        "mood and style. Reply with the keywords only."
    ),
    "transcript": (
        "Transcribe the speech in this video word for word, in the language it is spoken in. Reply with "
        "the transcript only; if nobody speaks, reply with [no speech]."
    ),
    "chapters": CHAPTERS_PRESET,
}

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def default_system_prompt(today: dt.date | None = None) -> str:
    """The system prompt of the API documents, with today's date (English names whatever the locale)."""
    d = today or dt.date.today()
    date = f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}"
    return (
        f"You are MiMo, an AI assistant developed by Xiaomi. Today is date: {date}. "
        "Your knowledge cutoff date is December 2024."
    )


def all_presets(user: Mapping[str, str] | None = None) -> dict[str, str]:
    """Built-in presets overlaid with the user's (a user preset of the same name wins)."""
    return {**BUILTIN_PRESETS, **(user or {})}


def preset_text(name: str, user: Mapping[str, str] | None = None) -> str:
    presets = all_presets(user)
    if name not in presets:
        raise usage_error(f"unknown preset {name!r}", f"known presets: {', '.join(sorted(presets))}")
    return presets[name]
