"""The pure timeline helpers: times, the --timestamps parser, and the SRT/WebVTT/chapters writers.

The subtitles are read back with real parsers (the ``srt`` and ``webvtt-py`` packages), not with ours.
"""

from __future__ import annotations

import html
import math

import pytest
import srt
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo_cli.errors import Kind, MimoError
from mimo_cli.timeline import events as ev
from mimo_cli.timeline import subtitles as sub
from mimo_cli.timeline import times

# -- times --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90.5", 90.5),
        (" 0 ", 0),
        ("1:30", 60 + 30),
        ("90:00", 90 * 60),
        ("1:02:03", 3600 + 2 * 60 + 3),
        ("0:01:30.5", 90.5),
        ("90s", 90),
        ("10m", 600),
        ("10min", 600),
        ("1h", 3600),
        ("1h30m", 3600 + 30 * 60),
        ("1H30M", 3600 + 30 * 60),
        ("1m30s", 90),
        ("1.5h", 1.5 * 3600),
        (42, 42),
        (2.5, 2.5),
    ],
)
def test_parse_time_accepts_every_form_of_the_spec(text: str | float, seconds: float) -> None:
    assert times.parse_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "abc", "-5", "1:60", "1:60:00", "1:2:3:4", "10x", "h", "1h30", "nan", "inf"]
)
def test_parse_time_refuses_anything_else_as_a_usage_error_naming_the_option(text: str) -> None:
    with pytest.raises(MimoError) as caught:
        times.parse_time(text, "--segment")
    assert caught.value.kind is Kind.USAGE
    assert "--segment" in caught.value.message
    assert caught.value.hint and "1h30m" in caught.value.hint


@pytest.mark.parametrize("value", [True, -1, float("nan"), float("inf")])
def test_parse_time_refuses_numbers_that_are_not_times(value: float) -> None:
    with pytest.raises(MimoError) as caught:
        times.parse_time(value)
    assert caught.value.kind is Kind.USAGE


def test_parse_duration_needs_more_than_zero() -> None:
    assert times.parse_duration("10m", "--segment") == 600
    with pytest.raises(MimoError) as caught:
        times.parse_duration("0s", "--segment")
    assert caught.value.kind is Kind.USAGE and "longer than 0" in caught.value.message


def test_stamps_have_the_shapes_of_text_srt_and_vtt() -> None:
    t = 3600 + 2 * 60 + 3.0456
    assert times.clock(t) == "1:02:03"
    assert times.clock(120) == "0:02:00"
    assert times.clock(59.6) == "0:01:00"  # to the nearest second
    assert times.srt_stamp(t) == "01:02:03,046"
    assert times.vtt_stamp(t) == "01:02:03.046"
    assert times.srt_stamp(59.9996) == "00:01:00,000"  # a rounding carry goes into the seconds
    assert times.vtt_stamp(-0.2) == "00:00:00.000"


@given(st.floats(min_value=0, max_value=200 * 3600, allow_nan=False))
def test_a_clock_reads_back_as_the_time_to_the_second(seconds: float) -> None:
    assert times.parse_time(times.clock(seconds)) == math.floor(seconds + 0.5)


# -- the parser -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "start", "until", "text"),
    [
        ("[0:05] A man walks in", 5, None, "A man walks in"),
        ("[00:05] A man walks in", 5, None, "A man walks in"),
        ("[1:02:03] Late", 3723, None, "Late"),
        ("[00:01:02] Hours written", 62, None, "Hours written"),
        ("[0:05-0:12] A range", 5, 12, "A range"),
        ("[0:05 – 0:12] An en dash", 5, 12, "An en dash"),
        ("[0:05]–[0:12] Two brackets", 5, 12, "Two brackets"),
        ("[0:05 to 0:12] Words", 5, 12, "Words"),
        ("**[0:05]** Bold time", 5, None, "Bold time"),
        ("**[0:05]:** Bold with colon", 5, None, "Bold with colon"),
        ("**[0:05] All bold**", 5, None, "All bold"),
        ("**0:05** - Bold bare", 5, None, "Bold bare"),
        ("0:05 - Bare time", 5, None, "Bare time"),
        ("- [0:05] Bullet", 5, None, "Bullet"),
        ("* **[0:05-0:09]** — Star bullet", 5, 9, "Star bullet"),
        ("1. [0:05]: Numbered", 5, None, "Numbered"),
        ("(0:05) Parentheses", 5, None, "Parentheses"),
        ("| 0:05 | A table row |", 5, None, "A table row"),
        ("[0:05.5] Decimals", 5.5, None, "Decimals"),
    ],
)
def test_read_head_tolerates_what_models_write(
    line: str, start: float, until: float | None, text: str
) -> None:
    assert ev.read_head(line) == (start, until, text)


@pytest.mark.parametrize(
    "line", ["At 0:05 a man walks in", "A plain line", "[0:75] not a time", "## Summary"]
)
def test_a_line_that_does_not_begin_with_a_time_has_no_head(line: str) -> None:
    assert ev.read_head(line) is None


def test_events_end_at_their_range_else_the_next_start_else_the_part_end() -> None:
    answer = "[0:00] Opening\n[0:05-0:07] A range\n[0:09] Last one"
    timeline = ev.parse_events(answer, 0, 20)
    assert timeline.dropped == 0
    assert [(e["start"], e["end"], e["text"]) for e in timeline.events] == [
        (0, 5, "Opening"),
        (5, 7, "A range"),
        (9, 20, "Last one"),
    ]


def test_events_are_on_the_source_timeline_of_their_part() -> None:
    timeline = ev.parse_events("[0:05] Five seconds in\n[1:00] A minute in", 600.04, 1200.08)
    assert [e["start"] for e in timeline.events] == [605.04, 660.04]
    assert timeline.events[-1]["end"] == 1200.08


def test_lines_without_a_time_continue_the_event_above_and_a_preamble_is_not_an_event() -> None:
    answer = "Here is what happens:\n\n[0:01] A door opens.\nSomeone enters.\n\n[0:04] They sit down."
    timeline = ev.parse_events(answer, 0, 10)
    assert [e["text"] for e in timeline.events] == ["A door opens.\nSomeone enters.", "They sit down."]


def test_times_past_the_end_or_back_in_time_are_dropped_and_counted_with_their_lines() -> None:
    answer = (
        "[0:02] Two\n[0:08] Eight\n[0:05] Back in time\nits next line\n[0:10.5] Just past\n[0:12] Far past"
    )
    timeline = ev.parse_events(answer, 0, 10)
    assert timeline.dropped == 2  # 0:05 goes back, 0:12 is more than 1 s past the end
    assert [e["text"] for e in timeline.events] == ["Two", "Eight", "Just past"]
    assert timeline.events[-1]["start"] == 10 == timeline.events[-1]["end"]  # within 1 s: clamped
    assert timeline.events[1]["end"] == 10  # the dropped line does not end the event above it


def test_a_time_with_no_text_only_ends_the_event_before_it() -> None:
    timeline = ev.parse_events("[0:01] One\n[0:03]\n[0:06] Two", 0, 9)
    assert [(e["start"], e["end"]) for e in timeline.events] == [(1, 3), (6, 9)]


def test_an_answer_without_times_has_no_events() -> None:
    assert ev.parse_events("A man walks in.\nHe sits down.", 0, 30) == ev.Timeline([], 0)


def test_the_instruction_follows_the_prompt() -> None:
    text = ev.with_instruction("Describe this video.")
    assert text.startswith("Describe this video.\n\n")
    assert text.endswith(ev.INSTRUCTION)
    assert "[mm:ss]" in ev.INSTRUCTION and "[h:mm:ss]" in ev.INSTRUCTION


def _check(timeline: ev.Timeline, start: float, end: float) -> None:
    assert timeline.dropped >= 0
    starts = [e["start"] for e in timeline.events]
    assert starts == sorted(starts)
    for e in timeline.events:
        assert start <= e["start"] <= e["end"] <= end
        assert e["text"].strip()


_bounds = st.tuples(
    st.floats(min_value=0, max_value=10 * 3600, allow_nan=False), st.floats(min_value=0, max_value=3600)
)


@settings(max_examples=300)
@given(st.text(), _bounds)
def test_the_parser_never_raises_on_any_text(answer: str, bounds: tuple[float, float]) -> None:
    start, length = bounds
    _check(ev.parse_events(answer, start, start + length), start, start + length)


_stamp = st.builds(
    lambda s, hours, bracket: (times.clock(s) if hours else f"{int(s) // 60}:{int(s) % 60:02d}").join(
        bracket
    ),
    st.integers(min_value=0, max_value=2 * 3600),
    st.booleans(),
    st.sampled_from([("[", "]"), ("**[", "]**"), ("(", ")"), ("", " -")]),
)
_line = st.one_of(
    st.builds(lambda t, text: f"{t} {text}", _stamp, st.text(max_size=20)),
    st.builds(lambda a, b, text: f"[{a[1:-1]}-{b[1:-1]}] {text}", _stamp, _stamp, st.text(max_size=10)),
    st.text(max_size=30),
)


@settings(max_examples=300)
@given(st.lists(_line, max_size=30), _bounds)
def test_timed_answers_give_events_in_time_order_within_their_part(
    lines: list[str], bounds: tuple[float, float]
) -> None:
    start, length = bounds
    timeline = ev.parse_events("\n".join(lines), start, start + length)
    _check(timeline, start, start + length)
    timed = sum(ev.read_head(line) is not None for line in "\n".join(lines).splitlines())
    assert len(timeline.events) + timeline.dropped <= timed


@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=20).map(sorted))
def test_every_time_in_order_within_the_part_is_kept(seconds: list[int]) -> None:
    answer = "\n".join(f"[{times.clock(s)}] event {i}" for i, s in enumerate(seconds))
    timeline = ev.parse_events(answer, 100, 3100)
    assert timeline.dropped == 0
    assert [e["start"] for e in timeline.events] == [100 + s for s in seconds]


# -- the writers, read back by real parsers ------------------------------------------------------------------

EVENTS: list[ev.Event] = [
    {"start": 0.0, "end": 4.5, "text": "A door opens."},
    {"start": 4.5, "end": 65.25, "text": "Tom & Jerry <run>\nacross the room."},
    {"start": 3723.046, "end": 3730.0, "text": "An arrow --> points\n\n\nright"},
]


def test_srt_reads_back_with_the_srt_package() -> None:
    cues = list(srt.parse(sub.to_srt(EVENTS)))
    assert [c.index for c in cues] == [1, 2, 3]
    assert [(c.start.total_seconds(), c.end.total_seconds()) for c in cues] == [
        (e["start"], e["end"]) for e in EVENTS
    ]
    assert cues[1].content == EVENTS[1]["text"]
    assert cues[2].content == "An arrow -> points\nright"  # no blank line or arrow ends a cue early


def test_vtt_reads_back_with_webvtt_py() -> None:
    text = sub.to_vtt(EVENTS)
    assert text.splitlines()[0] == "WEBVTT"
    captions = webvtt.from_string(text, strict=True).captions
    assert [(c.start, c.end) for c in captions] == [
        ("00:00:00.000", "00:00:04.500"),
        ("00:00:04.500", "00:01:05.250"),
        ("01:02:03.046", "01:02:10.000"),
    ]
    assert html.unescape(captions[1].text) == EVENTS[1]["text"]


_event_lists = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=99 * 3600, allow_nan=False),
        st.floats(min_value=0, max_value=600, allow_nan=False),
        st.text(min_size=1, max_size=40).filter(str.strip),
    ),
    max_size=15,
).map(
    lambda items: [
        ev.Event(start=s, end=s + d, text=t) for s, d, t in sorted(items, key=lambda item: item[0])
    ]
)


@settings(max_examples=150)
@given(_event_lists)
def test_any_events_make_srt_and_vtt_that_real_parsers_read_to_the_millisecond(
    events: list[ev.Event],
) -> None:
    cues = list(srt.parse(sub.to_srt(events)))
    captions = webvtt.from_string(sub.to_vtt(events), strict=True).captions
    assert len(cues) == len(captions) == len(events)
    for cue, caption, e in zip(cues, captions, events, strict=True):
        assert math.isclose(cue.start.total_seconds(), e["start"], abs_tol=0.0005001)
        assert math.isclose(caption.end_time.in_milliseconds() / 1000, e["end"], abs_tol=0.0005001)
        assert cue.content.strip()


def test_chapters_start_at_zero_one_line_per_event() -> None:
    events: list[ev.Event] = [
        {"start": 2.4, "end": 192, "text": "Intro"},
        {"start": 192.4, "end": 3723, "text": "The  main\ntopic"},
        {"start": 3723, "end": 3800, "text": "Questions"},
    ]
    assert sub.to_chapters(events).splitlines() == [
        "0:00:00 Intro",
        "0:03:12 The main topic",
        "1:02:03 Questions",
    ]


def test_text_puts_each_event_under_its_time_and_reads_back() -> None:
    text = sub.to_text(EVENTS)
    assert text.splitlines()[:3] == [
        "[0:00:00] A door opens.",
        "[0:00:05] Tom & Jerry <run>",
        "across the room.",
    ]
    again = ev.parse_events(text, 0, 3730)
    assert [e["start"] for e in again.events] == [math.floor(e["start"] + 0.5) for e in EVENTS]


def test_write_picks_the_writer_and_the_chapters_preset_asks_for_titles() -> None:
    assert sub.write("srt", EVENTS) == sub.to_srt(EVENTS)
    assert set(sub.WRITERS) == {"srt", "vtt", "chapters", "text"}
    assert "title" in sub.CHAPTERS_PRESET and "scene or topic" in sub.CHAPTERS_PRESET
    assert sub.to_srt([]) == "" and sub.to_vtt([]) == "WEBVTT\n\n"
