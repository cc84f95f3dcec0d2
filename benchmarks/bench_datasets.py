"""Many datasets: serial vs ``-n 2`` wall time and total CPU (this process's children).

    python benchmarks/bench_datasets.py [--copies 40] [--big 8] [--size 3072]

Workloads: the example dataset alone; N copies of it; one generated dataset of
size² × 2 channels with 3 pyramid levels; M such datasets. Each run is a fresh
``python -m pytest`` process; CPU is user + system time of that process and its workers.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "kidney-demo"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(datasets: list[Path], cwd: Path, extra: list[str]) -> tuple[float, float, str]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(cwd),
            *[f"--segmask-dataset={d}" for d in datasets], *extra]
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    return wall, cpu, tail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--big", type=int, default=8)
    parser.add_argument("--size", type=int, default=3072)
    args = parser.parse_args()
    sys.path.insert(0, str(PROJECT))
    from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

    tmp = Path(tempfile.mkdtemp(prefix="bench-datasets-"))
    try:
        copies = []
        for i in range(args.copies):
            shutil.copytree(EXAMPLE, tmp / f"example-{i:02d}")
            copies.append(tmp / f"example-{i:02d}")
        big = []
        for i in range(args.big):
            spec = DatasetSpec(masks=(MaskSpec(width=args.size, height=args.size, tile=512, seed=i,
                                               channels=(ChannelSpec("cells", 4000), ChannelSpec("nuclei", 4000)),
                                               pyramid_levels=3),))
            write_dataset(spec, tmp / f"big-{i}")
            big.append(tmp / f"big-{i}")
        workloads = [
            ("the example dataset alone", [EXAMPLE]),
            (f"{args.copies} copies of the example", copies),
            (f"one dataset {args.size}² × 2 channels, 3 levels", big[:1]),
            (f"{args.big} datasets {args.size}² × 2 channels, 3 levels", big),
        ]
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
        print(f"{'workload':45} {'serial wall/CPU s':>18} {'-n 2 wall/CPU s':>18} {'wall ratio':>10} {'CPU ratio':>9}")
        for label, datasets in workloads:
            sw, sc, stail = run(datasets, tmp, ["-p", "no:xdist"])
            pw, pc, ptail = run(datasets, tmp, ["-n", "2"])
            print(f"{label:45} {sw:8.2f} / {sc:7.2f} {pw:8.2f} / {pc:7.2f} {pw / sw:10.2f} {pc / sc:9.2f}")
            if stail.split()[-3:] != ptail.split()[-3:] and "in" in stail:
                print(f"  outcomes: serial `{stail}` vs -n 2 `{ptail}`")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
