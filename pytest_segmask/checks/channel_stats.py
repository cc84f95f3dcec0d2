"""Per-object statistics of one channel (ids, pixel counts, bounding boxes, centroids).

They are computed by the channel's single streaming pass (``label_pass``); this module holds
the compact result (24 bytes per object in 2D), the accumulator that feeds the compiled
kernels, and the labels item's check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..findings import Authority as _Authority
from ..findings import CheckResult, Severity
from ..rules import Authority, define_rule
from .mask_image import SCHEMA_SRC, ChannelNotInFile, MaskInfo
from .memory import anonymous
from .tiff_stream import MaskDecodeError

LABELS = define_rule(
    "LABELS", Severity.ERROR,
    "Every tile/strip of a channel decodes; 0 is background and every other value an object id "
    "(count, max id and background fraction are reported).",
    SCHEMA_SRC + "; ingest-validation-tests tiff_validator.py (every page decodes)", authority=Authority.SCHEMA)
LABELS_NEGATIVE = define_rule(
    "LABELS-NEGATIVE", Severity.ERROR,
    "A signed mask holds no negative value (ids start at 1, 0 is background); the first negative "
    "pixel is named.", SCHEMA_SRC, authority=Authority.SCHEMA)
LABELS_EMPTY = define_rule(
    "LABELS-EMPTY", Severity.WARNING, "A channel holds at least one object.", SCHEMA_SRC,
    authority=Authority.PRACTICE, reason="an all-background channel is almost always a wrong export")
LABELS_SPARSE = define_rule(
    "LABELS-SPARSE", Severity.WARNING,
    "Object ids are not wildly sparse (max id ≤ 10 × object count); ids need not be contiguous.",
    SCHEMA_SRC, authority=Authority.PRACTICE,
    reason="very sparse ids usually mean unrelabelled or wrongly typed labels")


@dataclass
class ChannelStats:
    """Per-object statistics of one channel at full resolution (pixel units), over all planes.

    Stored compactly: ``ids`` uint32 (sorted), ``counts`` uint32 (int64 only past 2^32 px),
    centroids float32, the bounding box uint16 (uint32 past 65,536 px) — 24 bytes per object in
    2D. ``bbox`` and ``z_range`` are returned widened to int64 (a transient copy) so arithmetic
    on them cannot wrap; ``bbox_compact`` is the stored array.
    """

    ids: np.ndarray
    counts: np.ndarray
    centroid_x: np.ndarray
    centroid_y: np.ndarray
    bbox_compact: np.ndarray  # (N, 4): min_y, min_x, max_y, max_x (inclusive)
    n_pixels: int
    background_pixels: int
    centroid_z: np.ndarray | None = None  # 3D only
    z_range_compact: np.ndarray | None = None  # (N, 2): min_z, max_z (3D only)
    planes: int = 1
    negative_pixels: int = 0
    first_negative: tuple[int, int, int] | None = None  # (plane z, y, x)

    @property
    def bbox(self) -> np.ndarray:
        return self.bbox_compact.astype(np.int64)

    @property
    def z_range(self) -> np.ndarray | None:
        return None if self.z_range_compact is None else self.z_range_compact.astype(np.int64)

    @property
    def n_objects(self) -> int:
        return len(self.ids)

    @property
    def max_id(self) -> int:
        return int(self.ids[-1]) if len(self.ids) else 0

    @property
    def background_fraction(self) -> float:
        return self.background_pixels / self.n_pixels if self.n_pixels else 1.0

    @property
    def nbytes(self) -> int:
        arrays = [self.ids, self.counts, self.centroid_x, self.centroid_y, self.bbox_compact,
                  self.centroid_z, self.z_range_compact]
        return sum(a.nbytes for a in arrays if a is not None)

    def index_of(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in ``self.ids`` (-1 where absent)."""
        ids = np.asarray(ids)
        if not len(self.ids):
            return np.full(ids.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, pos, -1)


# pixels per kernel call (bounds the room reserved per call)
CHUNK_PIXELS = 1 << 18  # mutation: equivalent — rows per kernel call only
HUGE_ROWS = 1 << 16  # mutation: equivalent — page size only (tables grown past this many objects get 2 MB pages)
MMAP_BYTES = 1 << 20  # mutation: equivalent — memory layout only (accumulator arrays from this size get their own anonymous mapping)


def _empty(shape, dtype, huge: bool = True) -> np.ndarray:  # mutation: equivalent[constant] — page size only
    """An uninitialised array; large ones in their own anonymous mapping (``memory.anonymous``:
    freed at once, 2 MB pages where ``huge``: the array will be written nearly whole; a table
    that may stay mostly empty keeps 4 KB pages, touched only where written)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    if count * dtype.itemsize < MMAP_BYTES:  # mutation: equivalent — where the array lives (heap or mapping) only
        return np.empty(shape, dtype)
    return np.frombuffer(anonymous(count * dtype.itemsize, huge), dtype, count).reshape(shape)


def _zeros(shape, dtype) -> np.ndarray:
    """Zeros; large ones in their own anonymous mapping (which the OS hands out zeroed)."""
    dtype = np.dtype(dtype)
    if int(np.prod(shape)) * dtype.itemsize < MMAP_BYTES:  # mutation: equivalent — where the zeros live (heap or mapping) only
        return np.zeros(shape, dtype)
    return _empty(shape, dtype)


_GROW = 1.25  # mutation: equivalent — capacity growth only
HINT_MARGIN = 1.05  # mutation: equivalent — capacity only: rows beyond a like table's end, before the table grows
# a hinted table is allocated at its pass's start, while the previous channel may still be
# merged: 2 MB pages for it only when each column spans several (little rounding up to them)
HINT_HUGE_ROWS = 1 << 18  # mutation: equivalent — page size only
# a hash table spanning the ids seen (identity hashing without collisions) may take this many
# slots per row the table is expected to hold before Fibonacci hashing takes over
ID_SPAN_SLOTS = 4  # mutation: equivalent — hash strategy only
FIT_SHARE = 4  # mutation: equivalent — rows per call only: a call near the end may shrink to 1/FIT_SHARE to use the room left


# tile-local tables of finished accumulators, for the next ones (each set is 0.6 MB, and new
# memory costs page faults: a fresh set for every thread of every channel was a third of them)
_LOCAL_TABLES: list[tuple] = []
LOCAL_TABLES_KEPT = 4  # mutation: equivalent — memory only


def _local_tables(K) -> tuple:
    """Tile-local tables: id, slot, count (of one call: < 2^32), x and y sums (int64), bounding
    box (image coordinates: < 2^32). Only the slots need a value (-1: empty); the kernel writes
    every other entry before it reads it."""
    try:
        return _LOCAL_TABLES.pop()  # atomic: passes of several files may finish at once
    except IndexError:
        pass
    slots = np.full(1 << K.LOCAL_BITS, -1, np.int32)  # mutation: equivalent — the kernel masks slots to LOCAL_BITS; any negative is empty
    return (np.empty(K.LOCAL_MAX, np.uint32), slots, np.empty(K.LOCAL_MAX, np.uint32),
            np.empty(K.LOCAL_MAX, np.int64), np.empty(K.LOCAL_MAX, np.int64),
            *(np.empty(K.LOCAL_MAX, np.uint32) for _ in range(4)))


class StatsAccumulator:
    """Global per-object state of one channel's pass, grown in place (compact dtypes)."""

    def __init__(self, height: int, width: int, planes: int = 1, pixels: int | None = None,
                 expected_rows: int = 0) -> None:  # mutation: equivalent[constant] — a 1-row hint sizes the first growth for a call's room, as none does
        """``pixels``: how many pixels this accumulator will see (a part of the channel), for
        the object-density estimate that sizes its tables; default the whole channel.
        ``expected_rows``: the rows a table of a like share of a like channel (the previous
        channel of the mask) ended with. The tables and hash are then sized for them at the
        first call instead of grown (copied, rehashed) as the density becomes known; a channel
        with more objects still grows. (The hash is not widened ahead for the ids' span: a
        channel's pass may overlap the previous one's merge, and that memory would then be
        held at the peak.)"""
        from . import label_kernels as K

        self.K = K
        self.height, self.width, self.planes = height, width, planes
        self.total_pixels = pixels if pixels is not None else height * width * planes
        self.is3d = planes > 1
        dims = max(height, width, planes, 2)  # mutation: equivalent — a 1- or 2-px image never reaches the promotion threshold
        self.big_at = (1 << 32) // dims
        self.coord = np.uint16 if max(height, width) <= 65536 else np.uint32
        self.zdt = np.uint16 if planes <= 65536 else np.uint32
        self.gid = np.zeros(0, np.uint32)  # mutation: equivalent — a placeholder the first growth replaces
        self.gcnt = np.zeros(0, np.uint32)  # mutation: equivalent — a placeholder the first growth replaces
        self.gsx = np.zeros(0, np.uint32)  # mutation: equivalent — a placeholder the first growth replaces
        self.gsy = np.zeros(0, np.uint32)  # mutation: equivalent — a placeholder the first growth replaces
        self.gsz = np.zeros(1, np.uint32)  # mutation: equivalent — a placeholder (2D never reads it; 3D grows it first)
        self.gbb = np.zeros((0, 4), self.coord)  # mutation: equivalent — a placeholder the first growth replaces
        self.cap = min(len(a) for a in (self.gid, self.gcnt, self.gsx, self.gsy, self.gbb))  # rows every table holds
        self.gzr = np.zeros((1, 2), self.zdt)  # mutation: equivalent — a placeholder (2D never reads it; 3D grows it first)
        self.hbits = 12  # mutation: equivalent — initial hash size only (grown for the rows before each call)
        self.expected_rows = expected_rows
        self.scramble = False  # mutation: equivalent — hash strategy only (identity or Fibonacci): same rows either way
        self.hidx = np.zeros(1 << self.hbits, np.int32)  # mutation: equivalent — initial hash size only (0: empty)
        self.bcnt = np.zeros(1, np.int64)  # mutation: equivalent — a placeholder: _ensure grows the side table before a call needs it
        self.bsx = np.zeros(1, np.int64)  # mutation: equivalent — a placeholder: _ensure grows the side table before a call needs it
        self.bsy = np.zeros(1, np.int64)  # mutation: equivalent — a placeholder: _ensure grows the side table before a call needs it
        self.bsz = np.zeros(1, np.int64)  # mutation: equivalent — a placeholder: _ensure grows the side table before a call needs it
        self.meta = K.new_meta()
        self.local = _local_tables(K)
        self.rowslot = np.zeros(width, np.int32)  # slot numbers ≥ 0: the kernel compares them with its count
        self.starts = np.zeros(width + 1, np.int32)  # mutation: equivalent — a longer buffer only
        self.pixels_seen = 0  # mutation: equivalent — capacity estimates only

    # -- capacity ---------------------------------------------------------------------------

    def _grow_rows(self, need: int) -> None:
        n = int(self.meta[0])
        total = self.total_pixels
        expected = n  # objects this table is expected to hold in the end
        hinted = False  # sized for a like table's rows (the first growth)
        # a full call seen (or 2 % of the pixels): extrapolate the object density, with a wider
        # margin while little is seen; then the table rarely grows (and copies) again
        if self.pixels_seen >= CHUNK_PIXELS or self.pixels_seen * 50 > total:  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            margin = 1.03 if self.pixels_seen * 50 > total else 1.25  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            expected = int(n * total / self.pixels_seen)
            rows_end = int(expected * margin)  # mutation: equivalent — hash size only (_ensure keeps each call's room)
            # room for a last call
            new = rows_end + CHUNK_PIXELS  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            new = min(max(new, int(self.cap * 1.05)), 4 * self.cap + CHUNK_PIXELS)  # mutation: equivalent — capacity growth only (max(need, new) below keeps room)
        # the first growth, sized as a like table ended
        elif self.expected_rows > n:  # mutation: equivalent[compare] — capacity only: with no hint (0) the first growth is then a call's room, as it is without
            expected = self.expected_rows
            rows_end = int(expected * HINT_MARGIN)  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            new = rows_end + CHUNK_PIXELS  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            self.expected_rows = 0  # a channel with more objects grows as usual from here
            hinted = True
        else:
            new = 2 * self.cap + 4096 if self.cap < (1 << 20) else int(self.cap * _GROW)  # mutation: equivalent — capacity growth only (max(need, new) keeps room)
            rows_end = new  # mutation: equivalent — hash size only (_ensure keeps each call's room)
        new = max(need, new)

        # 2 MB pages for a table that will be well filled (a sparse one would fault whole pages
        # for a few rows; the room kept for a call's worst case is never touched)
        huge = expected >= (HINT_HUGE_ROWS if hinted else HUGE_ROWS)  # mutation: equivalent — page size only

        def grown(arr, shape_tail=()):
            out = _empty((new, *shape_tail), arr.dtype, huge)
            out[:n] = arr[:n]
            return out

        self.gid = grown(self.gid)
        self.gcnt = grown(self.gcnt)
        self.gsx = grown(self.gsx)
        self.gsy = grown(self.gsy)
        self.gbb = grown(self.gbb, (4,))
        if self.is3d:
            self.gsz = grown(self.gsz)
            self.gzr = grown(self.gzr, (2,))
        self.cap = new
        # the hash for the rows expected at the end at once: one rehash, not one per doubling
        # (sized for the capacity, the room kept for a last call's worst case, it would be twice
        # as large: memory touched, and cache misses, for rows that never come)
        self._size_hash(min(rows_end, new), need)

    def _size_hash(self, rows: int, worst: int) -> None:
        """At most 70 % of the slots for ``rows``, and under 90 % even with ``worst`` rows (every
        pixel of the next call a new object): a probe always finds an empty slot."""
        bits = self.hbits
        while (rows * 10 > 7 * (1 << bits)  # mutation: equivalent — hash size only (at most 70 % full)
               or worst * 10  # mutation: equivalent[compare,constant] — a stricter bound (≥, or a larger factor) only makes the table larger
               > 9 * (1 << bits)):
            bits += 1  # mutation: equivalent — hash size only
        if bits != self.hbits:
            self.hbits = bits
            # zeros: an empty table as it is (a fresh mapping is touched only where rows land;
            # the next channel's table is made while this one is merged, at the peak)
            self.hidx = _zeros(1 << bits, np.int32)  # mutation: equivalent — a longer hash table (slots stay below 2^bits)
            self.K.rehash(self.gid, int(self.meta[0]), self.hidx, bits, self.scramble, False)  # mutation: equivalent[constant] — memory only: clearing a fresh table touches every page

    def _ensure(self, pixels: int) -> None:
        n = int(self.meta[0])
        if self.cap - n < pixels:  # mutation: equivalent — capacity only: one more row of room
            self._grow_rows(n + pixels)
        # the new rows this call likely adds (twice the density so far), and its worst case
        likely = min(pixels, 2 * pixels * n // max(self.pixels_seen, 1) + 4096)  # mutation: equivalent — hash size only
        self._size_hash(n + likely, n + pixels)
        need_b = (self.pixels_seen + pixels) // self.big_at + 1  # mutation: equivalent — side-table room only
        if need_b > len(self.bcnt):  # mutation: equivalent — side-table room only
            nb = int(self.meta[1])
            size = max(need_b, 2 * len(self.bcnt))  # mutation: equivalent — side-table room only
            for name in ("bcnt", "bsx", "bsy", "bsz"):
                old = getattr(self, name)
                arr = np.zeros(size, np.int64)
                arr[:nb] = old[:nb]
                setattr(self, name, arr)

    # -- accumulation -----------------------------------------------------------------------

    def add(self, tile: np.ndarray, hh: int, ww: int, y0: int, x0: int, z: int = 0,
            test: BlockTest | None = None) -> None:
        """Valid rect (hh, ww) of a decoded segment at image (y0, x0) of plane z, in any order
        of planes and segments. ``test``: the segment's one parent segment, which its rows are
        block-tested against as they are read (else see ``label_kernels.block_test``)."""
        targs = self._no_test(tile) if test is None else test
        rows_per_call = max(1, CHUNK_PIXELS // max(ww, 1))  # mutation: equivalent — rows per kernel call only
        r0 = 0
        while r0 < hh:
            rows = min(rows_per_call, hh - r0)
            # every pixel of a call may be a new object, so a call needs that many free rows;
            # near the end of the pass use the room there is rather than grow for a worst case
            n = int(self.meta[0])
            fit = (self.cap - n) // max(ww, 1)  # mutation: equivalent — uses less of the room left, never more
            if rows // FIT_SHARE <= fit < rows and fit >= 1:  # mutation: equivalent — rows per call only
                total = self.total_pixels
                # the capacity already covers the predicted end of the pass: use the room left
                # rather than grow for a worst case that does not come
                if self.pixels_seen * 50 > total and n * total / self.pixels_seen * 1.03 <= self.cap:  # mutation: equivalent — rows per call only (fit ≥ rows / FIT_SHARE ≥ 1 either way)
                    rows = fit
            # a counting test's call never splits a block of f rows
            if targs.counts.shape[0] and r0 + rows < hh:  # mutation: equivalent[compare] — a call reaching the segment's end: whole blocks, or the last, either way
                rows = min(hh - r0, max(targs.f, rows - rows % targs.f))
            r1 = r0 + rows
            px = rows * ww
            self._ensure(px)
            self.K.block_stats(
                tile, r0, r1, ww, y0, x0, z, self.rowslot, self.starts, *self.local,
                self.gid, self.gcnt, self.gsx, self.gsy, self.gsz, self.gbb, self.gzr,
                self.hidx, self.hbits, self.scramble, self.bcnt, self.bsx, self.bsy, self.bsz,
                self.meta, self.big_at, self.is3d, *targs)
            self.pixels_seen += px
            r0 = r1
            if not self.scramble and self.meta[8] > self.K.SCRAMBLE_AT:  # mutation: equivalent — hash strategy only (identity or Fibonacci)
                self._long_probes()

    def _long_probes(self) -> None:
        """Ids collided under identity hashing (slot = id mod table size). When a table
        spanning every id seen costs at most ID_SPAN_SLOTS slots per row expected, it is
        widened to that: no two ids then share a slot, and neighbouring ids keep neighbouring
        slots. Otherwise the ids are spread too thin (or in a pattern): Fibonacci hashing.
        Raster-numbered labels hit the first case: the ids a tile holds pass the table's size
        long before the table fills (a pass with tiles in depth-first order meets the highest
        ids early), and Fibonacci hashing would make every lookup a cache miss."""
        n = int(self.meta[0])
        ids = self.gid[:n]
        span = int(ids.max()) - int(ids.min()) + 1  # mutation: equivalent — table size only (probing finds any id) — any run of `span` ids has distinct residues
        bits = max(self.hbits, (span - 1).bit_length())  # mutation: equivalent — table size only (probing finds any id) — the least 2^bits ≥ span
        # rows this table is expected to hold at the end (the density so far), or its capacity
        rows = max(self.cap, n * self.total_pixels // max(self.pixels_seen, 1))  # mutation: equivalent — hash strategy only
        widened = (1 << bits) <= ID_SPAN_SLOTS * rows  # mutation: equivalent[compare,constant] — hash strategy only (identity or Fibonacci: the same rows)
        if widened:
            self.hbits = bits
            self.hidx = _zeros(1 << bits, np.int32)  # mutation: equivalent — a longer table only (slots stay below 2^bits)
            self.meta[8] = 0  # mutation: equivalent — speed only (a stale record rehashes again next call) — the next collision is news
        else:
            self.scramble = True  # ids in a pattern that defeats identity hashing
        # a new table is all zeros already; the old one, rehashed in place, is emptied first
        self.K.rehash(self.gid, n, self.hidx, self.hbits, self.scramble, not widened)

    @staticmethod
    def _no_test(tile: np.ndarray) -> BlockTest:
        # block_stats's test arguments with the factor 0 (no test); arrays of the tile's type,
        # so one compiled kernel serves both
        return BlockTest(tile, 0, 0, 0, 0, 0, NO_MARKS, 0, 0, NO_COUNTS, NO_EXAMPLES)  # mutation: equivalent — never read with the factor 0 (a factor of 1 over a 0 × 0 parent tests nothing)

    def finish(self) -> ChannelStats:
        """The sorted, compact statistics; the accumulator is emptied."""
        return finish_parts([self])


class BlockTest(NamedTuple):
    """A segment's block test against its parent segment, run by ``StatsAccumulator.add``:
    ``label_kernels.block_test``'s arguments from ``parent`` on (``matched`` is written), or,
    where ``counts`` is not empty, ``block_count``'s (``counts`` and ``examples`` are written,
    ``matched`` is ``NO_MARKS``)."""

    parent: np.ndarray
    ph: int
    pw: int
    py0: int
    px0: int
    f: int
    matched: np.ndarray
    ch_full: int
    cw_full: int
    counts: np.ndarray
    examples: np.ndarray

    def run(self, child: np.ndarray, ch: int, cw: int, cy0: int, cx0: int) -> None:
        """The test of a whole child segment (valid (ch, cw) at level origin (cy0, cx0)) on its own."""
        from . import label_kernels as K

        if self.counts.shape[0]:
            K.block_count(child, ch, cw, cy0, cx0, self.ch_full, self.cw_full, self.parent, self.ph, self.pw,
                          self.py0, self.px0, self.f, self.counts, self.examples)
        else:
            K.block_test(child, ch, cw, cy0, cx0, self.ch_full, self.cw_full, self.parent, self.ph, self.pw,
                         self.py0, self.px0, self.f, self.matched)


# placeholders for the arrays of the block test a call does not use
NO_MARKS = np.zeros((1, 1), np.uint8)  # mutation: equivalent — never read (no test, or counting)
NO_COUNTS = np.zeros(0, np.int64)  # empty: marks, not counts
NO_EXAMPLES = np.zeros((1, 2), np.int64)  # mutation: equivalent — never read (no test, or marks)


def index_type(rows: int):
    """Row numbers of a merge: int32 while they fit, int64 from 2^31 rows."""
    return np.int64 if rows >= (1 << 31) else np.int32


# ids numbered by counting when max id ≤ DENSE_IDS × rows (else by sorting): the same rows either way
DENSE_IDS = 2  # mutation: equivalent — which numbering only


def numbered_by_counting(max_id: int, rows: int) -> bool:
    """Whether a merge numbers its ids by counting them (dense ids) rather than by sorting."""
    return max_id <= DENSE_IDS * rows + 1024  # mutation: equivalent — which numbering (counting or sorting) only: both give the same rows (tested)


def finish_parts(parts: list[StatsAccumulator]) -> ChannelStats:
    """Merge the tables of a channel's parts (one, or several threads over disjoint tiles) into
    sorted, compact statistics: counts and centroids in one pass over each part's rows, then
    the bounding boxes, each part's columns freed as soon as they are merged — the process never
    holds two full copies. The accumulators are emptied."""
    K = parts[0].K
    first = parts[0]
    for a in parts:
        a.hidx = None
        if a.local is not None and len(_LOCAL_TABLES) < LOCAL_TABLES_KEPT:  # mutation: equivalent — memory only (a new set is made instead)
            _LOCAL_TABLES.append(a.local)  # its slots all empty again: each kernel call leaves them so
        a.local = a.rowslot = a.starts = None
    ns = [int(a.meta[0]) for a in parts]
    total = sum(ns)
    itype = index_type(total)
    ids = _empty(total, np.uint32)
    mflag = _zeros(total, np.uint8)
    mlist = np.empty(total - max(ns, default=0), np.int64)  # mutation: equivalent — ns is never empty: one part at least (an object seen twice has a row outside the largest part)
    max_id = max((int(a.gid[:n].max()) for a, n in zip(parts, ns) if n), default=0)  # mutation: equivalent — an empty channel has no id to number
    dests = []
    if numbered_by_counting(max_id, total):
        present = _zeros(max_id + 1, itype)  # mutation: equivalent — a longer numbering array
        for a, n in zip(parts, ns):
            K.count_ids(a.gid, n, present)
        n_out, m = K.number_present(present, ids, mflag, mlist)
        for a, n in zip(parts, ns):
            dest = _empty(n, itype)
            K.dest_dense(a.gid, n, present, dest)
            dests.append(dest)
            a.gid = None
        del present
    else:
        ids_all = np.concatenate([a.gid[:n] for a, n in zip(parts, ns)])
        for a in parts:
            a.gid = None
        order = np.argsort(ids_all, kind="stable")  # timsort: the ids come in long sorted runs
        dest_all = _empty(total, itype)
        n_out, m = K.number_sorted(ids_all, order, ids, mflag, mlist, dest_all)
        del order, ids_all
        offsets = np.cumsum([0, *ns])
        dests = [dest_all[offsets[i]:offsets[i + 1]] for i in range(len(parts))]
    n_out, m = int(n_out), int(m)
    # a view: the rows past n_out are one per object several parts saw (few: objects crossing
    # the cuts between parts); a trimmed copy only when they are many
    ids = ids[:n_out] if (total - n_out) * 8 <= n_out else ids[:n_out].copy()  # mutation: equivalent — memory only (a view or a trimmed copy)
    mflag = mflag[:n_out]
    mlist = mlist[:m]

    # counts: uint32 unless the channel has 2^32 pixels or more
    wide = first.height * first.width * first.planes >= (1 << 32)
    counts = _empty(n_out, np.int64 if wide else np.uint32)  # every row is written
    cx, cy = _empty(n_out, np.float32), _empty(n_out, np.float32)
    cz = _empty(n_out, np.float32) if first.is3d else cx  # (2D: never written)
    # objects several parts saw: count, x, y, z sums
    side = np.zeros((m, 4), np.int64)  # mutation: equivalent[constant] — a wider side table: the extra column is never read
    for a, n, dest in zip(parts, ns, dests):
        K.merge_counts_sums(a.gcnt, a.gsx, a.gsy, a.gsz, a.bcnt, a.bsx, a.bsy, a.bsz, n, dest, mflag, mlist, m,
                            counts, cx, cy, cz, side, first.is3d)
        a.gcnt = a.gsx = a.gsy = a.gsz = None
    counts[mlist] = side[:, 0]
    whole = np.maximum(side[:, 0], 1)  # mutation: equivalent — a promoted object has ≥ big_at ≥ 4,096 px
    cx[mlist], cy[mlist] = side[:, 1] / whole, side[:, 2] / whole
    if first.is3d:
        cz[mlist] = side[:, 3] / whole
    else:
        cz = None
    del side, whole

    def ranges(name: str, half: int, dtype) -> np.ndarray:
        out = _empty((n_out, 2 * half), dtype)
        out[mlist, :half] = np.iinfo(dtype).max
        out[mlist, half:] = 0
        for a, n, dest in zip(parts, ns, dests):
            K.merge_ranges(getattr(a, name), n, dest, mflag, out, half)
            setattr(a, name, None)
        return out

    bbox = ranges("gbb", 2, first.coord)
    zr = ranges("gzr", 1, first.zdt) if first.is3d else None
    del dests
    negatives = [t for t in (tuple(int(v) for v in a.meta[4:7]) for a in parts) if t != (-1, -1, -1)]  # (-1, …): none
    return ChannelStats(
        ids=ids, counts=counts, centroid_x=cx, centroid_y=cy, bbox_compact=bbox,
        centroid_z=cz, z_range_compact=zr,
        n_pixels=int(sum(int(a.meta[2] + a.meta[3] + a.meta[7]) for a in parts)),
        background_pixels=int(sum(int(a.meta[2]) for a in parts)),
        planes=first.planes, negative_pixels=int(sum(int(a.meta[3]) for a in parts)),
        first_negative=min(negatives) if negatives else None,
    )


def stats_reference(planes: list[np.ndarray]) -> ChannelStats:
    """The numpy reference (whole planes in memory): for tests and small images only."""
    vol = np.stack([np.asarray(p) for p in planes])
    z, y, x = np.nonzero(vol > 0)
    vals = vol[z, y, x].astype(np.int64)
    ids, inv, counts = np.unique(vals, return_inverse=True, return_counts=True)
    n = len(ids)

    def mean(c):
        return (np.bincount(inv, weights=c, minlength=n) / np.maximum(counts, 1)).astype(np.float32)

    def agg(func, c, init):
        out = np.full(n, init, np.int64)
        func.at(out, inv, c)
        return out

    bbox = np.stack([agg(np.minimum, y, 1 << 62), agg(np.minimum, x, 1 << 62),
                     agg(np.maximum, y, -1), agg(np.maximum, x, -1)], axis=1)  # mutation: equivalent — any real y and x are at least 0
    is3d = vol.shape[0] > 1
    neg = np.argwhere(vol < 0)
    return ChannelStats(
        ids=ids, counts=counts, centroid_x=mean(x), centroid_y=mean(y), bbox_compact=bbox,
        centroid_z=mean(z) if is3d else None,
        z_range_compact=np.stack([agg(np.minimum, z, 1 << 62), agg(np.maximum, z, -1)], axis=1) if is3d else None,  # mutation: equivalent — any real z is at least 0
        n_pixels=vol.size, background_pixels=int((vol == 0).sum()), planes=vol.shape[0],
        negative_pixels=len(neg), first_negative=tuple(int(v) for v in neg[0]) if len(neg) else None,
    )


def check_labels(stats: ChannelStats | MaskDecodeError, info: MaskInfo, channel: str) -> CheckResult:
    loc = info.location(channel=channel)
    if isinstance(stats, ChannelNotInFile):
        return CheckResult(findings=[LABELS.finding(
            f"{info.display}: {stats}", loc,
            fix="write every channel's planes into the mask file (a mask is one self-contained OME-TIFF)")])
    if isinstance(stats, MaskDecodeError):
        # a full-resolution plane that does not decode fails HuBMAP's tiff validator
        return CheckResult(findings=[LABELS.finding(
            str(stats), loc, fix="re-export the mask; its pixel data is damaged or truncated",
            authority=_Authority.INGEST)])
    result = CheckResult(data={"objects": stats.n_objects})
    volume = f" over {stats.planes} planes" if stats.planes > 1 else ""
    result.notes.append(
        f"channel {channel!r}: {stats.n_objects} object(s), max id {stats.max_id}, "
        f"background {stats.background_fraction:.1%} of {stats.n_pixels} px{volume}")
    if stats.negative_pixels:
        z, y, x = stats.first_negative
        result.findings.append(LABELS_NEGATIVE.finding(
            f"{info.display}: channel {channel!r} holds {stats.negative_pixels} negative pixel(s); "
            f"the first is at plane {z}, y {y}, x {x} — object ids start at 1 and 0 is background",
            info.location(channel=channel, pixel=(y, x)),
            fix="write the labels as unsigned integers with 0 as background (uint32 for many objects)"))
    if stats.n_objects == 0:
        result.findings.append(LABELS_EMPTY.finding(
            f"{info.display}: channel {channel!r} holds no objects (every pixel is 0)", loc,
            fix="check that the right labels were written to this channel, or drop the channel"))
    elif stats.max_id > 10 * stats.n_objects:
        result.findings.append(LABELS_SPARSE.finding(
            f"{info.display}: channel {channel!r} has max id {stats.max_id} for only "
            f"{stats.n_objects} object(s); ids need not be contiguous, but this looks like "
            "unrelabelled or wrongly typed labels", loc,
            fix="relabel the objects sequentially (skimage.segmentation.relabel_sequential)"))
    return result


def compute_channel_stats(plane, workers: int = 2) -> ChannelStats:  # mutation: equivalent — thread count only
    """Statistics of one full-resolution plane (compatibility entry; the plugin should use
    ``MaskReader.channel_pass``, which also runs the pyramid block test in the same pass)."""
    from .label_pass import stats_of_planes

    return stats_of_planes([plane], workers=workers)
