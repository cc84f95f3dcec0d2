"""Benchmark the objects-table pass on a 1,000,000-row × 15-column table (xlsx and TSV).

    python benchmarks/bench_objects.py [--rows 1000000]

Tables are generated once (openpyxl write-only / csv) and cached in the temp folder; each
format is read in its own subprocess so peak RSS is per format. Prints rows/s and peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EXTRA = ["Area", "Perimeter", "Eccentricity", "Solidity", "Mean intensity"]


def rows(n: int):
    from fixtures_generator.writer import HEADER, template_rows

    # template rows, widened to 15 columns
    for row in template_rows("newer"):
        yield row + (["float"] if row[0] == "Type" else ["N/A"]) * (len(EXTRA) - 1)
    yield HEADER + EXTRA[1:]
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 49_999, n)
    ys = rng.uniform(0, 49_999, n)
    for i in range(n):
        yield [i + 1, "big.segmentations.ome.tiff", "cells", "CL:0000000", "10.5281/zenodo.1", "In-house",
               "CL:0000000", round(float(xs[i]), 2), round(float(ys[i]), 2), 0, 100, 40.5, 0.3, 0.9, 12.25]


def write(path: Path, n: int) -> None:
    if path.suffix == ".tsv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(
                [["" if v is None else v for v in r] for r in rows(n)])
        return
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("MAIN")
    for row in rows(n):
        ws.append(row)
    wb.save(path)


def child(path: str, n: int) -> dict:
    from pytest_segmask.checks.channel_stats import ChannelStats
    from pytest_segmask.checks.objects_table import (
        check_centroids, check_columns, check_ids, check_layout, check_mask_agreement, check_values,
        read_objects_table,
    )

    start = time.perf_counter()
    table = read_objects_table(Path(path))
    ids = np.arange(1, n + 1, dtype=np.int64)
    stats = ChannelStats(ids=ids, counts=np.ones(n, np.int64), centroid_x=np.zeros(n), centroid_y=np.zeros(n),
                         bbox=np.tile(np.array([0, 0, 50_000, 50_000]), (n, 1)), n_pixels=1, background_pixels=0)
    findings = []
    for check in (check_layout, check_columns, check_values, check_ids):
        findings += check(table).findings
    findings += check_mask_agreement(table, "cells", "big.segmentations.ome.tiff", stats,
                                     ["big.segmentations.ome.tiff"]).findings
    findings += check_centroids(table, "cells", stats, (50_000, 50_000), None).findings
    elapsed = time.perf_counter() - start
    return {"rows": table.rows, "seconds": elapsed, "findings": [f.code for f in findings],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    for ext in ("tsv", "xlsx"):
        folder = Path(tempfile.gettempdir()) / f"segmask-bench-objects-{args.rows}"
        folder.mkdir(exist_ok=True)
        path = folder / f"cells-objects.{ext}"  # the prefix names the channel
        if not path.exists():
            t = time.perf_counter()
            write(path, args.rows)
            print(f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
        done = subprocess.run([sys.executable, __file__, "--child", str(path), str(args.rows)],
                              capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(done.stderr)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{ext}: {r['rows']:,} rows × 15 columns in {r['seconds']:.1f} s "
              f"({r['rows'] / r['seconds']:,.0f} rows/s), peak RSS {r['rss_mb']:.0f} MB, findings {r['findings']}")


if __name__ == "__main__":
    main()
