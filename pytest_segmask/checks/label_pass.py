"""One streaming pass per channel: every tile of every pyramid level decoded once.

For each plane (z) of the channel, level-0 tiles are visited in the depth-first order of the
pyramid (tiles under the same top-level tile together). Before a tile of level k is consumed,
the tiles of level k+1 its pixels feed are decoded and kept ("resident"); the tile is compared
with them (the f × f block test) and, at level 0, reduced into the channel statistics. A
resident tile is released as soon as the last tile under it was compared, so memory is a few
tiles per level, never a plane. Decoding runs ahead on a small thread pool (imagecodecs releases
the GIL) while the compiled kernels run in this thread, also without the GIL.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .channel_stats import ChannelStats, StatsAccumulator
from .pyramid_labels import LevelResult, PyramidResult
from .tiff_stream import MaskDecodeError, Plane, _checked_layout, decode_segment


@dataclass
class ChannelPass:
    """The result of one channel's pass: statistics (level 0, all planes) and the block test."""

    stats: ChannelStats
    pyramid: PyramidResult | None  # None: the channel has no pyramid levels


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


class _PlanePyramid:
    """Geometry of one plane's levels: layouts, factors, tile relations."""

    def __init__(self, levels: list[Plane], result: PyramidResult | None, z: int) -> None:
        self.z = z
        self.planes = [levels[0]]
        self.layouts = [_checked_layout(levels[0])]  # level 0: a damaged layout stops the pass
        self.factors = [1]
        dtype0 = levels[0].page.dtype
        for k, plane in enumerate(levels[1:], start=1):
            try:
                layout = _checked_layout(plane)
            except MaskDecodeError as exc:
                if result is not None:
                    result.levels[k - 1].errors.append(str(exc))
                break
            prev = self.layouts[-1]
            f = max(round(prev.w / layout.w), round(prev.h / layout.h))
            if f < 2 or plane.page.dtype != dtype0:
                if result is not None:
                    why = (f"it is not smaller than level {k - 1}" if f < 2
                           else f"its pixel type {plane.page.dtype} differs from level 0")
                    result.notes.append(f"level {k} not compared: {why} (see the pyramid item)")
                break
            if result is not None:
                result.levels[k - 1].factor = f
            self.planes.append(plane)
            self.layouts.append(layout)
            self.factors.append(f)
        self.depth = len(self.layouts) - 1  # levels compared

    # parent level k+1 of a tile at level k
    def parents(self, k: int, t: int) -> list[int]:
        if k >= self.depth:
            return []
        c, p, f = self.layouts[k], self.layouts[k + 1], self.factors[k + 1]
        y0, x0, hh, ww = c.rect(t)
        ya, yb = y0 // f, min(p.h - 1, (y0 + hh - 1) // f)
        xa, xb = x0 // f, min(p.w - 1, (x0 + ww - 1) // f)
        if ya > yb or xa > xb:
            return []
        return [r * p.cols + q for r in range(ya // p.sh, yb // p.sh + 1) for q in range(xa // p.sw, xb // p.sw + 1)]

    def n_children(self, k: int, t: int) -> int:
        """Tiles of level k−1 feeding tile t of level k."""
        c, p, f = self.layouts[k - 1], self.layouts[k], self.factors[k]
        y0, x0, hh, ww = p.rect(t)
        ya, yb = y0 * f, min(c.h, (y0 + hh) * f) - 1
        xa, xb = x0 * f, min(c.w, (x0 + ww) * f) - 1
        if ya > yb or xa > xb:
            return 0
        return (yb // c.sh - ya // c.sh + 1) * (xb // c.sw - xa // c.sw + 1)

    def level0_order(self) -> np.ndarray:
        """Level-0 tiles, grouped under their ancestors (depth-first over the pyramid)."""
        lay0 = self.layouts[0]
        t = np.arange(lay0.n_segments, dtype=np.int64)
        y = (t // lay0.cols) * lay0.sh
        x = (t % lay0.cols) * lay0.sw
        keys = [t]
        for k in range(1, self.depth + 1):
            lay, f = self.layouts[k], self.factors[k]
            y, x = y // f, x // f
            inside = (y < lay.h) & (x < lay.w)
            keys.append(np.where(inside, (y // lay.sh) * lay.cols + x // lay.sw, lay.n_segments))
        return np.lexsort(keys)

    def events(self) -> Iterator[tuple[int, int]]:
        """(level, tile) in decode order: every tile of every compared level exactly once."""
        done = [bytearray(lay.n_segments) for lay in self.layouts]

        def ensure(k: int, t: int):
            for p in self.parents(k, t):
                if not done[k + 1][p]:
                    yield from ensure(k + 1, p)
                    done[k + 1][p] = 1
                    yield (k + 1, p)

        for t in self.level0_order():
            t = int(t)
            yield from ensure(0, t)
            done[0][t] = 1
            yield (0, t)
        for k in range(1, self.depth + 1):  # tiles no level-0 tile leads to (nothing under them)
            for t in range(self.layouts[k].n_segments):
                if not done[k][t]:
                    yield from ensure(k, t)
                    done[k][t] = 1
                    yield (k, t)


class _Resident:
    __slots__ = ("arr", "rect", "matched", "remaining", "failed")

    def __init__(self, arr, rect, remaining, failed=False):
        self.arr = arr
        self.rect = rect
        self.remaining = remaining
        self.failed = failed
        self.matched = None if failed else np.zeros((rect[2], rect[3]), np.uint8)


def run_pass(planes_by_z: list[list[Plane]], height: int, width: int, *, pyramid: bool = True,
             workers: int = 2, lock: threading.Lock | None = None) -> ChannelPass:
    """The pass over one channel: ``planes_by_z[z]`` = that plane's levels, full resolution first.
    Raises MaskDecodeError when a full-resolution segment (or IFD) cannot be read."""
    from . import label_kernels as K

    nz = len(planes_by_z)
    acc = StatsAccumulator(height, width, nz)
    depth = max((len(levels) - 1 for levels in planes_by_z), default=0) if pyramid else 0
    result = PyramidResult([LevelResult(k, 2) for k in range(1, depth + 1)], planes=nz) if depth else None
    geoms = [_PlanePyramid(levels if pyramid else levels[:1], result, z) for z, levels in enumerate(planes_by_z)]
    lock = lock or threading.Lock()  # one per file handle: seek + read are not atomic

    def stream() -> Iterator[tuple[int, int, int]]:
        for z, g in enumerate(geoms):
            for k, t in g.events():
                yield z, k, t

    def decode(z: int, k: int, t: int) -> np.ndarray:
        g = geoms[z]
        return decode_segment(g.planes[k], g.layouts[k], t, lock)

    resident: dict[tuple[int, int, int], _Resident] = {}

    def release(z: int, k: int, t: int) -> None:
        res = resident.pop((z, k, t))
        if res.failed:
            return
        g = geoms[z]
        child, f = g.layouts[k - 1], g.factors[k]
        y0, x0, hh, ww = res.rect
        hh_t = max(0, min(hh, _ceil_div(child.h, f) - y0))
        ww_t = max(0, min(ww, _ceil_div(child.w, f) - x0))
        m = res.matched[:hh_t, :ww_t]
        lv = result.levels[k - 1]
        lv.tested += int(m.size - np.count_nonzero(m & 4))
        bad = m == 0
        nbad = int(np.count_nonzero(bad))
        if nbad:
            lv.bad += nbad
            ys, xs = np.nonzero(bad)
            lv.add_examples([(z, int(y0 + a), int(x0 + b)) for a, b in zip(ys[:5], xs[:5])])

    def consume(z: int, k: int, t: int, arr: np.ndarray | None, error: str | None) -> None:
        g = geoms[z]
        lay = g.layouts[k]
        rect = lay.rect(t)
        y0, x0, hh, ww = rect
        if error is not None and k == 0:
            raise MaskDecodeError(error)
        if error is not None:
            result.levels[k - 1].errors.append(error)
        # compare with the resident level-(k+1) tiles this tile feeds
        for p in g.parents(k, t):
            parent = resident[(z, k + 1, p)]
            if not parent.failed:
                py0, px0, phh, pww = parent.rect
                if error is None:
                    K.block_test(arr, hh, ww, y0, x0, lay.h, lay.w, parent.arr, phh, pww, py0, px0,
                                 g.factors[k + 1], parent.matched)
                else:  # pixels fed by an undecodable tile cannot be judged
                    f = g.factors[k + 1]
                    ya, yb = max(py0, y0 // f), min(py0 + phh, (y0 + hh - 1) // f + 1)
                    xa, xb = max(px0, x0 // f), min(px0 + pww, (x0 + ww - 1) // f + 1)
                    if ya < yb and xa < xb:
                        parent.matched[ya - py0:yb - py0, xa - px0:xb - px0] |= 4
            parent.remaining -= 1
            if parent.remaining == 0:
                release(z, k + 1, p)
        if k == 0:
            acc.add(arr, hh, ww, y0, x0, z)
        else:
            n = g.n_children(k, t)
            resident[(z, k, t)] = _Resident(arr, rect, n, failed=error is not None)
            if n == 0:
                release(z, k, t)

    events = stream()
    window: deque = deque()
    ahead = 2 * workers + 2
    with ThreadPoolExecutor(max(1, workers)) as pool:
        try:
            for event in events:
                window.append((event, pool.submit(decode, *event)))
                if len(window) >= ahead:
                    _take(window, consume)
            while window:
                _take(window, consume)
        except BaseException:
            for _, fut in window:
                fut.cancel()
            raise
    for key in list(resident):  # defensive: anything left (cannot happen with consistent geometry)
        release(*key)
    if result is not None:
        result.levels = [lv for lv in result.levels if lv.tested or lv.errors or lv.bad]
    return ChannelPass(acc.finish(), result)


def _take(window: deque, consume) -> None:
    (z, k, t), fut = window.popleft()
    try:
        arr, error = fut.result(), None
    except MaskDecodeError as exc:
        arr, error = None, str(exc)
    consume(z, k, t, arr, error)


def stats_of_planes(planes: list[Plane], workers: int = 2) -> ChannelStats:
    """Statistics of full-resolution planes (one per z), without the block test."""
    h, w = planes[0].shape
    return run_pass([[p] for p in planes], h, w, pyramid=False, workers=workers).stats


def pyramid_of_planes(levels: list[Plane], workers: int = 2) -> PyramidResult | None:
    h, w = levels[0].shape
    return run_pass([levels], h, w, workers=workers).pyramid
