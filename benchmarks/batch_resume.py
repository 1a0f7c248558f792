"""Re-running a finished batch of 1,000 inputs with --resume: sends nothing, takes under 2 s.

Baseline, in the same process: `mimo --version` (the interpreter and the CLI's start).
Run: python benchmarks/batch_resume.py
"""

from __future__ import annotations

import statistics

from batch_common import WORK, FakeServer, make_tree, run_mimo

N = 1000


def main() -> None:
    tree = make_tree("resume", N)
    out = WORK / "r.jsonl"
    out.unlink(missing_ok=True)
    with FakeServer() as server:
        _, code, _ = run_mimo(["batch", str(tree), "-j", "16", "-o", str(out)], server)
        assert code == 0 and len(server.received) == N, (code, len(server.received))
        version = statistics.median(run_mimo(["--version"], server)[0] for _ in range(3))
        walls = []
        for _ in range(3):
            wall, code, _ = run_mimo(["batch", str(tree), "-o", str(out), "--resume"], server)
            assert code == 0, code
            walls.append(wall)
        assert len(server.received) == N, "--resume sent something"
    wall = statistics.median(walls)
    print(f"--resume over {N} finished inputs: {wall:.2f} s (median of 3; target < 2 s), 0 requests sent; "
          f"mimo --version takes {version:.2f} s ({wall / version:.1f} x)")  # fmt: skip


if __name__ == "__main__":
    main()
