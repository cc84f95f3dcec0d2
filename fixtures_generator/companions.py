"""Optional companions: adjacency CSVs and GLB meshes, valid or with one named defect."""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence

import numpy as np

GLB_DEFECTS = (
    "bad-magic", "version-1", "length-mismatch", "json-not-first", "unaligned-chunk",
    "bad-utf8", "bad-json", "asset-version", "view-out-of-bounds", "accessor-out-of-bounds",
    "no-mesh", "bad-attribute", "truncated", "stride-too-small", "buffer-longer-than-bin",
    "json-too-deep", "component-type-list",
)


def _pad(data: bytes, fill: bytes) -> bytes:
    return data + fill * (-len(data) % 4)


def make_glb(defect: str | None = None) -> bytes:
    """A one-triangle glTF 2.0 binary; ``defect`` breaks exactly one structural rule."""
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype="<f4").tobytes()
    indices = np.array([0, 1, 2], dtype="<u2").tobytes()
    binary = _pad(positions + indices, b"\x00")
    doc = {
        "asset": {"version": "2.0", "generator": "fixtures_generator"},
        "buffers": [{"byteLength": len(positions) + len(indices)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(indices)},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3",
             "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": 5123, "count": 3, "type": "SCALAR"},
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    if defect == "asset-version":
        doc["asset"]["version"] = "1.0"
    elif defect == "view-out-of-bounds":
        doc["bufferViews"][1]["byteLength"] = 4096
    elif defect == "accessor-out-of-bounds":
        doc["accessors"][0]["count"] = 300
    elif defect == "no-mesh":
        del doc["meshes"]
        del doc["nodes"][0]["mesh"]
    elif defect == "bad-attribute":
        doc["meshes"][0]["primitives"][0]["attributes"]["NORMAL"] = 7
    elif defect == "stride-too-small":  # VEC3 floats are 12 bytes; a stride of 8 overlaps them
        doc["bufferViews"][0]["byteStride"] = 8
    elif defect == "buffer-longer-than-bin":
        doc["buffers"][0]["byteLength"] = len(binary) + 4
    elif defect == "json-too-deep":
        doc["extras"] = json.loads("[" * 100 + "]" * 100)
    elif defect == "component-type-list":
        doc["accessors"][1]["componentType"] = [5123]
    json_bytes = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    if defect == "bad-json":
        json_bytes = json_bytes[:-1]
    elif defect == "bad-utf8":
        json_bytes = json_bytes.replace(b'"fixtures_generator"', b'"fixtures\xff\xfegen"')
    json_bytes = _pad(json_bytes, b" ")
    json_chunk = struct.pack("<II", len(json_bytes), 0x4E4F534A) + json_bytes
    bin_chunk = struct.pack("<II", len(binary), 0x004E4942) + binary
    if defect == "unaligned-chunk":
        bin_chunk = struct.pack("<II", len(binary) - 2, 0x004E4942) + binary[:-2]
    chunks = bin_chunk + json_chunk if defect == "json-not-first" else json_chunk + bin_chunk
    magic = b"glTX" if defect == "bad-magic" else b"glTF"
    version = 1 if defect == "version-1" else 2
    length = 12 + len(chunks) + (8 if defect == "length-mismatch" else 0)
    data = magic + struct.pack("<II", version, length) + chunks
    if defect == "truncated":
        data = data[: len(data) // 2]
    return data


def edge_list_csv(
    edges: Sequence[tuple[int, int]], weights: Sequence[float] | None = None,
    header: Sequence[str] = ("object_1", "object_2", "distance"),
) -> str:
    """An adjacency edge list: header row, two id columns, an optional weight column."""
    cols = list(header[:3] if weights is not None else header[:2])
    lines = [",".join(cols)]
    for i, (a, b) in enumerate(edges):
        row = [str(a), str(b)] + ([repr(float(weights[i]))] if weights is not None else [])
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def matrix_csv(ids: Sequence[int], matrix) -> str:
    """A square adjacency matrix: first row and first column are object ids."""
    matrix = np.asarray(matrix)
    lines = ["," + ",".join(str(i) for i in ids)]
    for i, row_id in enumerate(ids):
        lines.append(str(row_id) + "," + ",".join(_num(v) for v in matrix[i]))
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def neighbour_edges(ids: Sequence[int]) -> list[tuple[int, int]]:
    """A simple valid adjacency: each object linked to the next one."""
    ids = list(ids)
    return [(ids[i], ids[i + 1]) for i in range(len(ids) - 1)]
