"""--timestamps, --format srt|vtt|chapters and batch --sidecar srt|vtt end to end against the fake server.

The videos are made with ffmpeg at test time (tiny frames, low fps); their durations are read back with
ffprobe, and the subtitles mimo prints with the ``srt`` and ``webvtt-py`` parsers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest
import srt
import webvtt
from conftest import FIXTURES
from fakeserver import FakeServer, error_json

from mimo_cli.ffmpeg import tools
from mimo_cli.timeline.events import INSTRUCTION
from mimo_cli.timeline.subtitles import CHAPTERS_PRESET

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FFMPEG, FFPROBE = shutil.which("ffmpeg"), shutil.which("ffprobe")
pytestmark = pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="needs ffmpeg and ffprobe")

ANSWER = (
    "Here is what happens:\n"
    "**[0:00]** A title card.\n"
    "- [00:04-00:09] A door opens,\n"
    "  and someone walks in.\n"
    "[0:12] They sit down.\n"
)


def duration_of(path: Path) -> float:
    out = subprocess.run(
        [FFPROBE or "ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return float(out.stdout)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20-second MP4 of 64x48 frames at 5 fps (a few KB)."""
    path = tmp_path_factory.mktemp("timed") / "talk.mp4"
    subprocess.run(
        [FFMPEG or "ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=5:d=20",
         "-c:v", "libx264", "-g", "5", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(autouse=True)
def fresh_tools() -> Iterator[None]:
    tools._found.clear()
    yield
    tools._found.clear()


def text_sent(server: FakeServer, i: int = 0) -> str:
    content = server.received[i].json()["messages"][-1]["content"]
    return str(content[-1]["text"])


def test_timestamps_asks_for_times_and_puts_events_in_the_record(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.answer = ANSWER
    run = mimo("describe", str(video), "--timestamps", "--json", "-p", "What happens?")
    assert run.exit_code == 0, run.stderr
    assert text_sent(server) == f"What happens?\n\n{INSTRUCTION}"
    record = json.loads(run.stdout)
    assert record["answer"] == ANSWER
    assert list(record)[-1] == "events"  # new keys at the end of the record
    length = duration_of(video)
    assert record["events"] == [
        {"start": 0.0, "end": 4.0, "text": "A title card."},
        {"start": 4.0, "end": 9.0, "text": "A door opens,\nand someone walks in."},
        {"start": 12.0, "end": pytest.approx(length, abs=0.001), "text": "They sit down."},
    ]
    assert "warning" not in run.stderr


def test_without_timestamps_the_request_and_record_are_as_before(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.answer = ANSWER
    run = mimo("describe", str(video), "--json", "-p", "What happens?")
    assert text_sent(server) == "What happens?"
    assert "events" not in json.loads(run.stdout)


def test_format_srt_prints_subtitles_a_real_parser_reads(mimo: Any, server: FakeServer, video: Path) -> None:
    server.answer = ANSWER
    run = mimo("describe", str(video), "--format", "srt")
    assert run.exit_code == 0, run.stderr
    assert text_sent(server).endswith(INSTRUCTION)  # srt implies --timestamps
    cues = list(srt.parse(run.stdout))
    assert [c.index for c in cues] == [1, 2, 3]
    assert [(c.start.total_seconds(), c.end.total_seconds()) for c in cues[:2]] == [(0, 4), (4, 9)]
    assert cues[2].end.total_seconds() == pytest.approx(duration_of(video), abs=0.001)
    assert cues[1].content == "A door opens,\nand someone walks in."
    assert "tokens:" in run.stderr and "tokens:" not in run.stdout


def test_format_vtt_prints_webvtt_a_real_parser_reads(mimo: Any, server: FakeServer, video: Path) -> None:
    server.answer = ANSWER
    run = mimo("describe", str(video), "--format", "vtt", "--quiet")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[0] == "WEBVTT"
    captions = webvtt.from_string(run.stdout, strict=True).captions
    assert [(c.start, c.end) for c in captions[:2]] == [
        ("00:00:00.000", "00:00:04.000"),
        ("00:00:04.000", "00:00:09.000"),
    ]
    assert [c.text for c in captions] == [
        "A title card.",
        "A door opens,\nand someone walks in.",
        "They sit down.",
    ]
    assert run.stderr == ""


def test_chapters_preset_and_format(mimo: Any, server: FakeServer, video: Path) -> None:
    server.answer = "[0:03] Opening\n[0:08] The interview\n[0:15] Goodbye\n"
    run = mimo("describe", str(video), "--preset", "chapters", "--format", "chapters")
    assert run.exit_code == 0, run.stderr
    assert text_sent(server) == f"{CHAPTERS_PRESET}\n\n{INSTRUCTION}"
    assert run.stdout.splitlines() == ["0:00:00 Opening", "0:00:08 The interview", "0:00:15 Goodbye"]


def test_times_past_the_end_or_going_back_are_dropped_with_one_warning(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.answer = "[0:02] Two\n[0:10] Ten\n[0:06] Back\n[0:20.5] At the end\n[0:45] Far past\n"
    run = mimo("describe", str(video), "--timestamps", "--json")
    assert run.exit_code == 0
    events = json.loads(run.stdout)["events"]
    assert [e["text"] for e in events] == ["Two", "Ten", "At the end"]
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "2 times" in warnings[0] and "dropped" in warnings[0]


def test_an_answer_without_times_warns_that_it_has_no_events(
    mimo: Any, server: FakeServer, video: Path
) -> None:
    server.answer = "A door opens and someone walks in."
    run = mimo("describe", str(video), "--timestamps", "--json")
    assert json.loads(run.stdout)["events"] == []
    assert "warning: no line of the answer begins with a time" in run.stderr


def test_a_span_puts_the_events_on_the_source_timeline(mimo: Any, server: FakeServer, video: Path) -> None:
    server.answer = "[0:00] Start of the span\n[0:03] Later\n"
    run = mimo("describe", str(video), "--start", "0:05", "--end", "15s", "--timestamps", "--json")
    assert run.exit_code == 0, run.stderr
    sent = server.received[0].videos()[0][1]
    assert isinstance(sent, bytes)
    events = json.loads(run.stdout)["events"]
    assert [e["start"] for e in events] == [5.0, 8.0]
    clip = video.parent / "sent.mp4"
    clip.write_bytes(sent)
    assert events[-1]["end"] == pytest.approx(5 + duration_of(clip), abs=0.001)


def test_ask_adds_the_instruction_after_the_question(mimo: Any, server: FakeServer, video: Path) -> None:
    server.answer = "[0:07] The door opens."
    run = mimo("ask", str(video), "When does the door open?", "--timestamps", "--json")
    assert text_sent(server) == f"When does the door open?\n\n{INSTRUCTION}"
    assert json.loads(run.stdout)["events"][0]["start"] == 7.0


def test_an_error_record_has_events_null(mimo: Any, server: FakeServer, video: Path) -> None:
    server.queue(error_json(400, "bad video", "invalid_request_error"))
    run = mimo("describe", str(video), "--timestamps", "--json")
    record = json.loads(run.stdout)
    assert run.exit_code == 1 and record["status"] == "error"
    assert "events" in record and record["events"] is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--format", "subtitles"], "--format must be one of text, json, srt, vtt, chapters"),
        (["--format", "srt", "--json"], "--json and --format srt ask for two outputs"),
    ],
)
def test_bad_formats_are_usage_errors(
    mimo: Any, server: FakeServer, video: Path, args: list[str], words: str
) -> None:
    run = mimo("describe", str(video), *args)
    assert run.exit_code == 2 and words in run.stderr
    assert server.received == []


def test_format_json_is_json(mimo: Any, server: FakeServer, video: Path) -> None:
    run = mimo("describe", str(video), "--format", "json")
    assert json.loads(run.stdout)["status"] == "ok"


def test_a_url_the_api_fetches_has_no_duration_here(mimo: Any, server: FakeServer) -> None:
    run = mimo("describe", "https://example.com/v.mp4", "--format", "srt")
    assert run.exit_code == 2
    assert "--timestamps needs the duration of https://example.com/v.mp4" in run.stderr
    assert "hint: add --inline-url" in run.stderr
    assert server.received == []


def test_without_ffmpeg_the_duration_comes_from_the_mp4_header(
    mimo: Any, server: FakeServer, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "_search", lambda: None)
    server.answer = ANSWER
    run = mimo("describe", str(video), "--timestamps", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["events"][-1]["end"] == pytest.approx(duration_of(video), abs=0.05)


def test_without_ffmpeg_a_video_whose_header_does_not_say_is_an_input_error(
    mimo: Any, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "_search", lambda: None)
    run = mimo("describe", str(FIXTURES / "clip.ts"), "--force-mime", "video/mp2t", "--timestamps")
    assert run.exit_code == 2
    assert "its header does not say, and reading it needs ffmpeg, which is not installed" in run.stderr
    assert server.received == []


def test_batch_sidecars_srt_and_vtt_hold_each_inputs_events(
    mimo: Any, server: FakeServer, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(video, folder / name)
    server.answer = ANSWER + "[0:05] Back in time\n"
    run = mimo("batch", "videos", "--sidecar", "srt", "-o", "out.jsonl")
    assert run.exit_code == 0, run.stderr
    assert len(server.received) == 2 and all(text_sent(server, i).endswith(INSTRUCTION) for i in range(2))
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for record in records:
        cues = list(srt.parse((folder / record["input"].split("/")[-1]).with_suffix(".srt").read_text()))
        assert [(c.start.total_seconds(), c.content) for c in cues] == [
            (e["start"], e["text"]) for e in record["events"]
        ]
        assert len(cues) == 3
    dropped = [line for line in run.stderr.splitlines() if "dropped" in line]
    assert sorted(line.split(":")[0] for line in dropped) == ["videos/a.mp4", "videos/b.mp4"]
    run = mimo("batch", "videos/a.mp4", "--sidecar", "vtt", "--out-dir", "subs")
    assert run.exit_code == 0, run.stderr
    captions = webvtt.read(str(tmp_path / "subs" / "videos" / "a.vtt")).captions
    assert [c.text for c in captions] == [
        "A title card.",
        "A door opens,\nand someone walks in.",
        "They sit down.",
    ]
