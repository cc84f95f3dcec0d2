"""The whole plugin on one large mask: wall, CPU, cores and peak RSS of a fresh pytest process.

    python benchmarks/bench_plugin.py [--size 16384] [--kind dense] [--channels 3]

Builds a dataset around a mask written by bench_mask.py's writer (no objects tables: this
measures the mask items — file checks, labels and pyramid-labels per channel — as the plugin
runs them, channel passes two at a time and each channel's statistics released after its
last item), then runs `python -m pytest --segmask-dataset=…` in a fresh process and reads its
peak RSS (VmHWM) at exit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mask import write_mask  # noqa: E402

RUNNER = """
import json, os, resource, sys, time
import pytest
t0, c0 = time.perf_counter(), time.process_time()
rc = pytest.main(sys.argv[2:])
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
usage = resource.getrusage(resource.RUSAGE_SELF)
json.dump({"rc": int(rc), "wall": time.perf_counter() - t0, "cpu": usage.ru_utime + usage.ru_stime,
           "hwm_mb": int(status["VmHWM"].split()[0]) / 1024}, open(sys.argv[1], "w"))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--kind", default="dense", choices=["dense", "sparse"])
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--levels", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        seg = root / "derived" / "segmentation_masks"
        seg.mkdir(parents=True)
        (root / "extras").mkdir()
        (root / "derived" / "extras").mkdir()
        start = time.perf_counter()
        write_mask(seg / "big.segmentations.ome.tiff", args.size, args.channels, args.levels, args.kind)
        print(f"mask {args.size}² × {args.channels} {args.kind}, {args.levels} levels, written in "
              f"{time.perf_counter() - start:.0f} s ({(seg / 'big.segmentations.ome.tiff').stat().st_size / 1e6:.0f} MB)")
        out = Path(tmp) / "result.json"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # Python's default
        common = [f"--segmask-dataset={root}", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", f"--rootdir={tmp}"]
        subprocess.run([sys.executable, "-m", "pytest", "--co", *common], cwd=tmp, capture_output=True, env=env)  # bytecode cached
        subprocess.run([sys.executable, "-c", RUNNER, str(out), *common], cwd=tmp, capture_output=True, text=True, env=env)
        result = json.loads(out.read_text())
    print(f"plugin run (exit {result['rc']}): wall {result['wall']:.2f} s, CPU {result['cpu']:.2f} s, "
          f"{result['cpu'] / result['wall']:.2f} cores, peak RSS {result['hwm_mb']:.0f} MB")


if __name__ == "__main__":
    main()
