"""One streaming pass per channel: every tile of every pyramid level decoded once.

For each plane (z) of the channel, level-0 tiles are visited in the depth-first order of the
pyramid (tiles under the same top-level tile together). Before a tile of level k is consumed,
the tiles of level k+1 its pixels feed are decoded and kept ("resident"); the tile is compared
with them (the f × f block test) and, at level 0, reduced into the channel statistics — a
level-0 tile under one parent that no other thread uses is compared inside the statistics
kernel, a strip of rows at a time, so its rows are read once for both. Where no f × f block
spans two child tiles (tile sides multiples of f), each child's test adds counts and its first
bad pixels to the resident tile; elsewhere it marks the pixels it matched, tallied when the
tile is released. A resident tile is released as soon as the last tile under it was compared,
so memory is a few tiles per level, never a plane.

Both cores work on one channel: the tiles are split into parts, each a run of whole subtrees of
a "split level" (the highest level with ``PARTS_PER_THREAD`` subtrees per thread, else two).
Each thread decodes and reduces its own run of parts into its own table — imagecodecs and the
compiled kernels release the GIL, so the threads run in parallel — and a thread that gets ahead
(a faster core, easier tiles) then takes the parts of the other's run next to its own instead
of waiting at the end (``_PartQueue``). Each table is sized at its first call for the rows the
previous pass over the same plan (a mask's previous channel) left in its largest table. The few
tiles above the split level are decoded first (``prepare_pass``, while the previous channel
still runs); they are shared by the parts (a lock each). Decoded tiles go into reusable arrays
(``tiff_stream.SegmentBuffers``), on threads kept from one pass to the next
(``pass_threads``). The threads' tables are merged at the end, one column at a
time (``channel_stats.finish_parts``); ``start_pass`` returns while the parts run, so the caller
can merge the previous channel meanwhile. Results do not depend on the split: examples are the
first bad pixels in raster order, errors come in pass order (tested against one thread). A
geometry where one tile feeds two subtrees (levels with different tile sizes) runs in one
thread, with decoding ahead on a small pool where segments are large enough to be worth
handing over (``AHEAD_MIN_PIXELS``), else inline.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .channel_stats import NO_COUNTS, NO_EXAMPLES, NO_MARKS, BlockTest, ChannelStats, StatsAccumulator, finish_parts
from .pass_threads import PassJob
from .pyramid_labels import MAX_EXAMPLES, LevelResult, PyramidResult
from .tiff_stream import MaskDecodeError, Plane, SegmentBuffers, _checked_layout, decode_segment


@dataclass
class ChannelPass:
    """The result of one channel's pass: statistics (level 0, all planes) and the block test."""

    stats: ChannelStats
    pyramid: PyramidResult | None  # None: the channel has no pyramid levels
    # pyramid tiles still held when the pass ended (released by its final sweep): 0 when each
    # was released by the last tile under it, as the memory bound needs
    held_to_end: int


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# tiles whose relations (and plans) are remembered for the next channel of the same geometry
MEMO_MAX = 1 << 14  # mutation: equivalent — memory only
_MEMOS: dict = {}  # geometry -> its memo; the last two geometries only (a plan and tile relations each)


def _shared_memo(key) -> dict:
    """A dict shared by the passes over one geometry (a mask's channels and planes)."""
    memo = _MEMOS.get(key)
    if memo is None:
        if len(_MEMOS) >= 4:  # mutation: equivalent — memory only
            _MEMOS.pop(next(iter(_MEMOS)))
        memo = _MEMOS[key] = {}
    return memo


class _PlanePyramid:
    """Geometry of one plane's levels: layouts, factors, tile relations."""

    def __init__(self, levels: list[Plane], z: int) -> None:
        self.z = z
        self.planes = [levels[0]]
        self.layouts = [_checked_layout(levels[0])]  # level 0: a damaged layout stops the pass
        self.factors = [None]  # level k's factor is against level k − 1: level 0 has none
        # level k's tiles are tested by counting: no f × f block spans two level k − 1 tiles
        self.counting = [False]  # mutation: equivalent — level 0 has no children: never read
        self.findings: list[tuple[int, str, str]] = []  # (level, "error" | "note", text): why comparing stopped
        dtype0 = levels[0].page.dtype
        for k, plane in enumerate(levels[1:], start=1):
            try:
                layout = _checked_layout(plane)
            except MaskDecodeError as exc:
                self.findings.append((k, "error", str(exc)))
                break
            prev = self.layouts[-1]
            f = max(round(prev.w / layout.w), round(prev.h / layout.h))
            if f < 2 or plane.page.dtype != dtype0:
                why = (f"it is not smaller than level {k - 1}" if f < 2
                       else f"its pixel type {plane.page.dtype} differs from level 0")
                self.findings.append((k, "note", f"level {k} not compared: {why} (see the pyramid item)"))
                break
            self.planes.append(plane)
            self.layouts.append(layout)
            self.factors.append(f)
            self.counting.append((prev.rows == 1 or prev.sh % f == 0) and (prev.cols == 1 or prev.sw % f == 0))
        self.depth = len(self.layouts) - 1  # levels compared
        self.key = (tuple(self.layouts), tuple(self.factors))  # the geometry: equal for a mask's channels
        self._parents = _shared_memo(("parents", self.key))

    # parent level k+1 of a tile at level k (remembered: the plan and the pass ask for each)
    def parents(self, k: int, t: int) -> list[int]:
        got = self._parents.get((k, t))
        if got is None:
            got = self._parents_of(k, t)
            if len(self._parents) < MEMO_MAX:  # mutation: equivalent — memory only (past it, computed again)
                self._parents[(k, t)] = got
        return got

    def _parents_of(self, k: int, t: int) -> list[int]:
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
        if ya > yb or xa > xb:  # mutation: equivalent[and/or] — a count ≤ 0 leaves the tile to the final sweep, like 0
            return 0  # mutation: equivalent — a tile with no children is released by the final sweep instead
        return (yb // c.sh - ya // c.sh + 1) * (xb // c.sw - xa // c.sw + 1)

    def level0_order(self) -> np.ndarray:
        """Level-0 tiles, grouped under their ancestors (depth-first over the pyramid)."""
        lay0 = self.layouts[0]
        t = np.arange(lay0.n_segments, dtype=np.int64)
        y = (t // lay0.cols) * lay0.sh
        x = (t % lay0.cols) * lay0.sw
        keys = [t]
        for k in range(1, self.depth + 1):  # mutation: equivalent — decode order only: every tile is still visited once
            lay, f = self.layouts[k], self.factors[k]
            y, x = y // f, x // f
            inside = (y < lay.h) & (x < lay.w)  # mutation: equivalent — decode order only: every tile is still visited once
            keys.append(np.where(inside, (y // lay.sh) * lay.cols + x // lay.sw, lay.n_segments))
        return np.lexsort(keys)

    def events(self) -> Iterator[tuple[int, int]]:
        """(level, tile) in decode order: every tile of every compared level exactly once."""
        done = [bytearray(lay.n_segments) for lay in self.layouts]

        def ensure(k: int, t: int):
            for p in self.parents(k, t):
                if not done[k + 1][p]:
                    yield from ensure(k + 1, p)
                    done[k + 1][p] = True
                    yield (k + 1, p)

        for t in self.level0_order():
            t = int(t)
            yield from ensure(0, t)
            yield (0, t)
        for k in range(1, self.depth + 1):  # tiles no level-0 tile leads to (nothing under them)
            for t in range(self.layouts[k].n_segments):
                if not done[k][t]:
                    yield from ensure(k, t)
                    done[k][t] = True
                    yield (k, t)


class _Resident:
    """A decoded tile of level k ≥ 1 while the tiles under it are compared with it. Counting
    (no f × f block spans two of its child tiles): each child's test adds its counts and first
    bad pixels; else each marks the pixels it matched (``matched``), tallied at release."""

    __slots__ = ("arr", "rect", "matched", "remaining", "failed", "shared", "lock", "tested", "bad", "examples")

    def __init__(self, arr, rect, remaining, failed, shared, counting):
        self.arr = arr
        self.rect = rect
        self.remaining = remaining
        self.failed = failed
        self.shared = shared  # above the split level: the parts' threads may test against it at once
        self.matched = None if failed or counting else np.zeros((rect[2], rect[3]), np.uint8)
        self.lock = threading.Lock()  # an upper tile's children may be in several parts
        self.tested = self.bad = 0  # counting: pixels judged, and bad, so far
        self.examples: list[tuple[int, int]] = []  # counting: each child's first bad pixels

    def test(self, f: int, ch_full: int, cw_full: int) -> BlockTest:
        """A child tile's block test against this tile (its own counts when counting)."""
        py0, px0, phh, pww = self.rect
        if self.matched is not None:
            return BlockTest(self.arr, phh, pww, py0, px0, f, self.matched, ch_full, cw_full, NO_COUNTS, NO_EXAMPLES)
        return BlockTest(self.arr, phh, pww, py0, px0, f, NO_MARKS, ch_full, cw_full,
                         np.zeros(3, np.int64), np.empty((MAX_EXAMPLES, 2), np.int64))

    def add_counts(self, test: BlockTest) -> None:
        if test.counts.shape[0]:
            judged, bad, found = test.counts.tolist()
            self.tested += judged
            self.bad += bad
            if found:
                self.examples.extend(map(tuple, test.examples[:found].tolist()))


Event = tuple[int, int, int, int]  # (position in the pass's order, z, level, tile)


@dataclass
class _PassPlan:
    """The pass's events split for threads: ``upper`` (levels above the split level, decoded
    first, when the pass is prepared) and ``parts`` (runs of whole subtrees of the split level's
    tiles, in the pass's order), which ``threads`` threads share out (``_PartQueue``). Every
    event of the sequential order is in exactly one list, in that order."""

    upper: list[Event]
    parts: list  # of lists of events (one streamed iterator when the pass is not split)
    pixels: list[int]  # level-0 pixels of each part
    threads: int = 1  # mutation: equivalent[constant] — a plan not split has one part: a second thread finds none left
    # rows the largest table of the last pass over this plan held when its threads were done:
    # the next pass's tables are sized for them (a mask's channels hold like numbers of objects)
    table_hint: int = 0  # mutation: equivalent — table sizes only


# a pass in one part decodes ahead on a pool only where a segment has this many pixels: a
# hand-over between threads (50–100 µs here) costs more than decoding a small segment (a 2000²
# channel in 64² tiles: 110 ms ahead, 47 ms inline; 128²: 27 against 22 ms; strips of 32 K
# pixels: 18 against 25 ms; 512²: 10 against 14 ms)
AHEAD_MIN_PIXELS = 1 << 15  # mutation: equivalent — decode threads only (the same results: tested)
# more tiles than this (tiny tiles): one thread, events streamed
SPLIT_MAX_EVENTS = 1 << 18  # mutation: equivalent — threads only: split or whole, a pass gives the same result (tested)
# parts per thread where the split level has the subtrees: a thread that gets ahead (a faster
# core, easier tiles) takes more of them, so neither waits long for the other at the end
PARTS_PER_THREAD = 8  # mutation: equivalent — how the work is balanced only


def _plan_parts(geoms: list[_PlanePyramid], parts: int) -> _PassPlan:
    """The pass's plan; a split plan (lists of events, never changed) is remembered for the
    next channel of the same geometry."""
    memo = _shared_memo(("plan", parts, SPLIT_MAX_EVENTS, PARTS_PER_THREAD, tuple(g.key for g in geoms)))
    plan = memo.get("plan")
    if plan is None:
        plan = _make_plan(geoms, parts)
        # a stream is consumed once; a long plan is not worth the memory it would keep
        if all(isinstance(part, list) for part in plan.parts) and sum(map(len, plan.parts)) <= MEMO_MAX:  # mutation: equivalent — memory only
            memo["plan"] = plan
    return plan


def _make_plan(geoms: list[_PlanePyramid], parts: int) -> _PassPlan:
    def stream() -> Iterator[Event]:
        position = 0
        for z, g in enumerate(geoms):
            for k, t in g.events():
                yield position, z, k, t
                position += 1

    pixels = [sum(g.layouts[0].h * g.layouts[0].w for g in geoms)]
    events = sum(lay.n_segments for g in geoms for lay in g.layouts)
    if parts < 2 or events > SPLIT_MAX_EVENTS:  # mutation: equivalent — threads only (split or whole: same result)
        # the sequential order, streamed: a file of millions of tiny tiles needs no list of them
        return _PassPlan([], [stream()], pixels)
    order = list(stream())
    whole = _PassPlan([], [order], pixels)
    area0 = {(z, t): g.layouts[0].rect(t)[2] * g.layouts[0].rect(t)[3]
             for z, g in enumerate(geoms) for t in range(g.layouts[0].n_segments)}
    # the split level: the highest whose tiles (over all planes) give each thread a few parts,
    # else the highest that gives each two
    split = None
    for least in (PARTS_PER_THREAD * parts, 2 * parts):  # mutation: equivalent[constant] — which split level only: same result
        for s in range(max(g.depth for g in geoms), -1, -1):  # mutation: equivalent[constant] — which split level only: same result
            if sum(g.layouts[min(s, g.depth)].n_segments for g in geoms) >= least:
                split = s
                break
        if split is not None:
            break
    if split is None:
        return whole
    threads, parts = parts, PARTS_PER_THREAD * parts
    # root (tile of the split level) of every tile below it; a tile feeding two roots is
    # shared state between parts: then the pass stays in one thread
    roots: list[dict[int, np.ndarray]] = []  # per plane: level -> root of each tile
    for z, g in enumerate(geoms):
        s = min(split, g.depth)
        per_level = {s: np.arange(g.layouts[s].n_segments, dtype=np.int64)}
        for k in range(s - 1, -1, -1):
            root = np.empty(g.layouts[k].n_segments, np.int64)
            for t in range(len(root)):
                ps = g.parents(k, t)
                rs = {int(per_level[k + 1][p]) for p in ps}
                if len(rs) > 1:
                    return whole
                # no parent: a subtree of its own
                root[t] = rs.pop() if rs else -1 - ((k << 32) + t)  # mutation: equivalent[constant] — any distinct negative key
            per_level[k] = root
        roots.append(per_level)
    upper: list[Event] = []
    groups: dict[tuple, list[Event]] = {}
    weight: dict[tuple, int] = {}
    for ev in order:
        _, z, k, t = ev
        s = min(split, geoms[z].depth)
        if k > s:
            upper.append(ev)
            continue
        key = (z, int(roots[z][k][t]))
        groups.setdefault(key, []).append(ev)
        weight[key] = weight.get(key, 0) + (area0[(z, t)] if k == 0 else 0)
    total = sum(weight.values()) or 1  # mutation: equivalent — only when no level-0 pixel exists
    chunks: list[list[Event]] = [[] for _ in range(parts)]
    pixels = [0] * parts
    done = 0  # mutation: equivalent — how the parts are balanced only
    for key, evs in groups.items():  # contiguous runs of subtrees, balanced by pixels
        i = min(parts - 1, done * parts // total)
        chunks[i].extend(evs)
        pixels[i] += weight[key]
        done += weight[key]
    kept = [i for i in range(parts) if chunks[i]]
    for c in (chunks[i] for i in kept):
        c.sort()  # each part follows the sequential order
    return _PassPlan(upper, [chunks[i] for i in kept], [pixels[i] for i in kept], min(threads, len(kept)))


def run_pass(planes_by_z: list[list[Plane]], height: int, width: int, *,
             workers: int = 2,  # mutation: equivalent — thread count only
             lock: threading.Lock | None = None) -> ChannelPass:
    """The pass over one channel: ``planes_by_z[z]`` = that plane's levels, full resolution first.
    With ``workers`` ≥ 2 the tiles are split into that many parts, each decoded and reduced by
    its own thread (both without the GIL); their tables are merged at the end. Raises
    MaskDecodeError when a full-resolution segment (or IFD) cannot be read."""
    return start_pass(planes_by_z, height, width, workers=workers, lock=lock).result()


class PassRun:
    """A channel's pass under way: its parts run in their own threads. ``join`` waits for them
    and returns how many rows their tables hold; ``result`` merges the tables into the
    ChannelPass (or raises the MaskDecodeError that stopped the pass). The caller's thread is
    free meanwhile: it merges the previous channel while this one is decoded. A pass started
    with fewer threads than its plan runs the others from ``start_rest`` (or ``join``): until
    then the started threads take their parts too."""

    def __init__(self, threads: list[PassJob], rows, finish, idle: threading.Event, predicted_rows) -> None:
        self._threads = threads
        self._rows = rows
        self._finish = finish
        self._idle = idle
        self._predicted = predicted_rows
        self._result = None

    def wait_idle(self) -> int:
        """Wait until a thread of the pass has no part left to take (the others are finishing
        their last one: a core is free); the rows the tables are predicted to hold at the end
        (their rows so far, scaled by the pixels still to come)."""
        if not any(th.started for th in self._threads):
            self.start_rest()
        self._idle.wait()
        return self._predicted()

    def start_rest(self) -> None:
        """The threads not started yet, started."""
        for th in self._threads:
            if not th.started:
                th.start()

    def join(self) -> int:
        self.start_rest()
        for th in self._threads:
            th.join()
        return self._rows()

    def result(self) -> ChannelPass:
        if self._result is None:
            self.join()
            self._result = self._finish()
            self._finish = self._rows = None
        return self._result


class PreparedPass:
    """A channel's pass ready to start: its levels' geometry, its tiles split into parts, and
    the few tiles above the split level (shared by the parts) decoded. The next channel is
    prepared while this channel's threads run, so the cores do not wait for it. Started once."""

    def __init__(self, geoms: list[_PlanePyramid], start) -> None:
        self.geoms = geoms
        self._start = start

    def start(self, threads: int | None = None) -> PassRun:
        """The parts' threads started, or the first ``threads`` of them (see PassRun)."""
        start, self._start = self._start, None
        return start(threads)


def prepare_pass(planes_by_z: list[list[Plane]], height: int, width: int, *,
                 workers: int = 2,  # mutation: equivalent — thread count only
                 lock: threading.Lock | None = None, buffers: SegmentBuffers | None = None) -> PreparedPass:
    """``run_pass`` prepared (see PreparedPass); raises MaskDecodeError at once when a
    full-resolution IFD cannot be read. ``buffers``: the pool the passes of one file share (a new
    one by default)."""
    nz = len(planes_by_z)
    depth = max(len(levels) - 1 for levels in planes_by_z)  # a channel has a plane at least
    result = PyramidResult([LevelResult(k + 1) for k in range(depth)], planes=nz) if depth else None
    geoms = [_PlanePyramid(levels, z) for z, levels in enumerate(planes_by_z)]
    for g in geoms:
        for k in range(1, g.depth + 1):
            result.levels[k - 1].factor = g.factors[k]
        for k, kind, text in g.findings:
            (result.levels[k - 1].errors if kind == "error" else result.notes).append(text)
    lock = lock or threading.Lock()  # one per file handle: seek + read are not atomic
    return PreparedPass(geoms, _prepare(geoms, _plan_parts(geoms, workers), result, height, width, workers, lock,
                                        buffers or SegmentBuffers()))


def start_pass(planes_by_z: list[list[Plane]], height: int, width: int, *,
               workers: int = 2,  # mutation: equivalent — thread count only
               lock: threading.Lock | None = None) -> PassRun:
    """``run_pass`` started: the parts' threads are running when this returns (see PassRun).
    Raises MaskDecodeError at once when a full-resolution IFD cannot be read."""
    return prepare_pass(planes_by_z, height, width, workers=workers, lock=lock).start()


def _prepare(geoms: list[_PlanePyramid], plan: _PassPlan, result: PyramidResult | None, height: int, width: int,
             workers: int, lock: threading.Lock, buffers: SegmentBuffers):
    """The pass's state, the tiles above the split level decoded; returns the function that
    starts the parts' threads."""
    from . import label_kernels as K

    K.load(geoms[0].planes[0].page.dtype)  # before any thread runs a kernel
    nz = len(geoms)
    resident: dict[tuple[int, int, int], _Resident] = {}
    tally = threading.Lock()
    errors: list[tuple[int, int, str]] = []  # (position, level, message) of undecodable tiles

    def decode(z: int, k: int, t: int) -> np.ndarray:
        g = geoms[z]
        return decode_segment(g.planes[k], g.layouts[k], t, lock, buffers)

    def release(z: int, k: int, t: int) -> None:
        res = resident.pop((z, k, t))
        if res.failed:
            return
        buffers.give(res.arr)
        g = geoms[z]
        child, f = g.layouts[k - 1], g.factors[k]
        y0, x0, hh, ww = res.rect
        if res.matched is None:  # counting
            tested, nbad, first = res.tested, res.bad, sorted(res.examples)[:MAX_EXAMPLES]
        else:
            hh_t = max(0, min(hh, _ceil_div(child.h, f) - y0))
            ww_t = max(0, min(ww, _ceil_div(child.w, f) - x0))
            found = np.empty((MAX_EXAMPLES, 2), np.int64)
            tested, nbad, n = K.tally_matched(res.matched, hh_t, ww_t, found)
            first = found[:n].tolist()
        examples = [(z, y0 + int(a), x0 + int(b)) for a, b in first]
        with tally:
            lv = result.levels[k - 1]
            lv.tested += tested
            lv.bad += nbad
            if examples:
                lv.add_examples(examples)

    def consume(ev: Event, arr: np.ndarray | None, error: str | None, acc: StatsAccumulator | None) -> None:
        pos, z, k, t = ev
        g = geoms[z]
        lay = g.layouts[k]
        rect = lay.rect(t)
        y0, x0, hh, ww = rect
        if error is not None and k == 0:
            raise MaskDecodeError(error)
        if error is not None:
            errors.append((pos, k, error))
        # compare with the resident level-(k+1) tiles this tile feeds
        parents = g.parents(k, t)
        # a level-0 tile under one parent no other thread uses: tested inside its statistics
        # (each strip of rows read once for both); a shared parent's lock is not held that long
        fused = None
        if k == 0 and error is None and len(parents) == 1:
            only = resident[(z, 1, parents[0])]
            if not (only.failed or only.shared):
                fused = only
        for p in parents:
            parent = resident[(z, k + 1, p)]
            with parent.lock:
                if parent is fused:
                    test = parent.test(g.factors[1], lay.h, lay.w)
                    acc.add(arr, hh, ww, y0, x0, z, test)
                    parent.add_counts(test)
                elif not parent.failed:
                    if error is None:
                        test = parent.test(g.factors[k + 1], lay.h, lay.w)
                        test.run(arr, hh, ww, y0, x0)
                        parent.add_counts(test)
                    # pixels fed by an undecodable tile cannot be judged (counting: not counted)
                    elif parent.matched is not None:
                        py0, px0, phh, pww = parent.rect
                        f = g.factors[k + 1]
                        ya, yb = max(py0, y0 // f), min(py0 + phh, (y0 + hh - 1) // f + 1)
                        xa, xb = max(px0, x0 // f), min(px0 + pww, (x0 + ww - 1) // f + 1)
                        # never empty (a parent of the tile); bit 4: not judged
                        parent.matched[ya - py0:yb - py0, xa - px0:xb - px0] |= 4  # mutation: equivalent — 5 has bit 4 too
                parent.remaining -= 1
                last = parent.remaining == 0
            if last:
                release(z, k + 1, p)
        if k == 0:
            if fused is None:
                acc.add(arr, hh, ww, y0, x0, z)
            buffers.give(arr)
        else:
            n = g.n_children(k, t)
            # the tiles above the split level are consumed before the parts start (acc None)
            resident[(z, k, t)] = _Resident(arr, rect, n, failed=error is not None, shared=acc is None,
                                            counting=g.counting[k])
            if n == 0:
                release(z, k, t)

    def run_events(events: list[Event], acc, decode_threads: int, stop=None) -> None:
        """Consume ``events`` in order; decode inline, or ahead on a small pool."""
        if decode_threads <= 0:  # mutation: equivalent — decode threads only
            for ev in events:
                if stop is not None and stop.is_set():
                    return
                try:
                    arr, error = decode(*ev[1:]), None
                except MaskDecodeError as exc:
                    arr, error = None, str(exc)
                consume(ev, arr, error, acc)
            return
        window: deque = deque()
        ahead = 2 * decode_threads + 2  # mutation: equivalent — read-ahead depth only
        with ThreadPoolExecutor(decode_threads) as pool:
            try:
                for ev in events:
                    window.append((ev, pool.submit(decode, *ev[1:])))
                    if len(window) >= ahead:  # mutation: equivalent — read-ahead depth only
                        _take(window, consume, acc)
                while window:
                    _take(window, consume, acc)
            except BaseException:
                for _, fut in window:
                    fut.cancel()
                raise

    # the tiles above the split level, in this thread: a caller may hold the file's lock (a
    # reentrant lock, which the plain read takes when the file cannot be read positionally)
    run_events(plan.upper, None, 0)  # mutation: equivalent — decode threads only
    accs: list[StatsAccumulator] = []  # one table per thread: made when the threads start
    # one part of segments worth a hand-over between threads: one thread reducing while a small
    # pool decodes ahead; several parts, or small segments: each thread decodes inline
    lay0 = geoms[0].layouts[0]
    ahead = len(plan.parts) == 1 and lay0.sh * lay0.sw >= AHEAD_MIN_PIXELS  # mutation: equivalent[compare,and/or] — decode threads only (the same results: tested)
    decode_threads = max(1, workers) if ahead else 0  # mutation: equivalent — decode threads only
    stops = [threading.Event() for _ in plan.parts]
    failures: dict[int, BaseException] = {}
    queue = _PartQueue(len(plan.parts), plan.threads)
    idle = threading.Event()  # set when a thread finds no part left

    def work(i: int) -> None:
        """Thread i: its own run of parts, then parts left in the others' runs."""
        while (j := queue.take(i)) is not None:
            # a part after the first failure is not needed: the first failure is what is reported
            if failures and j > min(failures):  # mutation: equivalent[compare] — a part is taken once: never the failed one again
                continue
            try:
                run_events(plan.parts[j], accs[i], decode_threads, stop=stops[j])
            except BaseException as exc:  # the first failing part (in the order) is reported
                failures[j] = exc
                for later in stops[j + 1:]:  # mutation: equivalent — how soon later parts stop only (the first failure is reported)
                    later.set()
        if not failures:  # each thread done: the largest table now (the last one done: at the end)
            plan.table_hint = max(int(a.meta[0]) for a in accs)
        idle.set()  # no part left for this thread (the next channel may start: the hint is set)

    def rows() -> int:
        return sum(int(a.meta[0]) for a in accs)

    def predicted_rows() -> int:
        seen = sum(a.pixels_seen for a in accs)
        return rows() * max(sum(plan.pixels), seen) // max(seen, 1)

    def finish() -> ChannelPass:
        if failures:
            raise failures[min(failures)]
        held = len(resident)
        for key in list(resident):  # defensive: anything left (cannot happen with consistent geometry)
            release(*key)
        if result is not None:
            for _, k, message in sorted(errors):
                result.levels[k - 1].errors.append(message)
            result.levels = [lv for lv in result.levels if lv.tested or lv.errors or lv.bad]
        stats = finish_parts(accs)
        accs.clear()
        return_freed_memory()
        return ChannelPass(stats, result, held)

    def start(first: int | None) -> PassRun:
        # each table sized for its thread's share of the pixels (it grows if it gets more)
        share = -(-sum(plan.pixels) // plan.threads)
        accs.extend(StatsAccumulator(height, width, nz, pixels=share, expected_rows=plan.table_hint)
                    for _ in range(plan.threads))
        # kept threads (pass_threads): a new thread began its work milliseconds late
        threads = [PassJob(work, (i,), name=f"segmask-pass-{i}") for i in range(plan.threads)]
        for th in threads[:first]:
            th.start()
        return PassRun(threads, rows, finish, idle, predicted_rows)

    return start


def return_freed_memory() -> None:
    """Give the heap memory freed by the pass back to the OS (glibc keeps freed blocks of its
    threads' arenas and of mid-sized arrays; the next channel would start tens of MB higher)."""
    global _TRIM
    if _TRIM is None:
        _TRIM = _malloc_trim()
    if _TRIM:  # mutation: equivalent — memory only: gives freed heap back to the OS
        _TRIM(0)  # mutation: equivalent — the padding kept at the heap's top: memory only


def _malloc_trim():
    """glibc's ``malloc_trim`` among the symbols the process already has, else False (macOS,
    Windows, musl). Not by ``ctypes.util.find_library``: that imports ``subprocess`` and runs
    ``ldconfig``: 10–15 ms in a fresh process, in the first channel's merge."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return getattr(ctypes.CDLL(None), "malloc_trim", None) or False
    except OSError:  # a process whose own symbols cannot be opened: no trimming
        return False


_TRIM = None  # glibc's malloc_trim, False where there is none (macOS, Windows, musl)


class _PartQueue:
    """Parts dealt to threads. Each thread starts on its own run of consecutive parts (its table
    then holds neighbouring objects: a compact hash, fewer cache misses); a thread whose run is
    done takes the part the owner of the run with the most parts left would reach last, so no
    thread idles while another has parts queued. Odd threads take their run from its end: with
    two threads, one that gets ahead then takes the parts next to its own (thread 0 the first
    of thread 1's run, thread 1 the last of thread 0's), so each table's ids stay one range and
    its hash compact. A table takes its parts in any order (the kernels keep minima and maxima,
    not first and last)."""

    def __init__(self, parts: int, threads: int) -> None:
        # each run in its owner's order: the owner takes from the front, another from the back
        self._runs = [deque(range(parts * i // threads, parts * (i + 1) // threads))
                      for i in range(threads)]
        for i in range(1, threads, 2):
            self._runs[i].reverse()
        self._lock = threading.Lock()

    def take(self, thread: int) -> int | None:
        with self._lock:
            run = self._runs[thread]
            if run:
                return run.popleft()
            other = max(self._runs, key=len)
            return other.pop() if other else None


def _take(window: deque, consume, acc) -> None:
    ev, fut = window.popleft()
    try:
        arr, error = fut.result(), None
    except MaskDecodeError as exc:
        arr, error = None, str(exc)
    consume(ev, arr, error, acc)


def stats_of_planes(planes: list[Plane], workers: int = 2) -> ChannelStats:  # mutation: equivalent — thread count only
    """Statistics of full-resolution planes (one per z), without the block test."""
    h, w = planes[0].shape
    return run_pass([[p] for p in planes], h, w, workers=workers).stats  # level 0 alone: no block test


def pyramid_of_planes(levels: list[Plane], workers: int = 2) -> PyramidResult | None:  # mutation: equivalent — thread count only
    h, w = levels[0].shape
    return run_pass([levels], h, w, workers=workers).pyramid
