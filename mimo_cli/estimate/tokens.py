"""How many prompt tokens a request will cost, before it is sent, as MiMo's documentation counts them.

The source is the MiMo platform's "Video Understanding" page, section "Explanation of Video Token
Usage" (https://platform.xiaomimimo.com/docs/en-US/usage-guide/multimodal-understanding/video-understanding):
it gives ``estimate_video_tokens()`` as Python code, and for sound "audio tokens ≈ duration (s) × 6.25".
``DOC`` below holds that code's constants under its own names, and ``video_tokens`` follows its steps
1 to 4 in the same order, so the two can be read side by side. What the page's code needs and mimo
may not know: the frame size. Without it the frame is taken to fill its pixel budget, the most a
frame can cost, so an estimate errs on the high side (which is the side a budget wants).

Note what "300" is: the page's per-frame pixel budget at ``default`` is 300 tokens' worth of pixels,
and two consecutive frames (``T_PATCH``) are merged into one grid of that size. So ``default`` costs
about 150 tokens per sampled frame (300 per pair), and all of a video's frames together at most
``MAX_TOTAL_TOKENS`` (131,072): past about 874 frames the budget per frame shrinks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

DOC: dict[str, int] = {
    "PATCH": 16,  # pixels per patch side
    "MERGE": 2,  # patches merged per side into one token: a token is 32 × 32 pixels
    "T_PATCH": 2,  # frames merged into one temporal grid
    "MAX_TOTAL_TOKENS": 131072,  # all frames of a video together
    "MIN_PIX": 8192,
    "MAX_PIX": 8388608,  # per frame, at any resolution
    "MAX_FRAMES": 2048,
    "DEFAULT_MAX_FRAME_TOKEN": 300,  # per frame (per grid) at media_resolution "default"
}
AUDIO_TOKENS_PER_SECOND = 6.25  # "Total tokens ≈ Audio duration (in seconds) * 6.25"
CHARS_PER_TEXT_TOKEN = 4  # text: about one token per four characters (a rule of thumb, not from the page)
RESOLUTIONS = ("default", "max")


def frames(duration_s: float, fps: float) -> int:
    """Frames the API samples: duration × fps, rounded up, at most 2048."""
    return min(math.ceil(duration_s * fps), DOC["MAX_FRAMES"])


def video_tokens(
    duration_s: float, fps: float, resolution: str, width: int | None = None, height: int | None = None
) -> int:
    """The page's ``estimate_video_tokens`` without its audio part (see ``audio_tokens``)."""
    spatial = DOC["PATCH"] * DOC["MERGE"]
    pix_per_token = spatial**2
    t_patch = DOC["T_PATCH"]
    # 1. Number of extracted frames, rounded up to whole temporal grids.
    nframes = max(math.ceil(frames(duration_s, fps) / t_patch) * t_patch, t_patch)
    # 2. Per-frame pixel budget.
    max_pix = DOC["MAX_TOTAL_TOKENS"] * pix_per_token * t_patch // nframes
    if resolution != "max":
        max_pix = min(max_pix, DOC["DEFAULT_MAX_FRAME_TOKEN"] * pix_per_token)
    max_pix = max(DOC["MIN_PIX"], min(max_pix, DOC["MAX_PIX"]))
    # 3. Resolution scaling (an unknown frame size fills the budget).
    if width and height and width > 0 and height > 0:
        h_bar, w_bar = _scaled(height, width, max_pix, spatial)
        tokens_per_grid = (h_bar // DOC["PATCH"]) * (w_bar // DOC["PATCH"]) // DOC["MERGE"] ** 2
    else:
        tokens_per_grid = max_pix // pix_per_token
    # 4. Token calculation: vision, timestamp text and special markers.
    grids = nframes // t_patch
    timestamps = grids * (5 if fps > 2 else 3)
    special = grids * 2 + 2
    return grids * tokens_per_grid + timestamps + special


def _scaled(height: int, width: int, max_pix: int, spatial: int) -> tuple[int, int]:
    h, w = height, width
    if min(h, w) < spatial:
        if h < w:
            w, h = int(w * spatial / h), spatial
        else:
            h, w = int(h * spatial / w), spatial
    h_bar = round(h / spatial) * spatial
    w_bar = round(w / spatial) * spatial
    if h_bar * w_bar > max_pix:
        beta = math.sqrt(h * w / max_pix)
        h_bar = math.floor(h / beta / spatial) * spatial
        w_bar = math.floor(w / beta / spatial) * spatial
    elif h_bar * w_bar < DOC["MIN_PIX"]:
        beta = math.sqrt(DOC["MIN_PIX"] / (h * w))
        h_bar = math.ceil(h * beta / spatial) * spatial
        w_bar = math.ceil(w * beta / spatial) * spatial
    return h_bar, w_bar


def audio_tokens(duration_s: float) -> int:
    """The page's rule for sound: about 6.25 tokens a second."""
    return math.ceil(duration_s * AUDIO_TOKENS_PER_SECOND)


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TEXT_TOKEN)


@dataclass(frozen=True)
class Estimate:
    """The prompt tokens of one request; ``None`` for what cannot be known (a URL's duration)."""

    duration_s: float | None
    frames: int | None
    video_tokens: int | None
    audio_tokens: int | None
    text_tokens: int
    prompt_tokens: int | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class VideoFacts:
    """What the estimate needs to know of one video; ``None`` where it is not known."""

    duration_s: float | None
    has_audio: bool | None = None
    width: int | None = None
    height: int | None = None


def estimate(
    videos: list[VideoFacts], text: str, *, fps: float = 2.0, resolution: str = "default"
) -> Estimate:
    """The estimate of a request with these videos (each sampled at ``fps``) and this text.

    ``text`` is every text the request carries (system prompt and user text). A video whose
    duration is unknown makes the video, audio and prompt numbers unknown. Sound of unknown
    presence counts as there (an estimate errs high).
    """
    text_n = text_tokens(text)
    if any(v.duration_s is None for v in videos):
        return Estimate(None, None, None, None, text_n, None)
    durations = [float(v.duration_s or 0.0) for v in videos]
    frame_n = sum(frames(d, fps) for d in durations)
    video_n = sum(
        video_tokens(d, fps, resolution, v.width, v.height) for d, v in zip(durations, videos, strict=True)
    )
    audio_n = sum(audio_tokens(d) for d, v in zip(durations, videos, strict=True) if v.has_audio is not False)
    total = round(sum(durations), 3) if videos else None
    return Estimate(total, frame_n, video_n, audio_n, text_n, video_n + audio_n + text_n)


def total(estimates: list[Estimate]) -> tuple[Estimate, int]:
    """The sum of the estimates whose prompt tokens are known, and how many are not known."""
    known = [e for e in estimates if e.prompt_tokens is not None]
    return (
        Estimate(
            round(sum(e.duration_s or 0.0 for e in known), 3),
            sum(e.frames or 0 for e in known),
            sum(e.video_tokens or 0 for e in known),
            sum(e.audio_tokens or 0 for e in known),
            sum(e.text_tokens for e in known),
            sum(e.prompt_tokens or 0 for e in known),
        ),
        len(estimates) - len(known),
    )


def ceiling(text: str, *, fps: float = 2.0, resolution: str = "default", videos: int = 1) -> int:
    """The most the page's formula gives for ``videos`` videos of any length (its frame cap), plus the
    text: what a budget counts for a request whose estimate is unknown. Sound is not bounded and is
    not counted."""
    longest = DOC["MAX_FRAMES"] / fps
    return videos * video_tokens(longest, fps, resolution) + text_tokens(text)


def cost(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    price_input: float | None,
    price_output: float | None,
) -> float | None:
    """What tokens cost at these prices per million tokens; ``None`` when nothing is priced.

    An unknown count or price adds nothing (before sending, the completion is not known: an
    estimate's cost is its input's)."""
    if price_input is None and price_output is None:
        return None
    if prompt_tokens is None and completion_tokens is None:
        return None
    total = (prompt_tokens or 0) * (price_input or 0.0) + (completion_tokens or 0) * (price_output or 0.0)
    return total / 1_000_000


def format_cost(amount: float, currency: str = "¥") -> str:
    """``¥0.0123``: four significant decimals for small amounts, two from 100 on."""
    if amount >= 100:
        return f"{currency}{amount:,.2f}"
    return f"{currency}{amount:.4f}"
