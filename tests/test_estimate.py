"""Token estimates and container headers: durations checked against ffprobe on videos made at test time."""

from __future__ import annotations

import io
import json
import math
import shutil
import struct
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo_cli.estimate import header_facts
from mimo_cli.estimate.budget import Budget, budget_tokens, usage_tokens
from mimo_cli.estimate.header import Header, parse, read_header
from mimo_cli.estimate.tokens import (
    DOC,
    VideoFacts,
    audio_tokens,
    ceiling,
    cost,
    estimate,
    format_cost,
    frames,
    text_tokens,
    total,
    video_tokens,
)

if TYPE_CHECKING:
    from pathlib import Path

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="needs ffmpeg and ffprobe")

VIDEO = ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=5:d=3.4"]
SOUND = ["-f", "lavfi", "-i", "sine=d=3.4:sample_rate=8000"]
FRAGMENTED = ["-movflags", "frag_keyframe+empty_moov"]  # no duration in mvhd and no mehd
# name -> (ffmpeg arguments, with sound); tiny frames at 5 fps, 3.4 s, or 2.2 s for the silent AVI
MADE = {
    "sound.mp4": [*VIDEO, *SOUND, "-c:v", "mpeg4", "-c:a", "aac", "-shortest"],
    "faststart.mp4": [*VIDEO, *SOUND, "-c:v", "mpeg4", "-c:a", "aac", "-shortest", "-movflags", "+faststart"],
    "silent.mp4": [*VIDEO, "-c:v", "mpeg4"],
    "fragmented.mp4": [*VIDEO, *SOUND, "-c:v", "mpeg4", "-c:a", "aac", "-shortest", "-g", "5", *FRAGMENTED],
    "sound.mov": [*VIDEO, *SOUND, "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"],
    "sound.avi": [*VIDEO, *SOUND, "-c:v", "mpeg4", "-c:a", "pcm_s16le", "-shortest"],
    "silent.avi": ["-f", "lavfi", "-i", "testsrc2=s=64x48:r=5:d=2.2", "-c:v", "mpeg4"],
    "sound.wmv": [*VIDEO, *SOUND, "-c:v", "wmv2", "-c:a", "wmav2", "-shortest"],
    "silent.wmv": [*VIDEO, "-c:v", "wmv2"],
}
# ffprobe's duration of an ASF file is where its last packet ends; the header's is the play duration
# minus the preroll. They differ by up to an audio packet.
TOLERANCE = {".mp4": 0.02, ".mov": 0.02, ".avi": 0.02, ".wmv": 0.15}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (FFMPEG and FFPROBE):
        pytest.skip("needs ffmpeg and ffprobe")
    root = tmp_path_factory.mktemp("estimate")
    for name, args in MADE.items():
        subprocess.run(
            [FFMPEG, "-nostdin", "-v", "error", "-y", *args, str(root / name)], check=True, timeout=60
        )
    return {name: root / name for name in MADE}


def ffprobe(path: Path) -> tuple[float, bool, int, int]:
    out = subprocess.run(
        [FFPROBE or "ffprobe", "-v", "error", "-of", "json", "-show_entries",
         "format=duration:stream=codec_type,width,height", str(path)],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    probe = json.loads(out)
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    sound = any(s["codec_type"] == "audio" for s in probe["streams"])
    return float(probe["format"]["duration"]), sound, video["width"], video["height"]


@needs_ffmpeg
@pytest.mark.parametrize("name", list(MADE))
def test_the_header_says_what_ffprobe_says(made: dict[str, Path], name: str) -> None:
    duration, sound, width, height = ffprobe(made[name])
    header = read_header(made[name])
    assert header is not None and header.duration_s is not None
    assert abs(header.duration_s - duration) <= TOLERANCE[made[name].suffix], (header, duration)
    assert (header.has_audio, header.width, header.height) == (sound, width, height)


@needs_ffmpeg
def test_moov_at_the_end_and_moov_first_give_the_same_header(made: dict[str, Path]) -> None:
    with open(made["sound.mp4"], "rb") as f:
        assert f.read(8)[4:] == b"ftyp"
    assert read_header(made["sound.mp4"]) == read_header(made["faststart.mp4"])


def _box64(data: bytes) -> bytes:
    """The same top-level MP4 boxes, each written with a 64-bit size (size field 1 + largesize)."""
    out, pos = bytearray(), 0
    while pos < len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out += struct.pack(">I4sQ", 1, kind, size + 8) + data[pos + 8 : pos + size]
        pos += size
    return bytes(out)


@needs_ffmpeg
def test_64_bit_box_sizes_are_read(made: dict[str, Path], tmp_path: Path) -> None:
    wide = tmp_path / "wide.mp4"
    wide.write_bytes(_box64(made["sound.mp4"].read_bytes()))
    assert wide.read_bytes()[:4] == b"\x00\x00\x00\x01"
    assert read_header(wide) == read_header(made["sound.mp4"])


@needs_ffmpeg
def test_the_header_is_read_by_seeking_not_whole(made: dict[str, Path], tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    data = made["faststart.mp4"].read_bytes()
    pad = 64 * 1024 * 1024
    with open(big, "wb") as f:
        f.write(data)
        f.write(struct.pack(">I4s", pad, b"free"))
        f.truncate(len(data) + pad)

    class Counting(io.FileIO):
        read_bytes = 0

        def read(self, size: int = -1) -> bytes:
            chunk = super().read(size)
            Counting.read_bytes += len(chunk)
            return chunk

    with Counting(big, "rb") as f:
        header = parse(f, big.stat().st_size)  # type: ignore[arg-type]
    assert header == read_header(made["faststart.mp4"])
    assert 0 < Counting.read_bytes < len(data)


@needs_ffmpeg
def test_a_truncated_file_gives_a_result_or_none_at_every_cut(made: dict[str, Path]) -> None:
    for name in ("sound.mp4", "faststart.mp4", "fragmented.mp4", "sound.avi", "sound.wmv"):
        data = made[name].read_bytes()
        cuts = sorted({*range(0, 2048, 7), *range(0, len(data), max(len(data) // 300, 1))})
        for cut in cuts:
            result = parse(io.BytesIO(data[:cut]), cut)
            assert result is None or isinstance(result, Header)
        assert parse(io.BytesIO(data), len(data)) == read_header(made[name])


@needs_ffmpeg
def test_flipped_bytes_in_a_real_header_never_raise(made: dict[str, Path]) -> None:
    for name in ("faststart.mp4", "sound.avi", "sound.wmv"):
        data = made[name].read_bytes()
        for pos in range(0, min(len(data), 4096), 3):
            for value in (0x00, 0x01, 0xFF):
                broken = data[:pos] + bytes([value]) + data[pos + 1 :]
                result = parse(io.BytesIO(broken), len(broken))
                assert result is None or isinstance(result, Header)


MAGIC = [
    b"",
    struct.pack(">I4s", 24, b"ftyp") + b"isom" + bytes(12),
    b"RIFF\xff\xff\x00\x00AVI LIST",
    bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"),
]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MAGIC), st.binary(max_size=600))
def test_any_bytes_give_a_header_or_none(prefix: bytes, tail: bytes) -> None:
    data = prefix + tail
    result = parse(io.BytesIO(data), len(data))
    assert result is None or isinstance(result, Header)


def test_what_is_not_a_file_of_ours_has_no_header(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("these are not the boxes you are looking for\n" * 10)
    assert read_header(text) is None
    assert read_header(tmp_path / "missing.mp4") is None
    assert read_header(tmp_path) is None  # a directory
    assert header_facts(tmp_path / "missing.mp4") == VideoFacts(None)


# ---- the estimator, against the documentation's constants -------------------------------------


def test_frames_are_duration_times_fps_up_to_the_2048_cap() -> None:
    assert frames(10, 2) == 20
    assert frames(10.2, 2) == 21  # rounded up
    assert frames(3600, 2) == DOC["MAX_FRAMES"] == 2048
    assert frames(1024, 2) == 2048
    assert video_tokens(3600, 2, "default") == video_tokens(1024, 2, "default")
    assert video_tokens(3600, 2, "max") == video_tokens(1024, 2, "max")


def test_default_resolution_costs_300_tokens_per_two_frames_plus_markers() -> None:
    # 60 s at 2 fps: 120 frames in 60 grids of two; per grid 300 tokens, 3 timestamp tokens (fps <= 2),
    # 2 special markers, and 2 more for the video.
    grids = 60
    assert video_tokens(60, 2, "default") == grids * 300 + grids * 3 + grids * 2 + 2
    # fps above 2 writes 5-token timestamps
    grids = math.ceil(60 * 4 / 2)
    assert video_tokens(60, 4, "default") == grids * 300 + grids * 5 + grids * 2 + 2


def test_all_frames_together_cost_at_most_131072_vision_tokens() -> None:
    grids = 2048 // 2
    markers = grids * 3 + grids * 2 + 2
    for resolution in ("default", "max"):
        assert video_tokens(5000, 2, resolution) - markers == DOC["MAX_TOTAL_TOKENS"]
    # short videos: max gives each frame far more than default's 300
    assert video_tokens(10, 2, "max") > 20 * video_tokens(10, 2, "default") // 2


def test_a_known_frame_size_is_scaled_as_the_documentation_does() -> None:
    # 1920x1080 at default: scaled into 300 * 1024 pixels in multiples of 32 -> 736 x 384 = 276 tokens
    grids = 60
    assert video_tokens(60, 2, "default", 1920, 1080) == grids * (736 * 384 // 1024) + grids * 5 + 2
    # a tiny 64x48 frame is scaled up past MIN_PIX (8192 pixels): to 128 x 96, 12 tokens
    assert video_tokens(60, 2, "default", 64, 48) == grids * (128 * 96 // 1024) + grids * 5 + 2
    assert video_tokens(60, 2, "default", 64, 48) < video_tokens(60, 2, "default")


def test_audio_is_about_6_25_tokens_a_second_and_text_one_per_four_characters() -> None:
    assert audio_tokens(60) == 375
    assert audio_tokens(3.4) == math.ceil(3.4 * 6.25)
    assert text_tokens("") == 0
    assert text_tokens("abcd" * 10) == 10
    assert text_tokens("abcde") == 2


def test_an_estimate_adds_video_audio_and_text_and_skips_audio_without_sound() -> None:
    text = "Describe this video." * 3
    loud = estimate([VideoFacts(30.0, True)], text)
    quiet = estimate([VideoFacts(30.0, False)], text)
    assert loud.frames == quiet.frames == 60
    assert loud.audio_tokens == audio_tokens(30) and quiet.audio_tokens == 0
    assert loud.video_tokens == video_tokens(30, 2, "default")
    assert loud.text_tokens == text_tokens(text)
    assert loud.prompt_tokens == loud.video_tokens + loud.audio_tokens + loud.text_tokens
    unsure = estimate([VideoFacts(30.0, None)], text)  # unknown sound counts as sound
    assert unsure.audio_tokens == loud.audio_tokens
    assert set(loud.as_dict()) == {"duration_s", "frames", "video_tokens", "audio_tokens", "text_tokens",
                                   "prompt_tokens"}  # fmt: skip


def test_a_url_has_an_unknown_duration_and_only_text_is_known() -> None:
    url = estimate([VideoFacts(None)], "What happens?", fps=2, resolution="max")
    assert url.as_dict() == {"duration_s": None, "frames": None, "video_tokens": None, "audio_tokens": None,
                             "text_tokens": text_tokens("What happens?"), "prompt_tokens": None}  # fmt: skip
    assert json.loads(json.dumps(url.as_dict()))["prompt_tokens"] is None
    assert budget_tokens(url, ceiling("What happens?")) == ceiling("What happens?")
    assert ceiling("") == video_tokens(5000, 2, "default")


@needs_ffmpeg
def test_an_estimate_from_a_made_file_uses_its_header(made: dict[str, Path]) -> None:
    facts = header_facts(made["sound.mp4"])
    assert facts.duration_s is not None and abs(facts.duration_s - 3.4) < 0.05
    result = estimate([facts], "x", fps=1)
    assert result.frames == 4 and result.audio_tokens == audio_tokens(facts.duration_s)
    silent = estimate([header_facts(made["silent.avi"])], "x", fps=1)
    assert silent.frames == 3 and silent.audio_tokens == 0


def test_totals_sum_the_known_and_count_the_unknown() -> None:
    a = estimate([VideoFacts(10.0, True)], "a" * 8)
    b = estimate([VideoFacts(20.0, False)], "b" * 8)
    url = estimate([VideoFacts(None)], "c" * 8)
    summed, unknown = total([a, b, url])
    assert unknown == 1
    assert summed.prompt_tokens == (a.prompt_tokens or 0) + (b.prompt_tokens or 0)
    assert summed.frames == 60 and summed.duration_s == 30.0


def test_cost_is_per_million_tokens_and_unknown_without_prices() -> None:
    assert cost(1_000_000, 500_000, 1.0, 2.0) == pytest.approx(2.0)
    assert cost(250_000, None, 4.0, None) == pytest.approx(1.0)
    assert cost(1000, 1000, None, None) is None
    assert cost(None, None, 1.0, 1.0) is None
    assert format_cost(0.01234) == "¥0.0123"
    assert format_cost(1234.5, "$") == "$1,234.50"


# ---- the budget ---------------------------------------------------------------------------------


def test_usage_tokens_reads_total_or_the_parts() -> None:
    assert usage_tokens({"total_tokens": 1488, "prompt_tokens": 1278}) == 1488
    assert usage_tokens({"prompt_tokens": 100, "completion_tokens": 20}) == 120
    assert usage_tokens({}) is None and usage_tokens(None) is None
    assert usage_tokens({"total_tokens": True}) is None


def test_a_budget_starts_nothing_that_could_pass_it() -> None:
    budget = Budget(1000)
    assert budget.start(400) and budget.start(400)
    assert budget.would_pass(300) and not budget.start(300)  # 800 in flight + 300 > 1000
    assert budget.refused == 1
    budget.finish(400, {"total_tokens": 150})  # used less than estimated
    assert budget.used == 150 and budget.in_flight == 400
    assert budget.start(300)  # 150 + 400 + 300 <= 1000
    budget.finish(300, None, sent=False)  # never reached the server: nothing used
    budget.finish(400, None)  # reached it, no usage: the estimate counts
    assert (budget.used, budget.in_flight) == (550, 0)
    budget.record_usage({"prompt_tokens": 400, "completion_tokens": 60})
    assert budget.used == 1010 and budget.would_pass(0)


def test_a_shared_budget_never_reserves_past_its_limit() -> None:
    budget = Budget(10_000)
    started: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            if budget.start(7):
                with lock:
                    started.append(7)
                budget.finish(7, {"total_tokens": 7})

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sum(started) == budget.used <= 10_000
    assert len(started) + budget.refused == 1600
    assert budget.refused == 1600 - 10_000 // 7
