"""Peak RSS of mimo batch over 7 MB videos: -j 8 vs -j 1 (target: at most 16 MB more).

Run: python benchmarks/batch_memory.py
"""

from __future__ import annotations

from batch_common import WORK, ServerProcess, make_tree, run_mimo

N, SIZE = 16, 7 * 1024 * 1024


def main() -> None:
    tree = make_tree("memory", N, SIZE)
    peaks = {}
    with ServerProcess(delay=0.3) as server:
        for jobs in (1, 8, 1, 8):
            _, code, rss = run_mimo(
                ["batch", str(tree), "-j", str(jobs), "-o", str(WORK / "m.jsonl")], server
            )
            assert code == 0, code
            peaks[jobs] = min(peaks.get(jobs, rss), rss)
    extra = (peaks[8] - peaks[1]) / 1024
    print(f"{N} videos of {SIZE / 2**20:.0f} MiB: peak RSS -j 1 {peaks[1] / 1024:.1f} MiB, "
          f"-j 8 {peaks[8] / 1024:.1f} MiB: +{extra:.1f} MiB (target <= +16 MB)")  # fmt: skip


if __name__ == "__main__":
    main()
