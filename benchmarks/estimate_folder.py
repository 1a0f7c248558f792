"""How long estimating a folder of 1,000 videos takes without ffmpeg (container headers only).

    python benchmarks/estimate_folder.py [N]

Makes N files (default 1,000) in a temp folder: copies of small MP4 (moov first and moov at the end),
MOV, AVI and WMV files made with ffmpeg when it is there, else of the test fixture clip.mp4. Then,
in this one process, times (a) a plain os.walk + stat of the folder and (b) walking it and estimating
every file from its header. Prints both, and (b) as a ratio of (a). Exits 1 when (b) takes 1 s or more.
Run it once, not in a loop: the machine is shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mimo_cli.estimate import header_facts  # noqa: E402
from mimo_cli.estimate.tokens import estimate  # noqa: E402

SOURCES = {
    "moov_end.mp4": ["-c:v", "mpeg4", "-c:a", "aac"],
    "moov_first.mp4": ["-c:v", "mpeg4", "-c:a", "aac", "-movflags", "+faststart"],
    "clip.mov": ["-c:v", "mpeg4", "-c:a", "pcm_s16le"],
    "clip.avi": ["-c:v", "mpeg4", "-c:a", "pcm_s16le"],
    "clip.wmv": ["-c:v", "wmv2", "-c:a", "wmav2"],
}


def sources(into: Path) -> list[Path]:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return [ROOT / "tests" / "fixtures" / "clip.mp4"]
    made = []
    for name, codecs in SOURCES.items():
        target = into / name
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=5:d=4",
             "-f", "lavfi", "-i", "sine=d=4:sample_rate=8000", *codecs, "-shortest", str(target)],
            check=True, timeout=60,
        )  # fmt: skip
        made.append(target)
    return made


def walk_stat(folder: Path) -> int:
    n = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            os.stat(os.path.join(root, name))
            n += 1
    return n


def walk_estimate(folder: Path) -> int:
    tokens = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            facts = header_facts(os.path.join(root, name))
            tokens += estimate([facts], "Describe this video.").prompt_tokens or 0
    return tokens


def timed(fn: object, folder: Path) -> float:
    best = float("inf")
    for _ in range(3):  # the best of three: the first run warms the page cache for both
        start = time.perf_counter()
        fn(folder)  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        made = sources(Path(tmp))
        folder = Path(tmp) / "videos"
        for i in range(count):
            sub = folder / f"d{i // 100:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            src = made[i % len(made)]
            shutil.copyfile(src, sub / f"v{i:04d}{src.suffix}")
        unknown = sum(header_facts(p).duration_s is None for p in folder.rglob("*") if p.is_file())
        plain = timed(walk_stat, folder)
        headers = timed(walk_estimate, folder)
    print(f"{count} files ({', '.join(p.name for p in made)}), {unknown} without a duration")
    print(f"os.walk + stat:        {plain * 1000:8.1f} ms")
    print(f"os.walk + estimate:    {headers * 1000:8.1f} ms  ({headers / plain:.1f} x walk + stat)")
    return 0 if headers < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
