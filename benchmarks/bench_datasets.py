"""Many datasets: serial vs ``-n 2`` wall time and total CPU (this process's children).

    python benchmarks/bench_datasets.py [--copies 40] [--big 8] [--size 3072] [--python PATH]

``--python``: the interpreter whose pytest runs (default this one), e.g. a venv holding what a
curator installs — ``pip install pytest-segmask pytest-xdist``, without the test extra's
hypothesis, whose pytest plugin every pytest process would otherwise import.

Workloads: the example dataset alone; N copies of it; one generated dataset of
size² × 2 channels with 3 pyramid levels; M such datasets. Each run is a fresh
``python -m pytest`` process; CPU is user + system time of that process and its workers.

The children run as Python runs by default — with the bytecode cache — even where the
environment sets PYTHONDONTWRITEBYTECODE (each process would otherwise recompile pytest, its
plugins and their assertion rewriting, about 1 s of CPU per process, three times under -n 2);
one untimed run fills the cache first. The first line printed is the fixed cost of ``-n 2``
itself: a test file of trivial tests, serial vs ``-n 2``.
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


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


PYTHON = [sys.executable]


def run(datasets: list[Path], cwd: Path, extra: list[str]) -> tuple[float, float, str]:
    args = [PYTHON[0], "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(cwd),
            *[f"--segmask-dataset={d}" for d in datasets], *extra]
    cpu0, t0 = children_cpu(), time.perf_counter()
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=ENV)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    tail = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    return wall, cpu, tail


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--big", type=int, default=8)
    parser.add_argument("--size", type=int, default=3072)
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs pytest")
    args = parser.parse_args()
    PYTHON[0] = args.python
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
        trivial = tmp / "trivial"
        trivial.mkdir()
        (trivial / "test_trivial.py").write_text(
            "import pytest\n\n@pytest.mark.parametrize('i', range(2000))\ndef test_nothing(i):\n    pass\n")
        run([EXAMPLE], tmp, ["-p", "no:xdist"])  # fills the bytecode cache (not timed)
        run([], trivial, ["-n", "2"])
        plugins = subprocess.run([args.python, "-c", "import importlib.metadata as m; print(' '.join(sorted({"
                                  "e.dist.name + '-' + e.dist.version for e in m.entry_points(group='pytest11')})))"],
                                 capture_output=True, text=True).stdout.strip()
        print(f"pytest plugins in {args.python}: {plugins}")
        print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}; "
              f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        print(f"{'workload':45} {'serial wall/CPU s':>18} {'-n 2 wall/CPU s':>18} {'wall ratio':>10} {'CPU ratio':>9}")
        sw, sc, _ = run([], trivial, ["-p", "no:xdist", str(trivial)])
        pw, pc, _ = run([], trivial, ["-n", "2", str(trivial)])
        print(f"{'xdist itself: 2000 trivial tests, no dataset':45} {sw:8.2f} / {sc:7.2f} {pw:8.2f} / {pc:7.2f} "
              f"{pw / sw:10.2f} {pc / sc:9.2f}")
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
