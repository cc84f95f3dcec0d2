"""GLB container validation: a valid mesh passes, each structural defect fails its rule."""

from __future__ import annotations

import pytest

from fixtures_generator.companions import GLB_DEFECTS, make_glb
from pytest_segmask.checks.glb import check_glb

EXPECTED = {
    "bad-magic": ("GLB-CONTAINER", "not b'glTF'", "byte 0"),
    "version-1": ("GLB-CONTAINER", "container version is 1, not 2", "byte 4"),
    "length-mismatch": ("GLB-CONTAINER", "header declares length", "byte 8"),
    "json-not-first": ("GLB-CONTAINER", "the first chunk is not a JSON chunk", "byte 12"),
    "unaligned-chunk": ("GLB-CONTAINER", "is not a multiple of 4", "byte"),
    "bad-utf8": ("GLB-JSON", "not valid UTF-8", "byte"),
    "bad-json": ("GLB-JSON", "not valid JSON", "JSON line 1"),
    "asset-version": ("GLB-JSON", "asset.version is '1.0'", "/asset/version"),
    "view-out-of-bounds": ("GLB-BOUNDS", "bufferView 1 spans bytes", "/bufferViews/1"),
    "accessor-out-of-bounds": ("GLB-BOUNDS", "accessor 0 needs 3600 bytes", "/accessors/0"),
    "no-mesh": ("GLB-MESH", "holds no mesh", "/meshes"),
    "bad-attribute": ("GLB-MESH", "attribute NORMAL names accessor 7", "/meshes/0/primitives/0/attributes/NORMAL"),
    "truncated": ("GLB-CONTAINER", "header declares length", "byte 8"),
}


def test_catalogue_complete():
    assert set(EXPECTED) == set(GLB_DEFECTS)


def test_valid_glb_passes(tmp_path):
    path = tmp_path / "cells-mesh.glb"
    path.write_bytes(make_glb())
    result = check_glb(path)
    assert result.findings == []
    assert "glTF 2.0 binary, 1 mesh(es), 1 primitive(s), 2 accessor(s)" in result.notes[0]


@pytest.mark.parametrize("defect", GLB_DEFECTS)
def test_each_defect_fails_its_rule(tmp_path, defect):
    path = tmp_path / "cells-mesh.glb"
    path.write_bytes(make_glb(defect))
    result = check_glb(path, "derived/segmentation_masks/cells-mesh.glb")
    code, fragment, where = EXPECTED[defect]
    assert [f.code for f in result.findings] == [code], result.findings
    message = result.findings[0].message
    assert message.startswith("derived/segmentation_masks/cells-mesh.glb: ")
    assert fragment in message and f"(at {where}" in message
    assert result.findings[0].fix


@pytest.mark.parametrize("data", [b"", b"glTF", b"\x00" * 11, b"PK\x03\x04" + b"\x00" * 40])
def test_garbage_bytes(tmp_path, data):
    path = tmp_path / "x-mesh.glb"
    path.write_bytes(data)
    [finding] = check_glb(path).findings
    assert finding.code == "GLB-CONTAINER"


def test_absurd_json_length_is_refused_without_reading(tmp_path):
    import struct

    # header claims a 4 GiB JSON chunk inside a 4 GiB file: the length check stops it first
    data = b"glTF" + struct.pack("<II", 2, 24) + struct.pack("<II", 0xFFFFFFFC, 0x4E4F534A) + b"{}  "
    path = tmp_path / "x-mesh.glb"
    path.write_bytes(data)
    [finding] = check_glb(path).findings
    assert "runs past the end of the file" in finding.message


def test_unreadable_path(tmp_path):
    [finding] = check_glb(tmp_path / "missing-mesh.glb").findings
    assert finding.code == "GLB-CONTAINER" and "cannot read the file" in finding.message
