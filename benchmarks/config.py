"""What the config file costs: `mimo describe --dry-run` with and without a profile, and one shell completion.

Run by hand: python benchmarks/config.py [N]. Prints medians of N interleaved runs and ratios against
`mimo --help` and against the same command without a config file, all measured in this run.
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
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mimo_cli", *args], env={**os.environ, **env}, capture_output=True,
                   check=False)  # fmt: skip
    return time.perf_counter() - started


def medians_ms(cases: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, float]:
    """Run the cases interleaved (a busy machine slows all alike) and return each one's median."""
    for args, env in cases.values():  # warm the page cache and .pyc files
        timed(args, env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(RUNS):
        for name, (args, env) in cases.items():
            samples[name].append(timed(args, env))
    return {name: statistics.median(times) * 1000 for name, times in samples.items()}


def in_process_ms(config: Path) -> tuple[float, float, float]:
    """Importing tomllib, and the median time of resolve() alone and of load_settings() with the file."""
    started = time.perf_counter()
    import tomllib  # noqa: F401  (what the first read of a config file pays once)

    import_ms = (time.perf_counter() - started) * 1000
    from mimo_cli.config_file import load_settings
    from mimo_cli.settings import resolve

    env = {"MIMO_CONFIG": str(config), "MIMO_PROFILE": "p7"}

    def median(fn: object) -> float:
        times = []
        for _ in range(200):
            t = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    return import_ms, median(lambda: resolve({}, {})), median(lambda: load_settings({}, env=env))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        profiles = "".join(
            f'[profiles.p{i}]\nbase_url = "https://gw{i}.example/v1"\napi_key = "sk-{i:024d}"\nfps = 1\n\n'
            for i in range(20)
        )
        config.write_text(profiles + '[presets]\nbrief = "Be brief."\n')
        dry = ["describe", str(CLIP), "--dry-run"]
        m = medians_ms({
            "help": (["--help"], {}),
            "without": (dry, {"MIMO_CONFIG": str(Path(tmp) / "none.toml")}),
            "with": (dry, {"MIMO_CONFIG": str(config), "MIMO_PROFILE": "p7"}),
            "completion": ([], {"MIMO_CONFIG": str(config), "_MIMO_COMPLETE": "complete_bash",
                                "COMP_WORDS": "mimo describe --profile p", "COMP_CWORD": "3"}),
        })  # fmt: skip
        help_, without, with_profile, completion = m["help"], m["without"], m["with"], m["completion"]
        parse_ms = in_process_ms(config)
    print(f"mimo --help (the file is not read)      {help_:6.0f} ms")
    print(f"describe --dry-run, no config file      {without:6.0f} ms")
    print(f"describe --dry-run, 20-profile file     {with_profile:6.0f} ms  ({with_profile / without:.2f}x)")
    print(f"one completion of --profile             {completion:6.0f} ms  ({completion / help_:.2f}x --help)")
    tomllib_ms, resolve_ms, load_ms = parse_ms
    print(
        f"in process: import tomllib {tomllib_ms:.1f} ms once; resolve() {resolve_ms * 1000:.0f} µs; "
        f"load_settings() with the 20-profile file {load_ms * 1000:.0f} µs ({load_ms / resolve_ms:.0f}x)"
    )


if __name__ == "__main__":
    main()
