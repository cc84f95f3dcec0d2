"""Mask-image checks on bad input, real OME-TIFF samples, and stats against numpy."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile
from conftest import REAL_DATA

from fixtures_generator import ChannelSpec, MaskSpec
from fixtures_generator.writer import write_mask
from pytest_segmask.checks.channel_stats import check_labels, compute_channel_stats
from pytest_segmask.checks.mask_image import FILE_CHECKS, MaskReader, open_mask
from pytest_segmask.checks.pyramid_labels import check_pyramid_labels
from pytest_segmask.checks.tiff_stream import MaskDecodeError

SAMPLES = REAL_DATA / "ome-samples"


def codes(info, check):
    return [f.code for f in FILE_CHECKS[check][1](info).findings]


def all_codes(info):
    return {name: codes(info, name) for name in FILE_CHECKS}


def stats_for(path: Path, channel: int = 0):
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        return info, compute_channel_stats(reader.planes(channel, info.channel_names[channel])[0])
    finally:
        reader.close()


@pytest.mark.parametrize(
    "changes",
    [
        {}, dict(tile=None), dict(tile=None, rows_per_strip=1), dict(compression=None),
        dict(compression="lzw"), dict(compression="zstd"), dict(compression="packbits"),
        dict(dtype="uint8"), dict(dtype="uint32"), dict(bigtiff=True), dict(tile=32, width=77, height=45),
    ],
)
def test_channel_stats_match_numpy(tmp_path, changes):
    mask = replace(MaskSpec(width=150, height=110, channels=(ChannelSpec("c", 25, sparse_ids=True),)), **changes)
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)[0]
    _, stats = stats_for(path)
    ids, counts = np.unique(labels[labels != 0], return_counts=True)
    np.testing.assert_array_equal(stats.ids, ids)
    np.testing.assert_array_equal(stats.counts, counts)
    for k, oid in enumerate(ids):
        ys, xs = np.nonzero(labels == oid)
        assert stats.centroid_x[k] == pytest.approx(xs.mean())
        assert stats.centroid_y[k] == pytest.approx(ys.mean())
        assert tuple(stats.bbox[k]) == (ys.min(), xs.min(), ys.max(), xs.max())
    assert stats.background_pixels == int((labels == 0).sum())


def test_labels_notes_and_warnings(tmp_path):
    mask = MaskSpec(channels=(ChannelSpec("c", 5), ChannelSpec("empty", 0), ChannelSpec("sparse", 2, id_offset=500)))
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info = open_mask(path)
    reader = MaskReader(info)
    results = [check_labels(compute_channel_stats(reader.planes(i, n)[0]), info, n)
               for i, n in enumerate(info.channel_names)]
    reader.close()
    assert results[0].findings == []
    assert results[0].notes[0].startswith("channel 'c': 5 object(s), max id 5, background ")
    assert [f.code for f in results[1].findings] == ["LABELS-EMPTY"]
    assert "channel 'empty' holds no objects" in results[1].findings[0].message
    assert [f.code for f in results[2].findings] == ["LABELS-SPARSE"]
    assert "max id 502 for only 2 object(s)" in results[2].findings[0].message


def test_pyramid_labels_reports_first_bad_pixels(tmp_path):
    mask = MaskSpec(width=64, height=64, channels=(ChannelSpec("c", 9),), pyramid_method="mean")
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    info = open_mask(path)
    reader = MaskReader(info)
    result = check_pyramid_labels(info, reader.planes(0, "c"), "c")
    reader.close()
    finding = result.findings[0]
    assert finding.code == "PYRAMID-LABELS"
    assert "channel 'c' level 1:" in finding.message and "first at (y " in finding.message
    assert finding.location.pixel is not None and finding.location.level == 1


def _patch(path: Path, offset: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset:offset + len(data)] = data
    path.write_bytes(bytes(raw))


def test_not_a_tiff(tmp_path):
    path = tmp_path / "x.segmentations.ome.tiff"
    path.write_text("hello")
    info = open_mask(path)
    [finding] = FILE_CHECKS["tiff"][1](info).findings
    assert finding.code == "TIFF-READ" and "cannot be read as TIFF" in finding.message
    assert "x.segmentations.ome.tiff" in finding.message
    assert FILE_CHECKS["ome-xml"][1](info).skip
    assert info.channel_names == []


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1, 20])
def test_truncated_file_never_raises(tmp_path, keep):
    mask = MaskSpec()
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    info = open_mask(path)
    problems = [c for name in FILE_CHECKS for c in codes(info, name)]
    if info.readable and not problems:
        # the IFDs survived: the damage must show when decoding
        with pytest.raises(MaskDecodeError, match="truncated|cannot be decoded|missing"):
            reader = MaskReader(info)
            try:
                for i, name in enumerate(info.channel_names):
                    compute_channel_stats(reader.planes(i, name)[0])
            finally:
                reader.close()
    else:
        assert problems


def test_garbage_tile_names_file_channel_and_tile(tmp_path):
    mask = MaskSpec()
    path = tmp_path / mask.file_name
    write_mask(mask, path)
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[1].dataoffsets[2], tif.pages[1].databytecounts[2]
    _patch(path, offset, b"\xff" * count)
    info = open_mask(path)
    reader = MaskReader(info)
    with pytest.raises(MaskDecodeError) as excinfo:
        compute_channel_stats(reader.planes(1, "nuclei")[0])
    reader.close()
    assert "tile 2 (pixels y 0…, x 128…) of channel 'nuclei', level 0 cannot be decoded" in str(excinfo.value)
    result = check_labels(excinfo.value, info, "nuclei")
    assert [f.code for f in result.findings] == ["LABELS"]


def test_absurd_declared_size(tmp_path):
    path = tmp_path / "absurd.segmentations.ome.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((16, 16), np.uint16), rowsperstrip=16, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        width, length = tags["ImageWidth"], tags["ImageLength"]
    for tag in (width, length):
        _patch(path, tag.valueoffset, struct.pack("<I", 1_000_000))
    info = open_mask(path)
    assert "TIFF-READ" in codes(info, "tiff")
    assert "incorrect StripByteCounts" in FILE_CHECKS["tiff"][1](info).findings[0].message
    reader = MaskReader(info)
    with pytest.raises(MaskDecodeError, match="declares 62500 segments but lists 1 offsets"):
        compute_channel_stats(reader.planes(0, "channel-0")[0])
    reader.close()


def test_huge_single_strip_is_refused(tmp_path):
    path = tmp_path / "strip.segmentations.ome.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((16, 16), np.uint16), rowsperstrip=16, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        width, length, rps = tags["ImageWidth"], tags["ImageLength"], tags["RowsPerStrip"]
    for tag in (width, length, rps):
        _patch(path, tag.valueoffset, struct.pack("<I", 1_000_000))
    info = open_mask(path)
    messages = " ".join(f.message for f in FILE_CHECKS["tiff"][1](info).findings)
    assert "would decode to 2,000,000,000,000 bytes" in messages


def test_ifd_loop(tmp_path):
    path = tmp_path / "loop.segmentations.ome.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((3, 16, 16), np.uint16), photometric="minisblack", metadata={"axes": "CYX"})
    with tifffile.TiffFile(path) as tif:
        offsets = [p.offset for p in tif.pages]
        ntags = len(tif.pages[-1].tags)
    _patch(path, offsets[-1] + 2 + 12 * ntags, struct.pack("<I", offsets[0]))
    info = open_mask(path)
    [finding] = FILE_CHECKS["tiff"][1](info).findings
    assert finding.code == "TIFF-READ" and "circular reference" in finding.message


def test_unreadable_path(tmp_path):
    info = open_mask(tmp_path / "missing.segmentations.ome.tiff")
    assert codes(info, "tiff") == ["TIFF-READ"]


def sample(*parts: str) -> Path:
    path = SAMPLES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data absent: {path}")
    return path


def test_real_hubmap_crop400_pyramid_passes_structure():
    info = open_mask(sample("hubmap-ingest-validation-tests", "H14-12555_1L_PAS.segmentations_crop400_pyramid.ome.tiff"))
    result = all_codes(info)
    assert result.pop("layout") == ["TIFF-LAYOUT"]  # strips: a warning
    assert all(v == [] for v in result.values()), result
    assert len(info.levels) == 5 and info.planes == 5
    assert info.channel_names == ["cortical-interstitium", "medullary-interstitium", "glomeruli", "tubules", "arteries-arterioles"]
    reader = MaskReader(info)
    for index, name in enumerate(info.channel_names):
        planes = reader.planes(index, name)
        stats = compute_channel_stats(planes[0])
        assert [f.code for f in check_labels(stats, info, name).findings] == ["LABELS-EMPTY"]
        assert check_pyramid_labels(info, planes, name).findings == []
    reader.close()


def test_real_multifile_member_fails_self_contained():
    info = open_mask(sample("hubmap-ingest-validation-tests", "917_cropped_0_Z0_C3_T0.ome.tiff"))
    assert codes(info, "ome-xml") == ["OME-SELF-CONTAINED"]
    assert "name other files (917_cropped_0_Z0_C0_T0.ome.tiff" in FILE_CHECKS["ome-xml"][1](info).findings[0].message


@pytest.mark.parametrize("name", [f"multifile-Z{i}.ome.tiff" for i in range(1, 6)])
def test_real_binaryonly_stubs_fail(name):
    info = open_mask(sample("viv", name))
    [finding] = FILE_CHECKS["ome-xml"][1](info).findings
    assert finding.code == "OME-SELF-CONTAINED"
    assert "BinaryOnly stub pointing at 'multifile.companion.ome'" in finding.message


@pytest.mark.parametrize("parts", [("hubmap-ingest-validation-tests", "sample1.ome.tif"),
                                   ("viv", "multi-channel.ome.tif"), ("viv", "multi-channel.deflate.ome.tif")])
def test_real_signed_int8_is_a_signed_container(parts):
    """int8 is accepted with a practice warning; negative pixels are the labels item's error."""
    info = open_mask(sample(*parts))
    assert codes(info, "pixel-type") == ["PIXEL-SIGNED"]
    assert "pixel type is int8" in FILE_CHECKS["pixel-type"][1](info).findings[0].message
    reader = MaskReader(info)
    try:
        result = reader.channel_pass(0)
    finally:
        reader.close()
    found = [f.code for f in check_labels(result.stats, info, info.channel_names[0]).findings]
    assert ("LABELS-NEGATIVE" in found) == (result.stats.negative_pixels > 0)
