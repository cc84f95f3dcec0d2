"""Thumbnails of mask channels for the HTML report: labels in distinct colours on black,
rendered from a small pyramid level (never the full-resolution plane of a large image)."""

from __future__ import annotations

import numpy as np

MAX_SIDE = 256
MAX_SOURCE_PIXELS = 2048 * 2048  # the largest level we decode for a thumbnail


def colourise(labels: np.ndarray) -> np.ndarray:
    """Distinct colours per id (a hash spread over hue-like channels); 0 stays black."""
    ids = labels.astype(np.uint64)
    h = (ids * np.uint64(2654435761)) & np.uint64(0xFFFFFF)
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(0xFF) for s in (16, 8, 0)], axis=-1).astype(np.uint8)
    rgb = (rgb // 2 + 96).astype(np.uint8)  # keep colours bright against black
    rgb[labels == 0] = 0
    return rgb


def render(planes, bad_pixels: dict[int, list[tuple[int, int]]] | None = None) -> bytes | None:
    """PNG bytes of the smallest level that still shows the channel, or None if every level
    is too large to decode for a thumbnail (no pyramid on a big image)."""
    import imagecodecs

    from .checks.tiff_stream import read_region

    candidates = [p for p in planes if p.shape[0] * p.shape[1] <= MAX_SOURCE_PIXELS]
    if not candidates:
        return None
    # the smallest level at least MAX_SIDE wide, else the largest small one
    big_enough = [p for p in candidates if max(p.shape) >= MAX_SIDE]
    plane = big_enough[-1] if big_enough else candidates[0]
    h, w = plane.shape
    labels = read_region(plane, 0, h, 0, w)
    step = max(1, -(-max(h, w) // MAX_SIDE))
    rgb = colourise(labels[::step, ::step])
    for level, pixels in (bad_pixels or {}).items():
        scale = 2.0 ** (level - plane.level)  # level-k coordinates on the rendered level
        for y, x in pixels:
            ty, tx = int(y * scale) // step, int(x * scale) // step
            rgb[max(0, ty - 1): ty + 2, max(0, tx - 1): tx + 2] = (255, 0, 0)  # a visible 3×3 mark
    return bytes(imagecodecs.png_encode(np.ascontiguousarray(rgb)))
