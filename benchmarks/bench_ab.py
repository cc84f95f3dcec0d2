"""Two versions of the label pass side by side: a git ref against the working tree, in fresh
processes taken in turn (A, B, A, B, …), so a drift of the host's speed between runs falls on
both alike. This host's speed drifts by ±15 % over minutes: a before/after claim needs this,
not two separate runs of bench_mask.py.

    python benchmarks/bench_ab.py c998f2c                    # 8192² × 3 dense, 12 pairs
    python benchmarks/bench_ab.py HEAD~3 --size 16384 --pairs 6

Each run is ``bench_mask.py``'s ``ours`` child in plugin mode (every channel's pass,
``check_labels`` and ``check_pyramid_labels``; the mask opened untimed just before, as the
plugin opens it at collection), with the ref's package first on the path. Printed per version:
CPU s (mean, median, min), median wall s, cores (CPU / wall over all runs), highest peak RSS;
then the paired difference B − A.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent / "bench_mask.py"


def run(tree: Path, mask: Path, workers: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, str(BENCH), "--child", "ours", str(mask), str(workers), "plugin"],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(name: str, runs: list[dict]) -> str:
    cpu = [r["cpu"] for r in runs]
    wall = [r["wall"] for r in runs]
    return (f"{name}  CPU s mean {statistics.mean(cpu):.3f} median {statistics.median(cpu):.3f} "
            f"min {min(cpu):.3f} | wall s median {statistics.median(wall):.3f} | "
            f"cores {sum(cpu) / sum(wall):.2f} | peak RSS {max(r['rss'] for r in runs):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ref", help="the git ref of version A (B is the working tree)")
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--kind", default="dense", choices=["dense", "sparse"])
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    mask = Path(tempfile.gettempdir()) / f"segmask-bench-{args.kind}-{args.size}-3.ome.tiff"
    if not mask.exists():
        subprocess.run([sys.executable, str(BENCH), "--child", "write", str(mask), str(args.size), "3", "4", args.kind],
                       check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "--short", args.ref], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="segmask-ab-") as tmp:
        tree = Path(tmp) / "a"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), commit], cwd=REPO, check=True)
        try:
            print(f"# bench_ab.py — {time.strftime('%Y-%m-%d %H:%M')} — {args.size}² × 3 {args.kind}, "
                  f"{args.pairs} pairs, load average at start {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
            run(tree, mask, args.workers)  # each version compiles or loads its kernels once, untimed
            run(REPO, mask, args.workers)
            a, b = [], []
            for _ in range(args.pairs):
                a.append(run(tree, mask, args.workers))
                b.append(run(REPO, mask, args.workers))
            assert all(r["objects"] == a[0]["objects"] for r in a + b), "the versions disagree on the objects"
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
    print(summary(f"A {commit:>12}", a))
    print(summary(f"B {'work tree':>12}", b))
    diff = [y["cpu"] - x["cpu"] for x, y in zip(a, b)]
    print(f"B − A CPU s: mean {statistics.mean(diff):+.3f} ({statistics.mean(diff) / statistics.mean(r['cpu'] for r in a):+.1%}), "
          f"median {statistics.median(diff):+.3f}; B used less CPU in {sum(d < 0 for d in diff)} of {len(diff)} pairs")
    print(f"load average at end {', '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
