"""The 2×2 block test (SPEC §3): every pixel of level k equals one of the four pixels of its
source block in level k−1. It is the test that catches averaged or interpolated levels.

Streams aligned windows of level k and their source windows in level k−1.
"""

from __future__ import annotations

import numpy as np

from ..findings import CheckResult, Severity
from ..rules import Authority, define_rule
from .mask_image import SRC, MaskInfo
from .tiff_stream import MaskDecodeError, Plane, read_region

PYRAMID_LABELS = define_rule(
    "PYRAMID-LABELS", Severity.ERROR,
    "Every pixel of pyramid level k equals one of the four pixels of its 2×2 block in level k−1 "
    "(no averaged or interpolated levels).", SRC, authority=Authority.SCHEMA,
)

WINDOW_BYTES = 32 * 1024 * 1024  # source window budget per step
MAX_EXAMPLES = 5


def _window(plane: Plane) -> tuple[int, int]:
    """Window (rows, cols) in level-k pixels, aligned to the level's segments."""
    h, w = plane.shape
    sh, sw = plane.segment_shape
    itemsize = max(1, plane.page.bitspersample // 8)
    if plane.page.is_tiled:
        side = max(sh, sw, 512)
        return side, side
    rows = max(sh, WINDOW_BYTES // max(1, 4 * w * itemsize))
    return rows, w


def check_block_rule(upper: Plane, lower: Plane, workers: int = 2) -> tuple[int, list[tuple[int, int]], int]:
    """(bad pixel count, first bad (y, x) in ``lower``, pixels tested)."""
    hu, wu = upper.shape
    hl, wl = lower.shape
    # test only the pixels whose source block exists (sizes themselves are the pyramid item's job)
    hl_t, wl_t = min(hl, -(-hu // 2)), min(wl, -(-wu // 2))
    wh, ww = _window(lower)
    bad_count, first, tested = 0, [], 0
    for y0 in range(0, hl_t, wh):
        y1 = min(hl_t, y0 + wh)
        for x0 in range(0, wl_t, ww):
            x1 = min(wl_t, x0 + ww)
            low = read_region(lower, y0, y1, x0, x1, workers)
            src = read_region(upper, 2 * y0, min(hu, 2 * y1), 2 * x0, min(wu, 2 * x1), workers)
            need_h, need_w = 2 * (y1 - y0), 2 * (x1 - x0)
            src = np.pad(src, ((0, need_h - src.shape[0]), (0, need_w - src.shape[1])), mode="edge")
            ok = np.zeros(low.shape, dtype=bool)
            for dy in (0, 1):
                for dx in (0, 1):
                    ok |= src[dy::2, dx::2] == low
            tested += low.size
            if not ok.all():
                ys, xs = np.nonzero(~ok)
                bad_count += len(ys)
                for y, x in zip(ys[:MAX_EXAMPLES], xs[:MAX_EXAMPLES]):
                    if len(first) < MAX_EXAMPLES:
                        first.append((int(y + y0), int(x + x0)))
    return bad_count, first, tested


def check_pyramid_labels(info: MaskInfo, planes: list[Plane], channel: str, workers: int = 2) -> CheckResult:
    """``planes``: this channel's plane at every level, full resolution first."""
    if len(planes) < 2:
        return CheckResult(skip=f"{info.display} has no pyramid levels to compare")
    result = CheckResult()
    for k in range(1, len(planes)):
        try:
            bad, first, tested = check_block_rule(planes[k - 1], planes[k], workers)
        except MaskDecodeError as exc:
            result.findings.append(PYRAMID_LABELS.finding(
                str(exc), info.location(channel=channel, level=k),
                fix="re-export the mask; its pixel data is damaged or truncated"))
            continue
        if bad:
            result.data.setdefault("bad_pixels", {})[k] = first
            where = ", ".join(f"(y {y}, x {x})" for y, x in first)
            result.findings.append(PYRAMID_LABELS.finding(
                f"{info.display}: channel {channel!r} level {k}: {bad} of {tested} pixel(s) match none of "
                f"the four pixels of their 2×2 block in level {k - 1}; first at {where} — the level "
                "was averaged or interpolated, which invents object ids",
                info.location(channel=channel, level=k, pixel=first[0]),
                fix="build pyramid levels by nearest-neighbour subsampling (e.g. labels[::2, ::2]) "
                "or the block mode, never by averaging"))
        else:
            result.notes.append(f"level {k}: all {tested} pixels come from their 2×2 block in level {k - 1}")
    return result
