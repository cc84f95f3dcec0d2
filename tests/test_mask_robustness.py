"""Issue-12 classes for the mask image: damaged tags and absurd declared sizes become findings
that name the limit or say what is wrong, never a crash, hang or allocation. Each input is
built in tmp_path."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fixtures_generator import ChannelSpec, MaskSpec
from fixtures_generator.writer import write_mask
from pytest_segmask.checks.channel_stats import check_labels
from pytest_segmask.checks.mask_image import FILE_CHECKS, MaskReader, open_mask
from pytest_segmask.checks.tiff_stream import MaskDecodeError


def small_mask(tmp_path: Path, **kw) -> Path:
    mask = MaskSpec(width=96, height=64, tile=32, channels=(ChannelSpec("cells", 4), ChannelSpec("nuclei", 3)), **kw)
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    return path


def patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


def tag_of(path: Path, name: str, subifd: int | None = None):
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if subifd is not None:
            page = page.pages[subifd]
        tag = page.tags[name]
        return tag.offset, tag.valueoffset, tag.dtype


def findings_text(info) -> str:
    return " | ".join(f.message for name in FILE_CHECKS for f in FILE_CHECKS[name][1](info).findings)


def all_checks_run(info) -> None:
    for name in FILE_CHECKS:
        FILE_CHECKS[name][1](info)  # never raises


def channel_items_blocked_or_findings(info) -> None:
    """Either the channel items are blocked (pointing at a file item), or the pass raises a
    MaskDecodeError (a finding of the labels item) — never another exception."""
    if info.channels_problem() is not None:
        return
    reader = MaskReader(info)
    try:
        for index in range(len(info.channel_names)):
            try:
                reader.channel_pass(index)
            except MaskDecodeError as exc:
                assert check_labels(exc, info, info.channel_names[index]).findings
    finally:
        reader.close()


def test_tile_width_zero(tmp_path):
    path = small_mask(tmp_path)
    _, value, _ = tag_of(path, "TileWidth")
    patch(path, value, struct.pack("<H", 0))
    info = open_mask(path)
    all_checks_run(info)
    text = findings_text(info)
    assert "TileWidth/TileLength must be positive" in text or "cannot be read as TIFF" in text
    assert "ZeroDivisionError" not in text
    assert info.channels_problem()[1] == "tiff"
    channel_items_blocked_or_findings(info)


def test_tag_count_changed_gives_a_tuple(tmp_path):
    path = small_mask(tmp_path)
    entry, _, _ = tag_of(path, "TileWidth")
    patch(path, entry + 4, struct.pack("<I", 2))  # count 1 -> 2: tifffile returns a tuple
    info = open_mask(path)
    all_checks_run(info)
    text = findings_text(info)
    assert "TypeError" not in text
    assert info.channels_problem() is not None
    assert "TileWidth tag holds 2 values" in text or "cannot be read as TIFF" in text
    channel_items_blocked_or_findings(info)


@pytest.mark.parametrize("tag", ["ImageWidth", "ImageLength"])
def test_image_side_two_to_the_31(tmp_path, tag):
    path = small_mask(tmp_path)
    _, value, dtype = tag_of(path, tag)
    patch(path, value, struct.pack("<I" if dtype == 4 else "<H", 2**31 if dtype == 4 else 65535))
    info = open_mask(path)
    all_checks_run(info)
    text = findings_text(info)
    if dtype == 4:
        assert "beyond the limit MAX_IMAGE_SIDE = 1,048,576" in text
    assert info.channels_problem() is not None or text
    channel_items_blocked_or_findings(info)


def test_ome_sizec_two_to_the_31(tmp_path):
    path = small_mask(tmp_path)
    with tifffile.TiffFile(path) as tif:
        desc = tif.pages[0].description
        offset = tif.pages[0].tags["ImageDescription"].valueoffset
    new = desc.replace('SizeC="2"', 'SizeC="2147483648"')
    assert len(new.encode()) > len(desc.encode())
    # same length: drop characters from a comment-free spot (the Creator attribute)
    new = new.replace('Creator="tifffile.py ', 'Creator="', 1) if 'Creator="tifffile.py ' in new else new
    pad = len(desc.encode()) - len(new.encode())
    if pad < 0:
        pytest.skip("cannot keep the description length")
    patch(path, offset, new.encode() + b" " * pad)
    info = open_mask(path)
    all_checks_run(info)
    text = findings_text(info)
    assert "beyond the limit MAX_OME_SIZE = 65,536" in text
    reason, item = info.channels_problem()
    assert item == "ome-xml" and "MAX_OME_SIZE" in reason


def test_subifd_tile_of_gigabytes(tmp_path):
    path = small_mask(tmp_path)
    for name in ("TileWidth", "TileLength"):
        _, value, dtype = tag_of(path, name, subifd=0)
        patch(path, value, struct.pack("<H", 65520) if dtype == 3 else struct.pack("<I", 65536))
    info = open_mask(path)
    all_checks_run(info)
    text = findings_text(info)
    assert "SubIFD level 1: one tile would decode to" in text
    assert "beyond the limit MAX_SEGMENT_BYTES = 536,870,912" in text
    assert info.channels_problem()[1] == "tiff"


def test_twenty_thousand_extra_ifds(tmp_path):
    path = tmp_path / "many.segmentations.ome.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((16, 16), np.uint16), photometric="minisblack", metadata=None)
        tif.write(np.zeros((20_000, 1, 1), np.uint8), photometric="minisblack", metadata=None)
    start = time.perf_counter()
    info = open_mask(path)
    for _ in range(1000):  # items ask for the names again and again: computed once
        assert len(info.channel_names) == 1
    all_checks_run(info)
    assert time.perf_counter() - start < 20
    assert info.ifd_count == 20_001


def test_ifd_count_limit(tmp_path, monkeypatch):
    import pytest_segmask.checks.mask_image as mi

    monkeypatch.setattr(mi, "MAX_IFDS", 10)
    monkeypatch.setattr(mi, "limit_text", lambda name: "the limit MAX_IFDS = 10")
    path = tmp_path / "many.segmentations.ome.tiff"
    tifffile.imwrite(path, np.zeros((12, 4, 4), np.uint8), photometric="minisblack", metadata=None)
    info = mi.open_mask(path)
    assert "the file has 12 IFDs, beyond the limit MAX_IFDS = 10" in findings_text(info)
    assert info.ifd_count == 10


def test_ifd_loop_in_the_middle(tmp_path):
    path = tmp_path / "loop.segmentations.ome.tiff"
    tifffile.imwrite(path, np.ones((4, 16, 16), np.uint16), photometric="minisblack", metadata={"axes": "CYX"})
    with tifffile.TiffFile(path) as tif:
        offsets = [p.offset for p in tif.pages]
        ntags = len(tif.pages[2].tags)
    patch(path, offsets[2] + 2 + 12 * ntags, struct.pack("<I", offsets[1]))  # 2 -> 1 -> 2 …
    start = time.perf_counter()
    info = open_mask(path)
    all_checks_run(info)
    assert time.perf_counter() - start < 10
    assert "circular" in findings_text(info)
