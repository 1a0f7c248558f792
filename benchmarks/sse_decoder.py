"""The SSE reader in linear time: one 4 MB event in 1 KiB chunks against the same bytes as small events.

    python benchmarks/sse_decoder.py            # prints the medians; exits 1 if the ratio is over 2

mimo 0.1 re-split its whole buffer on every chunk: one 4 MB event cost 10.6 s (a 32 MB line 45 s). The
decoder of ``mimo_cli.transport.sse`` (modelled on openai-python's ``_SSELineDecoder``) scans each chunk
once and keeps only the unfinished line, so the one big event should cost about what the small ones do.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import TYPE_CHECKING

from mimo_cli.transport.response import Accumulator, read_stream

if TYPE_CHECKING:
    from collections.abc import Iterable

SIZE = 4 * 1024 * 1024
CHUNK = 1024
RUNS = 5


def chunks(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def event(text: str, finish: str | None = None) -> bytes:
    body = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def one_big() -> bytes:
    return event("x" * SIZE) + event("", "stop") + b"data: [DONE]\n\n"


def many_small() -> bytes:
    piece = 4000  # the same text in events of about 4 KB
    return (
        b"".join(event("x" * piece) for _ in range(SIZE // piece)) + event("", "stop") + b"data: [DONE]\n\n"
    )


def timed(parts: Iterable[bytes]) -> float:
    parts = list(parts)
    acc = Accumulator("mimo")
    started = time.perf_counter()
    read_stream(parts, acc)
    elapsed = time.perf_counter() - started
    assert len(acc.finish().answer) >= SIZE - 4000
    return elapsed


def main() -> int:
    big, small = chunks(one_big()), chunks(many_small())
    big_times, small_times = [], []
    for _ in range(RUNS):  # interleaved, so that a busy machine weighs on both alike
        big_times.append(timed(big))
        small_times.append(timed(small))
    b, s = statistics.median(big_times), statistics.median(small_times)
    print(f"one 4 MB event in {len(big):,} chunks of {CHUNK} B: {b * 1000:.0f} ms (median of {RUNS})")
    print(f"the same bytes as {SIZE // 4000:,} events of 4 KB:   {s * 1000:.0f} ms")
    print(f"ratio {b / s:.2f} (the goal: at most 2)")
    return 0 if b <= 2 * s else 1


if __name__ == "__main__":
    sys.exit(main())
