"""Start-up time of `mimo --version` and `mimo --help`, against `python -c "import typer"`.

Each command runs N times, interleaved so that a busy machine slows all alike; the medians are compared.

    python benchmarks/startup.py [N]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

# The `mimo` script next to this Python (what a user runs), else `python -m mimo_cli`.
_script = shutil.which("mimo", path=os.path.dirname(sys.executable))
MIMO = [_script] if _script else [sys.executable, "-m", "mimo_cli"]


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    commands = {
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
        "mimo --version": [*MIMO, "--version"],
        "mimo --help": [*MIMO, "--help"],
        "mimo describe --help": [*MIMO, "describe", "--help"],
    }
    for argv in commands.values():  # warm the page cache and .pyc files
        timed(argv)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(n):
        for name, argv in commands.items():
            samples[name].append(timed(argv))
    base = statistics.median(samples['python -c "import typer"'])
    print(f"{'command':26} {'median':>9} {'ratio':>7}   (n={n})")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:26} {median * 1000:7.1f}ms {median / base:6.2f}x")
    ratio = statistics.median(samples["mimo --version"]) / base
    print(f"\nmimo --version takes {ratio:.2f}x the time of importing typer (target: at most 1.3x).")


if __name__ == "__main__":
    main()
