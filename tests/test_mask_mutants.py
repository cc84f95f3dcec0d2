"""Mask-image checks with whole messages and exact findings: the cases a mutation sweep found
unasserted (open errors in words, OME consistency problems, pyramid levels, layout, pixel type,
physical size, source image, the plane chosen for a 3D channel)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fixtures_generator import ChannelSpec, MaskSpec
from fixtures_generator.writer import write_mask
from pytest_segmask.checks import mask_image as mi
from pytest_segmask.checks.mask_image import (
    FILE_CHECKS, LevelInfo, MaskInfo, MaskReader, check_source_image, open_mask, pyramid_factor,
)
from pytest_segmask.findings import Severity
from pytest_segmask.rules import Authority


def one(result):
    [finding] = result.findings
    return finding.code, finding.severity, finding.message


@pytest.fixture(scope="module")
def mask3d(tmp_path_factory):
    spec = MaskSpec(width=40, height=30, channels=(ChannelSpec("a", 3), ChannelSpec("b", 2)), size_z=3, tile=16)
    path = tmp_path_factory.mktemp("m3") / spec.file_name
    labels = write_mask(spec, path)
    return path, labels


@pytest.fixture(scope="module")
def info3d(mask3d):
    return open_mask(mask3d[0], display="m.tiff")


# --- opening errors in words -------------------------------------------------------------


class Boom(Exception):
    pass


@pytest.mark.parametrize("exc, words", [
    (FileNotFoundError("x"), "the file does not exist"),
    (PermissionError("x"), "the file cannot be read (permission denied)"),
    (IsADirectoryError("x"), "it is a directory"),
    (Boom("Not a TIFF file"), "it does not start with a TIFF or BigTIFF header"),
    (Boom("invalid TIFF header"), "it does not start with a TIFF or BigTIFF header"),
    (Boom("bad byteorder"), "it does not start with a TIFF or BigTIFF header"),
    (Boom("circular reference"), "its IFD chain loops back on itself (circular reference)"),
    (Boom("keyframe mismatch"), "its IFDs are inconsistent with each other"),
    (EOFError(), "it ends before the structures it declares (truncated or damaged IFD)"),
    (Boom("unexpected EOF"), "it ends before the structures it declares (truncated or damaged IFD)"),
    (Boom("file truncated"), "it ends before the structures it declares (truncated or damaged IFD)"),
    (Boom("offset out of range"), "it ends before the structures it declares (truncated or damaged IFD)"),
    (MemoryError(), "its declared structures need more memory than is available"),
    (Boom("weird"), "its IFD structure is damaged (the TIFF reader stopped at: weird)"),
    (Boom(""), "its IFD structure is damaged (the TIFF reader stopped at: an unnamed error)"),
    (Boom("x" * 150), f"its IFD structure is damaged (the TIFF reader stopped at: {'x' * 100})"),
])
def test_open_words(exc, words):
    assert mi._open_words(exc) == words


def test_missing_file_finding_whole(tmp_path):
    info = open_mask(tmp_path / "gone.tiff", display="gone.tiff")
    assert not info.readable
    assert one(FILE_CHECKS["tiff"][1](info)) == (
        "TIFF-READ", Severity.ERROR, "gone.tiff cannot be read as TIFF: the file does not exist")
    for name in FILE_CHECKS:
        if name != "tiff":
            assert FILE_CHECKS[name][1](info).skip == "gone.tiff could not be opened as TIFF (see its tiff item)"
    assert info.channels_problem() == ("gone.tiff could not be opened as TIFF", "tiff")


# --- a valid 3D mask: every note whole ------------------------------------------------------


def test_valid_notes_whole(info3d):
    notes = {name: FILE_CHECKS[name][1](info3d).notes for name in FILE_CHECKS}
    assert notes == {
        "tiff": ["TIFF, 40 × 30 px, 6 plane(s), uint16, tiles 16×16, ADOBE_DEFLATE, 3 level(s)"],
        "ome-xml": ["OME-XML embedded, well-formed, valid against OME 2016-06"],
        "ome-consistency": ["channels: 'a', 'b', 3 z-planes each"],
        "pixel-type": ["pixel type uint16"],
        "physical-size": ["pixel size 0.5 × 0.5 µm"],
        "pyramid": ["pyramid factor 2; levels: 40×30, 20×15, 10×8"],
        "layout": ["tiles 16 × 16, ADOBE_DEFLATE"],
    }
    assert all(not FILE_CHECKS[name][1](info3d).findings for name in FILE_CHECKS)
    assert info3d.plane_map == [[0, 1, 2], [3, 4, 5]] and info3d.size_z == 3
    assert info3d.channel_names == ["a", "b"] and info3d.channels_problem() is None
    assert info3d.physical_size_um() == (0.5, 0.5, 1.0)


def test_planes_first_and_middle_z(mask3d, info3d):
    path, labels = mask3d
    reader = MaskReader(info3d)
    try:
        first = reader.planes(1)
        middle = reader.planes(1, middle=True)
        assert [p.z for p in first] == [0, 0, 0] and [p.z for p in middle] == [1, 1, 1]
        assert [p.level for p in first] == [0, 1, 2]
        with tifffile.TiffFile(path) as tif:
            np.testing.assert_array_equal(tif.pages[4].asarray(), labels[1][1])
    finally:
        reader.close()


# --- OME consistency: each problem's message whole --------------------------------------------


def _consistency(tmp_path, **kw):
    spec = MaskSpec(width=20, height=16, tile=16, pyramid_levels=1, **kw)
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    return FILE_CHECKS["ome-consistency"][1](open_mask(path, display="m.tiff"))


def test_type_mismatch_message(tmp_path):
    assert one(_consistency(tmp_path, ome_edits=("type-mismatch",))) == (
        "OME-CONSISTENT", Severity.ERROR, "m.tiff: Pixels Type is 'uint8' but the TIFF stores uint16")


def test_sizet_message(tmp_path):
    result = _consistency(tmp_path, ome_edits=("sizet-2",))
    assert [f.message for f in result.findings] == ["m.tiff: SizeT = 2; a mask has one time point"]


def test_names_missing_and_duplicated(tmp_path):
    result = _consistency(tmp_path, channels=(ChannelSpec("a", 2), ChannelSpec("b", 2), ChannelSpec("c", 2)),
                          ome_edits=("duplicate-names",))
    assert [(f.code, f.message) for f in result.findings] == [
        ("OME-CHANNEL-NAMES", "m.tiff: channel name(s) used more than once: 'a'")]
    result = _consistency(tmp_path, ome_edits=("missing-names",))
    assert [(f.code, f.message) for f in result.findings] == [
        ("OME-CHANNEL-NAMES", "m.tiff: channel(s) 0, 1 have no Name")]
    assert result.notes == []


def test_consistency_sizes(info3d):
    bad = replace(info3d, ome=dict(info3d.ome, SizeX="41", SizeY="30"), planes=7)
    assert [f.message for f in FILE_CHECKS["ome-consistency"][1](bad).findings] == [
        "m.tiff: SizeX × SizeY is 41 × 30 but the full-resolution IFD is 40 × 30",
        "m.tiff: the file has 7 full-resolution IFD(s) but the OME-XML maps 6",
    ]
    fewer = replace(info3d, ome=dict(info3d.ome, SizeC="3"), ome_channel_names=["a", "b"])
    assert [f.message for f in FILE_CHECKS["ome-consistency"][1](fewer).findings] == [
        "m.tiff: SizeC × SizeZ = 3 × 3 = 9 planes but 6 are mapped to IFDs of this file",
        "m.tiff: 2 Channel element(s) for SizeC = 3",
    ]
    elsewhere = replace(fewer, other_files={(2, 0): "x.tiff"})
    assert [f.message for f in FILE_CHECKS["ome-consistency"][1](elsewhere).findings][0] == (
        "m.tiff: SizeC × SizeZ = 3 × 3 = 9 planes but 6 are mapped to IFDs of this file and 1 to other files")
    assert FILE_CHECKS["ome-consistency"][1](replace(info3d, ome={})).skip == (
        "m.tiff has no readable OME Pixels element (see its ome-xml item)")
    assert FILE_CHECKS["ome-consistency"][1](replace(info3d, ome_problem="P")).skip == (
        "m.tiff: P (see its ome-xml item)")


def test_not_xml_message(tmp_path):
    spec = MaskSpec(width=20, height=16, tile=16, pyramid_levels=1, ome_edits=("not-xml",))
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    info = open_mask(path, display="m.tiff")
    code, severity, message = one(FILE_CHECKS["ome-xml"][1](info))
    assert (code, severity) == ("OME-XML", Severity.ERROR)
    assert message.startswith("m.tiff: the OME-XML is not well-formed XML: ") and info.xml_error in message
    assert info.ome_problem == "the OME-XML is not well-formed"


def test_no_ome_message(tmp_path):
    spec = MaskSpec(width=20, height=16, tile=16, pyramid_levels=1, ome_edits=("no-ome",))
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    info = open_mask(path, display="m.tiff")
    assert one(FILE_CHECKS["ome-xml"][1](info)) == (
        "OME-XML", Severity.ERROR, "m.tiff has no OME-XML in its first ImageDescription")
    assert info.ome_problem == "the file has no OME-XML" and info.plane_map == [[0], [1]]


# --- pyramid -----------------------------------------------------------------------------------


def _levels(*sizes, dtype="uint16", planes=2):
    return [LevelInfo(h, w, dtype, planes) for w, h in sizes]


def _info(width=64, height=48, levels=None, **kw):
    base = dict(path=Path("m.tiff"), display="m.tiff", readable=True, width=width, height=height,
                dtype="uint16", planes=2, tiled=True, tile=(16, 16), compression="ADOBE_DEFLATE")
    base.update(kw)
    info = MaskInfo(**base)
    info.levels = levels if levels is not None else _levels((width, height))
    return info


def test_pyramid_of_a_one_pixel_high_level():
    info = _info(8, 2, _levels((8, 2), (4, 1)))
    assert pyramid_factor(info) == 2
    assert FILE_CHECKS["pyramid"][1](info).notes == ["pyramid factor 2; levels: 8×2, 4×1"]
    info = _info(2, 8, _levels((2, 8), (1, 4)))
    assert pyramid_factor(info) == 2
    assert pyramid_factor(_info(8, 2, _levels((8, 2), (4, 0)))) is None
    assert pyramid_factor(_info(8, 2, _levels((8, 2), (0, 1)))) is None
    assert pyramid_factor(_info(8, 2)) is None


def test_pyramid_level_planes_and_dtype():
    levels = _levels((64, 48), (32, 24)) + [LevelInfo(12, 16, "uint8", 1)]
    result = FILE_CHECKS["pyramid"][1](_info(levels=levels))
    assert [(f.code, f.severity, f.message, f.location.level) for f in result.findings] == [
        ("PYRAMID", Severity.ERROR, "m.tiff: level 2 has 1 plane(s) of uint8, the full resolution 2 of uint16", 2)]
    assert result.notes == []


def test_pyramid_level_sizes():
    result = FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (32, 24), (10, 12), (4, 3))))
    assert [f.message for f in result.findings] == [
        "m.tiff: level 2 is 10 × 12, expected about 16 × 12 (full size / 2^2 with pyramid factor 2 found "
        "between levels 0 and 1, within 1 px); the factor between levels 1 and 2 is about 3, not 2",
        "m.tiff: level 3 is 4 × 3, expected about 8 × 6 (full size / 2^3 with pyramid factor 2 found "
        "between levels 0 and 1, within 1 px); the factor between levels 2 and 3 is about 4, not 2",
    ]
    same = FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (32, 24), (16, 12), (8, 9))))
    assert [f.message for f in same.findings] == [
        "m.tiff: level 3 is 8 × 9, expected about 8 × 6 (full size / 2^3 with pyramid factor 2 found "
        "between levels 0 and 1, within 1 px)"]
    # within 1 px either way is fine (odd sizes)
    ok = FILE_CHECKS["pyramid"][1](_info(65, 47, _levels((65, 47), (33, 23), (17, 12))))
    assert ok.findings == [] and ok.notes == ["pyramid factor 2; levels: 65×47, 33×23, 17×12"]
    # exactly 1 px off, larger or smaller, is fine too
    for w, h in ((17, 13), (15, 11)):
        edge = FILE_CHECKS["pyramid"][1](_info(64, 48, _levels((64, 48), (32, 24), (w, h))))
        assert edge.findings == [], (w, h)
    # 2 px off is not
    off = FILE_CHECKS["pyramid"][1](_info(64, 48, _levels((64, 48), (32, 24), (14, 12))))
    assert len(off.findings) == 1 and "level 2 is 14 × 12, expected about 16 × 12" in off.findings[0].message
    # a level with a zero side: no factor between levels is guessed
    zero = FILE_CHECKS["pyramid"][1](_info(64, 48, _levels((64, 48), (32, 24), (0, 12))))
    assert zero.findings[0].message.endswith("within 1 px)")


def test_pyramid_level1_not_smaller():
    result = FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (64, 48))))
    assert one(result) == ("PYRAMID", Severity.ERROR, "m.tiff: level 1 is 64 × 48, not smaller than the full "
                           "resolution 64 × 48 by an integer factor ≥ 2")
    assert result.findings[0].location.level == 1


@pytest.mark.parametrize("width, height, severity, tail", [
    (4096, 10, Severity.WARNING, ""),
    (10, 4096, Severity.WARNING, ""),
    (4097, 10, Severity.ERROR, "; viewers cannot show images over 4096 px without one"),
    (10, 4097, Severity.ERROR, "; viewers cannot show images over 4096 px without one"),
])
def test_pyramid_missing(width, height, severity, tail):
    result = FILE_CHECKS["pyramid"][1](_info(width, height))
    assert one(result) == ("PYRAMID-MISSING", severity,
                           f"m.tiff: no pyramid (no SubIFD levels) for a {width} × {height} image{tail}")


def test_pyramid_legacy():
    result = FILE_CHECKS["pyramid"][1](_info(extra_series=[(24, 32), (12, 16)]))
    assert one(result) == ("PYRAMID-LEGACY", Severity.WARNING, "m.tiff: 2 reduced-size IFD(s) stored as separate "
                           "series (32×24, 16×12) instead of SubIFDs")
    assert result.findings[0].authority is Authority.PRACTICE


# --- layout, pixel type, physical size, tiff -----------------------------------------------------


def test_layout_findings():
    assert one(FILE_CHECKS["layout"][1](_info(tiled=False, tile=None, rows_per_strip=16))) == (
        "TIFF-LAYOUT", Severity.WARNING, "m.tiff is stored in strips (16 row(s) per strip), not tiles")
    assert one(FILE_CHECKS["layout"][1](_info(tile=(16, 24)))) == (
        "TIFF-LAYOUT", Severity.WARNING, "m.tiff uses 24 × 16 tiles, not powers of two")
    assert one(FILE_CHECKS["layout"][1](_info(tile=(48, 16)))) == (
        "TIFF-LAYOUT", Severity.WARNING, "m.tiff uses 16 × 48 tiles, not powers of two")
    assert one(FILE_CHECKS["layout"][1](_info(compression="Zstd"))) == (
        "TIFF-COMPRESSION", Severity.WARNING, "m.tiff is zstd-compressed; the HuBMAP portal's viewer cannot decode it")
    assert FILE_CHECKS["layout"][1](_info(tile=(1, 1))).notes == ["tiles 1 × 1, ADOBE_DEFLATE"]
    assert FILE_CHECKS["layout"][1](_info(tiled=False, tile=None, rows_per_strip=16, compression=None)).notes == []


def test_pixel_types():
    assert FILE_CHECKS["pixel-type"][1](_info(dtype="uint32")).notes == ["pixel type uint32"]
    code, severity, message = one(FILE_CHECKS["pixel-type"][1](_info(dtype="int16")))
    assert (code, severity) == ("PIXEL-SIGNED", Severity.WARNING)
    assert message == ("m.tiff: pixel type is int16, a signed container; accepted while no pixel is negative "
                       "(each channel's labels item checks that)")
    assert FILE_CHECKS["pixel-type"][1](_info(dtype="int16")).findings[0].fix == (
        "store the labels as uint16 (same size, no negative values possible)")
    code, severity, message = one(FILE_CHECKS["pixel-type"][1](_info(dtype="float32")))
    assert (code, severity) == ("PIXEL-TYPE", Severity.ERROR) and message.startswith(
        "m.tiff: pixel type is float32; label masks must be integers")
    assert _info(dtype="int8").signed and not _info(dtype="uint8").signed


@pytest.mark.parametrize("ome, message", [
    ({}, None),
    ({"PhysicalSizeY": "1"}, "m.tiff: OME Pixels lacks PhysicalSizeX"),
    ({"PhysicalSizeX": "", "PhysicalSizeY": ""}, "m.tiff: OME Pixels lacks PhysicalSizeX and PhysicalSizeY"),
    ({"PhysicalSizeX": "0", "PhysicalSizeY": "1"}, "m.tiff: PhysicalSizeX='0' is not a positive number"),
    ({"PhysicalSizeX": "1", "PhysicalSizeY": "-2"}, "m.tiff: PhysicalSizeY='-2' is not a positive number"),
    ({"PhysicalSizeX": "a", "PhysicalSizeY": "nan"},
     "m.tiff: PhysicalSizeX='a' and PhysicalSizeY='nan' is not a positive number"),
])
def test_physical_size(ome, message):
    info = _info(ome=dict(ome, SizeC="2") if ome else {})
    result = FILE_CHECKS["physical-size"][1](info)
    if message is None:
        assert result.skip == "m.tiff has no readable OME Pixels element (see its ome-xml item)"
    else:
        assert one(result) == ("PHYSICAL-SIZE", Severity.ERROR, message)


def test_physical_size_note_units():
    info = _info(ome={"PhysicalSizeX": "2", "PhysicalSizeY": "3", "PhysicalSizeXUnit": "nm"})
    assert FILE_CHECKS["physical-size"][1](info).notes == ["pixel size 2 × 3 nm"]
    assert info.physical_size_um() == (pytest.approx(0.002), 3.0, None)
    odd = _info(ome={"PhysicalSizeX": "0", "PhysicalSizeY": "x", "PhysicalSizeZ": "2", "PhysicalSizeZUnit": "furlong"})
    assert odd.physical_size_um() == (None, None, None)


def test_tiff_findings_whole():
    info = _info(segment_error="IFD 2: too big", series_error="tifffile cannot build an image series: X")
    result = FILE_CHECKS["tiff"][1](info)
    assert [(f.code, f.message) for f in result.findings] == [
        ("TIFF-READ", "m.tiff: IFD 2: too big"),
        ("TIFF-READ", "m.tiff: tifffile cannot build an image series: X"),
    ] and result.notes == []
    ome_only = FILE_CHECKS["tiff"][1](_info(series_error="OME series cannot be built"))
    assert ome_only.findings == []
    logged = FILE_CHECKS["tiff"][1](_info(log=["OME series failed", "TiffPage 3: corrupt tag", "just a note"]))
    assert [f.message for f in logged.findings] == ["m.tiff: tifffile reported: TiffPage 3: corrupt tag"]
    notes = FILE_CHECKS["tiff"][1](_info(bigtiff=True, tiled=False, tile=None, levels=_levels((64, 48), (32, 24))))
    assert notes.notes == ["BigTIFF, 64 × 48 px, 2 plane(s), uint16, strips, ADOBE_DEFLATE, 2 level(s)"]
    assert FILE_CHECKS["tiff"][1](_info(readable=False, segment_error="x")).findings == []


def test_channels_problem_and_channel_problem():
    assert _info(segment_error="E").channels_problem() == (
        "the pixel layout cannot be decoded safely: E", "tiff")
    assert _info(dtype="float32").channels_problem() == ("pixel type float32 is not a label type", "pixel-type")
    assert _info(ome_problem="P").channels_problem() == (
        "the OME metadata cannot be used to find the channels' planes: P", "ome-xml")
    info = _info(plane_map=[[0], [None]], ome_channel_names=["a", None], other_files={(1, 0): "other.tiff"})
    assert info.channel_names == ["a", "channel-1"]
    assert info.channel_problem(0) is None
    assert info.channel_problem(1) == "channel 'channel-1' has no plane in m.tiff (the OME-XML places it in other.tiff)"
    assert info.channel_problem(2) == "m.tiff has no channel 2"
    dup = _info(plane_map=[[0], [1], [2]], ome_channel_names=["a", "a", ""])
    assert dup.channel_names == ["a", "a_1", "channel-2"]


# --- the source image ---------------------------------------------------------------------------


def test_source_image():
    ome = {"SizeX": "64", "SizeY": "48", "SizeZ": "1", "PhysicalSizeX": "0.5", "PhysicalSizeY": "0.5"}
    mask, source = _info(ome=ome), _info(ome=dict(ome), display="src.tiff")
    result = check_source_image(mask, source)
    assert result.findings == [] and result.notes == [
        "m.tiff and the source src.tiff agree: SizeX=64, SizeY=48, SizeZ=1, PhysicalSizeX=0.5, PhysicalSizeY=0.5, "
        "PhysicalSizeXUnit=µm, PhysicalSizeYUnit=µm, PhysicalSizeZUnit=µm"]
    nm = _info(ome=dict(ome, PhysicalSizeX="500", PhysicalSizeXUnit="nm"), display="src.tiff")
    assert one(check_source_image(mask, nm)) == ("SOURCE-IMAGE", Severity.ERROR, (
        "m.tiff differs from the source image src.tiff: PhysicalSizeX: mask 0.5, source 500.0; "
        "PhysicalSizeXUnit: mask 'µm', source 'nm' (the same length in micrometres, but ingest compares values "
        "and units as written)"))
    wide = _info(ome=dict(ome, SizeX="65"), display="src.tiff")
    assert one(check_source_image(mask, wide))[2] == "m.tiff differs from the source image src.tiff: SizeX: mask 64, source 65"
    odd = _info(ome=dict(ome, SizeX="x"), display="src.tiff")
    assert one(check_source_image(mask, odd))[2] == "m.tiff differs from the source image src.tiff: SizeX: mask 64, source 'x'"
    for broken in (_info(ome={}, display="src.tiff"), _info(readable=False, ome=ome, display="src.tiff")):
        assert one(check_source_image(mask, broken)) == ("SOURCE-IMAGE", Severity.ERROR, (
            "the source image src.tiff has no readable OME Pixels element, so its size cannot be compared "
            "(ingest reports it as not a valid OME-TIFF)"))
    assert one(check_source_image(_info(ome={}), source))[2].startswith("the mask m.tiff has no readable")


# --- self-contained -------------------------------------------------------------------------------


def _ome_info(tmp_path, edits, **kw):
    spec = MaskSpec(width=20, height=16, tile=16, pyramid_levels=1, ome_edits=edits, **kw)
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    return open_mask(path, display="m.tiff")


def test_multifile_uuid_and_binaryonly(tmp_path):
    info = _ome_info(tmp_path, ("multifile-uuid",))
    result = FILE_CHECKS["ome-xml"][1](info)
    assert [(f.code, f.message) for f in result.findings] == [(
        "OME-SELF-CONTAINED", "m.tiff: TiffData/UUID entries name other files (sample.part2.ome.tiff); "
        "a mask must be one file")]
    # a UUID naming this file by the root's own UUID, or by its file name, is fine
    info = _ome_info(tmp_path / "plain", ())
    own = info.description.split('UUID="', 1)[1].split('"', 1)[0]
    for uuid in (f"<UUID>{own}</UUID>", f'<UUID FileName="{info.path.name}">urn:uuid:other</UUID>'):
        text = info.description.replace('<TiffData IFD="0" PlaneCount="2"/>',
                                        f'<TiffData IFD="0" PlaneCount="2">{uuid}</TiffData>')
        assert text != info.description
        result = mi.CheckResult()
        mi._check_self_contained(replace(info, description=text.replace(f'UUID="{own}"', 'UUID="urn:uuid:x"')), result)
        assert len(result.findings) == (1 if "FileName" not in uuid else 0)
        result = mi.CheckResult()
        mi._check_self_contained(replace(info, description=text), result)
        assert result.findings == []
    stub = _ome_info(tmp_path, ("binaryonly",))
    [finding] = FILE_CHECKS["ome-xml"][1](stub).findings
    assert (finding.code, finding.message) == (
        "OME-SELF-CONTAINED", "m.tiff holds only a BinaryOnly stub pointing at 'sample.companion.ome'; "
        "the metadata is not in the file")


# --- pyramid labels: examples capped, counts and notes whole ---------------------------------------


def _pyr(levels, planes=1, notes=()):
    from pytest_segmask.checks.pyramid_labels import PyramidResult

    if planes == 1:  # the default: one plane
        return PyramidResult(levels=levels, notes=list(notes))
    return PyramidResult(levels=levels, planes=planes, notes=list(notes))


def test_pyramid_labels_caps_and_messages():
    from pytest_segmask.checks.pyramid_labels import LevelResult, check_pyramid_labels

    info = _info()
    lv = LevelResult(level=1, factor=3, tested=100, bad=7)
    lv.add_examples([(0, 9, 9), (0, 1, 2), (0, 5, 5)])
    lv.add_examples([(0, 0, 7), (0, 8, 1), (0, 3, 3), (0, 0, 1)])
    assert lv.first == [(0, 0, 1), (0, 0, 7), (0, 1, 2), (0, 3, 3), (0, 5, 5)]
    errors = LevelResult(level=2, factor=3, tested=10, errors=[f"tile {i} broken" for i in range(7)])
    ok = LevelResult(level=3, factor=3, tested=4)
    result = check_pyramid_labels(info, _pyr([lv, errors, ok], notes=["n0"]), "c")
    assert [(f.code, f.message, f.location.level) for f in result.findings] == [
        ("PYRAMID-LABELS", "m.tiff: channel 'c' level 1: 7 of 100 pixel(s) match none of the 9 pixels of their "
         "3×3 block in level 0 (pyramid factor 3); first at (y 0, x 1), (y 0, x 7), (y 1, x 2), (y 3, x 3), "
         "(y 5, x 5) — the level was averaged or interpolated, which invents object ids", 1),
        *[("PYRAMID-LABELS", f"tile {i} broken", 2) for i in range(5)],
        ("PYRAMID-LABELS", "m.tiff: channel 'c' level 2: 2 more segment(s) do not decode", 2),
    ]
    assert result.findings[0].location.pixel == (0, 1)
    assert {(f.severity, f.authority) for f in result.findings} == {(Severity.ERROR, Authority.SCHEMA)}
    assert result.findings[0].fix.startswith("build pyramid levels by nearest-neighbour subsampling (e.g. labels[::3, ::3])")
    assert result.notes == ["n0", "level 3: all 4 pixels come from their 3×3 block in level 2"]
    assert result.data == {"bad_pixels": {1: [(0, 1), (0, 7), (1, 2), (3, 3), (5, 5)]}}
    five = LevelResult(level=1, factor=2, tested=1, errors=[f"e{i}" for i in range(5)])
    assert [f.message for f in check_pyramid_labels(info, _pyr([five]), "c").findings] == [f"e{i}" for i in range(5)]
    assert _pyr([lv, errors]).bad_pixels == 7


def test_pyramid_labels_planes_and_skips():
    from pytest_segmask.checks.pyramid_labels import LevelResult, check_pyramid_labels
    from pytest_segmask.checks.tiff_stream import MaskDecodeError

    info = _info()
    lv = LevelResult(level=1, factor=2, tested=8, bad=1, first=[(2, 3, 4)])
    for planes in (2, 3):
        [finding] = check_pyramid_labels(info, _pyr([lv], planes=planes), "c").findings
        assert "first at (plane 2, y 3, x 4) — " in finding.message
    assert check_pyramid_labels(info, _pyr([]), "c").skip == "m.tiff has no pyramid levels to compare"
    assert check_pyramid_labels(info, None, "c").skip == "m.tiff has no pyramid levels to compare"
    assert check_pyramid_labels(info, mi.ChannelNotInFile("gone"), "c").skip == "gone (see the channel's labels item)"
    result = check_pyramid_labels(info, MaskDecodeError("broken tile"), "c")
    assert [(f.code, f.message, f.location.channel) for f in result.findings] == [("PYRAMID-LABELS", "broken tile", "c")]


def test_xsd_resolver_answers_xml_xsd_locally(monkeypatch):
    from lxml import etree

    made = []

    class Spy(etree.Resolver):
        def __init__(self):
            super().__init__()
            made.append(self)

    mi.ome_schema.cache_clear()
    monkeypatch.setattr(etree, "Resolver", Spy)
    try:
        assert mi.ome_schema() is not None
    finally:
        monkeypatch.undo()
        mi.ome_schema.cache_clear()
    [resolver] = made
    assert resolver.resolve("http://www.w3.org/2001/xml.xsd", None, None) is not None
    assert resolver.resolve("http://example.org/other.xsd", None, None) is None


def test_level_of_one_pixel_names_the_factor_found():
    result = FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (32, 24), (1, 12))))
    assert result.findings[0].message.endswith("the factor between levels 1 and 2 is about 32, not 2")
    result = FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (32, 24), (16, 1))))
    assert result.findings[0].message.endswith("the factor between levels 1 and 2 is about 24, not 2")


def test_physical_size_values_cut_at_20_characters():
    long = "-" + "1" * 29
    result = FILE_CHECKS["physical-size"][1](_info(ome={"PhysicalSizeX": long, "PhysicalSizeY": "1" * 25 + "x"}))
    assert one(result)[2] == (f"m.tiff: PhysicalSizeX={long[:20]!r} and PhysicalSizeY={'1' * 20!r} "
                              "is not a positive number")


# --- OME sizes and the plane map -----------------------------------------------------------------


def _mapped(attrs="", tiffdata="", ifds=2, channels=2, order="XYZCT", sizes=None):
    sizes = dict(dict(SizeZ="1", SizeC="2", SizeT="1"), **(sizes or {}))
    size_attrs = " ".join(f'{k}="{v}"' for k, v in sizes.items())
    chans = "".join(f'<Channel ID="Channel:0:{i}" Name="c{i}"/>' for i in range(channels))
    xml = (f'<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:me"><Image ID="Image:0">'
           f'<Pixels ID="Pixels:0" DimensionOrder="{order}" Type="uint16" SizeX="4" SizeY="4" {size_attrs} {attrs}>'
           f"{chans}{tiffdata}</Pixels></Image></OME>")
    info = _info(description=xml, ifd_count=ifds, full_ifds=list(range(ifds)))
    mi._parse_ome(info)
    mi._map_planes(info)
    return info


def test_ome_too_big():
    assert mi._ome_too_big(_info(ome={"SizeC": "65536"})) is None
    assert mi._ome_too_big(_info(ome={"SizeZ": "65537"})) == (
        "OME SizeZ='65537' is beyond the limit MAX_OME_SIZE = 65,536")
    assert mi._ome_too_big(_info(ome={"SizeT": "9" * 30})) == (
        f"OME SizeT={'9' * 20!r} is beyond the limit MAX_OME_SIZE = 65,536")
    assert mi._ome_too_big(_info(ome={"SizeC": "256", "SizeZ": "256"})) is None
    assert mi._ome_too_big(_info(ome={"SizeC": "256", "SizeZ": "257"})) == (
        "OME SizeC × SizeZ × SizeT = 65,792 planes, beyond the limit MAX_OME_PLANES = 65,536")
    assert mi._ome_too_big(_info(ome={"SizeC": "x", "SizeZ": "65536", "SizeT": "2"})) is None
    assert mi._ome_too_big(_info(ome={})) is None


def test_ome_problems():
    assert mi._ome_problem(_info()) == "the file has no OME-XML"
    assert mi._ome_problem(_info(description="<OME/>", xml_error="bad")) == "the OME-XML is not well-formed"
    assert mi._ome_problem(_info(description="<OME><BinaryOnly/></OME>")) == (
        "the OME-XML is a BinaryOnly stub pointing at another file")
    assert mi._ome_problem(_info(description="<OME></OME>")) == "the OME-XML has no Image/Pixels element"
    base = {"SizeC": "1", "SizeZ": "1", "SizeT": "1"}
    assert mi._ome_problem(_info(description="<OME/>", ome=base)) is None
    assert mi._ome_problem(_info(description="<OME/>", ome=dict(base, SizeZ="0"))) == (
        "Pixels SizeZ='0' is not a positive integer")
    assert mi._ome_problem(_info(description="<OME/>", ome=dict(base, SizeC="two"))) == (
        "Pixels SizeC='two' is not a positive integer")
    assert mi._ome_problem(_info(description="<OME/>", ome=dict(base, SizeT="-" + "9" * 29))) == (
        f"Pixels SizeT={'-' + '9' * 19!r} is not a positive integer")
    assert mi._ome_problem(_info(description="<OME/>", ome=dict(base, SizeC="70000"))) == (
        "OME SizeC='70000' is beyond the limit MAX_OME_SIZE = 65,536")
    assert mi._ome_problem(_info(description="<OME/>", ome={"SizeC": "1"})) is None  # Z and T default to 1


def test_plane_map_from_tiffdata():
    assert _mapped().plane_map == [[0], [1]]
    assert _mapped(ifds=1).plane_map == [[0], [None]]
    info = _mapped(tiffdata='<TiffData IFD="1" FirstC="0" PlaneCount="1"/><TiffData IFD="0" FirstC="1"/>')
    assert info.plane_map == [[1], [0]] and info.ome_problem is None
    # one TiffData without attributes: every plane from IFD 0 on
    assert _mapped(tiffdata="<TiffData/>").plane_map == [[0], [1]]
    # planes past the last IFD are not in the file
    assert _mapped(tiffdata='<TiffData IFD="1" PlaneCount="2"/>').plane_map == [[1], [None]]
    assert _mapped(tiffdata='<TiffData IFD="0" PlaneCount="2"/>', ifds=2).plane_map == [[0], [1]]
    # 3D, channels z-major (XYCZT)
    info = _mapped(sizes={"SizeZ": "2"}, order="XYCZT", ifds=4, tiffdata='<TiffData PlaneCount="4"/>')
    assert info.plane_map == [[0, 2], [1, 3]] and info.size_z == 2
    # other files
    info = _mapped(tiffdata='<TiffData IFD="0" FirstC="0" PlaneCount="1"/>'
                            '<TiffData IFD="0" FirstC="1" PlaneCount="1"><UUID FileName="b.tiff">urn:uuid:b</UUID></TiffData>')
    assert info.plane_map == [[0], [None]] and info.other_files == {(1, 0): "b.tiff"}
    info = _mapped(tiffdata='<TiffData IFD="0" FirstC="1" PlaneCount="1"><UUID>urn:uuid:me</UUID></TiffData>')
    assert info.plane_map == [[None], [0]] and info.other_files == {}


@pytest.mark.parametrize("tiffdata, order, problem", [
    ("", "XYZCQ", "DimensionOrder 'XYZCQ' is not a permutation of XY + ZCT"),
    ("", "XYZZT", "DimensionOrder 'XYZZT' is not a permutation of XY + ZCT"),
    ('<TiffData IFD="one"/>', "XYZCT", "a TiffData element has a non-integer IFD/First*/PlaneCount"),
    ('<TiffData IFD="-1"/>', "XYZCT", "a TiffData element points outside the image (IFD -1, 1 plane(s))"),
    ('<TiffData IFD="0" PlaneCount="-1"/>', "XYZCT", "a TiffData element points outside the image (IFD 0, -1 plane(s))"),
    ('<TiffData FirstC="2"/>', "XYZCT", "a TiffData element points outside the image (IFD 0, 1 plane(s))"),
    ('<TiffData PlaneCount="65537"/>', "XYZCT",
     "a TiffData element points outside the image (IFD 0, 65537 plane(s))"),
    ('<TiffData IFD="5" PlaneCount="2"/>', "XYZCT", "no plane of the image is mapped to an IFD of this file"),
])
def test_plane_map_problems(tiffdata, order, problem):
    info = _mapped(tiffdata=tiffdata, order=order)
    assert info.ome_problem == problem
    assert info.plane_map == [[0], [1]]  # one channel per IFD


def test_plane_count_at_the_limit_is_not_a_problem():
    assert _mapped(tiffdata='<TiffData PlaneCount="65536"/>').plane_map == [[0], [1]]


# --- the ome-xml item's other findings, samples per pixel, tifffile's log ------------------------------


def test_ome_xml_findings_whole(tmp_path, info3d):
    xsd = _ome_info(tmp_path, ("xsd-invalid",))
    assert one(FILE_CHECKS["ome-xml"][1](xsd)) == ("OME-XSD", Severity.ERROR, (
        "m.tiff: the OME-XML is not valid against the OME 2016-06 schema: line 1: Element "
        "'{http://www.openmicroscopy.org/Schemas/OME/2016-06}Pixels', attribute 'Colour': The attribute 'Colour' "
        "is not allowed."))
    big = replace(info3d, ome=dict(info3d.ome, SizeC="70000"))
    assert one(FILE_CHECKS["ome-xml"][1](big)) == (
        "OME-XML", Severity.ERROR, "m.tiff: OME SizeC='70000' is beyond the limit MAX_OME_SIZE = 65,536")
    generic = replace(info3d, series_kind="generic", log=["a", "b", "c", "d"])
    assert one(FILE_CHECKS["ome-xml"][1](generic)) == ("OME-XML", Severity.ERROR, (
        "m.tiff: tifffile does not read the file as an OME series (it fell back to 'generic'); "
        "it reported: a, b, c … (+1 more)"))
    quiet = replace(info3d, series_kind="generic", log=[])
    assert one(FILE_CHECKS["ome-xml"][1](quiet))[2].endswith(
        "(it fell back to 'generic'); the OME-XML does not describe the IFDs")
    assert FILE_CHECKS["ome-xml"][1](replace(info3d, series_kind="generic", series_error="E")).findings == []
    unusable = replace(info3d, ome_problem="P")
    assert one(FILE_CHECKS["ome-xml"][1](unusable)) == (
        "OME-XML", Severity.ERROR, "m.tiff: P; the planes cannot be assigned to channels")


def test_samples_per_pixel(tmp_path):
    path = tmp_path / "rgb.tiff"
    tifffile.imwrite(path, np.zeros((16, 16, 3), np.uint8), photometric="rgb")
    info = open_mask(path, display="r.tiff")
    assert one(FILE_CHECKS["tiff"][1](info)) == ("TIFF-READ", Severity.ERROR, (
        "r.tiff: 3 samples per pixel; a label mask stores one channel per plane (SamplesPerPixel = 1)"))


def test_tifffile_log_capture():
    import logging

    with mi.capture_tifffile_log() as log:
        logger = logging.getLogger("tifffile")
        logger.warning("<tifffile.TiffPages @8> page 3 raised ValueError('bad tag')")
        logger.info("not a warning")
        for i in range(120):
            logger.warning("x" * 600 if i == 5 else f"w{i}")
    assert log[0] == "page 3 ('bad tag')"
    assert len(log) == 100 and log[6] == "x" * 500 and log[7] == "w6"
    assert logging.getLogger("tifffile").propagate is True


def test_extra_series_kept_up_to_1000(tmp_path):
    path = tmp_path / "many.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((16, 16), np.uint16), photometric="minisblack", metadata=None)
        tif.write(np.zeros((1001, 2, 3), np.uint8), photometric="minisblack", metadata=None)
    info = open_mask(path, display="m.tiff")
    assert info.ifd_count == 1002 and info.planes == 1 and info.full_ifds == [0]
    assert len(info.extra_series) == 1000 and info.extra_series[0] == (2, 3)
    assert FILE_CHECKS["pyramid"][1](info).findings[0].message.startswith(
        "m.tiff: 1000 reduced-size IFD(s) stored as separate series (3×2, 3×2, 3×2, 3×2, 3×2 … (+995 more))")


@pytest.mark.parametrize("n", [32, 33])
def test_subifd_count_limit(tmp_path, n):
    path = tmp_path / "sub.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((4, 4), np.uint8), subifds=n, photometric="minisblack", metadata=None)
        for _ in range(n):
            tif.write(np.ones((2, 2), np.uint8), subfiletype=1, photometric="minisblack")
    info = open_mask(path, display="m.tiff")
    if n == 32:
        assert info.segment_error is None and len(info.levels) == 33
        assert info.levels[1] == LevelInfo(2, 2, "uint8", 1)
    else:
        assert info.segment_error == "IFD 0 lists 33 SubIFDs, beyond the limit MAX_SUBIFDS = 32"
        assert len(info.levels) == 1
        assert [f.message for f in FILE_CHECKS["tiff"][1](info).findings] == [
            "m.tiff: IFD 0 lists 33 SubIFDs, beyond the limit MAX_SUBIFDS = 32"]


def test_levels_count_planes_per_level(tmp_path):
    path = tmp_path / "two.tiff"
    with tifffile.TiffWriter(path) as tif:
        for _ in range(2):
            tif.write(np.ones((8, 8), np.uint16), subifds=2, photometric="minisblack", metadata=None)
            tif.write(np.ones((4, 4), np.uint16), subfiletype=1, photometric="minisblack")
            tif.write(np.ones((2, 2), np.uint16), subfiletype=1, photometric="minisblack")
    info = open_mask(path)
    assert info.levels == [LevelInfo(8, 8, "uint16", 2), LevelInfo(4, 4, "uint16", 2), LevelInfo(2, 2, "uint16", 2)]
    assert info.series_kind == "not OME" and info.ome_problem == "the file has no OME-XML"
    # every IFD is read for itself: a second plane with one level less shows in the level counts
    path = tmp_path / "uneven.tiff"
    with tifffile.TiffWriter(path) as tif:
        for levels in (2, 1):
            tif.write(np.ones((8, 8), np.uint16), subifds=levels, photometric="minisblack", metadata=None)
            for k in range(1, levels + 1):
                tif.write(np.ones((8 >> k, 8 >> k), np.uint16), subfiletype=1, photometric="minisblack")
    info = open_mask(path, display="m.tiff")
    assert info.levels == [LevelInfo(8, 8, "uint16", 2), LevelInfo(4, 4, "uint16", 2), LevelInfo(2, 2, "uint16", 1)]
    assert FILE_CHECKS["pyramid"][1](info).findings[0].message == (
        "m.tiff: level 2 has 1 plane(s) of uint16, the full resolution 2 of uint16")


def test_mask_rules_severity_and_authority(tmp_path, info3d):
    """Every file rule's findings carry its severity and authority (a rule demoted or handed to
    another authority fails here, not only in the README table)."""
    ome = {"SizeX": "64", "SizeY": "48", "PhysicalSizeX": "1", "PhysicalSizeY": "1"}
    results = [
        FILE_CHECKS["tiff"][1](_info(segment_error="E")),
        FILE_CHECKS["ome-xml"][1](_info(description=None)),
        FILE_CHECKS["ome-xml"][1](_ome_info(tmp_path / "xsd", ("xsd-invalid",))),
        FILE_CHECKS["ome-xml"][1](_ome_info(tmp_path / "stub", ("binaryonly",))),
        FILE_CHECKS["ome-consistency"][1](replace(info3d, ome=dict(info3d.ome, SizeT="2"),
                                                  ome_channel_names=["a", ""])),
        FILE_CHECKS["pixel-type"][1](_info(dtype="float32")),
        FILE_CHECKS["pixel-type"][1](_info(dtype="int8")),
        FILE_CHECKS["physical-size"][1](_info(ome={"SizeC": "1"})),
        FILE_CHECKS["pyramid"][1](_info(levels=_levels((64, 48), (64, 48)))),
        FILE_CHECKS["pyramid"][1](_info(5000, 10)),
        FILE_CHECKS["pyramid"][1](_info(extra_series=[(2, 2)])),
        FILE_CHECKS["layout"][1](_info(tiled=False, tile=None, compression="zstd")),
        check_source_image(_info(ome=ome), _info(ome=dict(ome, SizeX="65"))),
    ]
    seen = {f.code: (f.severity, f.authority) for r in results for f in r.findings}
    E, W = Severity.ERROR, Severity.WARNING
    assert seen == {
        "TIFF-READ": (E, Authority.INGEST), "OME-XML": (E, Authority.INGEST), "OME-XSD": (E, Authority.INGEST),
        "OME-SELF-CONTAINED": (E, Authority.SCHEMA), "OME-CONSISTENT": (E, Authority.SCHEMA),
        "OME-CHANNEL-NAMES": (E, Authority.SCHEMA), "PIXEL-TYPE": (E, Authority.SCHEMA),
        "PIXEL-SIGNED": (W, Authority.PRACTICE), "PHYSICAL-SIZE": (E, Authority.INGEST),
        "PYRAMID": (E, Authority.SCHEMA), "PYRAMID-MISSING": (E, Authority.SCHEMA),
        "PYRAMID-LEGACY": (W, Authority.PRACTICE), "TIFF-LAYOUT": (W, Authority.PRACTICE),
        "TIFF-COMPRESSION": (W, Authority.PRACTICE), "SOURCE-IMAGE": (E, Authority.INGEST),
    }


def test_declared_empty_image_keeps_its_zero_size(tmp_path):
    path = tmp_path / "zero.tiff"
    tifffile.imwrite(path, np.ones((16, 24), np.uint16), tile=(16, 16), photometric="minisblack", metadata=None)
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["ImageLength"]
        offset, fmt = tag.valueoffset, ("<H" if tag.dtype == 3 else "<I")  # SHORT or LONG
    raw = bytearray(path.read_bytes())
    import struct

    raw[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, 0)
    path.write_bytes(bytes(raw))
    info = open_mask(path, display="m.tiff")
    assert (info.height, info.width) == (0, 24)
    assert info.segment_error == "IFD 0: it declares an empty image (24 × 0 px)"
    assert one(FILE_CHECKS["pyramid"][1](info))[2] == "m.tiff: no pyramid (no SubIFD levels) for a 24 × 0 image"


def test_two_z_planes_note(tmp_path):
    spec = MaskSpec(width=20, height=16, tile=16, pyramid_levels=1, size_z=2, channels=(ChannelSpec("a", 2),))
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    assert FILE_CHECKS["ome-consistency"][1](open_mask(path)).notes == ["channels: 'a', 2 z-planes each"]


def test_consistency_values_cut_at_20_characters(info3d):
    long = "q" * 30
    bad = replace(info3d, ome=dict(info3d.ome, Type=long, SizeX="9" * 25, SizeY="8" * 21))
    assert [f.message for f in FILE_CHECKS["ome-consistency"][1](bad).findings] == [
        f"m.tiff: Pixels Type is {'q' * 20!r} but the TIFF stores uint16",
        f"m.tiff: SizeX × SizeY is {'9' * 20} × {'8' * 20} but the full-resolution IFD is 40 × 30",
    ]


# --- defaults, parser hardening, channel passes in order ----------------------------------------------


def test_mask_info_before_opening_knows_nothing():
    info = MaskInfo(path=Path("x.tiff"), display="x.tiff")
    assert (info.readable, info.bigtiff, info.tiled, info.planes, info.ifd_count, info.height, info.width,
            info.size_z, info.dtype, info.tile) == (False, False, False, 0, 0, 0, 0, 1, None, None)
    assert info.channel_names == [] and info.levels == [] and info.plane_map == []


def test_xml_parser_refuses_deep_documents_and_keeps_entities():
    deep = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">' + "<a>" * 300 + "</a>" * 300
            + "</OME>")
    info = _info(description=deep)
    mi._parse_ome(info)
    assert info.xml_error and "Excessive depth" in info.xml_error
    xml = ('<!DOCTYPE OME [<!ENTITY me "urn:uuid:me">]>'
           '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" UUID="urn:uuid:me"><Image ID="Image:0">'
           '<Pixels ID="Pixels:0" DimensionOrder="XYZCT" Type="uint16" SizeX="4" SizeY="4" SizeZ="1" SizeC="1" '
           'SizeT="1"><TiffData><UUID>&me;</UUID></TiffData></Pixels></Image></OME>')
    result = mi.CheckResult()
    mi._check_self_contained(_info(description=xml), result)
    # the entity is not expanded: the UUID's text is empty, so it names no file of its own
    assert [f.message for f in result.findings] == [
        "m.tiff: TiffData/UUID entries name other files (?); a mask must be one file"]


def test_sizes_default_to_one():
    xml = ('<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" '
           'DimensionOrder="XYZCT" Type="uint16" SizeX="4" SizeY="4" SizeC="2"><Channel ID="Channel:0:0" Name="a"/>'
           '<Channel ID="Channel:0:1" Name="b"/></Pixels></Image></OME>')
    info = _info(description=xml, ifd_count=2, full_ifds=[0, 1])
    mi._parse_ome(info)
    mi._map_planes(info)
    assert info.ome_problem is None and info.plane_map == [[0], [1]] and info.size_z == 1
    assert FILE_CHECKS["ome-consistency"][1](replace(info, width=4, height=4)).notes == ["channels: 'a', 'b'"]


def test_channel_passes_come_in_order(tmp_path):
    spec = MaskSpec(width=16, height=16, tile=16, pyramid_levels=1,
                    channels=tuple(ChannelSpec(f"c{i}", i + 1) for i in range(4)))
    path = tmp_path / spec.file_name
    write_mask(spec, path)
    info = open_mask(path)
    reader = MaskReader(info)
    try:
        got = [(i, r.stats.n_objects) for i, r in reader.iter_channel_passes([3, 0, 2, 1], workers=2)]
        assert got == [(3, 4), (0, 1), (2, 3), (1, 2)]
        assert {i: r.stats.n_objects for i, r in reader.channel_passes([1, 2], workers=1).items()} == {1: 2, 2: 3}
        assert list(reader.iter_channel_passes([], workers=2)) == []
    finally:
        reader.close()


def test_subifd_size_tag_with_two_values(tmp_path):
    import struct

    path = tmp_path / "sub.tiff"
    with tifffile.TiffWriter(path) as tif:
        tif.write(np.ones((32, 32), np.uint16), subifds=1, tile=(16, 16), photometric="minisblack", metadata=None)
        tif.write(np.ones((16, 16), np.uint16), subfiletype=1, tile=(16, 16), photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        entry = tif.pages[0].pages[0].tags["ImageLength"].offset
    raw = bytearray(path.read_bytes())
    raw[entry + 4:entry + 8] = struct.pack("<I", 2)  # count 1 -> 2: the tag reads as a tuple
    path.write_bytes(bytes(raw))
    info = open_mask(path, display="m.tiff")
    assert info.levels[1].height == -1 and info.levels[1].width == 16
    assert info.segment_error == ("IFD 0 SubIFD level 1: its ImageLength tag holds 2 values where TIFF allows one "
                                  "(the tag's count or type is damaged)")
    assert FILE_CHECKS["pyramid"][1](info).findings[0].message == (
        "m.tiff: level 1 is 16 × -1, not smaller than the full resolution 32 × 32 by an integer factor ≥ 2")
