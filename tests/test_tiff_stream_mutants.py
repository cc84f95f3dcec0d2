"""tiff_stream at its limits, with fake IFDs (no allocation from declared sizes) and small real
files: every layout error's message whole, exactly at and one past each limit, segment
rectangles at the edges, codec failures in words, and decode errors naming the segment."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import tifffile

from pytest_segmask.checks import tiff_stream as ts
from pytest_segmask.checks.tiff_stream import (
    Layout, MaskDecodeError, Plane, _checked_layout, check_offsets, codec_words, decode_segment, map_segments,
    read_region, segment_layout,
)


def page(h=100, w=80, bits=16, spp=1, tile=None, rps=None, **extra):
    tags = {}
    attrs = dict(imagelength=h, imagewidth=w, bitspersample=bits, samplesperpixel=spp, rowsperstrip=h if rps is None else rps,
                 tilelength=0, tilewidth=0)
    if tile is not None:
        tags = {"TileWidth": 1, "TileLength": 1}
        attrs.update(tilelength=tile[0], tilewidth=tile[1])
    attrs.update(extra)
    return SimpleNamespace(tags=tags, **attrs)


def error(p):
    with pytest.raises(MaskDecodeError) as exc:
        segment_layout(p)
    return str(exc.value)


def test_layouts():
    assert segment_layout(page(tile=(32, 16))) == Layout(100, 80, 32, 16, 4, 5, True, 2)
    assert segment_layout(page(rps=30)) == Layout(100, 80, 30, 80, 4, 1, False, 2)
    assert segment_layout(page(rps=1000, bits=8)) == Layout(100, 80, 100, 80, 1, 1, False, 1)
    assert segment_layout(page(bits=1)).itemsize == 1
    assert segment_layout(page(bits=32)).itemsize == 4
    # a tiled page is recognised by either tag
    only_length = page(tile=(16, 16))
    only_length.tags = {"TileLength": 1}
    assert segment_layout(only_length).tiled


def test_layout_errors_whole():
    assert error(page(h=0)) == "it declares an empty image (80 × 0 px)"
    assert error(page(w=0)) == "it declares an empty image (0 × 100 px)"
    assert error(page(h=(1, 2))) == ("its ImageLength tag holds 2 values where TIFF allows one "
                                     "(the tag's count or type is damaged)")
    assert error(page(w=np.array([1, 2, 3]))) .startswith("its ImageWidth tag holds 3 values")
    assert error(page(bits=None)) == "its BitsPerSample tag is not a number"
    assert error(page(spp="x")) == "its SamplesPerPixel tag is not a number"
    assert error(page(tile=(0, 16))) == "its tiles are 16 × 0 px (TileWidth/TileLength must be positive)"
    assert error(page(tile=(16, 0))) == "its tiles are 0 × 16 px (TileWidth/TileLength must be positive)"
    assert error(page(rps=0)) == "its RowsPerStrip is 0 (must be positive)"
    assert error(page(rps=-3)) == "its RowsPerStrip is -3 (must be positive)"


def test_image_side_limit():
    side = ts.MAX_IMAGE_SIDE
    assert segment_layout(page(h=side, w=side, tile=(1024, 1024))).n_segments == 1 << 20
    assert error(page(h=side + 1, w=5, tile=(16, 16))) == (
        "it declares 5 × 1,048,577 px, beyond the limit MAX_IMAGE_SIDE = 1,048,576")
    assert error(page(h=5, w=side + 1, tile=(16, 16))).startswith("it declares 1,048,577 × 5 px")


def test_segment_bytes_limit():
    limit = ts.MAX_SEGMENT_BYTES  # 512 MiB
    # exactly the limit: a 16384 × 16384 tile of uint16
    assert segment_layout(page(h=16384, w=16384, tile=(16384, 16384))).n_segments == 1
    assert segment_layout(page(h=8192, w=8192, spp=4, bits=16, tile=(8192, 8192))).n_segments == 1
    assert error(page(h=16384, w=16384, bits=16, spp=2, tile=(16384, 16384))) == (
        f"one tile would decode to {2 * limit:,} bytes (16384 × 16384 px), beyond the limit "
        f"MAX_SEGMENT_BYTES = {limit:,}")
    assert error(page(h=16385, w=16384, tile=(16385, 16384))).startswith("one tile would decode to")
    # a strip is as high as its rows, never more than the image
    assert segment_layout(page(h=16384, w=16384, rps=1 << 30)).rows == 1
    assert error(page(h=16385, w=16384, rps=1 << 30)) == (
        f"one strip would decode to {16385 * 16384 * 2:,} bytes (16384 × 16385 px), beyond the limit "
        f"MAX_SEGMENT_BYTES = {limit:,}")


def test_segment_count_limit():
    # 2^22 segments exactly pass, one more row of them does not
    assert segment_layout(page(h=1 << 11, w=1 << 11, tile=(1, 1))).n_segments == 1 << 22
    assert error(page(h=(1 << 11) + 1, w=1 << 11, tile=(1, 1))) == (
        f"it declares {((1 << 11) + 1) * (1 << 11):,} segments, beyond the limit MAX_SEGMENTS = {1 << 22:,}")
    assert ts.limit_text("MAX_IFDS") == "the limit MAX_IFDS = 65,536"
    assert ts.limit_text("MAX_SUBIFDS") == "the limit MAX_SUBIFDS = 32"


def test_rect_clips_edge_segments():
    lay = segment_layout(page(h=45, w=77, tile=(32, 32)))
    assert (lay.rows, lay.cols, lay.n_segments) == (2, 3, 6)
    assert [lay.rect(i) for i in range(6)] == [
        (0, 0, 32, 32), (0, 32, 32, 32), (0, 64, 32, 13), (32, 0, 13, 32), (32, 32, 13, 32), (32, 64, 13, 13)]
    strips = segment_layout(page(h=10, w=7, rps=4))
    assert [strips.rect(i) for i in range(3)] == [(0, 0, 4, 7), (4, 0, 4, 7), (8, 0, 2, 7)]


def test_check_offsets():
    lay = segment_layout(page(h=45, w=77, tile=(32, 32)))
    check_offsets(SimpleNamespace(dataoffsets=[1] * 6, databytecounts=[1] * 6), lay)
    for offsets, counts in (([1] * 5, [1] * 6), ([1] * 6, [1] * 5)):
        with pytest.raises(MaskDecodeError) as exc:
            check_offsets(SimpleNamespace(dataoffsets=offsets, databytecounts=counts), lay)
        assert str(exc.value) == "it declares 6 segments but lists 5 offsets"


@pytest.mark.parametrize("text, words", [
    ("Error -3 while decompressing: incorrect header check", "its compressed bytes are not a valid deflate stream"),
    ("LZW BAD_DATA", "its compressed bytes are not valid for the declared compression"),
    ("SHORT_OUTPUT", "its compressed bytes decode to fewer pixels than the segment holds"),
    ("insufficient_space", "its compressed bytes decode to more pixels than the segment holds"),
    ("Invalid block", "its compressed bytes are not valid for the declared compression"),
    ("zlib error -3", "its compressed bytes are not a valid deflate stream"),
    ("Error -5 while decompressing", "its compressed bytes end early (truncated)"),
    ("keyframe mismatch", "its IFD does not match the IFDs it should share a layout with"),
    ("predictor not supported", "it uses a compression or predictor this reader does not support"),
    ("something else", "its bytes do not decode with the declared compression"),
])
def test_codec_words(text, words):
    assert codec_words(ValueError(text)) == words


def test_codec_words_by_type():
    assert codec_words(KeyError(50000)) == "it uses a compression this reader does not support"
    assert codec_words(MemoryError()) == "decoding it needs more memory than is available"


@pytest.fixture(scope="module")
def small_tiff(tmp_path_factory):
    path = tmp_path_factory.mktemp("ts") / "t.tiff"
    data = (np.arange(45 * 77, dtype=np.uint16).reshape(45, 77) % 1000).astype(np.uint16)
    tifffile.imwrite(path, data, tile=(32, 32), compression="zlib")
    return path, data


def test_plane_where_and_shape(small_tiff):
    path, data = small_tiff
    with tifffile.TiffFile(path) as tif:
        p = Plane(tif.pages[0], "t.tiff", "c", 1, z=2)
        assert p.shape == (45, 77) and p.segment_shape == (32, 32) and p.grid() == (2, 3)
        assert p.where(5) == "tile 5 (pixels y 32…, x 64…) of channel 'c', plane z=2, level 1"
        assert Plane(tif.pages[0], "t.tiff", "c", 0).where(1) == "tile 1 (pixels y 0…, x 32…) of channel 'c', level 0"


def test_map_segments_and_read_region(small_tiff):
    path, data = small_tiff
    with tifffile.TiffFile(path) as tif:
        p = Plane(tif.pages[0], "t.tiff", "c", 0)
        for workers in (1, 2, 3):
            got = list(map_segments(p, lambda a, y0, x0: (y0, x0, a.shape), workers=workers))
            assert got == [(0, 0, (32, 32)), (0, 32, (32, 32)), (0, 64, (32, 13)),
                           (32, 0, (13, 32)), (32, 32, (13, 32)), (32, 64, (13, 13))]
        assert list(map_segments(p, lambda a, y0, x0: x0, indices=[2, 0], workers=1)) == [64, 0]
        for y0, y1, x0, x1 in ((0, 45, 0, 77), (30, 34, 30, 70), (44, 45, 76, 77), (0, 1, 0, 1)):
            np.testing.assert_array_equal(read_region(p, y0, y1, x0, x1, workers=2), data[y0:y1, x0:x1])


def _damaged(tmp_path, small_tiff, offset_delta=0, count=None, garbage=False):
    path, data = small_tiff
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        off, cnt = tif.pages[0].dataoffsets[4], tif.pages[0].databytecounts[4]
    if garbage:
        raw[off:off + cnt] = b"\x13" * cnt
    out = tmp_path / "d.tiff"
    out.write_bytes(bytes(raw))
    return out


def test_decode_errors_name_the_segment(tmp_path, small_tiff):
    path = _damaged(tmp_path, small_tiff, garbage=True)
    lock = threading.Lock()
    with tifffile.TiffFile(path) as tif:
        p = Plane(tif.pages[0], "d.tiff", "c", 0)
        lay = _checked_layout(p)
        assert decode_segment(p, lay, 3, lock).shape[:2] >= (13, 32)
        with pytest.raises(MaskDecodeError) as exc:
            decode_segment(p, lay, 4, lock)
        assert str(exc.value) == ("d.tiff: tile 4 (pixels y 32…, x 32…) of channel 'c', level 0 cannot be decoded: "
                                  "its compressed bytes are not valid for the declared compression")
        with pytest.raises(MaskDecodeError):
            list(map_segments(p, lambda a, y0, x0: 0, workers=2))
        page0 = tif.pages[0]
        size = page0.parent.filehandle.size

        def fake(offsets, counts):
            return Plane(SimpleNamespace(parent=page0.parent, dataoffsets=offsets, databytecounts=counts,
                                         imagelength=45, imagewidth=77, bitspersample=16, samplesperpixel=1,
                                         tilelength=32, tilewidth=32, rowsperstrip=45,
                                         tags={"TileWidth": 1, "TileLength": 1}), "d.tiff", "c", 0)

        for offsets, counts, message in (
            ([0] * 6, [10] * 6, "d.tiff: tile 1 (pixels y 0…, x 32…) of channel 'c', level 0 is missing (offset/bytecount 0)"),
            ([10] * 6, [0] * 6, "d.tiff: tile 1 (pixels y 0…, x 32…) of channel 'c', level 0 is missing (offset/bytecount 0)"),
            ([size - 5] * 6, [6] * 6, f"d.tiff: tile 1 (pixels y 0…, x 32…) of channel 'c', level 0 lies past the end "
             f"of the file (bytes {size - 5}…{size + 1} of {size}); the file is truncated"),
        ):
            with pytest.raises(MaskDecodeError) as exc:
                decode_segment(fake(offsets, counts), lay, 1, lock)
            assert str(exc.value) == message
        ok = fake([size - 5] * 6, [5] * 6)  # ends exactly at the end of the file: read, then fails to decode
        with pytest.raises(MaskDecodeError) as exc:
            decode_segment(ok, lay, 1, lock)
        assert "past the end" not in str(exc.value)


def test_checked_layout_names_plane_and_level(small_tiff):
    path, _ = small_tiff
    with tifffile.TiffFile(path) as tif:
        bad = SimpleNamespace(imagelength=45, imagewidth=77, bitspersample=16, samplesperpixel=1, tilelength=32,
                              tilewidth=32, rowsperstrip=45, tags={"TileWidth": 1}, dataoffsets=[1] * 5,
                              databytecounts=[1] * 5)
        for z, where in ((0, ""), (3, ", plane z=3")):
            with pytest.raises(MaskDecodeError) as exc:
                _checked_layout(Plane(bad, "d.tiff", "c", 2, z=z))
            assert str(exc.value) == f"d.tiff: channel 'c'{where} level 2: it declares 6 segments but lists 5 offsets"
        assert _checked_layout(Plane(tif.pages[0], "t.tiff", "c", 0)).n_segments == 6


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_big_endian_segments_decode_to_native_values(tmp_path, compression):
    data = np.arange(40 * 50, dtype=np.uint16).reshape(40, 50)
    path = tmp_path / "be.tiff"
    tifffile.imwrite(path, data, byteorder=">", tile=(32, 32), compression=compression)
    with tifffile.TiffFile(path) as tif:
        p = Plane(tif.pages[0], "be.tiff", "c", 0)
        seg = decode_segment(p, _checked_layout(p), 3, threading.Lock())
        assert seg.dtype.isnative and seg.flags.c_contiguous
        np.testing.assert_array_equal(seg[:8, :18], data[32:40, 32:50])
        np.testing.assert_array_equal(read_region(p, 0, 40, 0, 50), data)


def test_one_pixel_image_and_plane_is_a_value():
    assert segment_layout(page(h=1, w=1)) == Layout(1, 1, 1, 1, 1, 1, False, 2)
    lay = segment_layout(page(h=1, w=1))
    with pytest.raises(AttributeError):
        lay.h = 2  # frozen: layouts are shared between threads
    assert hash(lay) == hash(Layout(1, 1, 1, 1, 1, 1, False, 2))
    p = Plane(page(), "x", "c", 0)
    with pytest.raises(AttributeError):
        p.z = 3  # frozen: planes are shared between threads


class FakeFile:
    def __init__(self, size):
        self.size = size

    def seek(self, offset):
        pass

    def read(self, count):
        return b""


def fake_plane(decoded, size=1 << 40, count=100):
    def decode(data, index):
        if isinstance(decoded, Exception):
            raise decoded
        return decoded, None, None

    pg = page(h=20, w=30, tile=(16, 16), dataoffsets=[8] * 4, databytecounts=[count] * 4,
              parent=SimpleNamespace(filehandle=FakeFile(size)), decode=decode)
    return Plane(pg, "f.tiff", "c", 0)


def _decode(plane, index=3):
    return decode_segment(plane, segment_layout(plane.page), index, threading.Lock())


def test_decoded_shapes():
    tile = np.arange(256, dtype=np.uint16).reshape(16, 16)
    np.testing.assert_array_equal(_decode(fake_plane(tile[:, :, None])), tile)
    np.testing.assert_array_equal(_decode(fake_plane(tile[None, :, :, None])), tile)
    rgb = np.stack([tile, tile + 1, tile + 2], axis=-1)[None]
    np.testing.assert_array_equal(_decode(fake_plane(rgb)), tile)  # the first sample
    # the last tile covers 4 × 14 px: a 16 × 16 buffer is enough, a smaller one is not
    assert _decode(fake_plane(tile[:4, :14])).shape == (4, 14)
    for short in (tile[:3, :16], tile[:16, :13], tile.ravel()):
        with pytest.raises(MaskDecodeError) as exc:
            _decode(fake_plane(short))
        assert str(exc.value) == (f"f.tiff: tile 3 (pixels y 16…, x 16…) of channel 'c', level 0 decoded to "
                                  f"{short.shape} pixels, fewer than the 14 × 4 it covers")
    with pytest.raises(MaskDecodeError) as exc:
        _decode(fake_plane(None))
    assert str(exc.value) == "f.tiff: tile 3 (pixels y 16…, x 16…) of channel 'c', level 0 decoded to nothing"
    with pytest.raises(MaskDecodeError) as exc:
        _decode(fake_plane(KeyError(7)))
    assert str(exc.value).endswith("cannot be decoded: it uses a compression this reader does not support")


def test_segment_byte_count_limit():
    limit = ts.MAX_SEGMENT_BYTES
    with pytest.raises(MaskDecodeError) as exc:
        _decode(fake_plane(None, count=2 * limit + 1))
    assert str(exc.value) == (f"f.tiff: tile 3 (pixels y 16…, x 16…) of channel 'c', level 0 declares "
                              f"{2 * limit + 1:,} bytes, beyond the limit MAX_SEGMENT_BYTES = {limit:,}")
    with pytest.raises(MaskDecodeError) as exc:
        _decode(fake_plane(None, count=2 * limit))
    assert str(exc.value).endswith("decoded to nothing")  # read, not refused


def test_read_region_past_the_image(small_tiff):
    path, data = small_tiff
    with tifffile.TiffFile(path) as tif:
        p = Plane(tif.pages[0], "t.tiff", "c", 0)
        out = read_region(p, 40, 50, 70, 80, workers=1)
        assert out.shape == (10, 10) and out.dtype == np.uint16
        np.testing.assert_array_equal(out[:5, :7], data[40:45, 70:77])
        assert not out[5:].any() and not out[:, 7:].any()
        np.testing.assert_array_equal(read_region(p, 46, 50, 0, 10, workers=1), np.zeros((4, 10), np.uint16))


class _CountingLock:
    """A lock that counts how often it was taken."""

    def __init__(self):
        self.taken = 0
        self._lock = threading.Lock()

    def __enter__(self):
        self.taken += 1
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)


@pytest.mark.parametrize("positional", [True, False])
def test_segments_read_positionally_or_under_the_lock_give_the_same_pixels(tmp_path, monkeypatch, positional):
    """POSIX: a whole file is read with os.pread (no seek, no lock, the file position is
    untouched); elsewhere, or when that read comes back short, seek + read under the lock."""
    labels = np.arange(40 * 48, dtype=np.uint32).reshape(40, 48)
    path = tmp_path / "p.tiff"
    tifffile.imwrite(path, labels, tile=(16, 16), compression="zlib", photometric="minisblack", metadata=None)
    monkeypatch.setattr(ts, "_PREAD", positional and ts._PREAD)
    with tifffile.TiffFile(path) as tif:
        plane = Plane(tif.pages[0], path.name, "c", 0)
        lay = _checked_layout(plane)
        fh = tif.filehandle
        fh.seek(7)
        lock = _CountingLock()
        for t in range(lay.n_segments):
            y0, x0, hh, ww = lay.rect(t)
            np.testing.assert_array_equal(decode_segment(plane, lay, t, lock)[:hh, :ww], labels[y0:y0 + hh, x0:x0 + ww])
        if ts._PREAD:
            assert (lock.taken, fh.tell()) == (0, 7)
        else:
            assert lock.taken == lay.n_segments
        end = fh.size
        assert ts._read_bytes(fh, end - 3, 10, lock) == path.read_bytes()[end - 3:]  # short: falls through
