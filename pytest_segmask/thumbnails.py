"""Thumbnails of mask channels for the HTML report's conformance card.

Labels are drawn in distinct colours on black, from a small pyramid level (never the
full-resolution plane of a large image). Wrong pyramid pixels — pixels of level k that match
none of the pixels of their f × f block in level k−1 — are made visible at thumbnail scale:
every thumbnail cell holding one is painted red, the labels are dimmed, and each small
cluster of marks gets a yellow box, so one wrong pixel in a 40 000-pixel-wide image is still
findable. Where the marks come from:

* the block test run here, on the levels small enough to decode for a thumbnail (a cheap
  second implementation of the check's test; its counts are compared with the check's in the
  tests);
* the pyramid-labels check's data for the other levels: ``bad_pixel_boxes``
  (``{level: [[y0, x0, y1, x1, count], ...]}``, level-k pixels, half-open) when present, else
  the first examples ``bad_pixels`` (``{level: [(y, x), ...]}``).

Rendering runs where the item runs (an xdist worker); the PNG travels in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_SIDE = 256  # thumbnail cells along the longer side
MIN_SIDE = 240  # small images are enlarged (whole pixels) to at least this many screen pixels
MAX_SOURCE_PIXELS = 2048 * 2048  # the largest level we decode for a thumbnail or a local block test
MAX_BOXES = 40  # boxes drawn per thumbnail (the smallest clusters first: they need a box most)
BOX_MARGIN = 2  # cells between a cluster and its box
MARK = (255, 40, 40)
BOX = (255, 225, 0)


@dataclass
class Thumbnail:
    png: bytes
    level: int  # the pyramid level drawn
    level_shape: tuple[int, int]  # its pixel size (h, w)
    step: int  # level pixels per thumbnail cell
    scale: int  # screen pixels per thumbnail cell (small images are enlarged)
    width: int  # PNG size
    height: int
    bad_by_level: dict[int, int] = field(default_factory=dict)  # wrong pyramid pixels per level
    marked_cells: int = 0
    clusters: int = 0  # clusters of marks
    boxes: int = 0  # of them boxed
    sources: list[str] = field(default_factory=list)  # where the marks came from, in words

    @property
    def bad(self) -> int:
        return sum(self.bad_by_level.values())

    def caption(self) -> str:
        if not self.bad_by_level:
            return f"level {self.level}, {self.level_shape[1]}×{self.level_shape[0]} px"
        levels = ", ".join(f"level {k}: {n:,}" for k, n in sorted(self.bad_by_level.items()))
        boxed = f"; {self.boxes} of {self.clusters} cluster(s) boxed" if self.clusters else ""
        return f"{self.bad:,} wrong pyramid pixel(s) ({levels}) marked red{boxed}"

    def meta(self) -> dict:
        """Plain data about the picture (travels with the PNG in the report)."""
        return {
            "level": self.level, "level_shape": list(self.level_shape), "step": self.step,
            "scale": self.scale, "width": self.width, "height": self.height,
            "bad": self.bad, "bad_by_level": {str(k): v for k, v in sorted(self.bad_by_level.items())},
            "marked_cells": self.marked_cells, "clusters": self.clusters, "boxes": self.boxes,
            "sources": self.sources, "caption": self.caption(),
        }


def colourise(labels: np.ndarray) -> np.ndarray:
    """Distinct colours per id (a hash spread over hue-like channels); 0 stays black."""
    ids = labels.astype(np.uint64)
    h = (ids * np.uint64(2654435761)) & np.uint64(0xFFFFFF)
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(0xFF) for s in (16, 8, 0)], axis=-1).astype(np.uint8)
    rgb = (rgb // 2 + 96).astype(np.uint8)  # keep colours bright against black
    rgb[labels == 0] = 0
    return rgb


def block_test(upper: np.ndarray, lower: np.ndarray, factor: int) -> np.ndarray:
    """Bool map over ``lower`` (level k): True where the pixel matches none of the pixels of
    its factor × factor block in ``upper`` (level k−1). Edge pixels use the block they have;
    pixels whose block lies outside ``upper`` are not tested (sizes are another item's job)."""
    hu, wu = upper.shape
    hl, wl = lower.shape
    f = factor
    ht, wt = min(hl, -(-hu // f)), min(wl, -(-wu // f))
    bad = np.zeros((hl, wl), dtype=bool)
    if ht == 0 or wt == 0:
        return bad
    low = lower[:ht, :wt]
    src = upper[: f * ht, : f * wt]
    src = np.pad(src, ((0, f * ht - src.shape[0]), (0, f * wt - src.shape[1])), mode="edge")
    ok = np.zeros(low.shape, dtype=bool)
    for dy in range(f):
        for dx in range(f):
            ok |= src[dy::f, dx::f] == low
    bad[:ht, :wt] = ~ok
    return bad


def _factor(upper_shape, lower_shape) -> int | None:
    (hu, wu), (hl, wl) = upper_shape, lower_shape
    if not hl or not wl:
        return None
    f = max(1, round(max(hu / hl, wu / wl)))
    return f if f >= 2 else None


def clusters(marks: np.ndarray, reach: int = 2) -> list[tuple[int, int, int, int, int]]:
    """Clusters of marked cells (cells within ``reach`` of each other join): (y0, x0, y1, x1,
    cells), bounding boxes of the marked cells, half-open, largest first."""
    h, w = marks.shape
    if not marks.any():
        return []
    grown = np.zeros((h + 2 * reach, w + 2 * reach), dtype=bool)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            grown[dy: dy + h, dx: dx + w] |= marks
    grown = grown[reach: reach + h, reach: reach + w]
    label = np.zeros((h, w), dtype=np.int32)
    flat_grown = grown.ravel().tolist()
    flat_label = [0] * (h * w)
    current = 0
    for start in np.flatnonzero(marks).tolist():
        if flat_label[start]:
            continue
        current += 1
        flat_label[start] = current
        stack = [start]
        while stack:
            i = stack.pop()
            y, x = divmod(i, w)
            for j, ok in ((i - w, y > 0), (i + w, y < h - 1), (i - 1, x > 0), (i + 1, x < w - 1)):
                if ok and flat_grown[j] and not flat_label[j]:
                    flat_label[j] = current
                    stack.append(j)
    label[:] = np.asarray(flat_label, dtype=np.int32).reshape(h, w)
    ys, xs = np.nonzero(marks)
    ids = label[ys, xs]
    n = current + 1
    y0, x0 = np.full(n, h, dtype=np.int64), np.full(n, w, dtype=np.int64)
    y1, x1 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    np.minimum.at(y0, ids, ys)
    np.minimum.at(x0, ids, xs)
    np.maximum.at(y1, ids, ys + 1)
    np.maximum.at(x1, ids, xs + 1)
    count = np.bincount(ids, minlength=n)
    out = [(int(y0[c]), int(x0[c]), int(y1[c]), int(x1[c]), int(count[c])) for c in range(1, n)]
    out.sort(key=lambda c: -c[4])
    return out


def _levels(data: dict | None, key: str) -> dict[int, list]:
    """``data[key]`` as {level: list}; tolerant of JSON's string keys and of absent data."""
    raw = (data or {}).get(key) or {}
    out: dict[int, list] = {}
    if isinstance(raw, dict):
        for level, values in raw.items():
            try:
                out[int(level)] = list(values or [])
            except (TypeError, ValueError):
                continue
    return out


def _paint(marks: np.ndarray, y0: float, x0: float, y1: float, x1: float) -> None:
    """Mark the cells covering [y0, y1) × [x0, x1) (thumbnail-cell coordinates), at least one."""
    h, w = marks.shape
    ya, xa = int(np.clip(np.floor(y0), 0, h - 1)), int(np.clip(np.floor(x0), 0, w - 1))
    yb, xb = max(ya + 1, min(h, int(np.ceil(y1)))), max(xa + 1, min(w, int(np.ceil(x1))))
    marks[ya:yb, xa:xb] = True


def _outline(rgb: np.ndarray, y0: int, x0: int, y1: int, x1: int, colour) -> None:
    h, w = rgb.shape[:2]
    y0, x0, y1, x1 = max(0, y0), max(0, x0), min(h - 1, y1), min(w - 1, x1)
    rgb[y0, x0: x1 + 1] = colour
    rgb[y1, x0: x1 + 1] = colour
    rgb[y0: y1 + 1, x0] = colour
    rgb[y0: y1 + 1, x1] = colour


def thumbnail(planes, pyramid_data: dict | None = None, counts: dict[int, int] | None = None,
              read=None) -> Thumbnail | None:
    """The channel's thumbnail with its wrong pyramid pixels marked, or None if every level is
    too large to decode (no pyramid on a big image).

    ``planes``: the channel's levels (objects with ``.shape``, largest first), ``read(plane)``
    their pixels; ``pyramid_data``: the pyramid-labels check's data; ``counts``: the check's
    wrong-pixel count per level (the count shown; levels tested here fill the gaps)."""
    if read is None:
        from .checks.tiff_stream import read_region

        def read(plane):
            h, w = plane.shape
            return read_region(plane, 0, h, 0, w)

    planes = list(planes)
    shapes = [tuple(int(v) for v in p.shape) for p in planes]
    small = [i for i, (h, w) in enumerate(shapes) if h * w <= MAX_SOURCE_PIXELS]
    if not small:
        return None
    # the smallest level at least MAX_SIDE wide, else the largest small one
    big_enough = [i for i in small if max(shapes[i]) >= MAX_SIDE]
    r = big_enough[-1] if big_enough else small[0]
    cache: dict[int, np.ndarray] = {}

    def pixels(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = np.asarray(read(planes[i]))
        return cache[i]

    h, w = shapes[r]
    step = max(1, -(-max(h, w) // MAX_SIDE))
    grid = pixels(r)[::step, ::step]
    gh, gw = grid.shape
    marks = np.zeros((gh, gw), dtype=bool)

    def cells(k: int, y0, x0, y1, x1) -> None:
        """Paint level-k pixels [y0, y1) × [x0, x1) onto the grid of level r."""
        sy, sx = h / shapes[k][0] / step, w / shapes[k][1] / step
        _paint(marks, y0 * sy, x0 * sx, y1 * sy, x1 * sx)

    bad_by_level: dict[int, int] = {}
    sources: list[str] = []
    tested: set[int] = set()
    for k in range(1, len(planes)):
        f = _factor(shapes[k - 1], shapes[k])
        if f is None or shapes[k - 1][0] * shapes[k - 1][1] > MAX_SOURCE_PIXELS:
            continue
        bad = block_test(pixels(k - 1), pixels(k), f)
        tested.add(k)
        n = int(bad.sum())
        if n:
            bad_by_level[k] = n
            for y, x in zip(*np.nonzero(bad)):
                cells(k, y, x, y + 1, x + 1)
    if tested:
        sources.append("block test of level(s) " + ", ".join(str(k) for k in sorted(tested)) + " at thumbnail time")
    boxes = _levels(pyramid_data, "bad_pixel_boxes")
    points = _levels(pyramid_data, "bad_pixels")
    for k in sorted(set(boxes) | set(points)):
        if k in tested or not 0 <= k < len(planes):
            continue
        if boxes.get(k):
            for box in boxes[k]:
                y0, x0, y1, x1 = (int(v) for v in list(box)[:4])
                cells(k, y0, x0, y1, x1)
            sources.append(f"level {k}: the check's boxes")
        else:
            for point in points.get(k, []):
                y, x = (int(v) for v in list(point)[-2:])
                cells(k, y, x, y + 1, x + 1)
            sources.append(f"level {k}: the check's first examples only")
        if k not in bad_by_level:
            n = sum(int(b[4]) for b in boxes.get(k, []) if len(b) > 4) or len(points.get(k, []))
            bad_by_level[k] = n
    for k, n in (counts or {}).items():
        if n:
            bad_by_level[int(k)] = int(n)  # the check's count (all planes, all levels) wins

    rgb = colourise(grid)
    found = clusters(marks) if marks.any() else []
    boxed = 0
    if found:
        rgb = (rgb.astype(np.uint16) * 11 // 20).astype(np.uint8)  # dim the labels under the marks
        rgb[marks] = MARK
        # box the small clusters (a box around half the picture says nothing)
        for y0, x0, y1, x1, _n in sorted(found, key=lambda c: (c[2] - c[0]) * (c[3] - c[1])):
            if boxed >= MAX_BOXES:
                break
            if (y1 - y0) * (x1 - x0) > gh * gw // 4:
                continue
            _outline(rgb, y0 - BOX_MARGIN - 1, x0 - BOX_MARGIN - 1, y1 + BOX_MARGIN, x1 + BOX_MARGIN, BOX)
            boxed += 1
    scale = max(1, -(-MIN_SIDE // max(gh, gw)))
    if scale > 1:
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    import imagecodecs

    png = bytes(imagecodecs.png_encode(np.ascontiguousarray(rgb)))
    return Thumbnail(
        png=png, level=r, level_shape=(h, w), step=step, scale=scale, width=rgb.shape[1], height=rgb.shape[0],
        bad_by_level=dict(sorted(bad_by_level.items())), marked_cells=int(marks.sum()),
        clusters=len(found), boxes=boxed, sources=sources,
    )


def render(planes, bad_pixels: dict[int, list[tuple[int, int]]] | None = None) -> bytes | None:
    """PNG bytes only (the older interface)."""
    thumb = thumbnail(planes, {"bad_pixels": bad_pixels} if bad_pixels else None)
    return thumb.png if thumb else None
