"""What the config file costs: `mimo describe --dry-run` with and without a profile, and one shell completion.

Run by hand: python benchmarks/config.py. Prints medians and ratios against `mimo --version` and against
the same command without a config file, all measured in this run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLIP = Path(__file__).parent.parent / "tests" / "fixtures" / "clip.mp4"
RUNS = 15


def median_ms(args: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mimo_cli", *args], env={**os.environ, **env}, capture_output=True,
                       check=False)  # fmt: skip
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        profiles = "".join(
            f'[profiles.p{i}]\nbase_url = "https://gw{i}.example/v1"\napi_key = "sk-{i:024d}"\nfps = 1\n\n'
            for i in range(20)
        )
        config.write_text(profiles + '[presets]\nbrief = "Be brief."\n')
        version = median_ms(["--version"], {})
        dry = ["describe", str(CLIP), "--dry-run"]
        without = median_ms(dry, {"MIMO_CONFIG": str(Path(tmp) / "none.toml")})
        with_profile = median_ms(dry, {"MIMO_CONFIG": str(config), "MIMO_PROFILE": "p7"})
        completion = median_ms([], {"MIMO_CONFIG": str(config), "_MIMO_COMPLETE": "complete_bash",
                                    "COMP_WORDS": "mimo describe --profile p", "COMP_CWORD": "3"})  # fmt: skip
    print(f"mimo --version                          {version:6.0f} ms")
    print(f"describe --dry-run, no config file      {without:6.0f} ms")
    print(f"describe --dry-run, 20-profile file     {with_profile:6.0f} ms  ({with_profile / without:.2f}x)")
    print(
        f"one completion of --profile             {completion:6.0f} ms  ({completion / version:.2f}x --version)"
    )


if __name__ == "__main__":
    main()
