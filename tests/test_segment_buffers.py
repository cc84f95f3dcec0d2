"""SegmentBuffers: plain deflate segments decoded into reusable arrays give exactly what
tifffile's own decode gives; every other segment (other codecs, predictors, byte orders,
samples, damaged or short data) takes tifffile's path with its results and errors unchanged;
and the label pass hands its tiles back, so it allocates a few arrays, not one per tile."""

from __future__ import annotations

import threading
import zlib

import numpy as np
import pytest
import tifffile

from pytest_segmask.checks import label_pass
from pytest_segmask.checks.label_pass import run_pass
from pytest_segmask.checks.tiff_stream import (
    MaskDecodeError, Plane, SegmentBuffers, _checked_layout, decode_segment,
)


def _labels(dtype, h=45, w=77):
    return (np.arange(h * w, dtype=np.int64).reshape(h, w) % 251 - (3 if np.dtype(dtype).kind == "i" else 0)).astype(dtype)


def _decode_all(path, buffers):
    lock = threading.Lock()
    with tifffile.TiffFile(path) as tif:
        plane = Plane(tif.pages[0], path.name, "c", 0)
        lay = _checked_layout(plane)
        out = []
        for t in range(lay.n_segments):
            seg = decode_segment(plane, lay, t, lock, buffers)
            out.append((seg.copy(), seg))
        return lay, out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int16, np.int32, np.uint64])
@pytest.mark.parametrize("segments", [{"tile": (32, 32)}, {"rowsperstrip": 20}])
@pytest.mark.parametrize("compression", ["zlib", 32946])  # ADOBE_DEFLATE (8) and the older DEFLATE code
def test_plain_deflate_segments_decode_into_pooled_arrays_as_tifffile_does(tmp_path, dtype, segments, compression):
    data = _labels(dtype)
    path = tmp_path / "plain.tiff"
    tifffile.imwrite(path, data, compression=compression, photometric="minisblack", metadata=None, **segments)
    lay, plain = _decode_all(path, None)
    buffers = SegmentBuffers()
    _, pooled = _decode_all(path, buffers)
    for t, ((want, _), (got, arr)) in enumerate(zip(plain, pooled)):
        y0, x0, hh, ww = lay.rect(t)
        np.testing.assert_array_equal(got[:hh, :ww], want[:hh, :ww])
        np.testing.assert_array_equal(got[:hh, :ww], data[y0:y0 + hh, x0:x0 + ww])
        assert got.dtype == np.dtype(dtype) and arr.flags.writeable and arr.flags.c_contiguous
    # strips: the last one is shorter, and decoded to its own rows only
    if "rowsperstrip" in segments:
        assert [a.shape for _, a in pooled] == [(20, 77), (20, 77), (5, 77)]
    # handed back, an array is decoded into again: the same object comes out
    first = pooled[0][1]
    buffers.give(first)
    with tifffile.TiffFile(path) as tif:
        plane = Plane(tif.pages[0], path.name, "c", 0)
        again = decode_segment(plane, _checked_layout(plane), 1, threading.Lock(), buffers)
    assert again is first
    np.testing.assert_array_equal(again, plain[1][0])


def test_large_segments_are_carved_from_slabs_of_huge_pages(tmp_path):
    """Segments from SLAB_MIN_BYTES on decode into arrays carved from slabs of whole 2 MB
    pages: a 1 MB tile's slab holds two, on their own pages; each array decodes its own tile
    right, goes back to the pool and comes out again; a view of it (not the array) is never
    pooled. Smaller segments keep plain arrays."""
    from pytest_segmask.checks import tiff_stream

    data = (np.arange(1024 * 1024, dtype=np.uint32).reshape(1024, 1024) * 2654435761) >> 8
    path = tmp_path / "big.tiff"
    tifffile.imwrite(path, data, tile=(512, 512), compression="zlib", photometric="minisblack", metadata=None)
    buffers = SegmentBuffers()
    lock = threading.Lock()
    with tifffile.TiffFile(path) as tif:
        plane = Plane(tif.pages[0], path.name, "c", 0)
        lay = _checked_layout(plane)
        tiles = [decode_segment(plane, lay, t, lock, buffers) for t in range(4)]
        for t, arr in enumerate(tiles):
            y0, x0, _, _ = lay.rect(t)
            np.testing.assert_array_equal(arr, data[y0:y0 + 512, x0:x0 + 512])
        slabs = {id(arr.base.base.obj) for arr in tiles}  # array <- 1-D view <- memoryview of the slab
        assert len(slabs) == 2 and all(len(arr.base.base.obj) == 2 << 20 for arr in tiles)
        assert all(arr.ctypes.data % 4096 == 0 for arr in tiles)
        assert not any(buffers._free.values())  # both arrays of each slab in use
        buffers.give(tiles[0][:10])  # a view: not pooled
        buffers.give(np.asfortranarray(np.zeros((512, 512), np.uint32)))  # not C-ordered: not pooled
        frozen = np.zeros((512, 512), np.uint32)
        frozen.flags.writeable = False
        buffers.give(frozen)  # read-only: not pooled
        buffers.give(None)  # nothing to hand back
        assert not any(buffers._free.values())
        buffers.give(tiles[3])
        again = decode_segment(plane, lay, 0, lock, buffers)
        assert again is tiles[3]
        np.testing.assert_array_equal(again, data[:512, :512])
    assert tiff_stream.SLAB_MIN_BYTES > 32 * 32 * 8  # the small tiles of the other tests: plain arrays


@pytest.mark.parametrize("shape, dtype", [((512, 512), np.uint32), ((272, 3856), np.uint8), ((400, 400), np.uint16)])
def test_arrays_carved_from_one_slab_are_page_aligned_and_apart(shape, dtype):
    """However a segment's size falls against the 4 KB pages (1 MB exactly; 4097 × 256 bytes;
    not a multiple of a page), the arrays of one slab start on a page each and do not overlap."""
    buffers = SegmentBuffers()
    first = buffers._new(shape, np.dtype(dtype))
    arrays = [first, *buffers._free.get((shape, np.dtype(dtype).str), [])]
    spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes) for a in arrays)
    assert all(start % 4096 == 0 for start, _ in spans)
    assert all(end <= nxt for (_, end), (nxt, _) in zip(spans, spans[1:]))
    assert all(a.shape == shape and a.dtype == dtype and a.flags.writeable for a in arrays)


@pytest.mark.parametrize("options", [
    {"compression": "zlib", "predictor": True},  # horizontal differencing: tifffile undoes it
    {"compression": "zlib", "byteorder": ">"},  # big-endian: tifffile swaps the bytes
    {"compression": "lzw"},
    {"compression": None},
])
def test_other_segments_take_tifffiles_path(tmp_path, options):
    data = _labels(np.uint16)
    path = tmp_path / "other.tiff"
    tifffile.imwrite(path, data, tile=(32, 32), photometric="minisblack", metadata=None, **options)
    buffers = SegmentBuffers()
    lay, plain = _decode_all(path, None)
    _, pooled = _decode_all(path, buffers)
    for t, ((want, _), (got, arr)) in enumerate(zip(plain, pooled)):
        np.testing.assert_array_equal(got, want)
        # writable, as the kernels' one compiled variant needs: a read-only view of tifffile's
        # bytes is copied (that copy is the pass's own, and may be pooled)
        assert arr.flags.writeable and arr.flags.c_contiguous
        buffers.give(arr)
    assert all(a.base is None for arrays in buffers._free.values() for a in arrays)  # views never pooled


def test_rgb_segments_take_tifffiles_path(tmp_path):
    data = np.stack([_labels(np.uint8)] * 3, axis=-1)
    path = tmp_path / "rgb.tiff"
    tifffile.imwrite(path, data, tile=(32, 32), compression="zlib", photometric="rgb", metadata=None)
    buffers = SegmentBuffers()
    lay, plain = _decode_all(path, None)
    _, pooled = _decode_all(path, buffers)
    for (want, _), (got, _) in zip(plain, pooled):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(pooled[0][0], data[:32, :32, 0])
    assert buffers._codecs and {codec for _, codec in buffers._codecs.values()} == {None}


def _replace_tile(path, out, index, payload):
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        off, cnt = tif.pages[0].dataoffsets[index], tif.pages[0].databytecounts[index]
    assert len(payload) <= cnt
    raw[off:off + len(payload)] = payload
    raw[off + len(payload):off + cnt] = b"\0" * (cnt - len(payload))
    out.write_bytes(bytes(raw))
    return out


@pytest.mark.parametrize("kind", ["garbage", "short", "bad checksum"])
def test_damaged_or_short_segments_fail_as_without_buffers(tmp_path, kind):
    """A segment the codec rejects, or one that decodes to fewer bytes than the tile holds,
    is decoded again by tifffile: the same error, or the same pixels, as without buffers; the
    array taken for it goes back to the pool."""
    data = _labels(np.uint32, 64, 64)
    path = tmp_path / "ok.tiff"
    tifffile.imwrite(path, data, tile=(32, 32), compression="zlib", photometric="minisblack", metadata=None)
    with tifffile.TiffFile(path) as tif:
        off, cnt = tif.pages[0].dataoffsets[1], tif.pages[0].databytecounts[1]
    good = path.read_bytes()[off:off + cnt]  # the tile's own stream, its Adler-32 flipped below
    payload = {"garbage": b"\x13" * 40,
               "short": zlib.compress(data[:2, 32:].tobytes(), 9),  # two rows of a 32-row tile
               "bad checksum": good[:-1] + bytes([good[-1] ^ 1])}[kind]
    bad = _replace_tile(path, tmp_path / "bad.tiff", 1, payload)
    outcomes = []
    for buffers in (None, SegmentBuffers()):
        with tifffile.TiffFile(bad) as tif:
            plane = Plane(tif.pages[0], "bad.tiff", "c", 0)
            try:
                outcomes.append(("pixels", decode_segment(plane, _checked_layout(plane), 1, threading.Lock(), buffers).copy()))
            except MaskDecodeError as exc:
                outcomes.append(("error", str(exc)))
        if buffers is not None:
            assert [len(v) for v in buffers._free.values()] == [1]  # the array taken went back
    (kind0, plain), (kind1, pooled) = outcomes
    assert kind0 == kind1 == "error" if kind != "short" else kind0 == kind1
    if kind0 == "error":
        assert plain == pooled and plain.startswith("bad.tiff: tile 1 (pixels y 0…, x 32…) of channel 'c', level 0 cannot be decoded")
    else:
        np.testing.assert_array_equal(plain, pooled)


def test_a_page_whose_tags_cannot_be_read_takes_tifffiles_path():
    class Broken:
        @property
        def compression(self):
            raise ValueError("damaged tag")

    buffers = SegmentBuffers()
    assert buffers._codec(Broken()) is None


def test_the_pass_hands_its_tiles_back(tmp_path, monkeypatch):
    """A pass over 64 level-0 tiles and their pyramid (85 tiles) allocates a handful of tile
    arrays: each tile's array is decoded into again once the tile is done (level 0: after its
    statistics; upper levels: when the last tile under them was compared)."""
    base = (np.arange(256 * 256, dtype=np.uint32).reshape(256, 256) // 7) % 5000 + 1
    path = tmp_path / "pyr.ome.tiff"
    with tifffile.TiffWriter(path) as tw:
        opts = dict(tile=(32, 32), compression="zlib", photometric="minisblack", metadata=None)
        tw.write(base, subifds=2, **opts)
        tw.write(base[::2, ::2], subfiletype=1, **opts)
        tw.write(base[::4, ::4], subfiletype=1, **opts)
    made = []
    real_take = SegmentBuffers.take

    def counting_take(self, shape, dtype):
        arr = real_take(self, shape, dtype)
        if not any(arr is m for m in made):
            made.append(arr)
        return arr

    monkeypatch.setattr(SegmentBuffers, "take", counting_take)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        levels = [Plane(p, path.name, "c", k) for k, p in enumerate([page, *page.pages])]
        for workers in (1, 2):
            made.clear()
            result = run_pass([levels], 256, 256, workers=workers)
            assert result.stats.n_objects == len(np.unique(base))
            assert [lv.bad for lv in result.pyramid.levels] == [0, 0]
            assert [lv.tested for lv in result.pyramid.levels] == [128 * 128, 64 * 64]
            assert 2 <= len(made) <= 12, len(made)
    assert label_pass.SegmentBuffers is SegmentBuffers


def test_compressed_bytes_are_read_into_pooled_buffers(tmp_path, monkeypatch):
    from pytest_segmask.checks import tiff_stream as ts

    data = _labels(np.uint16, 64, 64)
    path = tmp_path / "r.tiff"
    tifffile.imwrite(path, data, tile=(32, 32), compression="zlib", photometric="minisblack", metadata=None)
    raw = path.read_bytes()
    buffers = SegmentBuffers()
    lock = threading.Lock()
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        fh = tif.filehandle
        offsets, counts = page.dataoffsets, page.databytecounts
        big, small = sorted(range(4), key=lambda t: -counts[t])[:2]
        first = buffers.read(fh, offsets[big], counts[big], lock)
        if ts._PREADV:
            assert isinstance(first, memoryview) and bytes(first) == raw[offsets[big]:offsets[big] + counts[big]]
            buf = first.obj
            buffers.give_read(first)
            again = buffers.read(fh, offsets[small], counts[small], lock)  # fits: the same buffer, read again
            assert again.obj is buf and bytes(again) == raw[offsets[small]:offsets[small] + counts[small]]
            buffers.give_read(again)
            past = buffers.read(fh, len(raw) - 3, 10, lock)  # a short read: the plain read
            assert past == raw[-3:] and list(buffers._reads) == [buf]
        monkeypatch.setattr(ts, "_PREADV", False)  # no positional reads: bytes, under the lock
        plain = buffers.read(fh, offsets[2], counts[2], lock)
        assert isinstance(plain, bytes) and plain == raw[offsets[2]:offsets[2] + counts[2]]
        buffers.give_read(plain)  # not a pooled buffer: nothing to hand back
        plane = Plane(page, path.name, "c", 0)
        lay = _checked_layout(plane)
        np.testing.assert_array_equal(decode_segment(plane, lay, 3, lock, buffers), data[32:, 32:])


def test_a_thread_takes_back_the_buffers_it_gave():
    """Each buffer remembers the thread that handed it back: a thread gets one of its own (its
    cache lines are still on that thread's core), else the last one given back."""
    from pytest_segmask.checks.tiff_stream import ThreadAffinePool

    def in_other_thread(func, *args):
        out = []
        worker = threading.Thread(target=lambda: out.append(func(*args)))
        worker.start()
        worker.join()
        return out[0]

    pool = ThreadAffinePool()
    mine, theirs, fresh = object(), object(), object()
    pool.extend([fresh])  # no thread's yet
    pool.give(mine)
    in_other_thread(pool.give, theirs)
    assert list(pool) == [fresh, mine, theirs] and len(pool) == 3
    assert pool.take() is mine  # its own, though another was given back after it
    assert pool.take() is theirs  # none of its own left: the last given back
    assert pool.take() is fresh and pool.take() is None

    buffers = SegmentBuffers()  # the decoded tiles of a pass's threads
    shape, dtype = (512, 512), np.dtype(np.uint32)  # 1 MB: carved two to a slab
    first = buffers.take(shape, dtype)
    second = in_other_thread(buffers.take, shape, dtype)  # the slab's other array
    buffers.give(first)
    in_other_thread(buffers.give, second)
    assert buffers.take(shape, dtype) is first  # not the other thread's, given back after it
    assert buffers.take(shape, dtype) is second


def test_read_buffers_take_2mb_pages_only_from_2mb(tmp_path, monkeypatch):
    """A read buffer under 2 MB takes 4 KB pages (a whole fresh 2 MB page for half a MB of
    compressed bytes is memory the OS must hand over for nothing); from 2 MB on, 2 MB pages."""
    from pytest_segmask.checks import tiff_stream as ts

    if not ts._PREADV:
        pytest.skip("no positional reads here: buffers are not pooled")
    raw = np.random.default_rng(0).integers(0, 256, 3 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "bytes.bin"
    path.write_bytes(raw)
    made = []
    real = ts.anonymous
    monkeypatch.setattr(ts, "anonymous", lambda nbytes, huge=True: (made.append((nbytes, huge)), real(nbytes, huge))[1])
    buffers, lock = SegmentBuffers(), threading.Lock()
    with tifffile.FileHandle(str(path)) as fh:
        for offset, count in ((5, 400 << 10), (7, 2 << 20)):
            view = buffers.read(fh, offset, count, lock)
            assert bytes(view) == raw[offset:offset + count]
            buffers.give_read(view)
    assert made == [(500 << 10, False), (5 << 19, True)]  # with a quarter's headroom


def test_a_reader_shares_its_buffers_among_its_passes(tmp_path):
    from fixtures_generator import ChannelSpec, MaskSpec
    from fixtures_generator.writer import write_mask
    from pytest_segmask.checks.mask_image import MaskReader, open_mask

    mask = MaskSpec(width=64, height=64, tile=16, channels=(ChannelSpec("a", 4), ChannelSpec("b", 5)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    reader = MaskReader(open_mask(path))
    try:
        first = reader.prepare_channel_pass(0)
        pool = reader._buffers
        assert isinstance(pool, SegmentBuffers)
        first.start().result()
        reader.channel_pass(1)
        assert reader._buffers is pool and any(pool._free.values())  # tiles handed back for the next pass
    finally:
        reader.close()
    assert reader._buffers is None
