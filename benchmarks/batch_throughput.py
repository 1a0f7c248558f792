"""64 inputs against a server that answers in 0.3 s, with -j 8: wall time minus startup vs the ideal 2.4 s.

Baseline, in the same process: the seed documents' example (read the file, base64 it, POST the JSON,
one file after the other), with httpx instead of requests. Run: python benchmarks/batch_throughput.py
"""

from __future__ import annotations

import base64
import statistics
import time

import httpx
from batch_common import KEY, WORK, FakeServer, make_tree, run_mimo

N, DELAY, JOBS = 64, 0.3, 8


def seed_loop(server: FakeServer, files: list) -> float:
    """The documents' example in a loop: one blocking POST per file."""
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        for path in files:
            b64 = base64.b64encode(path.read_bytes()).decode()
            body = {
                "model": "mimo-v2-omni",
                "messages": [{"role": "user", "content": [
                    {"type": "video_url", "video_url": {"url": f"data:video/mp4;base64,{b64}"},
                     "fps": 2, "media_resolution": "default"},
                    {"type": "text", "text": "Describe this video."},
                ]}],
            }  # fmt: skip
            r = client.post(
                f"{server.url}/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
            )
            r.raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    tree = make_tree("throughput", N)
    files = sorted(tree.iterdir())
    with FakeServer() as server:
        # startup: the same command, planning the same inputs, sending nothing
        startup = statistics.median(run_mimo(["batch", str(tree), "--dry-run"], server)[0] for _ in range(3))
        server.response_delay = DELAY
        walls = []
        for _ in range(3):
            wall, code, _ = run_mimo(
                ["batch", str(tree), "-j", str(JOBS), "-o", str(WORK / "t.jsonl")], server
            )
            assert code == 0, code
            walls.append(wall)
        assert len(server.received) == 3 * N
        baseline = seed_loop(server, files)
    wall = statistics.median(walls)
    ideal = N * DELAY / JOBS
    print(f"inputs {N}, server delay {DELAY} s, -j {JOBS}; ideal {ideal:.2f} s")
    print(f"mimo batch: wall {wall:.2f} s (median of 3), startup {startup:.2f} s, "
          f"wall - startup {wall - startup:.2f} s = {(wall - startup) / ideal:.2f} x ideal (target <= 1.25)")  # fmt: skip
    print(
        f"seed example in a loop: {baseline:.2f} s = {baseline / (wall - startup):.1f} x slower than mimo batch"
    )


if __name__ == "__main__":
    main()
