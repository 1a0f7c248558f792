"""How estimates read in text: ``--dry-run``'s line, batch's per input and its totals."""

from __future__ import annotations

from typing import Any

from mimo_cli.estimate.tokens import format_cost


def _cost(est: dict[str, Any]) -> str:
    if est.get("cost") is None:
        return ""
    return f" · ≈ {format_cost(float(est['cost']), str(est.get('currency') or '¥'))} input"


def _time(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def estimate_line(est: dict[str, Any]) -> str:
    """``estimate: 0:01:00, 120 frames ≈ 18,302 video tokens + 375 audio + 30 text = 18,707 prompt tokens``"""
    if est.get("prompt_tokens") is None:
        return (
            f"estimate: {est['text_tokens']:,} text tokens, plus the video's, whose duration is not known "
            "before sending (a URL)"
        )
    return (
        f"estimate: {_time(est['duration_s'])}, {est['frames']:,} frames ≈ {est['video_tokens']:,} video tokens"
        f" + {est['audio_tokens']:,} audio + {est['text_tokens']:,} text = {est['prompt_tokens']:,} prompt tokens"
        + _cost(est)
    )


def send_suffix(est: dict[str, Any]) -> str:
    """What a batch ``--dry-run`` line adds after ``send  INPUT``."""
    if est.get("prompt_tokens") is None:
        return "  ≈ ? tokens (duration unknown)"
    return (
        f"  ≈ {est['prompt_tokens']:,} tokens ({_time(est['duration_s'])}, {est['frames']:,} frames)"
        + _cost(est)
    )


def totals_line(sending: int, skipped: int, total: dict[str, Any], unknown: int) -> str:
    """The last line of a batch ``--dry-run``."""
    text = f"total: {sending:,} to send ≈ {total['prompt_tokens']:,} prompt tokens"
    text += (
        f" ({total['video_tokens']:,} video, {total['audio_tokens']:,} audio, {total['text_tokens']:,} text)"
    )
    if unknown:
        text += f", {unknown:,} of unknown duration not counted"
    text += _cost(total)
    return text + f"; {skipped:,} skipped"
