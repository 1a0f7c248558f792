"""Planning a 100,000-file tree: mimo's planner against a plain walk-sort-hash of the same names.

The floor is what any planner must do at least, written plainly in Python in the same process: walk the tree
(os.walk), keep the names with a video extension, sort them, hash each for its shard. mimo's planner does
that and more (hidden entries, globs, duplicates through symlinks, sidecar places). Goal: within 2x of the
floor in time, and memory linear and small per file (tracemalloc's peak, divided by the files).

Run: python benchmarks/batch_plan.py [FILES]      (the tree is made once in benchmarks/.work/)
"""

from __future__ import annotations

import gc
import hashlib
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

WORK = Path(__file__).resolve().parent / ".work"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

try:  # the package layout of 0.2
    from mimo_cli.batch.plan import plan
except ImportError:  # 0.1
    from mimo_cli.batch import plan  # type: ignore[no-redef]

EXTS = {".mp4", ".mov", ".webm", ".mkv", ".avi"}


def make_tree(count: int) -> Path:
    """``count`` empty files below WORK/plan-COUNT: 100 folders in 10 groups; one file in 10 not a video."""
    root = WORK / f"plan-{count}"
    marker = root / ".complete"
    if marker.exists():
        return root
    for i in range(count):
        folder = root / f"group{i % 10}" / f"shoot{i % 100:03d}"
        if i < 100:
            folder.mkdir(parents=True, exist_ok=True)
        ext = ".txt" if i % 10 == 9 else (".mp4", ".mov", ".MP4")[i % 3]
        (folder / f"take-{i:07d}{ext}").touch()
    marker.touch()
    return root


def floor(root: str, n: int) -> list[str]:
    """Walk, filter by extension, sort, hash: the least a planner must do."""
    names = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if os.path.splitext(name)[1].lower() in EXTS:
                names.append(os.path.join(dirpath, name))
    names.sort()
    return [s for s in names if int.from_bytes(hashlib.sha256(s.encode()).digest()[:8], "big") % n == 0]


def mimo(root: str, n: int) -> list[Any]:
    return plan([root], shard=(1, n))


def timed(func: Callable[[str, int], list[Any]], root: str) -> float:
    gc.collect()
    started = time.perf_counter()
    func(root, 4)
    return time.perf_counter() - started


def peak(func: Callable[[str, int], list[Any]], root: str) -> int:
    gc.collect()
    tracemalloc.start()
    func(root, 4)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    root = str(make_tree(count))
    videos = sum(1 for i in range(count) if i % 10 != 9)
    times: dict[str, list[float]] = {"floor": [], "mimo": []}
    for _ in range(3):  # interleaved, best of 3: the machine is shared
        times["floor"].append(timed(floor, root))
        times["mimo"].append(timed(mimo, root))
    best = {k: min(v) for k, v in times.items()}
    peaks = {"floor": peak(floor, root), "mimo": peak(mimo, root)}
    print(f"{count:,} files ({videos:,} videos), --shard 1/4:")
    for name in ("floor", "mimo"):
        print(f"  {name:5}  {best[name]:6.2f} s  {best[name] / best['floor']:5.2f}x   "
              f"peak {peaks[name] / 2**20:6.1f} MiB = {peaks[name] / count:5.0f} B per file")  # fmt: skip
    print(f"goal: mimo within 2x of the floor: {best['mimo'] / best['floor']:.2f}x")


if __name__ == "__main__":
    main()
