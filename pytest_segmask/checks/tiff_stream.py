"""Streaming access to TIFF planes: segments (tiles or strips), never a whole plane.

Every IFD is checked against named limits *before* anything is allocated from its declared
sizes (``segment_layout``), and failures are described in words. Decoding uses tifffile's
per-page codecs (imagecodecs underneath), which release the GIL.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .memory import HUGE_PAGE, anonymous

# --- limits: a declared structure beyond one of these is a finding, never an allocation ----
MAX_SEGMENT_BYTES = 512 * 1024 * 1024  # one decoded tile or strip
MAX_IMAGE_SIDE = 1 << 20  # ImageWidth / ImageLength of any IFD or SubIFD (px; so at most 2^40 px)
MAX_SEGMENTS = 1 << 22  # tiles or strips of one IFD
MAX_IFDS = 65_536  # top-level IFDs of a mask
MAX_SUBIFDS = 32  # pyramid levels under one IFD

LIMITS = {
    "MAX_SEGMENT_BYTES": MAX_SEGMENT_BYTES, "MAX_IMAGE_SIDE": MAX_IMAGE_SIDE,
    "MAX_SEGMENTS": MAX_SEGMENTS, "MAX_IFDS": MAX_IFDS,
    "MAX_SUBIFDS": MAX_SUBIFDS,
}


def limit_text(name: str) -> str:
    return f"the limit {name} = {LIMITS[name]:,}"


class MaskDecodeError(Exception):
    """A tile or strip cannot be read or decoded; the message names file, plane and segment."""


@dataclass(frozen=True)
class Layout:
    """Validated geometry of one IFD: image (h, w), segment (sh, sw), grid (rows, cols)."""

    h: int
    w: int
    sh: int
    sw: int
    rows: int
    cols: int
    tiled: bool
    itemsize: int

    @property
    def n_segments(self) -> int:
        return self.rows * self.cols

    def rect(self, index: int) -> tuple[int, int, int, int]:
        """(y0, x0, height, width) of segment ``index`` clipped to the image."""
        r, c = divmod(index, self.cols)
        y0, x0 = r * self.sh, c * self.sw
        return y0, x0, min(self.sh, self.h - y0), min(self.sw, self.w - x0)


def _int_tag(page, attr: str, tag: str) -> int:
    value = getattr(page, attr)
    if isinstance(value, (tuple, list)) or isinstance(value, np.ndarray):
        raise MaskDecodeError(
            f"its {tag} tag holds {len(value)} values where TIFF allows one (the tag's count or type is damaged)")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MaskDecodeError(f"its {tag} tag is not a number") from None


def segment_layout(page) -> Layout:
    """Validated geometry of an IFD, or MaskDecodeError saying what is wrong (no allocation)."""
    h = _int_tag(page, "imagelength", "ImageLength")
    w = _int_tag(page, "imagewidth", "ImageWidth")
    if h < 1 or w < 1:
        raise MaskDecodeError(f"it declares an empty image ({w} × {h} px)")
    if max(h, w) > MAX_IMAGE_SIDE:
        raise MaskDecodeError(f"it declares {w:,} × {h:,} px, beyond {limit_text('MAX_IMAGE_SIDE')}")
    bits = _int_tag(page, "bitspersample", "BitsPerSample")
    spp = _int_tag(page, "samplesperpixel", "SamplesPerPixel")
    itemsize = max(1, bits // 8)
    tags = page.tags
    tiled = "TileWidth" in tags or "TileLength" in tags  # not page.is_tiled: it compares the raw value
    if tiled:
        sh = _int_tag(page, "tilelength", "TileLength")
        sw = _int_tag(page, "tilewidth", "TileWidth")
        if sh < 1 or sw < 1:
            raise MaskDecodeError(f"its tiles are {sw} × {sh} px (TileWidth/TileLength must be positive)")
    else:
        rps = _int_tag(page, "rowsperstrip", "RowsPerStrip")
        if rps < 1:
            raise MaskDecodeError(f"its RowsPerStrip is {rps} (must be positive)")
        sh, sw = min(rps, h), w
    segment = sh * sw * itemsize * max(1, spp)  # (strips: sh is already at most h)
    if segment > MAX_SEGMENT_BYTES:
        kind = "tile" if tiled else "strip"
        raise MaskDecodeError(
            f"one {kind} would decode to {segment:,} bytes ({sw} × {sh} px), "
            f"beyond {limit_text('MAX_SEGMENT_BYTES')}")
    rows, cols = -(-h // sh), -(-w // sw)
    if rows * cols > MAX_SEGMENTS:
        raise MaskDecodeError(f"it declares {rows * cols:,} segments, beyond {limit_text('MAX_SEGMENTS')}")
    return Layout(h, w, sh, sw, rows, cols, tiled, itemsize)


def check_offsets(page, layout: Layout) -> None:
    """The offset and byte-count lists cover every segment (checked before any index list)."""
    offsets, counts = page.dataoffsets, page.databytecounts
    if len(offsets) < layout.n_segments or len(counts) < layout.n_segments:
        raise MaskDecodeError(
            f"it declares {layout.n_segments} segments but lists {min(len(offsets), len(counts))} offsets")


@dataclass(frozen=True)
class Plane:
    """One plane (channel, z) of one pyramid level."""

    page: object  # tifffile TiffPage
    display: str
    channel: str
    level: int
    z: int = 0

    @property
    def layout(self) -> Layout:
        return segment_layout(self.page)

    @property
    def shape(self) -> tuple[int, int]:
        return self.page.imagelength, self.page.imagewidth

    @property
    def segment_shape(self) -> tuple[int, int]:
        lay = self.layout
        return lay.sh, lay.sw

    def grid(self) -> tuple[int, int]:
        lay = self.layout
        return lay.rows, lay.cols

    def where(self, index: int) -> str:
        lay = self.layout
        y0, x0, _, _ = lay.rect(index)
        kind = "tile" if lay.tiled else "strip"
        plane = f", plane z={self.z}" if self.z else ""
        return f"{kind} {index} (pixels y {y0}…, x {x0}…) of channel {self.channel!r}{plane}, level {self.level}"


# words for codec failures instead of exception reprs
_CODEC_WORDS = (
    ("incorrect header check", "its compressed bytes are not a valid deflate stream"),
    ("bad_data", "its compressed bytes are not valid for the declared compression"),
    ("short_output", "its compressed bytes decode to fewer pixels than the segment holds"),
    ("insufficient_space", "its compressed bytes decode to more pixels than the segment holds"),
    ("invalid", "its compressed bytes are not valid for the declared compression"),
    ("error -3", "its compressed bytes are not a valid deflate stream"),
    ("error -5", "its compressed bytes end early (truncated)"),
    ("keyframe", "its IFD does not match the IFDs it should share a layout with"),
    ("not supported", "it uses a compression or predictor this reader does not support"),
)


def codec_words(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, words in _CODEC_WORDS:
        if needle in text:
            return words
    if isinstance(exc, KeyError):
        return "it uses a compression this reader does not support"
    if isinstance(exc, MemoryError):
        return "decoding it needs more memory than is available"
    return "its bytes do not decode with the declared compression"


def _read_bytes(fh, offset: int, count: int, lock: threading.Lock) -> bytes:
    """``count`` bytes at ``offset``. A whole file on a POSIX system is read positionally
    (``os.pread``: no seek, the file position is untouched), so the pass's threads read at the
    same time; otherwise seek + read under the file's lock."""
    if _PREAD and getattr(fh, "_offset", None) == 0 and fh.is_file:  # tifffile: 0 = not embedded in another file
        data = os.pread(fh.fileno(), count, offset)
        if len(data) == count:  # a short read (past the end) falls through to the plain read
            return data
    with lock:
        fh.seek(offset)
        return fh.read(count)


_PREAD = hasattr(os, "pread")  # POSIX
_PREADV = hasattr(os, "preadv")  # Linux, BSD, macOS 11+


# decoded segments from this size are carved from slabs of 2 MB pages (SegmentBuffers._new)
SLAB_MIN_BYTES = 256 << 10  # mutation: equivalent — page size only

# deflate: what label masks are written with (tifffile's "zlib"); other codecs take tifffile's path
_DEFLATE = (8, 32946)  # ADOBE_DEFLATE, DEFLATE
_NATIVE_ORDER = "<" if sys.byteorder == "little" else ">"


class ThreadAffinePool:
    """Free buffers, each remembering the thread that handed it back; ``take`` gives the
    caller one of its own if there is one (the last it gave back), else the last given back.

    Why: a buffer written on one core and written again on the other first moves each of its
    cache lines between the cores. With one shared last-in-first-out list the pass's two
    threads traded their 1 MB tiles all the time; on this project's 2-core virtual machine that
    cost up to a third more CPU at times (likely when the host ran the two virtual cores far
    apart), while a decode-only loop on two threads did not slow down. ``bench_ab.py`` against
    the shared list printed −11.7 % CPU (21 of 24 pairs) at such a time, −2.1 % (13 of 24) at
    a quieter one."""

    NO_THREAD = 0  # mutation: equivalent — the tag of buffers no thread has written: any ident no thread has

    def __init__(self) -> None:
        self._items: list[tuple[int, object]] = []  # (thread ident, buffer)
        self._lock = threading.Lock()

    def take(self):
        """One of the caller's own buffers, else the last given back, else None."""
        me = threading.get_ident()
        with self._lock:
            items = self._items
            for i in reversed(range(len(items))):  # the caller's last first
                if items[i][0] == me:
                    return items.pop(i)[1]
            return items.pop()[1] if items else None

    def give(self, buf) -> None:
        with self._lock:
            self._items.append((threading.get_ident(), buf))

    def extend(self, bufs) -> None:
        """Buffers no thread has written yet."""
        with self._lock:
            self._items.extend((self.NO_THREAD, buf) for buf in bufs)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter([buf for _, buf in self._items])


class SegmentBuffers:
    """Reusable arrays for decoded segments, and buffers for their compressed bytes, shared by
    the passes over one file (``MaskReader`` drops them when it closes). A pass decodes
    thousands of same-sized segments; a fresh array for each costs page faults on every one
    (the allocator returns freed megabytes to the OS and takes them again). An array handed
    back with ``give`` is decoded into again, by the thread that handed it back where it can
    be (``ThreadAffinePool``), so the pool never holds more arrays than were in use at once.

    Only the plain case takes this path (deflate, no predictor, one sample of 8–64 bits in
    native byte order): it decodes with the codec tifffile itself picks, into an array from
    the pool. Anything else, and any segment that fails or decodes to another size, goes
    through tifffile's own decode, so its errors and results are unchanged."""

    def __init__(self) -> None:
        self._free: dict[tuple, ThreadAffinePool] = {}  # by (shape, dtype)
        # arrays carved from slabs, by id (held: an id is not reused while the pool lives)
        self._carved: dict[int, np.ndarray] = {}
        self._reads = ThreadAffinePool()  # read buffers for the compressed bytes (anonymous mappings)
        # id(page) -> (page, the codec or None: tifffile's path); the page is kept so that its id
        # is not reused by another page while the pool lives
        self._codecs: dict[int, tuple] = {}

    def _codec(self, page):
        key = id(page)
        entry = self._codecs.get(key)
        if entry is None or entry[0] is not page:
            codec = None
            try:
                dtype = page.dtype
                plain = (int(page.compression) in _DEFLATE and int(page.predictor) == 1
                         and int(page.fillorder) == 1 and int(page.samplesperpixel) == 1
                         and int(page.imagedepth) == 1 and dtype is not None
                         and dtype.kind in "ui" and dtype.itemsize * 8 == int(page.bitspersample)
                         and (dtype.itemsize == 1 or page.parent.byteorder == _NATIVE_ORDER))  # the file's byte order
                if plain:
                    from tifffile import TIFF

                    codec = TIFF.DECOMPRESSORS[int(page.compression)]
            except Exception:  # noqa: BLE001 - a damaged tag or a missing codec: tifffile's path
                codec = None
            entry = self._codecs[key] = (page, codec)
        return entry[1]

    def read(self, fh, offset: int, count: int, lock: threading.Lock):
        """``count`` bytes at ``offset`` into a pooled buffer (a memoryview; hand the buffer back
        with ``give_read``), or bytes where the file cannot be read positionally."""
        if not (_PREADV and getattr(fh, "_offset", None) == 0 and fh.is_file):
            return _read_bytes(fh, offset, count, lock)
        buf = self._reads.take()
        if buf is None or len(buf) < count:  # mutation: equivalent[compare] — a new buffer where the old one would do: memory only
            # with headroom for larger segments; 2 MB pages only for a buffer of 2 MB or more: a
            # smaller one would take a whole fresh 2 MB page for its bytes, and fresh memory is
            # what costs here (a 0.5 MB buffer in 4 KB pages: 128 faults, once per buffer)
            size = count + count // 4  # mutation: equivalent — headroom for the next, larger segments only
            buf = anonymous(size, huge=size >= HUGE_PAGE)  # mutation: equivalent[compare] — page size only
        view = memoryview(buf)[:count]
        if os.preadv(fh.fileno(), [view], offset) != count:  # a short read: the plain read says why
            view.release()
            self._reads.give(buf)
            return _read_bytes(fh, offset, count, lock)
        return view

    def give_read(self, data) -> None:
        if isinstance(data, memoryview):
            buf = data.obj
            data.release()
            self._reads.give(buf)

    def decode(self, page, layout: Layout, index: int, data: bytes) -> np.ndarray | None:
        """The segment decoded into a pooled array, or None: take tifffile's path."""
        codec = self._codec(page)
        if codec is None:
            return None
        rows = layout.sh if layout.tiled else layout.rect(index)[2]  # a last strip is shorter
        shape, dtype = (rows, layout.sw), page.dtype
        out = self.take(shape, dtype)
        try:
            done = codec(data, out=out.reshape(out.size).view(np.uint8))  # the codec writes a flat byte buffer
        except Exception:  # noqa: BLE001 - tifffile's path decodes it again and words the failure
            self.give(out)
            return None
        if done.nbytes != out.nbytes:  # fewer bytes than the segment holds: tifffile's path decides
            self.give(out)
            return None
        return out

    def take(self, shape: tuple, dtype) -> np.ndarray:
        free = self._free.get((shape, dtype.str))
        arr = free.take() if free is not None else None
        return arr if arr is not None else self._new(shape, np.dtype(dtype))

    def _new(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """A new array; from SLAB_MIN_BYTES on, carved with others of its shape from a slab of
        2 MB pages (``memory.anonymous``): a 1 MB tile in 4 KB pages costs 256 page faults, the
        slab one. The others wait in the pool (at most one slab's worth more than in use)."""
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if nbytes < SLAB_MIN_BYTES:  # mutation: equivalent[compare] — page size only (a plain array or a slab's)
            return np.empty(shape, dtype)
        stride = -(-nbytes // 4096) * 4096  # each array on its own pages
        slab = anonymous(stride)
        arrays = [np.frombuffer(slab, dtype, nbytes // dtype.itemsize, offset=i * stride).reshape(shape)
                  for i in range(len(slab) // stride)]
        for arr in arrays:
            self._carved[id(arr)] = arr
        self._pool(shape, dtype).extend(arrays[1:])
        return arrays[0]

    def give(self, arr: np.ndarray | None) -> None:
        """Hand an array back once nothing reads it any more (arrays tifffile decoded are
        read-only views of bytes and are not kept)."""
        if arr is None or not (arr.flags.writeable and arr.flags.c_contiguous):
            return
        if arr.base is None or self._carved.get(id(arr)) is arr:
            self._pool(arr.shape, arr.dtype).give(arr)

    def _pool(self, shape: tuple, dtype: np.dtype) -> ThreadAffinePool:
        key = (shape, dtype.str)
        pool = self._free.get(key)
        # setdefault is atomic: two threads never make two pools for one key
        return pool if pool is not None else self._free.setdefault(key, ThreadAffinePool())


def decode_segment(plane: Plane, layout: Layout, index: int, lock: threading.Lock,
                   buffers: SegmentBuffers | None = None) -> np.ndarray:
    """Decode one segment: a C-contiguous native-endian 2-D array (at least the valid rect).
    With ``buffers``, a plain deflate segment is decoded into one of its arrays (hand it back
    with ``buffers.give`` when done)."""
    page = plane.page
    fh = page.parent.filehandle
    offset, count = int(page.dataoffsets[index]), int(page.databytecounts[index])
    if not offset or not count:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} is missing (offset/bytecount 0)")
    if offset + count > fh.size:
        raise MaskDecodeError(
            f"{plane.display}: {plane.where(index)} lies past the end of the file "
            f"(bytes {offset}…{offset + count} of {fh.size}); the file is truncated")
    if count > 2 * MAX_SEGMENT_BYTES:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} declares {count:,} bytes, beyond "
                              f"{limit_text('MAX_SEGMENT_BYTES')}")
    if buffers is not None and buffers._codec(page) is not None:
        data = buffers.read(fh, offset, count, lock)
        decoded = buffers.decode(page, layout, index, data)
        if isinstance(data, memoryview):  # the read buffer goes back; tifffile's path gets bytes
            raw = None if decoded is not None else bytes(data)
            buffers.give_read(data)
            data = raw
        if decoded is not None:
            return decoded
    else:
        data = _read_bytes(fh, offset, count, lock)
    try:
        decoded, _, _ = page.decode(data, index)
    except Exception as exc:  # noqa: BLE001 - any codec failure is a finding
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} cannot be decoded: {codec_words(exc)}") from None
    if decoded is None:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} decoded to nothing")
    _, _, hh, ww = layout.rect(index)
    if decoded.ndim >= 3:  # (…, rows, columns, samples): the first sample of each pixel
        decoded = decoded[..., 0].reshape(decoded.shape[-3], decoded.shape[-2])
    if decoded.ndim != 2 or decoded.shape[0] < hh or decoded.shape[1] < ww:
        raise MaskDecodeError(f"{plane.display}: {plane.where(index)} decoded to {decoded.shape} pixels, "
                              f"fewer than the {ww} × {hh} it covers")
    if not decoded.dtype.isnative:  # mutation: equivalent — defensive: tifffile's decode returns native byte order (big-endian files tested)
        decoded = decoded.astype(decoded.dtype.newbyteorder("="))
    if not decoded.flags.writeable:
        # an uncompressed segment comes back as a read-only view of its bytes; the compiled
        # kernels would need a second, read-only variant of each kernel, compiled (or loaded)
        # by whichever pass thread meets it first, in parallel with the other thread
        decoded = decoded.copy()
    return np.ascontiguousarray(decoded)


def _checked_layout(plane: Plane) -> Layout:
    try:
        layout = segment_layout(plane.page)
        check_offsets(plane.page, layout)
    except MaskDecodeError as exc:
        plane_txt = f", plane z={plane.z}" if plane.z else ""
        raise MaskDecodeError(f"{plane.display}: channel {plane.channel!r}{plane_txt} level {plane.level}: {exc}") from None
    return layout


def map_segments(
    plane: Plane,
    func: Callable[[np.ndarray, int, int], object],
    indices: list[int] | None = None,
    workers: int = 2,  # mutation: equivalent — thread count only; results come in order with any number
) -> Iterator[object]:
    """``func(segment, y0, x0)`` for each segment (cropped), in a bounded thread pool, in order."""
    lock = threading.Lock()
    layout = _checked_layout(plane)
    todo = range(layout.n_segments) if indices is None else indices

    def work(index):
        arr = decode_segment(plane, layout, index, lock)
        y0, x0, hh, ww = layout.rect(index)
        return func(arr[:hh, :ww], y0, x0)

    if workers <= 1:  # mutation: equivalent — inline or on a pool, the results come in the same order
        for index in todo:
            yield work(index)
        return
    with ThreadPoolExecutor(workers) as pool:
        window = 2 * workers  # mutation: equivalent — how far decoding runs ahead; results come in order
        it = iter(todo)
        pending = [pool.submit(work, i) for _, i in zip(range(window), it)]
        while pending:
            future = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(work, nxt))
            try:
                yield future.result()
            except BaseException:
                for f in pending:
                    f.cancel()
                raise


def read_region(plane: Plane, y0: int, y1: int, x0: int, x1: int, workers: int = 2) -> np.ndarray:  # mutation: equivalent — thread count only
    """Pixels [y0:y1, x0:x1] of the plane, decoding only the segments that intersect it."""
    layout = _checked_layout(plane)
    sh, sw = layout.sh, layout.sw
    indices = [r * layout.cols + c for r in range(y0 // sh, min(layout.rows, -(-y1 // sh)))
               for c in range(x0 // sw, min(layout.cols, -(-x1 // sw)))]
    out = None
    for arr, sy, sx in map_segments(plane, lambda a, sy, sx: (a, sy, sx), indices, workers):
        if out is None:
            out = np.zeros((y1 - y0, x1 - x0), dtype=arr.dtype)
        ya, xa = max(y0, sy), max(x0, sx)
        yb, xb = max(ya, min(y1, sy + arr.shape[0])), max(xa, min(x1, sx + arr.shape[1]))  # empty past the image
        out[ya - y0 : yb - y0, xa - x0 : xb - x0] = arr[ya - sy : yb - sy, xa - sx : xb - sx]
    return out if out is not None else np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
