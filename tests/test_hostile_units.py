"""The pure pieces behind the hostile-server tests: the linear SSE line decoder splits exactly as 0.1's
``iter_lines`` did (property tests against a copy of it), the caps name their limit, and the text a server
sends is cleaned and redacted the same whether it comes whole or in pieces."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from conftest import KEY
from hypothesis import given, settings
from hypothesis import strategies as st

from mimo_cli.errors import Kind, MimoError
from mimo_cli.redact import StreamCleaner, StreamRedactor, register_secret, shown, strip_controls
from mimo_cli.transport.sse import LineDecoder, iter_lines, iter_sse_events

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator


def old_iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """mimo 0.1's splitter, kept as the reference (it re-split its whole buffer on every chunk)."""
    buffer = b""
    for chunk in chunks:
        if not chunk:
            continue
        buffer += chunk
        if buffer.endswith(b"\r"):
            parts = re.split(rb"\r\n|\r|\n", buffer[:-1])
            buffer = parts.pop() + b"\r"
        else:
            parts = re.split(rb"\r\n|\r|\n", buffer)
            buffer = parts.pop()
        for line in parts:
            yield line.decode("utf-8", errors="replace")
    if buffer:
        for line in re.split(rb"\r\n|\r|\n", buffer.rstrip(b"\r")):
            yield line.decode("utf-8", errors="replace")


PIECES = st.sampled_from([b"a", b"data: {}", b"\r", b"\n", b"\r\n", b"\n\n", b"\xe4\xb8", b"\xad", b":", b""])
STREAMS = st.lists(PIECES, max_size=30).map(b"".join)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[i:j] for i, j in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=600)
@given(STREAMS, st.lists(st.integers(0, 300), max_size=8))
def test_the_line_decoder_splits_exactly_as_0_1_did(data: bytes, cuts: list[int]) -> None:
    chunks = chunked(data, cuts)
    assert list(iter_lines(chunks)) == list(old_iter_lines(chunks))
    assert list(iter_lines(chunks)) == list(iter_lines([data]))  # and however the bytes are cut


@settings(max_examples=200)
@given(STREAMS, st.lists(st.integers(0, 300), max_size=8))
def test_events_are_the_same_however_the_stream_is_cut(data: bytes, cuts: list[int]) -> None:
    whole = list(iter_sse_events(iter_lines([data])))
    assert list(iter_sse_events(iter_lines(chunked(data, cuts)))) == whole


def test_a_line_or_an_event_over_its_cap_is_a_bad_response_naming_it() -> None:
    decoder = LineDecoder(max_line=1024)
    assert list(decoder.feed(b"x" * 1000 + b"\n")) == ["x" * 1000]
    with pytest.raises(MimoError) as line:
        list(decoder.feed(b"y" * 1025))
    assert (
        line.value.kind is Kind.BAD_RESPONSE and "an SSE line is over the 1 KiB limit" in line.value.message
    )
    lines = ["data: " + "z" * 100] * 20
    with pytest.raises(MimoError) as event:
        list(iter_sse_events(lines, max_event=1000))
    assert "an SSE event is over" in event.value.message
    assert len(list(iter_sse_events([*lines[:5], ""], max_event=1000))) == 1  # an event under it is fine


# -- what is shown of a server's text ---------------------------------------------------------------------

SEQUENCES = ["\x1b[0m", "\x1b]0;title\x07", "\x1b]52;c;aGk=\x1b\\", "\x1b[2J", "\x00", "\x9b1m", "\x1bc"]


@pytest.mark.parametrize("seq", SEQUENCES)
def test_a_key_split_by_a_sequence_is_whole_again_and_redacted(seq: str) -> None:
    register_secret(KEY)
    assert shown(f"a {KEY[:9]}{seq}{KEY[9:]} b") == "a *** b"
    assert strip_controls(f"tab\there{seq}\nline") == "tab\there\nline"


def test_redacted_before_it_is_cut_and_a_piece_at_the_cut_counts_as_the_key() -> None:
    register_secret(KEY)
    for at in range(80, 101):
        text = "x" * at + KEY + " tail"
        out = shown(text, 100)
        assert len(out) <= 100 and not any(KEY[i : i + 4] in out for i in range(len(KEY) - 3))
    assert shown("cut inside " + KEY[:12]) == "cut inside ***"  # cut before it got here
    assert shown("ends in sk") == "ends in sk"  # three characters or fewer are not a piece of it


TEXT = st.lists(st.sampled_from(["a", "b", " ", "\n", "\t", "\x1b", "[", "]", "0", ";", "m", "J", "\x07", "\\",
                                 "\x9b", "\x00", "\r", KEY[:5], KEY[5:]]), max_size=40).map("".join)  # fmt: skip


@settings(max_examples=400)
@given(TEXT, st.lists(st.integers(0, 60), max_size=6))
def test_cleaning_and_redacting_a_stream_in_pieces_is_the_same_as_whole(text: str, cuts: list[int]) -> None:
    register_secret(KEY)
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[i:j] for i, j in zip([0, *points], [*points, len(text)], strict=True)]
    cleaner, redactor = StreamCleaner(), StreamRedactor()
    out = "".join(redactor.feed(cleaner.feed(p)) for p in pieces)
    out += redactor.feed(cleaner.flush()) + redactor.flush()
    assert out == shown(text) or out == strip_controls(text).replace(KEY, "***")
    assert KEY not in out and not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", out)
