"""One streaming pass per channel: ids, pixel counts, bounding boxes and centroids.

Each segment is reduced to horizontal runs of equal value (an object row is usually one
run), and every statistic is computed from runs: far fewer elements than pixels. Per-segment
results are merged by id, so memory is a few segments plus per-object accumulators.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..findings import CheckResult, Severity
from ..rules import Authority, define_rule
from .mask_image import SRC, MaskInfo
from .tiff_stream import MaskDecodeError, Plane, map_segments

LABELS = define_rule("LABELS", Severity.ERROR, "Every tile/strip of a channel decodes; 0 is background and every other value an object id (count, max id and background fraction are reported).", SRC, authority=Authority.SCHEMA)
LABELS_EMPTY = define_rule("LABELS-EMPTY", Severity.WARNING, "A channel holds at least one object.", SRC, authority=Authority.PRACTICE)
LABELS_SPARSE = define_rule("LABELS-SPARSE", Severity.WARNING, "Object ids are not wildly sparse (max id ≤ 10 × object count); ids need not be contiguous.", SRC, authority=Authority.PRACTICE)

_MERGE_AT = 500_000  # partial per-segment entries kept before the first consolidation


@dataclass
class ChannelStats:
    """Per-object statistics of one channel at full resolution (pixel units)."""

    ids: np.ndarray  # sorted object ids (no 0)
    counts: np.ndarray  # pixels per id
    centroid_x: np.ndarray
    centroid_y: np.ndarray
    bbox: np.ndarray  # (N, 4): min_y, min_x, max_y, max_x (inclusive)
    n_pixels: int
    background_pixels: int
    decoded_bytes: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def n_objects(self) -> int:
        return len(self.ids)

    @property
    def max_id(self) -> int:
        return int(self.ids[-1]) if len(self.ids) else 0

    @property
    def background_fraction(self) -> float:
        return self.background_pixels / self.n_pixels if self.n_pixels else 1.0

    def index_of(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` in ``self.ids`` (-1 where absent)."""
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        found = len(self.ids) > 0
        return np.where(found & (self.ids[pos] == ids) if found else False, pos, -1)


def _reduce_segment(seg: np.ndarray, y0: int, x0: int):
    """Runs -> (ids, count, sum_x, sum_y, min_x, min_y, max_x, max_y), background, bytes."""
    h, w = seg.shape
    nbytes = seg.nbytes
    if not seg.any():
        return None, h * w, nbytes
    starts_mask = np.empty((h, w), dtype=bool)
    starts_mask[:, 0] = True
    np.not_equal(seg[:, 1:], seg[:, :-1], out=starts_mask[:, 1:])
    starts = np.flatnonzero(starts_mask)
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    ends[-1] = h * w
    vals = seg.ravel()[starts]
    keep = vals != 0
    starts, ends, vals = starts[keep], ends[keep], vals[keep]
    ry = starts // w
    rx0 = starts - ry * w
    length = ends - starts
    rx1 = rx0 + length - 1
    ids, inv = np.unique(vals, return_inverse=True)
    n = len(ids)
    count = np.bincount(inv, weights=length, minlength=n)
    sum_x = np.bincount(inv, weights=(rx0 + rx1) * length / 2.0, minlength=n) + x0 * count
    sum_y = np.bincount(inv, weights=ry * length, minlength=n) + y0 * count
    big = np.iinfo(np.int64).max
    min_x = np.full(n, big, np.int64)
    min_y = np.full(n, big, np.int64)
    max_x = np.full(n, -1, np.int64)
    max_y = np.full(n, -1, np.int64)
    np.minimum.at(min_x, inv, rx0)
    np.minimum.at(min_y, inv, ry)
    np.maximum.at(max_x, inv, rx1)
    np.maximum.at(max_y, inv, ry)
    # compact partials (ids keep the pixel dtype, coordinates fit int32): memory is per object
    part = (ids, count, sum_x, sum_y, (min_x + x0).astype(np.int32), (min_y + y0).astype(np.int32),
            (max_x + x0).astype(np.int32), (max_y + y0).astype(np.int32))
    background = h * w - int(length.sum())
    return part, background, nbytes


def _merge(parts: list[tuple]) -> tuple:
    """Combine partial statistics by id (sort + reduceat)."""
    cols = [np.concatenate([p[i] for p in parts]) for i in range(8)]
    order = np.argsort(cols[0], kind="stable")
    cols = [c[order] for c in cols]
    ids = cols[0]
    if not len(ids):
        return tuple(cols)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return (
        ids[starts],
        np.add.reduceat(cols[1], starts),
        np.add.reduceat(cols[2], starts),
        np.add.reduceat(cols[3], starts),
        np.minimum.reduceat(cols[4], starts),
        np.minimum.reduceat(cols[5], starts),
        np.maximum.reduceat(cols[6], starts),
        np.maximum.reduceat(cols[7], starts),
    )


def compute_channel_stats(plane: Plane, workers: int = 2) -> ChannelStats:
    """Stream one plane; raises MaskDecodeError naming the segment that fails."""
    parts: list[tuple] = []
    pending = merged = 0
    background = 0
    decoded = 0
    for part, bg, nbytes in map_segments(plane, _reduce_segment, workers=workers):
        background += bg
        decoded += nbytes
        if part is not None:
            parts.append(part)
            pending += len(part[0])
            # consolidate when the new partials outgrow the merged block: amortised, so each
            # entry is re-sorted O(log) times, and memory stays ~2× the object count
            if pending > max(_MERGE_AT, 2 * merged):
                parts = [_merge(parts)]
                pending = merged = len(parts[0][0])
    h, w = plane.shape
    if parts:
        ids, count, sx, sy, mnx, mny, mxx, mxy = _merge(parts)
    else:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
        ids, count, sx, sy = empty_i, empty_f, empty_f, empty_f
        mnx = mny = mxx = mxy = empty_i
    return ChannelStats(
        ids=ids.astype(np.int64),
        counts=count.astype(np.int64),
        centroid_x=sx / np.maximum(count, 1),
        centroid_y=sy / np.maximum(count, 1),
        bbox=np.stack([mny, mnx, mxy, mxx], axis=1) if len(ids) else np.zeros((0, 4), np.int64),
        n_pixels=h * w,
        background_pixels=background,
        decoded_bytes=decoded,
    )


def check_labels(stats: ChannelStats | MaskDecodeError, info: MaskInfo, channel: str) -> CheckResult:
    loc = info.location(channel=channel)
    if isinstance(stats, MaskDecodeError):
        return CheckResult(findings=[LABELS.finding(
            str(stats), loc, fix="re-export the mask; its pixel data is damaged or truncated")])
    result = CheckResult(data={"objects": stats.n_objects})
    result.notes.append(
        f"channel {channel!r}: {stats.n_objects} object(s), max id {stats.max_id}, "
        f"background {stats.background_fraction:.1%} of {stats.n_pixels} px")
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
