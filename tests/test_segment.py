"""--segment: planning the parts (pure), and cutting them with the real ffmpeg (ffprobe checks the files)."""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo_cli.errors import Kind, MimoError
from mimo_cli.ffmpeg import tools
from mimo_cli.segment import cut as cutting
from mimo_cli.segment.plan import (
    AUTO,
    Part,
    clock,
    context_line,
    joined,
    merge_prompt,
    parse_duration,
    parse_segment,
    part_count,
    part_length,
    part_prompt,
    plan_parts,
    snap,
)

if TYPE_CHECKING:
    from pathlib import Path

# -- the option ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90.5", 90.5), ("1:30", 90), ("1:02:03", 3723), ("90s", 90), ("10m", 600),
     ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("1h30m15s", 5415), (" 2M ", 120), ("0.5h", 1800)],
)  # fmt: skip
def test_durations_are_read_in_every_form_the_spec_names(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)
    assert parse_segment(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "0", "0s", "-5", "10x", "1:75", "1:60:00", "m", "auto10"])
def test_a_bad_segment_is_a_usage_error_naming_the_option(text: str) -> None:
    with pytest.raises(MimoError) as caught:
        parse_segment(text)
    assert caught.value.kind is Kind.USAGE and caught.value.exit_code == 2
    assert "--segment" in caught.value.message and caught.value.hint and "auto" in caught.value.hint


def test_auto_takes_600_s_or_2048_frames_whichever_is_shorter() -> None:
    assert parse_segment("auto") == AUTO and parse_segment(" AUTO ") == AUTO
    assert part_length(AUTO, 2) == 600
    assert part_length(AUTO, 0.5) == 600
    assert part_length(AUTO, 4) == pytest.approx(512)
    assert part_length(AUTO, 10) == pytest.approx(204.8)
    assert part_length(900.0, 10) == 900


# -- planning -----------------------------------------------------------------------------------------------


def test_two_hours_in_auto_at_2_fps_are_12_parts_of_10_minutes() -> None:
    parts = plan_parts(7200, part_length(AUTO, 2))
    assert [(p.index, p.count) for p in parts] == [(k, 12) for k in range(1, 13)]
    assert [p.times for p in parts[:2]] == ["0:00:00–0:10:00", "0:10:00–0:20:00"]
    assert parts[-1].end == 7200


def test_equal_parts_without_a_short_tail_and_a_short_video_is_one_part() -> None:
    edges = [e for p in plan_parts(130, 60) for e in (p.start, p.end)]
    assert edges == pytest.approx([0, 130 / 3, 130 / 3, 260 / 3, 260 / 3, 130])
    assert [(p.start, p.end) for p in plan_parts(45, 60)] == [(0, 45)]
    assert len(plan_parts(60, 60)) == 1
    assert len(plan_parts(1200.02, 600)) == 2  # container noise is not one more part
    assert len(plan_parts(1201, 600)) == 3


@settings(deadline=None)
@given(
    length=st.floats(min_value=1, max_value=7200, allow_nan=False),
    ratio=st.floats(min_value=0.001, max_value=300, allow_nan=False),
)
def test_parts_meet_cover_the_video_and_are_equal(length: float, ratio: float) -> None:
    duration = max(0.5, length * ratio)
    parts = plan_parts(duration, length)
    count = len(parts)
    assert count == part_count(duration, length) == max(1, math.ceil((duration - 0.25) / length))
    assert parts[0].start == 0 and parts[-1].end == duration
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))
    assert all(p.length == pytest.approx(duration / count, rel=1e-9, abs=1e-6) for p in parts)
    assert all(p.length <= length + 0.25 for p in parts)
    assert [p.index for p in parts] == list(range(1, count + 1)) and {p.count for p in parts} == {count}


@settings(deadline=None, max_examples=60)
@given(
    duration=st.floats(min_value=10, max_value=3 * 3600, allow_nan=False),
    length=st.floats(min_value=30, max_value=3600, allow_nan=False),
    gop=st.floats(min_value=2, max_value=30, allow_nan=False),
    offset=st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_snapping_onto_keyframes_keeps_parts_meeting_and_moves_only_back_a_little(
    duration: float, length: float, gop: float, offset: float
) -> None:
    planned = plan_parts(duration, length)
    keys = [offset * gop + k * gop for k in range(int(duration / gop) + 1)]
    tol = min(5.0, 0.02 * planned[0].length)
    parts = snap(planned, keys, tol)
    assert parts[0].start == 0 and parts[-1].end == duration
    assert all(a.end == b.start and a.start < a.end for a, b in itertools.pairwise(parts))
    on_key = [True]  # whether each boundary is on a keyframe (the start and the end count as such)
    for got, plan in zip(parts[1:], planned[1:], strict=True):
        assert -1e-6 <= plan.start - got.start <= tol + 1e-6  # a keyframe a float ulp after counts
        on_key.append(any(abs(got.start - k) < 1e-9 for k in keys))
        assert on_key[-1] == (got.start != plan.start or plan.start in keys)
    on_key.append(True)
    assert [p.on_keyframes for p in parts] == [a and b for a, b in itertools.pairwise(on_key)]


def test_a_boundary_with_no_keyframe_close_enough_stays_and_the_parts_by_it_are_not_copyable() -> None:
    parts = snap(plan_parts(240, 60), [0, 60, 110, 170, 180], tolerance=0.9)  # 4 parts of 60 s
    assert [(p.start, p.end, p.on_keyframes) for p in parts] == [
        (0, 60, True), (60, 120, False), (120, 180, False), (180, 240, True),
    ]  # fmt: skip
    moved = snap(plan_parts(240, 60), [0, 58, 119, 178], tolerance=2)
    assert [(p.start, p.on_keyframes) for p in moved] == [(0, True), (58, True), (119, True), (178, True)]
    assert [p.on_keyframes for p in snap(plan_parts(240, 60), [0, 58, 119, 178], tolerance=1.5)] == [
        False, False, False, False,
    ]  # fmt: skip


# -- texts --------------------------------------------------------------------------------------------------


def test_each_part_prompt_begins_with_its_line_of_context() -> None:
    part = plan_parts(7200, 600)[2]
    line = "This is part 3 of 12 of a longer video; it shows 0:20:00 to 0:30:00 of it."
    assert context_line(part) == line
    assert part_prompt(part, "Describe it.") == f"{line}\nDescribe it."
    assert clock(3723.4) == "1:02:03" and clock(59.6) == "0:01:00" and clock(0) == "0:00:00"


def test_the_parts_are_joined_under_their_times_and_the_merge_gives_each_then_the_prompt() -> None:
    parts = plan_parts(1800, 600)
    answers = [(p, f"answer {p.index}\n") for p in parts]
    text = joined(answers)
    assert text.split("\n\n") == [
        "## 0:00:00–0:10:00", "answer 1", "## 0:10:00–0:20:00", "answer 2", "## 0:20:00–0:30:00", "answer 3",
    ]  # fmt: skip
    merge = merge_prompt(answers, "When is the first goal scored?", 1800)
    assert text in merge and "3 consecutive parts" in merge and "0:30:00" in merge
    assert merge.endswith("\nWhen is the first goal scored?")
    assert merge.index("answer 3") < merge.index("When is the first goal")


# -- cutting with ffmpeg ------------------------------------------------------------------------------------

FFMPEG, FFPROBE = shutil.which("ffmpeg"), shutil.which("ffprobe")
needs_ffmpeg = pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="needs ffmpeg and ffprobe")
FPS = 2
SECONDS = 180
GOP = 10  # a keyframe every 10 s
# every frame is one flat colour that says its number: luma = 16 + 2 (n mod 100), Cb = 16 + 8 (n div 100)
FRAME_ID = "geq=lum='16+2*mod(N,100)':cb='16+8*floor(N/100)':cr=128"


def Tools() -> tools.Tools:
    found = tools.locate()
    assert found is not None and found.ffprobe is not None
    return found


def _generate(out: Path, container: str, seconds: int = SECONDS) -> Path:
    if not out.exists():
        subprocess.run(
            [FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"nullsrc=s=64x36:r={FPS}:d={seconds},{FRAME_ID}",
             "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
             "-x264-params", f"keyint={GOP * FPS}:min-keyint={GOP * FPS}:scenecut=0", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "32k", "-shortest", "-f", container, str(out)],
            check=True, timeout=120,
        )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def long_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.getbasetemp() / "segment-long.mp4", "mp4")


@pytest.fixture(scope="session")
def long_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.getbasetemp() / "segment-long.mkv", "matroska")


def frame_numbers(path: Path) -> list[int]:
    """The number of every frame of a clip, read back from its colour."""
    assert FFMPEG
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-vf", "scale=1:1", "-sws_flags", "area",
         "-pix_fmt", "yuv444p", "-f", "rawvideo", "-"],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    return [round((raw[i + 1] - 16) / 8) * 100 + round((raw[i] - 16) / 2) for i in range(0, len(raw), 3)]


def probed_duration(path: Path) -> float:
    assert FFPROBE
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    return float(out)


def simple_encode(source: Path, out: Path, start: float, length: float) -> None:
    """A stand-in for the --fit conversion: an exact cut, re-encoded."""
    assert FFMPEG
    subprocess.run(
        [FFMPEG, "-v", "error", "-y", "-ss", f"{start:.6f}", "-i", str(source), "-t", f"{length:.6f}",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "mp4", str(out)],
        check=True, timeout=60,
    )  # fmt: skip


def source_of(path: Path, mime: str | None) -> cutting.Source:
    return cutting.Source(path, path.name, mime, path.stat().st_size, probed_duration(path), FPS)


def assert_covers(clip: cutting.Clip) -> None:
    """The clip holds exactly the source's frames from its recorded start to its recorded end."""
    numbers = frame_numbers(clip.path)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # nothing missing or repeated
    assert abs(numbers[0] / FPS - clip.start) <= 0.1
    assert abs((numbers[-1] + 1) / FPS - clip.end) <= 0.1
    assert abs(probed_duration(clip.path) - (clip.end - clip.start)) <= 0.1


@needs_ffmpeg
def test_keyframes_near_the_boundaries_are_found_without_decoding(long_mp4: Path) -> None:
    keys = cutting.keyframes(Tools(), long_mp4, [45, 90, 135], window=6)
    assert {40.0, 90.0, 130.0} <= {k.pts for k in keys}
    assert all(k.pts % GOP == 0 for k in keys) and max(k.pts for k in keys) <= 135
    assert all(k.dts < k.pts for k in keys)  # B-frames: a keyframe is decoded before it is shown


def source_with_keys(path: Path, near: list[float], window: float) -> cutting.Source:
    keys = tuple(cutting.keyframes(Tools(), path, near, window))
    return cutting.Source(
        path, path.name, "video/mp4", path.stat().st_size, probed_duration(path), FPS, True, keys
    )


def cut_all(source: cutting.Source, parts: list[Part], out_dir: Path) -> tuple[list[cutting.Clip], list[str]]:
    steps: list[str] = []
    clips = [
        cutting.cut(Tools(), source, p, 10 * 2**20, simple_encode, lambda p, s: steps.append(s), out_dir)
        for p in parts
    ]
    return clips, steps


@needs_ffmpeg
def test_parts_on_keyframes_are_copied_the_others_encoded_and_all_cover_their_times(
    long_mp4: Path, tmp_path: Path
) -> None:
    source = source_with_keys(long_mp4, [60, 120], 1)
    planned = plan_parts(source.duration, 60)
    parts = snap(planned, [k.pts for k in source.keyframes if k.pts != 120], 1)  # as if 120 s were mid-GOP
    clips, steps = cut_all(source, parts, tmp_path)
    assert [c.copied for c in clips] == [True, False, False]
    assert steps == ["cutting", "converting", "converting"]
    assert [(c.start, c.end) for c in clips] == [(0, 60), (60, 120), (120, 180)]
    assert [c.path.suffix for c in clips] == [".mp4"] * 3 and all(
        c.size == c.path.stat().st_size for c in clips
    )
    for clip in clips:
        assert_covers(clip)


@needs_ffmpeg
def test_boundaries_moved_onto_keyframes_are_where_the_copied_parts_really_begin_and_end(
    long_mp4: Path, tmp_path: Path
) -> None:
    planned = plan_parts(SECONDS, 50)  # 4 parts of 45 s: 45 and 135 are mid-GOP, 90 is a keyframe
    source = source_with_keys(long_mp4, [p.start for p in planned[1:]], 5)
    parts = snap(planned, [k.pts for k in source.keyframes], 5)
    assert [(p.start, p.end) for p in parts] == [(0, 40), (40, 90), (90, 130), (130, 180)]
    clips, steps = cut_all(source, parts, tmp_path)
    assert steps == ["cutting"] * 4 and all(c.copied for c in clips)
    for clip in clips:
        assert_covers(clip)


@needs_ffmpeg
def test_boundaries_far_from_keyframes_stay_and_those_parts_are_encoded_exactly(
    long_mp4: Path, tmp_path: Path
) -> None:
    planned = plan_parts(SECONDS, 50)
    source = source_with_keys(long_mp4, [p.start for p in planned[1:]], 1)
    parts = snap(planned, [k.pts for k in source.keyframes], 1)
    assert [(p.start, p.end, p.on_keyframes) for p in parts] == [
        (0, 45, False), (45, 90, False), (90, 135, False), (135, 180, False),
    ]  # fmt: skip
    clips, steps = cut_all(source, parts, tmp_path)
    assert steps == ["converting"] * 4
    for clip in clips:
        assert_covers(clip)


@needs_ffmpeg
def test_an_unaccepted_container_or_a_part_too_large_is_encoded(
    long_mkv: Path, long_mp4: Path, tmp_path: Path
) -> None:
    mkv = source_of(long_mkv, None)
    part = snap(plan_parts(mkv.duration, 60), [0, 60, 120])[1]
    assert part.on_keyframes
    clip = cutting.cut(Tools(), mkv, part, 10 * 2**20, simple_encode, out_dir=tmp_path)
    assert not clip.copied and clip.mime == "video/mp4" and clip.path.suffix == ".mp4"
    assert_covers(clip)
    mp4 = source_with_keys(long_mp4, [60, 120], 1)
    tight = cutting.data_uri_length("video/mp4", mp4.size // 4)  # a third of the file does not fit
    clip = cutting.cut(Tools(), mp4, part, tight, simple_encode, out_dir=tmp_path)
    assert not clip.copied
    assert_covers(clip)


@needs_ffmpeg
def test_a_failed_encode_leaves_nothing_on_disk(long_mkv: Path, tmp_path: Path) -> None:
    def broken(source: Path, out: Path, start: float, length: float) -> None:
        out.write_bytes(b"half a file")
        raise MimoError(Kind.INPUT, "ffmpeg could not convert it")

    mkv = source_of(long_mkv, None)
    with pytest.raises(MimoError, match="could not convert"):
        cutting.cut(Tools(), mkv, plan_parts(mkv.duration, 60)[0], 10 * 2**20, broken, out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
