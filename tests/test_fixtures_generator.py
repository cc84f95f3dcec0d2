"""The generator writes what its spec says: valid masks, agreeing tables, and named defects."""

from __future__ import annotations

import csv
from dataclasses import replace

import numpy as np
import pytest
import tifffile
from openpyxl import load_workbook

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
from fixtures_generator.__main__ import main as cli_main
from fixtures_generator.labels import build_pyramid, make_labels
from fixtures_generator.writer import write_mask

SEG = "derived/segmentation_masks"


def block_rule_holds(upper: np.ndarray, lower: np.ndarray) -> bool:
    """Every pixel of ``lower`` equals one of the four pixels of its block in ``upper``."""
    h, w = lower.shape
    padded = np.pad(upper, ((0, upper.shape[0] % 2), (0, upper.shape[1] % 2)), mode="edge")
    blocks = [padded[dy::2, dx::2][:h, :w] for dy in (0, 1) for dx in (0, 1)]
    return bool(np.logical_or.reduce([b == lower for b in blocks]).all())


def test_valid_dataset_layout_and_mask(tmp_path):
    out = write_dataset(DatasetSpec(), tmp_path / "ds")
    assert (out / "extras" / "README.txt").exists()
    assert (out / "derived" / "extras" / "README.txt").exists()
    path = out / SEG / "sample.segmentations.ome.tiff"
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        assert series.kind == "ome"
        assert series.shape == (2, 200, 300) and series.dtype == np.uint16
        assert [lvl.shape for lvl in series.levels] == [(2, 200, 300), (2, 100, 150), (2, 50, 75)]
        assert tif.pages[0].is_tiled and tif.pages[0].compression == 8
        xml = tif.pages[0].description
        assert 'Name="cells"' in xml and 'Name="nuclei"' in xml and 'PhysicalSizeX="0.5"' in xml
        data = series.asarray()
    for channel in range(2):
        assert set(np.unique(data[channel])) == set(range(0, 13))


@pytest.mark.parametrize("fmt, template", [("xlsx", "newer"), ("xlsx", "older"), ("tsv", "newer"), ("tsv", "plain")])
def test_tables_agree_with_mask(tmp_path, fmt, template):
    spec = DatasetSpec(table_format=fmt, template=template,
                       masks=(MaskSpec(channels=(ChannelSpec("cells", 9, sparse_ids=True),)),))
    out = write_dataset(spec, tmp_path / "ds")
    labels = make_labels(spec.masks[0], 0)
    path = out / SEG / f"cells-objects.{fmt}"
    if fmt == "xlsx":
        rows = list(load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
    else:
        rows = list(csv.reader(open(path, encoding="utf-8"), delimiter="\t"))
    header_index = next(i for i, r in enumerate(rows) if r and r[0] == "Object ID")
    assert header_index == {"newer": 9, "older": 8, "plain": 0}[template]
    data = rows[header_index + 1:]
    ids = sorted(int(r[0]) for r in data)
    assert ids == sorted(set(np.unique(labels)) - {0})
    for row in data:
        oid, x, y = int(row[0]), float(row[7]), float(row[8])
        ys, xs = np.nonzero(labels == oid)
        assert xs.min() <= x <= xs.max() and ys.min() <= y <= ys.max()
    with open(out / SEG / "segmentation-masks.csv", encoding="utf-8") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["Mask name"] == "cells" and row["Num objects"] == "9"
    assert row["Source file"] == "sample.segmentations.ome.tiff"


@pytest.mark.parametrize("method, valid", [("topleft", True), ("mode", True), ("mean", False), ("bilinear", False)])
def test_pyramid_methods_and_block_rule(method, valid):
    labels = make_labels(MaskSpec(width=97, height=61, channels=(ChannelSpec("c", 40),)), 0)
    pyramid = build_pyramid(labels, 3, method)
    assert [p.shape for p in pyramid] == [(61, 97), (31, 49), (16, 25)]
    holds = all(block_rule_holds(a, b) for a, b in zip(pyramid, pyramid[1:]))
    assert holds is valid


@pytest.mark.parametrize(
    "changes",
    [
        dict(dtype="uint8"), dict(dtype="uint32"), dict(tile=None), dict(compression=None),
        dict(compression="lzw"), dict(compression="zstd"), dict(compression="packbits"),
        dict(bigtiff=True), dict(pyramid_levels=1), dict(tile=32, width=33, height=65),
    ],
)
def test_layout_knobs_read_back(tmp_path, changes):
    mask = replace(MaskSpec(), **changes)
    path = tmp_path / mask.file_name
    labels = write_mask(mask, path)
    with tifffile.TiffFile(path) as tif:
        assert tif.series[0].kind == "ome"
        assert tif.is_bigtiff == mask.bigtiff
        assert tif.pages[0].is_tiled == (mask.tile is not None)
        assert len(tif.series[0].levels) == mask.pyramid_levels
        np.testing.assert_array_equal(tif.series[0].asarray()[0], labels[0])


def test_legacy_and_wrong_size_pyramids(tmp_path):
    legacy = replace(MaskSpec(), pyramid_method="legacy")
    write_mask(legacy, tmp_path / "l.ome.tiff")
    with tifffile.TiffFile(tmp_path / "l.ome.tiff") as tif:
        assert tif.pages[0].subifds is None and len(tif.pages) == 6
    wrong = replace(MaskSpec(), pyramid_method="wrong-sizes")
    write_mask(wrong, tmp_path / "w.ome.tiff")
    with tifffile.TiffFile(tmp_path / "w.ome.tiff") as tif:
        assert tif.series[0].levels[1].shape == (2, 97, 147)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        ("type-mismatch", 'Type="uint8"'),
        ("sizec-mismatch", 'SizeC="3"'),
        ("sizet-2", 'SizeT="2"'),
        ("binaryonly", "<BinaryOnly MetadataFile="),
        ("multifile-uuid", '<UUID FileName="sample.part2.ome.tiff">'),
        ("not-xml", "<OME this is not XML"),
    ],
)
def test_ome_edits(tmp_path, edit, fragment):
    mask = replace(MaskSpec(), ome_edits=(edit,))
    write_mask(mask, tmp_path / "m.ome.tiff")
    with tifffile.TiffFile(tmp_path / "m.ome.tiff") as tif:
        assert fragment in tif.pages[0].description


def test_name_edits_and_no_ome(tmp_path):
    for edit in ("missing-names", "duplicate-names", "no-ome", "no-physical-size"):
        write_mask(replace(MaskSpec(), ome_edits=(edit,)), tmp_path / f"{edit}.ome.tiff")
    with tifffile.TiffFile(tmp_path / "missing-names.ome.tiff") as tif:
        assert 'Name="cells"' not in tif.pages[0].description
    with tifffile.TiffFile(tmp_path / "duplicate-names.ome.tiff") as tif:
        assert tif.pages[0].description.count('Name="cells"') == 2
    with tifffile.TiffFile(tmp_path / "no-ome.ome.tiff") as tif:
        assert "<OME" not in (tif.pages[0].description or "")
    with tifffile.TiffFile(tmp_path / "no-physical-size.ome.tiff") as tif:
        assert "PhysicalSizeX" not in tif.pages[0].description


def test_signed_and_float_dtypes(tmp_path):
    for dtype in ("int8", "int16", "float32"):
        mask = replace(MaskSpec(), dtype=dtype)
        write_mask(mask, tmp_path / f"{dtype}.ome.tiff")
        with tifffile.TiffFile(tmp_path / f"{dtype}.ome.tiff") as tif:
            assert tif.series[0].dtype == np.dtype(dtype)


def test_versions_and_empty_dirs(tmp_path):
    old = write_dataset(DatasetSpec(version="2.1", empty_dirs=True), tmp_path / "old")
    assert not (old / "extras").exists()
    assert list((old / "derived" / "extras").iterdir()) == []


def test_cli(tmp_path, capsys):
    assert cli_main([str(tmp_path / "cli"), "--channels", "a,b,c", "--objects", "5", "--strips",
                     "--table-format", "tsv", "--version", "2.3", "--compression", "None"]) == 0
    seg = tmp_path / "cli" / SEG
    assert sorted(p.name for p in seg.iterdir()) == [
        "a-objects.tsv", "b-objects.tsv", "c-objects.tsv", "sample.segmentations.ome.tiff",
        "segmentation-masks.csv",
    ]
    with tifffile.TiffFile(seg / "sample.segmentations.ome.tiff") as tif:
        assert not tif.pages[0].is_tiled and tif.pages[0].compression == 1


def test_refuses_non_empty_output(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(FileExistsError):
        write_dataset(DatasetSpec(), tmp_path / "x")
