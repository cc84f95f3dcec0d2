"""Streaming access to one plane of a TIFF: segments (tiles or strips), never a whole plane.

Decoding uses tifffile's own per-page codecs (imagecodecs underneath), which release the GIL,
so the per-segment work runs on a small thread pool.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np


class MaskDecodeError(Exception):
    """A tile or strip cannot be read or decoded; the message names file, plane and segment."""


@dataclass(frozen=True)
class Plane:
    """One plane (channel) of one pyramid level."""

    page: object  # tifffile TiffPage
    display: str
    channel: str
    level: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.page.imagelength, self.page.imagewidth

    @property
    def segment_shape(self) -> tuple[int, int]:
        page = self.page
        if page.is_tiled:
            return page.tilelength, page.tilewidth
        return min(page.rowsperstrip, page.imagelength), page.imagewidth

    def grid(self) -> tuple[int, int]:
        (h, w), (sh, sw) = self.shape, self.segment_shape
        return -(-h // sh), -(-w // sw)

    def where(self, index: int) -> str:
        rows, cols = self.grid()
        r, c = divmod(index, cols)
        sh, sw = self.segment_shape
        kind = "tile" if self.page.is_tiled else "strip"
        return f"{kind} {index} (pixels y {r * sh}…, x {c * sw}…) of channel {self.channel!r}, level {self.level}"


def _read_decode(plane: Plane, index: int, lock: threading.Lock) -> tuple[np.ndarray, int, int]:
    """Decode one segment; returns (2-D array cropped to the image, y0, x0)."""
    page = plane.page
    fh = page.parent.filehandle
    offset, count = page.dataoffsets[index], page.databytecounts[index]
    h, w = plane.shape
    sh, sw = plane.segment_shape
    rows, cols = plane.grid()
    r, c = divmod(index, cols)
    y0, x0 = r * sh, c * sw
    if not offset or not count:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} is missing (offset/bytecount 0)")
    if offset + count > fh.size:
        raise MaskDecodeError(
            f"{plane.display}: {plane.where(index)} lies past the end of the file "
            f"(bytes {offset}…{offset + count} of {fh.size}); the file is truncated")
    with lock:
        fh.seek(offset)
        data = fh.read(count)
    try:
        decoded, _, _ = page.decode(data, index)
    except Exception as exc:  # noqa: BLE001 - any codec failure is a finding
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} cannot be decoded: {type(exc).__name__}: {exc}") from None
    if decoded is None:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} decoded to nothing")
    arr = decoded.reshape(decoded.shape[-3], decoded.shape[-2]) if decoded.ndim >= 3 else decoded
    return arr[: min(sh, h - y0), : min(sw, w - x0)], y0, x0


def map_segments(
    plane: Plane,
    func: Callable[[np.ndarray, int, int], object],
    indices: list[int] | None = None,
    workers: int = 2,
) -> Iterator[object]:
    """``func(segment, y0, x0)`` for each segment, in a bounded thread pool, results in order."""
    lock = threading.Lock()
    rows, cols = plane.grid()
    todo = list(range(rows * cols)) if indices is None else indices
    if len(plane.page.dataoffsets) < rows * cols:
        raise MaskDecodeError(
            f"{plane.display}: channel {plane.channel!r} level {plane.level} declares "
            f"{rows * cols} segments but lists {len(plane.page.dataoffsets)} offsets")

    def work(index):
        arr, y0, x0 = _read_decode(plane, index, lock)
        return func(arr, y0, x0)

    if workers <= 1:
        for index in todo:
            yield work(index)
        return
    # at most 2 × workers segments in flight: memory stays a few tiles
    with ThreadPoolExecutor(workers) as pool:
        window = 2 * workers
        pending = [pool.submit(work, i) for i in todo[:window]]
        next_index = window
        while pending:
            future = pending.pop(0)
            if next_index < len(todo):
                pending.append(pool.submit(work, todo[next_index]))
                next_index += 1
            try:
                yield future.result()
            except BaseException:
                for f in pending:
                    f.cancel()
                raise


def read_region(plane: Plane, y0: int, y1: int, x0: int, x1: int, workers: int = 2) -> np.ndarray:
    """Pixels [y0:y1, x0:x1] of the plane, decoding only the segments that intersect it."""
    sh, sw = plane.segment_shape
    rows, cols = plane.grid()
    indices = [r * cols + c for r in range(y0 // sh, min(rows, -(-y1 // sh)))
               for c in range(x0 // sw, min(cols, -(-x1 // sw)))]
    out = None

    def paste(arr, sy, sx):
        return arr, sy, sx

    for arr, sy, sx in map_segments(plane, paste, indices, workers):
        if out is None:
            out = np.zeros((y1 - y0, x1 - x0), dtype=arr.dtype)
        ya, yb = max(y0, sy), min(y1, sy + arr.shape[0])
        xa, xb = max(x0, sx), min(x1, sx + arr.shape[1])
        if ya < yb and xa < xb:
            out[ya - y0 : yb - y0, xa - x0 : xb - x0] = arr[ya - sy : yb - sy, xa - sx : xb - sx]
    return out if out is not None else np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
