"""Compiled (numba, nogil) kernels of the label pass: per-object statistics and the block test.

Statistics per object are accumulated in compact arrays (24 bytes per object):

* ``gid`` uint32 id, ``gcnt`` uint32 pixel count, ``gsx``/``gsy``/``gsz`` uint32 coordinate
  sums, ``gbb`` (N, 4) uint16/uint32 bounding box [min_y, min_x, max_y, max_x] (3D: ``gzr``
  (N, 2) z range).
* A uint32 sum stays exact while ``count < big_at`` (= 2^32 // the largest dimension); an
  object that reaches it is *promoted*: ``gcnt`` becomes ``PROMOTED`` and ``gsx`` holds its row
  in the int64 side table (``bcnt``, ``bsx``, ``bsy``, ``bsz``). At most
  ``pixels / big_at`` objects can ever be promoted.
* ``hidx`` is an open-addressing hash (identity or Fibonacci hashing, linear probing) from id
  to row + 1; 0 is an empty slot, so a table in fresh (zeroed) memory is empty as it is, and
  only the pages its ids hash to are ever touched.

Each call reduces a block of rows first into a small tile-local table (runs of equal value,
then one entry per object in the block), then merges that into the global table: the global,
cache-unfriendly hash is touched once per object and block, not once per run.

The caller guarantees room before each call: ``capacity - n >= pixels in the block``, the hash
under 90 % full after that many insertions (a probe always ends at an empty slot), and the side
table large enough.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

PROMOTED = np.uint32(0xFFFFFFFF)
LOCAL_MAX = 16384  # tile-local objects before a flush into the global table
# rows block-tested at a time inside block_stats (64 KB of a 512-wide uint32 tile: still in
# cache when the statistics read them)
TEST_STRIP = 32  # mutation: equivalent — how many rows are tested at a time only
# local hash: 2^15 slots (load <= 0.5)
LOCAL_BITS = 15  # mutation: equivalent — local hash size only
LOCAL_PROBE_MAX = 16  # mutation: equivalent — a longer probe switches the local slots to Fibonacci hashing
FIB = np.uint64(0x9E3779B97F4A7C15)  # mutation: equivalent — the hash multiplier only (any keeps probing correct)

# meta (int64 array): 0 n objects, 1 n promoted, 2 background px, 3 negative px,
# 4/5/6 first negative (z, y, x) in raster order (-1: none), 7 object px, 8 longest probe
META_SIZE = 9
SCRAMBLE_AT = 48  # a longer probe switches the global hash from identity to Fibonacci


def new_meta() -> np.ndarray:
    meta = np.zeros(META_SIZE, np.int64)
    meta[4:7] = -1
    return meta


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _lhash(key, fib):
    """Tile-local slot: the id's low bits (a tile's ids are mostly runs of consecutive ids:
    neighbouring slots, cache hits) unless a probe got long (ids in a pattern), then Fibonacci
    hashing."""
    if fib:  # mutation: equivalent[negate] — which of the two hashings a call starts with: the same results either way
        return np.int64((np.uint64(key) * FIB) >> np.uint64(64 - LOCAL_BITS))  # mutation: equivalent[constant] — a wider shift uses fewer slots: speed only
    return np.int64(key) & ((np.int64(1) << LOCAL_BITS) - 1)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def _local_fib(lkeys, lslot, nloc):
    """The tile-local slots of entries 0:nloc rebuilt with Fibonacci hashing."""
    lmask = lslot.shape[0] - 1
    lslot[:] = -1
    for j in range(nloc):
        h = _lhash(lkeys[j], True)
        while lslot[h] >= 0:  # mutation: equivalent[compare,constant] — entry 0 losing its slot makes a second entry for its id, which the flush adds to the same row
            h = (h + 1) & lmask
        lslot[h] = j


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _ghash(key, hbits, scramble):
    """Global slot: the id itself (neighbouring ids stay neighbours in memory, so a tile's
    objects touch few cache lines) unless probing got long, then Fibonacci hashing."""
    if scramble:
        return np.int64((np.uint64(key) * FIB) >> np.uint64(64 - hbits))
    return np.int64(key) & ((np.int64(1) << hbits) - 1)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def _flush(lkeys, lslot, lcnt, lsx, lsy, lminx, lminy, lmaxx, lmaxy, nloc, z,
           gid, gcnt, gsx, gsy, gsz, gbb, gzr, hidx, hbits, scramble, bcnt, bsx, bsy, bsz, meta, big_at, is3d):
    hmask = hidx.shape[0] - 1
    n = meta[0]
    nb = meta[1]
    longest = meta[8]
    for j in range(nloc):
        key = lkeys[j]
        h = _ghash(key, hbits, scramble)
        probe = 0
        fresh = False
        while True:
            s = hidx[h] - 1
            if s < 0:
                s = n
                n += 1
                hidx[h] = s + 1
                gid[s] = key
                gbb[s, 0] = lminy[j]
                gbb[s, 1] = lminx[j]
                gbb[s, 2] = lmaxy[j]
                gbb[s, 3] = lmaxx[j]
                if is3d:
                    gzr[s, 0] = z
                    gzr[s, 1] = z
                c = lcnt[j]
                # the common case: a new object's sums as they are
                if c < big_at:  # mutation: equivalent[compare] — sums are exact at big_at pixels too
                    gcnt[s] = np.uint32(c)
                    gsx[s] = np.uint32(lsx[j])
                    gsy[s] = np.uint32(lsy[j])
                    if is3d:
                        gsz[s] = np.uint32(c * z)
                    fresh = True
                else:
                    gcnt[s] = 0
                    gsx[s] = 0
                    gsy[s] = 0
                    if is3d:
                        gsz[s] = 0
                break
            if gid[s] == key:
                gbb[s, 0] = min(gbb[s, 0], lminy[j])
                gbb[s, 1] = min(gbb[s, 1], lminx[j])
                gbb[s, 2] = max(gbb[s, 2], lmaxy[j])
                gbb[s, 3] = max(gbb[s, 3], lmaxx[j])
                if is3d:  # a thread may take parts out of z order: both ends of the range move
                    gzr[s, 0] = min(gzr[s, 0], z)
                    gzr[s, 1] = max(gzr[s, 1], z)
                break
            h = (h + 1) & hmask
            probe += 1  # mutation: equivalent — the probe length only decides when to switch to Fibonacci hashing
        longest = max(longest, probe)
        if fresh:
            continue
        c = lcnt[j]
        if gcnt[s] == PROMOTED:
            b = gsx[s]
            bcnt[b] += c
            bsx[b] += lsx[j]
            bsy[b] += lsy[j]
            bsz[b] += c * z
        else:
            total = np.int64(gcnt[s]) + c
            if total >= big_at:
                b = nb
                nb += 1
                bcnt[b] = total
                bsx[b] = np.int64(gsx[s]) + lsx[j]
                bsy[b] = np.int64(gsy[s]) + lsy[j]
                bsz[b] = (np.int64(gsz[s]) if is3d else 0) + c * z
                gcnt[s] = PROMOTED
                gsx[s] = np.uint32(b)
            else:
                gcnt[s] = np.uint32(total)
                gsx[s] = np.uint32(np.int64(gsx[s]) + lsx[j])
                gsy[s] = np.uint32(np.int64(gsy[s]) + lsy[j])
                if is3d:
                    gsz[s] = np.uint32(np.int64(gsz[s]) + c * z)
    meta[0] = n
    meta[1] = nb
    meta[8] = longest


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def block_stats(tile, r0, r1, w, y0, x0, z, rowslot, starts,
                lkeys, lslot, lcnt, lsx, lsy, lminx, lminy, lmaxx, lmaxy,
                gid, gcnt, gsx, gsy, gsz, gbb, gzr, hidx, hbits, scramble, bcnt, bsx, bsy, bsz, meta, big_at, is3d,
                tparent, tph, tpw, tpy0, tpx0, tf, tmatched, tch_full, tcw_full, tcounts, texamples):
    """Rows ``r0:r1`` (first ``w`` columns) of a decoded segment whose pixel (0, 0) is image
    pixel (y0, x0) of plane ``z``. With ``tf`` > 0 the same rows are also block-tested against
    their parent segment (``block_test``'s arguments ``parent`` … ``cw_full``, prefixed ``t``;
    with ``tcounts`` not empty ``block_count``'s instead, ``tmatched`` unused), a strip at a time
    just before the statistics read it: the rows are read from memory once, not once per
    kernel. Counting needs ``r0`` and ``r1`` (unless it is the segment's end) on multiples of
    ``tf``: a block is then never split between strips."""
    lmask = lslot.shape[0] - 1  # 2^LOCAL_BITS slots
    # the local slots by Fibonacci hashing (for the rest of this call, once a probe grew long)
    lfib = False  # mutation: equivalent[constant] — which hashing a call starts with: the same results
    nloc = 0
    background = 0
    negative = 0
    objpx = 0
    strip = max(tf, (TEST_STRIP // max(tf, 1)) * tf)  # mutation: equivalent — strip size only (compared factors are ≥ 2) — whole blocks of tf rows
    tested = r0  # rows r0:tested are block-tested
    r = r0
    while r < r1:
        # the strip holding row r (the equal-row scan may have run ahead)
        while (tf > 0  # mutation: equivalent[constant] — compared factors are ≥ 2
               and tested <= r):  # mutation: equivalent[compare] — when a strip is tested only (the tail tests what the loop leaves)
            s1 = min(r1, tested + strip)
            _test_rows(tile[tested:s1], s1 - tested, w, y0 + tested, x0, tch_full, tcw_full,
                       tparent, tph, tpw, tpy0, tpx0, tf, tmatched, tcounts, texamples)
            tested = s1
        y = y0 + r
        row = tile[r]
        # rows equal to this one (background, large objects, blocky masks) count with it: k + 1
        # equal rows cost one run search and one update per run
        k = 0
        while r + k + 1 < r1:  # mutation: equivalent[constant] — a shorter scan: the rows it leaves are searched on their own
            cand = tile[r + k + 1]
            diff = 0  # mutation: equivalent — speed only: non-zero means every row is searched for runs
            for x in range(w):
                diff |= cand[x] ^ row[x]
            if diff != 0:
                break
            k += 1
        k1 = k + 1
        ysum = k1 * y + (k * k1) // 2  # y + (y + 1) + … + (y + k)
        # run starts, branch-free (one store per pixel, the count advances on a change)
        ns = 1
        starts[0] = 0
        for x in range(1, w):
            starts[ns] = x
            ns += row[x] != row[x - 1]
        starts[ns] = w
        for i in range(ns):
            x = starts[i]
            e = starts[i + 1]
            v = row[x]
            length = e - x
            if v == 0:
                background += length * k1
            elif v < 0:
                negative += length * k1
                # the first negative pixel in raster order (a part's tiles are not in raster order)
                if meta[4] < 0:
                    first = True
                elif z != meta[4]:
                    first = z < meta[4]
                elif y != meta[5]:
                    first = y < meta[5]
                else:
                    first = x0 + x < meta[6]  # mutation: equivalent[compare] — a pixel is visited once: never equal
                if first:
                    meta[4] = z
                    meta[5] = y
                    meta[6] = x0 + x
            else:
                objpx += length * k1
                key = np.uint32(v)
                j = rowslot[x]  # the run above usually belongs to the same object
                cnt = length * k1
                # sum of x over the run: length * (first + last) / 2, in each of the k + 1 rows
                sx = k1 * ((length * (2 * (x0 + x) + length - 1)) // 2)
                sy = length * ysum
                if j < nloc and lkeys[j] == key:
                    lminx[j] = min(lminx[j], x0 + x)
                    lmaxx[j] = max(lmaxx[j], x0 + e - 1)
                    lcnt[j] += cnt
                    lsx[j] += sx
                    lsy[j] += sy
                else:
                    h = _lhash(key, lfib)
                    probe = 0  # mutation: equivalent[constant] — when the slots switch hashing only
                    while True:
                        j = lslot[h]
                        if j < 0:
                            j = nloc
                            nloc += 1
                            lslot[h] = j
                            lkeys[j] = key
                            lcnt[j] = cnt
                            lsx[j] = sx
                            lsy[j] = sy
                            lminx[j] = x0 + x
                            lminy[j] = y
                            lmaxx[j] = x0 + e - 1
                            break
                        if lkeys[j] == key:
                            lminx[j] = min(lminx[j], x0 + x)
                            lmaxx[j] = max(lmaxx[j], x0 + e - 1)
                            lcnt[j] += cnt
                            lsx[j] += sx
                            lsy[j] += sy
                            break
                        h = (h + 1) & lmask
                        probe += 1  # mutation: equivalent[constant] — when the slots switch hashing only
                        if probe == LOCAL_PROBE_MAX and not lfib:  # mutation: equivalent[compare,and/or] — speed only: the slots stay right either way
                            # ids in a pattern (multiples of 2^15, …): Fibonacci slots from here on
                            lfib = True
                            _local_fib(lkeys, lslot, nloc)
                            h = _lhash(key, lfib)
                lmaxy[j] = y + k  # rows come in order
                rowslot[x] = j  # run starts: the next row's run starting at the same x finds it
                if nloc == LOCAL_MAX:
                    _flush(lkeys, lslot, lcnt, lsx, lsy, lminx, lminy, lmaxx, lmaxy, nloc, z,
                           gid, gcnt, gsx, gsy, gsz, gbb, gzr, hidx, hbits, scramble, bcnt, bsx, bsy, bsz, meta, big_at, is3d)
                    lslot[:] = -1  # mutation: equivalent — any negative slot is empty
                    nloc = 0
        r += k1
    if nloc:
        _flush(lkeys, lslot, lcnt, lsx, lsy, lminx, lminy, lmaxx, lmaxy, nloc, z,
               gid, gcnt, gsx, gsy, gsz, gbb, gzr, hidx, hbits, scramble, bcnt, bsx, bsy, bsz, meta, big_at, is3d)
        if nloc > 2048:  # mutation: equivalent — how the local hash is cleared only (all of it, or the probe paths used)
            lslot[:] = -1
        else:
            for j in range(nloc):  # reset exactly the probe paths used
                h = _lhash(lkeys[j], lfib)
                while lslot[h] >= 0:
                    lslot[h] = -1
                    h = (h + 1) & lmask
    meta[2] += background
    meta[3] += negative
    meta[7] += objpx
    # rows the equal-row scan ran over at the end
    if (tf > 0  # mutation: equivalent[constant] — compared factors are ≥ 2
            and tested < r1):  # mutation: equivalent[compare] — an empty strip tests nothing
        _test_rows(tile[tested:r1], r1 - tested, w, y0 + tested, x0, tch_full, tcw_full,
                   tparent, tph, tpw, tpy0, tpx0, tf, tmatched, tcounts, texamples)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def rehash(gid, n, hidx, hbits, scramble, clear):
    """Rows 0:n into ``hidx``; ``clear``: empty it first (else it is known to be all zeros:
    fresh memory, which is then touched only where rows land)."""
    hmask = hidx.shape[0] - 1
    if clear:
        hidx[:] = 0
    for s in range(n):
        h = _ghash(gid[s], hbits, scramble)
        while hidx[h] != 0:
            h = (h + 1) & hmask
        hidx[h] = s + 1


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _block_general(child, ya, yb, px, f, cx0, cw, cw_full, v):
    xa = max(px * f, cx0) - cx0
    xb = min(px * f + f, cx0 + cw, cw_full) - cx0
    for yy in range(ya, yb):
        for xx in range(xa, xb):
            if child[yy, xx] == v:
                return np.uint8(1)  # mutation: equivalent — any value without bit 4 marks a pixel matched
    return np.uint8(0)


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _parent_span(ch, cw, cy0, cx0, cw_full, ph, pw, py0, px0, f):
    """The parent rows pa:pb and columns qa:qb a child segment feeds (valid (ch, cw) at child
    origin (cy0, cx0); parent valid (ph, pw) at (py0, px0)), and fa:fb, the columns whose whole
    block lies inside the segment: the fast path."""
    pa = max(py0, cy0 // f)
    pb = min(py0 + ph, (cy0 + ch - 1) // f + 1)
    qa = max(px0, cx0 // f)
    qb = min(px0 + pw, (cx0 + cw - 1) // f + 1)
    fa = min(max(qa, -(-cx0 // f)), qb)
    fb = max(min(qb, (cx0 + min(cw, cw_full - cx0)) // f), fa)
    return pa, pb, qa, qb, fa, fb


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def block_test(child, ch, cw, cy0, cx0, ch_full, cw_full, parent, ph, pw, py0, px0, f, matched):
    """Mark parent pixels equal to one of the pixels of their f × f source block that lie in
    this child segment (matched |= 1). child: valid (ch, cw) at child-level origin (cy0, cx0);
    parent: valid (ph, pw) at parent-level origin (py0, px0)."""
    pa, pb, qa, qb, fa, fb = _parent_span(ch, cw, cy0, cx0, cw_full, ph, pw, py0, px0, f)
    for py in range(pa, pb):
        ya = max(py * f, cy0) - cy0
        yb = min(py * f + f, cy0 + ch, ch_full) - cy0
        prow = py - py0
        if yb - ya == 2 and f == 2:
            for px in range(qa, fa):
                matched[prow, px - px0] |= _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])
            # slices first: the inner loop then indexes from 0 and LLVM vectorises it
            nq = fb - fa
            off = 2 * fa - cx0
            end = off + 2 * nq  # mutation: equivalent — a longer slice: only its first 2 · nq are read
            c0 = child[ya, off:end]
            c1 = child[ya + 1, off:end]
            pv = parent[prow, fa - px0:fb - px0]
            mv = matched[prow, fa - px0:fb - px0]
            for q in range(nq):
                v = pv[q]
                mv[q] |= np.uint8((c0[2 * q] == v) | (c0[2 * q + 1] == v) | (c1[2 * q] == v) | (c1[2 * q + 1] == v))
            for px in range(fb, qb):
                matched[prow, px - px0] |= _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])
        else:
            for px in range(qa, qb):
                matched[prow, px - px0] |= _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def block_count(child, ch, cw, cy0, cx0, ch_full, cw_full, parent, ph, pw, py0, px0, f, counts, examples):
    """``block_test`` where no f × f block spans two child segments (their sizes multiples of
    f, or one segment across): each parent pixel is judged by one child segment alone, so no
    per-pixel marks are kept. ``counts[0]`` += parent pixels judged, ``counts[1]`` += those
    matching no pixel of their block; the first of those in raster order over this child's
    part of the parent are written to ``examples`` (row, column in the parent segment) while
    ``counts[2]`` (examples written) is below its length."""
    pa, pb, qa, qb, fa, fb = _parent_span(ch, cw, cy0, cx0, cw_full, ph, pw, py0, px0, f)
    if pb > pa and qb > qa:  # mutation: equivalent[compare,and/or] — a child feeds its parent: both ranges hold a pixel at least (an empty one would add 0)
        counts[0] += (pb - pa) * (qb - qa)
    for py in range(pa, pb):
        ya = max(py * f, cy0) - cy0
        yb = min(py * f + f, cy0 + ch, ch_full) - cy0
        prow = py - py0
        bad = 0
        if yb - ya == 2 and f == 2:  # mutation: equivalent[compare,constant,and/or] — the fast path or the general one: the same count
            for px in range(qa, fa):  # (empty where counting applies: child origins on multiples of f)
                bad += 1 - _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])  # mutation: equivalent[constant] — never runs where counting applies
            nq = fb - fa
            off = 2 * fa - cx0
            c0 = child[ya, off:off + 2 * nq]  # mutation: equivalent[constant] — a longer slice: only its first 2 · nq are read
            c1 = child[ya + 1, off:off + 2 * nq]  # mutation: equivalent[constant] — a longer slice: only its first 2 · nq are read
            pv = parent[prow, fa - px0:fb - px0]
            for q in range(nq):  # a sum over slices indexed from 0: LLVM vectorises it
                v = pv[q]
                bad += (c0[2 * q] != v) & (c0[2 * q + 1] != v) & (c1[2 * q] != v) & (c1[2 * q + 1] != v)
            for px in range(fb, qb):
                bad += 1 - _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])
        else:
            for px in range(qa, qb):
                bad += 1 - _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0])
        if bad:
            counts[1] += bad
            px = qa
            while px < qb and counts[2] < examples.shape[0]:  # the row again, for where (rare)
                if _block_general(child, ya, yb, px, f, cx0, cw, cw_full, parent[prow, px - px0]) == 0:
                    examples[counts[2], 0] = prow
                    examples[counts[2], 1] = px - px0
                    counts[2] += 1
                px += 1


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _test_rows(child, ch, cw, cy0, cx0, ch_full, cw_full, parent, ph, pw, py0, px0, f, matched, counts, examples):
    if counts.shape[0]:
        block_count(child, ch, cw, cy0, cx0, ch_full, cw_full, parent, ph, pw, py0, px0, f, counts, examples)
    else:
        block_test(child, ch, cw, cy0, cx0, ch_full, cw_full, parent, ph, pw, py0, px0, f, matched)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def tally_matched(matched, hh, ww, examples):
    """Over ``matched[:hh, :ww]`` of a parent segment: (pixels judged, pixels matching no pixel
    of their block, how many of those were written to ``examples``: their (row, column), the
    first in raster order). Bit 4 marks a pixel not judged; 0 a pixel that did not match."""
    judged = 0
    bad = 0
    for y in range(hh):
        row = matched[y]
        for x in range(ww):
            v = row[x]
            judged += (v & 4) == 0
            bad += v == 0
    found = 0
    if bad:
        for y in range(hh):
            if found == examples.shape[0]:  # mutation: equivalent — speed only (the test below stops at the cap)
                break
            for x in range(ww):
                if matched[y, x] == 0 and found < examples.shape[0]:
                    examples[found, 0] = y
                    examples[found, 1] = x
                    found += 1
    return judged, bad, found


_LOADED: set[str] = set()  # pixel types whose kernels this process has loaded
_LOAD_LOCK = threading.Lock()


def load(dtype) -> None:
    """``warm_up`` once per pixel type and process, one thread at a time. The pass calls it
    before its threads start: numba's first dispatch of a kernel compiles it (or loads the
    cached machine code) and imports parts of numba lazily, which the pass's threads would
    otherwise do at the same moment."""
    if dtype is None or np.dtype(dtype).kind not in "ui":  # not labels: other checks say so
        return
    key = np.dtype(dtype).str
    if key in _LOADED:
        return
    with _LOAD_LOCK:
        if key not in _LOADED:
            warm_up(dtype)
            _LOADED.add(key)


def warm_up(dtype) -> None:
    """Load (or compile) the kernels for one pixel type: a tiny pass, so the first tile of a real
    pass does not pay for it. numba caches the machine code on disk (``cache=True``)."""
    from .channel_stats import StatsAccumulator, numbered_by_counting

    tile = np.zeros((4, 4), dtype)  # mutation: equivalent — warm-up only (compiles the kernels)
    acc = StatsAccumulator(4, 4)  # mutation: equivalent — warm-up only (compiles the kernels)
    acc.add(tile, 4, 4, 0, 0)  # mutation: equivalent — warm-up only (compiles the kernels)
    acc.finish()
    # sparse ids are numbered by sorting (``number_sorted``): loading it in a channel's first
    # merge took 3.5 ms of one core while the next channel's pass had the other
    sparse_id = min(int(np.iinfo(dtype).max), 1 << 20)
    if not numbered_by_counting(sparse_id, 1):  # mutation: equivalent — warm-up only (compiles the kernels)
        tile[0, 0] = sparse_id
        acc = StatsAccumulator(4, 4)  # mutation: equivalent — warm-up only (compiles the kernels)
        acc.add(tile, 4, 4, 0, 0)  # mutation: equivalent — warm-up only (compiles the kernels)
        acc.finish()
    matched = np.zeros((2, 2), np.uint8)
    block_test(tile, 4, 4, 0, 0, 4, 4, tile, 2, 2, 0, 0, 2, matched)  # mutation: equivalent — warm-up only (compiles the kernels)
    tally_matched(matched, 2, 2, np.zeros((1, 2), np.int64))  # mutation: equivalent — warm-up only (compiles the kernels)
    block_count(tile, 4, 4, 0, 0, 4, 4, tile, 2, 2, 0, 0, 2, np.zeros(3, np.int64), np.zeros((1, 2), np.int64))  # mutation: equivalent — warm-up only (compiles the kernels)


# --- the end of a pass: the parts' tables merged into one sorted, compact result -------------
#
# A channel's pass may run in parts (threads over disjoint tiles), each with its own table.
# ``dest`` maps each row of a part to its row in the merged result (ids ascending); an object
# seen by more than one part (it crosses the cut) is "multi": its sums are combined in a small
# side table, every other object's row is written directly. A part's columns are freed as soon
# as they are merged (counts and centroids together, then boxes), so the process never holds
# two full copies of the statistics.


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def count_ids(gid, n, present):
    """present[id] += 1 for the first n ids of a part (ids ≤ len(present) − 1)."""
    for r in range(n):
        present[gid[r]] += 1


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def number_present(present, ids_out, mflag, mlist):
    """Dense ids: ``present[id]`` (contributor counts) becomes the id's row in the result.
    Returns (rows, multi objects)."""
    o = 0
    m = 0
    for v in range(present.shape[0]):
        c = present[v]
        if c:
            ids_out[o] = v
            if c > 1:
                mflag[o] = 1
                mlist[m] = o
                m += 1
            present[v] = o
            o += 1
    return o, m


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def dest_dense(gid, n, present, dest):
    for r in range(n):
        dest[r] = present[gid[r]]


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def number_sorted(ids_all, order, ids_out, mflag, mlist, dest_all):
    """Sparse ids: walk the concatenated ids in sorted ``order``; each distinct id gets the next
    row. Returns (rows, multi objects)."""
    o = -1
    m = 0
    prev = np.int64(-1)
    for i in range(order.shape[0]):
        r = order[i]
        v = np.int64(ids_all[r])
        if v != prev:
            o += 1
            ids_out[o] = ids_all[r]
            prev = v
        elif mflag[o] == 0:
            mflag[o] = 1
            mlist[m] = o
            m += 1
        dest_all[r] = o
    return o + 1, m


@njit(cache=True, nogil=True, inline="always")  # mutation: equivalent — compilation cache and GIL release only
def _side(mlist, m, d):
    return np.searchsorted(mlist[:m], d)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def merge_counts_sums(gcnt, gsx, gsy, gsz, bcnt, bsx, bsy, bsz, n, dest, mflag, mlist, m,
                      counts, cx, cy, cz, side, is3d):
    """Counts and centroids (sum / count) of a part's rows, in one pass over them: the objects
    the part saw alone are written out; an object several parts saw adds its count and sums to
    its row of ``side`` (count, x, y, z sums: divided once every part is in)."""
    for r in range(n):
        c = gcnt[r]
        if c == PROMOTED:
            b = gsx[r]
            cnt = bcnt[b]
            sx = bsx[b]
            sy = bsy[b]
            sz = bsz[b]
        else:
            cnt = np.int64(c)
            sx = np.int64(gsx[r])
            sy = np.int64(gsy[r])
            sz = np.int64(gsz[r]) if is3d else np.int64(0)  # mutation: equivalent[constant] — 2D: the z sum is never read
        d = dest[r]
        if mflag[d]:
            k = _side(mlist, m, d)
            side[k, 0] += cnt
            side[k, 1] += sx
            side[k, 2] += sy
            side[k, 3] += sz
        else:
            counts[d] = cnt
            cx[d] = sx / max(np.int64(1), cnt)
            cy[d] = sy / max(np.int64(1), cnt)
            if is3d:
                cz[d] = sz / max(np.int64(1), cnt)


@njit(cache=True, nogil=True)  # mutation: equivalent — compilation cache and GIL release only
def merge_ranges(box, n, dest, mflag, out, half):
    """Row ranges: ``half`` min columns, then ``half`` max columns (bounding boxes: 2, z ranges:
    1); multi rows combined by min/max, the others copied. Written out per width: a loop over
    ``half`` made this kernel six times slower."""
    if half == 2:
        for r in range(n):
            d = dest[r]
            if mflag[d]:
                out[d, 0] = min(out[d, 0], box[r, 0])
                out[d, 1] = min(out[d, 1], box[r, 1])
                out[d, 2] = max(out[d, 2], box[r, 2])
                out[d, 3] = max(out[d, 3], box[r, 3])
            else:
                out[d, 0] = box[r, 0]
                out[d, 1] = box[r, 1]
                out[d, 2] = box[r, 2]
                out[d, 3] = box[r, 3]
    else:
        for r in range(n):
            d = dest[r]
            if mflag[d]:
                out[d, 0] = min(out[d, 0], box[r, 0])
                out[d, 1] = max(out[d, 1], box[r, 1])
            else:
                out[d, 0] = box[r, 0]
                out[d, 1] = box[r, 1]
