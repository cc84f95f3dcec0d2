"""Label images and pyramids (pure numpy)."""

from __future__ import annotations

import math

import numpy as np

from .spec import MaskSpec


def object_ids(mask: MaskSpec, channel_index: int) -> np.ndarray:
    spec = mask.channels[channel_index]
    n = spec.n_objects
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not spec.sparse_ids:
        return np.arange(1, n + 1, dtype=np.int64) + spec.id_offset
    rng = np.random.default_rng([mask.seed, channel_index, 1])
    ids = np.sort(rng.choice(np.arange(1, 3 * n + 1), size=n, replace=False)).astype(np.int64)
    return ids + spec.id_offset


def make_labels(mask: MaskSpec, channel_index: int) -> np.ndarray:
    """(H, W) labels: non-overlapping ellipses, one per id, each at least one pixel.

    Objects sit in their own cells of a grid (so they never overlap) at random offsets.
    """
    height, width = mask.height, mask.width
    ids = object_ids(mask, channel_index)
    labels = np.zeros((height, width), dtype=np.int64)
    n = len(ids)
    if n == 0:
        return labels
    cols = max(1, math.ceil(math.sqrt(n * width / height)))
    rows = math.ceil(n / cols)
    cell_h, cell_w = height // rows, width // cols
    if cell_h < 1 or cell_w < 1:
        raise ValueError(f"{n} objects do not fit in a {width}×{height} image")
    rng = np.random.default_rng([mask.seed, channel_index])
    order = rng.permutation(rows * cols)[:n]
    for label, cell in zip(ids, order):
        r, c = divmod(int(cell), cols)
        ry = max(0.5, rng.uniform(0.25, 0.5) * cell_h)
        rx = max(0.5, rng.uniform(0.25, 0.5) * cell_w)
        cy = r * cell_h + cell_h / 2 + rng.uniform(-0.1, 0.1) * cell_h
        cx = c * cell_w + cell_w / 2 + rng.uniform(-0.1, 0.1) * cell_w
        y0, y1 = r * cell_h, (r + 1) * cell_h
        x0, x1 = c * cell_w, (c + 1) * cell_w
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = ((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2 <= 1.0
        inside[min(max(int(cy) - y0, 0), cell_h - 1), min(max(int(cx) - x0, 0), cell_w - 1)] = True
        labels[y0:y1, x0:x1][inside] = label
    return labels


def make_volume(mask: MaskSpec, channel_index: int) -> np.ndarray:
    """(Z, H, W) labels: plane z is the 2D labels shifted right by z px (every object spans
    all planes, so ids repeat across planes as one object), plus the channel's negative pixel."""
    plane = make_labels(mask, channel_index)
    vol = np.stack([np.roll(plane, z, axis=1) if z else plane for z in range(mask.size_z)])
    neg = mask.channels[channel_index].negative_at
    if neg is not None:
        z, y, x = neg
        vol[min(z, mask.size_z - 1), min(y, mask.height - 1), min(x, mask.width - 1)] = -1
    return vol


def _blocks(level: np.ndarray, f: int = 2) -> list[np.ndarray]:
    """The f × f pixels of each block (edge blocks repeat the pixels they have)."""
    h, w = level.shape
    padded = np.pad(level, ((0, -h % f), (0, -w % f)), mode="edge")
    return [padded[dy::f, dx::f] for dy in range(f) for dx in range(f)]


def downsample(level: np.ndarray, method: str, f: int = 2) -> np.ndarray:
    if method in ("topleft", "legacy", "wrong-sizes"):
        return level[::f, ::f]
    blocks = _blocks(level, f)
    if method == "mode":  # one of the four pixels: the largest id present (valid)
        return np.maximum.reduce(blocks)
    if method == "mean":  # averages: with dense ids these land on other ids (defect)
        stacked = np.stack(blocks).astype(np.float64)
        return np.rint(stacked.mean(axis=0)).astype(level.dtype)
    if method == "bilinear":  # interpolation between horizontal neighbours (defect)
        a = blocks[0].astype(np.float64)
        b = np.roll(a, -1, axis=1)
        return np.rint((a + b) / 2).astype(level.dtype)
    raise ValueError(f"unknown pyramid method {method!r}")


def build_pyramid(labels: np.ndarray, levels: int, method: str = "topleft", factor: int = 2) -> list[np.ndarray]:
    pyramid = [labels]
    for _ in range(1, levels):
        nxt = downsample(pyramid[-1], method, factor)
        if method == "wrong-sizes":
            nxt = nxt[: max(1, nxt.shape[0] - 3), : max(1, nxt.shape[1] - 3)]
        pyramid.append(nxt)
    return pyramid


def object_table_rows(labels: np.ndarray) -> list[tuple[int, float, float, int]]:
    """(id, centroid x, centroid y, pixel count) per object, in id order (pixel units)."""
    flat = labels.ravel()
    nonzero = np.flatnonzero(flat)
    values = flat[nonzero]
    ys, xs = np.divmod(nonzero, labels.shape[1])
    ids, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sum_x = np.bincount(inverse, weights=xs, minlength=len(ids))
    sum_y = np.bincount(inverse, weights=ys, minlength=len(ids))
    return [
        (int(i), float(sx / c), float(sy / c), int(c))
        for i, sx, sy, c in zip(ids, sum_x, sum_y, counts)
    ]
