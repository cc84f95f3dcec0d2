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
    "stride-too-small": ("GLB-BOUNDS", "reads bufferView 0 with byteStride 8: the stride must be at least 12",
                         "/bufferViews/0/byteStride"),
    "buffer-longer-than-bin": ("GLB-BOUNDS", "buffer 0 declares 48 bytes but the BIN chunk holds 44",
                               "/buffers/0/byteLength"),
    "json-too-deep": ("GLB-JSON", "nests arrays/objects 101 levels deep, deeper than 64", "byte 20"),
    "component-type-list": ("GLB-BOUNDS", "accessor 1 has componentType [5123] / type 'SCALAR'", "/accessors/1"),
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


# --- survivors of the mutation sweep (issue 16): strides, buffer sizes, whole messages --------

import json  # noqa: E402
import struct  # noqa: E402


def glb(doc: dict, binary: bytes | None = b"\x00" * 48) -> bytes:
    json_bytes = json.dumps(doc).encode()
    json_bytes += b" " * (-len(json_bytes) % 4)
    chunks = struct.pack("<II", len(json_bytes), 0x4E4F534A) + json_bytes
    if binary is not None:
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks


def doc(**changes) -> dict:
    d = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": 48}],
        "bufferViews": [{"buffer": 0, "byteLength": 48}],
        "accessors": [{"bufferView": 0, "componentType": 5126, "count": 4, "type": "VEC3"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
    }
    d.update(changes)
    return d


def messages(tmp_path, data, display="c.glb"):
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(data)
    result = check_glb(path, display)
    return result, [f.message for f in result.findings]


def test_valid_note_whole(tmp_path):
    result, found = messages(tmp_path, glb(doc()))
    assert found == []
    assert result.notes == ["c.glb: glTF 2.0 binary, 1 mesh(es), 1 primitive(s), 1 accessor(s), BIN chunk 48 bytes"]


@pytest.mark.parametrize("stride", [12, 16, 252])
def test_valid_strides(tmp_path, stride):
    views = [{"buffer": 0, "byteLength": 48, "byteStride": stride}]
    accessors = [{"bufferView": 0, "componentType": 5126, "count": 1, "type": "VEC3"}]
    assert messages(tmp_path, glb(doc(bufferViews=views, accessors=accessors)))[1] == []


@pytest.mark.parametrize("stride", [0, 2, 6, 256, -4, 12.0, "12", True])
def test_invalid_stride_values(tmp_path, stride):
    views = [{"buffer": 0, "byteLength": 48, "byteStride": stride}]
    result, found = messages(tmp_path, glb(doc(bufferViews=views)))
    assert found[0] == (f"c.glb: bufferView 0 has byteStride {stride!r} (must be 4..252, a multiple of 4) "
                        "(at /bufferViews/0/byteStride)")
    assert {(f.code, f.severity.value, f.authority.value) for f in result.findings} == {("GLB-BOUNDS", "error", "practice")}


def test_stride_smaller_than_the_element(tmp_path):
    views = [{"buffer": 0, "byteLength": 48, "byteStride": 8}]
    assert messages(tmp_path, glb(doc(bufferViews=views)))[1] == [
        "c.glb: accessor 0 (VEC3 of 4-byte components, 12 bytes per element) reads bufferView 0 with "
        "byteStride 8: the stride must be at least 12 and a multiple of 4 (at /bufferViews/0/byteStride)"]


def test_stride_not_a_multiple_of_the_component(tmp_path):
    views = [{"buffer": 0, "byteLength": 48, "byteStride": 4}]
    accessors = [{"bufferView": 0, "componentType": 5121, "count": 3, "type": "VEC3"}]  # 3-byte elements
    assert messages(tmp_path, glb(doc(bufferViews=views, accessors=accessors)))[1] == []
    accessors = [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "SCALAR"}]
    assert messages(tmp_path, glb(doc(bufferViews=views, accessors=accessors)))[1] == []


def test_stride_counts_in_the_accessor_bounds(tmp_path):
    # 4 × VEC3 floats tightly packed = 48 bytes fit; with stride 16 they need 3 × 16 + 12 = 60
    views = [{"buffer": 0, "byteLength": 48, "byteStride": 16}]
    assert messages(tmp_path, glb(doc(bufferViews=views)))[1] == [
        "c.glb: accessor 0 needs 60 bytes (4 × VEC3 of 4-byte components from offset 0, stride 16) "
        "but bufferView 0 has 48 (at /accessors/0)"]
    accessors = [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}]
    assert messages(tmp_path, glb(doc(bufferViews=views, accessors=accessors)))[1] == []  # 2 × 16 + 12 = 44


def test_accessor_end_exactly_at_the_view_end(tmp_path):
    accessors = [{"bufferView": 0, "byteOffset": 12, "componentType": 5126, "count": 3, "type": "VEC3"}]
    assert messages(tmp_path, glb(doc(accessors=accessors)))[1] == []
    accessors[0]["byteOffset"] = 16
    assert messages(tmp_path, glb(doc(accessors=accessors)))[1] == [
        "c.glb: accessor 0 needs 52 bytes (3 × VEC3 of 4-byte components from offset 16) but bufferView 0 "
        "has 48 (at /accessors/0)"]
    accessors[0]["byteOffset"] = 2
    assert messages(tmp_path, glb(doc(accessors=accessors)))[1] == [
        "c.glb: accessor 0 byteOffset 2 is not a multiple of its component size 4 (at /accessors/0/byteOffset)"]


def test_buffer_longer_than_the_bin_chunk(tmp_path):
    result, found = messages(tmp_path, glb(doc(buffers=[{"byteLength": 52}])))
    assert found == ["c.glb: buffer 0 declares 52 bytes but the BIN chunk holds 48 (at /buffers/0/byteLength)"]
    assert (result.findings[0].code, result.findings[0].authority.value) == ("GLB-BOUNDS", "practice")


def test_bin_chunk_padding(tmp_path):
    views = [{"buffer": 0, "byteLength": 45}]
    accessors = [{"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3"}]
    assert messages(tmp_path, glb(doc(buffers=[{"byteLength": 45}], bufferViews=views, accessors=accessors)))[1] == []
    views = [{"buffer": 0, "byteLength": 44}]
    assert messages(tmp_path, glb(doc(buffers=[{"byteLength": 44}], bufferViews=views, accessors=accessors)))[1] == [
        "c.glb: the BIN chunk holds 48 bytes but buffer 0 declares 44: more than 3 bytes of padding "
        "(at /buffers/0/byteLength)"]


def test_buffer_without_bin_chunk_and_external_buffers(tmp_path):
    assert messages(tmp_path, glb(doc(), binary=None))[1] == [
        "c.glb: buffer 0 has no uri but the file has no BIN chunk (at /buffers/0)"]
    external = doc(buffers=[{"byteLength": 48, "uri": "x.bin"}])
    assert messages(tmp_path, glb(external, binary=None))[1] == []


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"buffers": [{"byteLength": 0}]}, [
            "buffer 0 has byteLength 0, not a positive integer (at /buffers/0/byteLength)",
            "bufferView 0 spans bytes 0..48 but buffer 0 has 0 (at /bufferViews/0)"]),
        ({"bufferViews": [{"buffer": 1, "byteLength": 48}]}, [
            "bufferView 0 names no existing buffer (at /bufferViews/0/buffer)",
            "accessor 0 names no valid bufferView (at /accessors/0/bufferView)"]),
        ({"bufferViews": [{"buffer": 0, "byteLength": 0}]}, [
            "bufferView 0 has byteOffset 0 / byteLength 0 (at /bufferViews/0)",
            "accessor 0 names no valid bufferView (at /accessors/0/bufferView)"]),
        ({"bufferViews": [{"buffer": 0, "byteOffset": 4, "byteLength": 48}]}, [
            "bufferView 0 spans bytes 4..52 but buffer 0 has 48 (at /bufferViews/0)"]),
        ({"accessors": [{"bufferView": 0, "componentType": 5126, "count": 0, "type": "VEC3"}]}, [
            "accessor 0 has count 0, not a positive integer (at /accessors/0/count)"]),
        ({"accessors": [{"componentType": 5126, "count": 4, "type": "VEC3"}]}, []),  # no storage
        ({"accessors": ["x"]}, ["accessor 0 is not an object (at /accessors/0)"]),
        ({"bufferViews": {}}, ["bufferViews is not an array (at /bufferViews)"]),
        ({"meshes": [{"primitives": []}]}, ["mesh 0 has no primitives (at /meshes/0/primitives)"]),
        ({"meshes": [{"primitives": [{"attributes": {}}]}]}, [
            "mesh 0 primitive 0 has no attributes (at /meshes/0/primitives/0/attributes)"]),
        ({"meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 3}]}]}, [
            "indices name accessor 3, which does not exist (at /meshes/0/primitives/0/indices)"]),
        ({"meshes": []}, ["the file holds no mesh (at /meshes)"]),
    ],
)
def test_json_structure_messages_whole(tmp_path, changes, expected):
    assert messages(tmp_path, glb(doc(**changes)))[1] == [f"c.glb: {m}" for m in expected]


def test_rules_severity_and_authority(tmp_path):
    cases = {
        "GLB-CONTAINER": (b"glTX" + b"\x00" * 20, ("error", "schema")),
        "GLB-JSON": (glb({"asset": {"version": "1.0"}}), ("error", "schema")),
        "GLB-MESH": (glb(doc(meshes=[])), ("error", "practice")),
    }
    for code, (data, (severity, authority)) in cases.items():
        result, _ = messages(tmp_path, data)
        assert [(f.code, f.severity.value, f.authority.value) for f in result.findings] == [(code, severity, authority)]


def test_bom_and_json_not_an_object(tmp_path):
    data = glb(doc())
    bom = b"\xef\xbb\xbf" + json.dumps(doc()).encode()
    bom += b" " * (-len(bom) % 4)
    chunks = struct.pack("<II", len(bom), 0x4E4F534A) + bom
    assert messages(tmp_path, b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks)[1] == [
        "c.glb: JSON chunk starts with a UTF-8 byte-order mark, which glTF forbids (at byte 20)"]
    assert messages(tmp_path, glb([1, 2]))[1] == ["c.glb: JSON chunk is not a JSON object (at /)"]
    assert data  # the valid file still builds


def test_chunk_order_rules(tmp_path):
    json_bytes = json.dumps(doc()).encode()
    json_bytes += b" " * (-len(json_bytes) % 4)
    j = struct.pack("<II", len(json_bytes), 0x4E4F534A) + json_bytes
    b = struct.pack("<II", 48, 0x004E4942) + b"\x00" * 48
    x = struct.pack("<II", 4, 0x12345678) + b"\x00" * 4
    for chunks, expected in (
        (j + j, "more than one JSON chunk"),
        (j + b + b, "the BIN chunk must be the second chunk, and only one"),
        (j + x + b, "the BIN chunk must be the second chunk, and only one"),
        (j + b + b"\x00" * 4, "4 stray bytes after the last chunk (at byte " + str(12 + len(j) + len(b)) + ")"),
    ):
        data = b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks
        assert messages(tmp_path, data)[1] == [f"c.glb: {expected}"]
    assert messages(tmp_path, b"glTF" + struct.pack("<II", 2, 12 + len(j + b + x)) + j + b + x)[1] == []


SIZES = [(5120, "SCALAR", 1), (5121, "VEC2", 2), (5122, "VEC3", 6), (5123, "VEC4", 8),
         (5125, "MAT2", 16), (5126, "MAT3", 36), (5126, "MAT4", 64)]


@pytest.mark.parametrize("component, kind, size", SIZES)
def test_element_sizes_fit_exactly(tmp_path, component, kind, size):
    """Every componentType and type has its byte size: one element fills a view of exactly that
    size, and a view one byte shorter is too short."""
    for length, expected in ((size, []), (size - 1, [
            f"c.glb: accessor 0 needs {size} bytes (1 × {kind} of {size // {'SCALAR': 1, 'VEC2': 2, 'VEC3': 3, 'VEC4': 4, 'MAT2': 4, 'MAT3': 9, 'MAT4': 16}[kind]}-byte "
            f"components from offset 0) but bufferView 0 has {size - 1} (at /accessors/0)"])):
        if length == 0:
            continue
        d = doc(buffers=[{"byteLength": 64}], bufferViews=[{"buffer": 0, "byteLength": length}],
                accessors=[{"bufferView": 0, "componentType": component, "count": 1, "type": kind}])
        assert messages(tmp_path, glb(d, b"\x00" * 64))[1] == expected, (kind, length)


@pytest.mark.parametrize("component", [5124, 5127, 0])
def test_unknown_component_types(tmp_path, component):
    d = doc(accessors=[{"bufferView": 0, "componentType": component, "count": 1, "type": "SCALAR"}])
    assert messages(tmp_path, glb(d))[1] == [
        f"c.glb: accessor 0 has componentType {component} / type 'SCALAR' (at /accessors/0)"]


def test_number_length_boundary(tmp_path):
    from pytest_segmask.checks.glb import MAX_JSON_NUMBER_CHARS

    fits = "1" * MAX_JSON_NUMBER_CHARS
    assert messages(tmp_path, glb(doc(extras={"n": int(fits)})))[1] == []
    text = json.dumps(doc()).replace('"asset"', '"extras": ' + fits + '1, "asset"', 1).encode()
    text += b" " * (-len(text) % 4)
    chunks = struct.pack("<II", len(text), 0x4E4F534A) + text + struct.pack("<II", 48, 0x004E4942) + b"\x00" * 48
    found = messages(tmp_path, b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks)[1]
    assert found == [f"c.glb: JSON chunk holds a number of {MAX_JSON_NUMBER_CHARS + 1} characters "
                     f"(`11111111111111111111… ({MAX_JSON_NUMBER_CHARS + 1} characters)`), longer than "
                     f"{MAX_JSON_NUMBER_CHARS} (limit MAX_JSON_NUMBER_CHARS) (at byte 20)"]


def test_depth_boundary(tmp_path):
    from pytest_segmask.checks.glb import MAX_JSON_DEPTH

    nested = json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))  # + the top object
    assert messages(tmp_path, glb(doc(extras=nested)))[1] == []
    deeper = json.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert messages(tmp_path, glb(doc(extras=deeper)))[1] == [
        f"c.glb: JSON chunk nests arrays/objects {MAX_JSON_DEPTH + 1} levels deep, deeper than {MAX_JSON_DEPTH} "
        "(limit MAX_JSON_DEPTH); glTF JSON is a few levels deep (at byte 20)"]


def test_header_messages_whole(tmp_path):
    good = make_glb()
    assert messages(tmp_path, b"glTX" + good[4:])[1] == [
        "c.glb: magic is b'glTX', not b'glTF': not a binary glTF file (at byte 0)"]
    assert messages(tmp_path, good[:4] + struct.pack("<I", 1) + good[8:])[1] == [
        "c.glb: container version is 1, not 2 (at byte 4)"]
    assert messages(tmp_path, good[:8] + struct.pack("<I", len(good) + 8) + good[12:])[1] == [
        f"c.glb: header declares length {len(good) + 8} but the file has {len(good)} bytes (at byte 8)"]
    assert messages(tmp_path, b"glTF\x02\x00")[1] == [
        "c.glb: file is 6 bytes, shorter than the 12-byte GLB header"]
