"""Benchmark the mask pass: channel statistics and the 2×2 block test vs a naive baseline.

    python benchmarks/bench_mask.py                 # 16384 × 16384 × 3 uint32, ~1M objects/channel
    python benchmarks/bench_mask.py --size 4096     # quicker

The mask is generated tile by tile (bounded memory) and cached in the temp folder. Each
measurement runs in its own subprocess so peak RSS is per measurement. Prints decoded GB/s,
peak RSS, and the ratio against the naive baseline (tifffile.imread of each channel +
np.unique with counts), measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CELL = 16  # object grid cell (px): 16384² / 16² ≈ 1M objects per channel
TILE = 512


def label_block(channel: int, level: int, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """Pixels of level ``level`` (top-left subsampling of level 0), computed analytically."""
    step = 1 << level
    ys = (np.arange(y0, y0 + h) * step)[:, None] + channel * 3
    xs = (np.arange(x0, x0 + w) * step)[None, :] + channel * 5
    cells_per_row = 1 << 20
    ids = (ys // CELL) * cells_per_row + (xs // CELL) + 1
    border = ((ys % CELL) < 2) | ((xs % CELL) < 2)
    return np.where(border, 0, ids % 4_000_000_000 + 1).astype(np.uint32)


def write_mask(path: Path, size: int, channels: int, levels: int) -> None:
    import tifffile

    def tiles(level: int):
        side = -(-size // (1 << level))
        for c in range(channels):
            for y in range(0, side, TILE):
                for x in range(0, side, TILE):
                    yield label_block(c, level, y, x, min(TILE, side - y), min(TILE, side - x))

    ome = tifffile.OmeXml()
    ome.addimage(np.uint32, (channels, size, size), (channels, 1, 1, size, size, 1), axes="CYX",
                 Channel={"Name": [f"c{i}" for i in range(channels)]},
                 PhysicalSizeX=0.5, PhysicalSizeY=0.5)
    opts = dict(tile=(TILE, TILE), compression="zlib", compressionargs={"level": 1},
                photometric="minisblack", metadata=None,
                maxworkers=os.cpu_count())
    with tifffile.TiffWriter(path, bigtiff=True, ome=False) as tif:
        tif.write(tiles(0), shape=(channels, size, size), dtype=np.uint32, subifds=levels - 1,
                  description=ome.tostring().encode(), **opts)
        for k in range(1, levels):
            side = -(-size // (1 << k))
            tif.write(tiles(k), shape=(channels, side, side), dtype=np.uint32, subfiletype=1, **opts)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_ours(path: str, workers: int, block_test: bool) -> dict:
    from pytest_segmask.checks.channel_stats import compute_channel_stats
    from pytest_segmask.checks.mask_image import MaskReader, open_mask
    from pytest_segmask.checks.pyramid_labels import check_pyramid_labels

    info = open_mask(Path(path))
    reader = MaskReader(info)
    out = {"stats_s": 0.0, "block_s": 0.0, "decoded": 0, "objects": []}
    for c, name in enumerate(info.channel_names):
        planes = reader.planes(c, name)
        t = time.perf_counter()
        stats = compute_channel_stats(planes[0], workers=workers)
        out["stats_s"] += time.perf_counter() - t
        out["decoded"] += stats.decoded_bytes
        out["objects"].append(stats.n_objects)
        if block_test:
            t = time.perf_counter()
            result = check_pyramid_labels(info, planes, name, workers=workers)
            out["block_s"] += time.perf_counter() - t
            assert not result.findings, result.findings
    reader.close()
    out["rss_mb"] = peak_rss_mb()
    return out


def measure_naive(path: str) -> dict:
    import tifffile

    t = time.perf_counter()
    objects = []
    with tifffile.TiffFile(path) as tif:
        for c in range(len(tif.series[0].levels[0].pages)):
            plane = tif.pages[c].asarray()
            ids, counts = np.unique(plane, return_counts=True)
            objects.append(int((ids != 0).sum()))
            del plane, ids, counts
    return {"naive_s": time.perf_counter() - t, "objects": objects, "rss_mb": peak_rss_mb()}


def run_child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, path, *rest = args.child
        result = measure_naive(path) if kind == "naive" else measure_ours(path, int(rest[0]), rest[1] == "1")
        print(json.dumps(result))
        return
    path = Path(tempfile.gettempdir()) / f"segmask-bench-{args.size}-{args.channels}.ome.tiff"
    if not path.exists():
        t = time.perf_counter()
        write_mask(path, args.size, args.channels, args.levels)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
    one = run_child("ours", str(path), "1", "0")
    two = run_child("ours", str(path), "2", "1")
    naive = run_child("naive", str(path))
    gb = one["decoded"] / 1e9
    print(f"image: {args.size} × {args.size} × {args.channels} uint32, zlib tiles {TILE}, "
          f"{sum(one['objects']):,} objects ({one['objects']})")
    print(f"stats pass, 1 core : {one['stats_s']:.1f} s, {gb / one['stats_s']:.2f} GB/s decoded, peak RSS {one['rss_mb']:.0f} MB")
    print(f"stats pass, 2 cores: {two['stats_s']:.1f} s, {gb / two['stats_s']:.2f} GB/s decoded")
    print(f"block test, 2 cores: {two['block_s']:.1f} s (all levels, all channels)")
    print(f"ours end to end (stats + block test, 2 cores): {two['stats_s'] + two['block_s']:.1f} s, peak RSS {two['rss_mb']:.0f} MB")
    print(f"naive (imread + np.unique per channel): {naive['naive_s']:.1f} s, peak RSS {naive['rss_mb']:.0f} MB")
    print(f"ratio naive / ours (stats, 2 cores): {naive['naive_s'] / two['stats_s']:.1f}×; "
          f"naive / ours end to end: {naive['naive_s'] / (two['stats_s'] + two['block_s']):.1f}×")
    assert naive["objects"] == one["objects"], (naive["objects"], one["objects"])


if __name__ == "__main__":
    main()
