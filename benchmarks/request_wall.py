"""Wall time of one `mimo describe` against the seed documents' scripts doing the same request.

A 7.4 MB MP4 (its data URI just under 10 MiB), a local fake server that answers at once, no stream: what is
measured is everything a user waits for that is not the model — start-up, imports, reading and encoding the
video, sending it, reading the answer. Each client runs N times, interleaved, so that a busy machine slows
all alike; the medians are compared with the seed's `requests` script (the fastest of the seeds).

    python benchmarks/request_wall.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from fakeserver import FakeServer  # noqa: E402
from memory import SEED_HTTPX, SEED_OPENAI, SEED_REQUESTS, available, make_mp4  # noqa: E402

_script = shutil.which("mimo", path=os.path.dirname(sys.executable))
MIMO = [_script] if _script else [sys.executable, "-m", "mimo_cli"]


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMO_")}
    with FakeServer() as server, tempfile.TemporaryDirectory() as tmp:
        env.update(MIMO_BASE_URL=server.url, MIMO_API_KEY="sk-bench", NO_COLOR="1")
        clip = str(make_mp4(Path(tmp) / "large.mp4", 7_400_000))
        clients = {"mimo describe --no-stream": [*MIMO, "describe", clip, "--no-stream", "-q"],
                   "seed (httpx)": [sys.executable, "-c", SEED_HTTPX, clip, server.url]}  # fmt: skip
        if available("requests"):
            clients["seed (requests)"] = [sys.executable, "-c", SEED_REQUESTS, clip, server.url]
        if available("openai"):
            clients["seed (OpenAI SDK)"] = [sys.executable, "-c", SEED_OPENAI, clip, server.url]
        for argv in clients.values():  # warm the page cache and .pyc files
            timed(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(n):
            for name, argv in clients.items():
                samples[name].append(timed(argv, env))
                server.received.clear()  # the fake server keeps every body it received: not for N runs
    base_name = "seed (requests)" if "seed (requests)" in samples else "seed (httpx)"
    base = statistics.median(samples[base_name])
    print(f"{'client':28} {'median':>9} {'ratio':>7}   (n={n}, 7.4 MB MP4, against {base_name})")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:28} {median * 1000:7.0f}ms {median / base:6.2f}x")
    ratio = statistics.median(samples["mimo describe --no-stream"]) / base
    print(f"\none mimo request takes {ratio:.2f}x the seed's {base_name} script (goal: at most 1.0x).")


if __name__ == "__main__":
    main()
