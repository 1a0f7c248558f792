"""Benchmark --fit: fitting a 60 s 1080p clip into the 10 MiB inline limit, against plain ffmpeg.

    python benchmarks/fit_1080p.py [--runs N] [--source FILE]

Makes (once, in benchmarks/.work/) a 60 s 1920×1080 30 fps H.264 + AAC clip, then alternates N times:

- mimo: ``core.open_video(clip, Settings(fit=True))``: probe, plan, encode (and any retry), probe the
  result for the notice, as `mimo describe clip.mp4 --fit` does before it sends;
- ffmpeg: one run of the very ffmpeg command mimo's final encode used, with nothing around it.

Reports the best and median wall time of each, the ratio mimo / ffmpeg, the time mimo adds, and where
the data URI landed against the limit. Not run by pytest. Figures go to README.md "Performance".
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mimo_cli.core import open_video as resolve_input  # noqa: E402
from mimo_cli.ffmpeg import convert as fit  # noqa: E402
from mimo_cli.settings import Settings  # noqa: E402

WORK = ROOT / "benchmarks" / ".work"


def make_source() -> Path:
    path = WORK / "source_1080p_60s.mp4"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    print("making a 60 s 1080p clip (once; takes a minute or two)…", file=sys.stderr)
    tmp = path.with_suffix(".part.mp4")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30:d=60,noise=alls=4:allf=t",
         "-f", "lavfi", "-i", "sine=f=440:d=60",
         "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(tmp)],
        check=True,
    )  # fmt: skip
    tmp.rename(path)
    return path


def cpu() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg, ffprobe)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_mimo(source: Path, settings: Settings) -> tuple[float, float, list[list[str]], int, float]:
    """One ``resolve_input`` with --fit: wall time, CPU time, the encode commands, the URI length, and the
    wall time of the encodes themselves (the rest is what mimo adds: probes, planning, Python)."""
    encodes: list[list[str]] = []
    encode_s: list[float] = []
    real_run = fit._run

    def spy(args: Any) -> Any:
        if "libx264" not in args:
            return real_run(args)
        encodes.append(list(args))
        started = time.perf_counter()
        try:
            return real_run(args)
        finally:
            encode_s.append(time.perf_counter() - started)

    fit._run = spy  # type: ignore[assignment]
    try:
        started, started_cpu = time.perf_counter(), cpu()
        video = resolve_input(str(source), settings)
        elapsed, used = time.perf_counter() - started, cpu() - started_cpu
    finally:
        fit._run = real_run  # type: ignore[assignment]
    length = video.url_length()
    video.close()
    return elapsed, used, encodes, length, sum(encode_s)


def run_ffmpeg(args: list[str], out: Path) -> tuple[float, float]:
    args = [*args[:-1], str(out)]
    started, started_cpu = time.perf_counter(), cpu()
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    elapsed, used = time.perf_counter() - started, cpu() - started_cpu
    out.unlink()
    return elapsed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", type=Path, help="a video to fit instead of the generated clip")
    args = parser.parse_args()
    if not shutil.which("ffmpeg"):
        sys.exit("needs ffmpeg on PATH")
    source = args.source or make_source()
    settings = Settings(fit=True)
    mimo_times: list[float] = []
    ffmpeg_times: list[float] = []
    mimo_cpu: list[float] = []
    ffmpeg_cpu: list[float] = []
    added: list[float] = []
    retries = 0
    length = 0
    for i in range(args.runs):
        elapsed, used, encodes, length, encoding = run_mimo(source, settings)
        added.append(elapsed - encoding)
        mimo_times.append(elapsed)
        mimo_cpu.append(used)
        retries = max(retries, len(encodes) - 1)
        with tempfile.TemporaryDirectory() as tmp:
            elapsed, used = run_ffmpeg(encodes[-1], Path(tmp) / "out.mp4")
        ffmpeg_times.append(elapsed)
        ffmpeg_cpu.append(used)
        print(f"run {i + 1}: mimo {mimo_times[-1]:.2f} s ({mimo_cpu[-1]:.2f} s CPU), "
              f"ffmpeg {ffmpeg_times[-1]:.2f} s ({ffmpeg_cpu[-1]:.2f} s CPU)", file=sys.stderr)  # fmt: skip
    tools = fit.locate()
    assert tools is not None
    probe_started = time.perf_counter()
    fit.probe(tools, source, source.name)
    probe_s = time.perf_counter() - probe_started
    best_m, best_f = min(mimo_times), min(ffmpeg_times)
    med_m, med_f = statistics.median(mimo_times), statistics.median(ffmpeg_times)
    cpu_m, cpu_f = statistics.median(mimo_cpu), statistics.median(ffmpeg_cpu)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"ffmpeg: {fit.locate()}")  # fmt: skip
    print(f"source: {source.name}, {source.stat().st_size / 1e6:.1f} MB")
    print(f"final encode: {' '.join(encodes[-1][1:])}")
    print(f"result: data URI {length:,} chars = {length / settings.inline_limit:.1%} of the limit; "
          f"retries: {retries}")  # fmt: skip
    print(f"mimo --fit: best {best_m:.2f} s, median {med_m:.2f} s")
    print(f"ffmpeg alone: best {best_f:.2f} s, median {med_f:.2f} s")
    print(f"ratio (best): {best_m / best_f:.3f}; (median): {med_m / med_f:.3f}; "
          f"mimo adds {best_m - best_f:+.2f} s (best)")  # fmt: skip
    print(f"mimo's own work around ffmpeg in the same runs (probes, planning, Python): "
          f"{statistics.median(added):.3f} s median, {max(added):.3f} s at most = "
          f"{max(added) / min(mimo_times):.1%} of the run")  # fmt: skip
    print(f"CPU time (median): mimo {cpu_m:.2f} s, ffmpeg {cpu_f:.2f} s, ratio {cpu_m / cpu_f:.3f}")
    print(f"one probe of the source: {probe_s * 1000:.0f} ms (mimo probes the source and the result)")


if __name__ == "__main__":
    main()
