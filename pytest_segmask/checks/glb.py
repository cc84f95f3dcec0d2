"""Structural validation of `<mask>-mesh.glb` against the glTF 2.0 binary container spec.

Lenient loaders (pygltflib, trimesh) accept broken files, so the container is read here:
header, chunks, JSON, and the bounds of buffers, buffer views and accessors. The BIN chunk
is never read, only measured; the JSON chunk is read whole but capped (``MAX_JSON_BYTES``),
its nesting depth is measured before parsing (``MAX_JSON_DEPTH``) and numbers are bounded
in length (``MAX_JSON_NUMBER_CHARS``). Only a regular file is opened.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

from ..dirschema import display_path, open_regular
from ..findings import CheckResult, Location, Severity, shorten
from ..rules import Authority, define_rule

GLTF = "Khronos glTF 2.0 specification"
SCHEMA_ROW = ("HuBMAP Segmentation Mask directory schema v2.0–2.7, row `[^\\/]+-mesh\\.glb` "
              "(\"a file with 3D mesh images for a 3D map\", `.glb` = binary glTF)")
GLB_CONTAINER = define_rule(
    "GLB-CONTAINER", Severity.ERROR,
    "A mesh is a glTF 2.0 binary: magic `glTF`, version 2, declared length = file size, "
    "JSON chunk first, 4-byte aligned chunks inside the file.",
    f"{SCHEMA_ROW}; {GLTF} §4 (GLB file format: §4.3 header, §4.4 chunks)", authority=Authority.SCHEMA,
)
GLB_JSON = define_rule(
    "GLB-JSON", Severity.ERROR,
    "The JSON chunk is UTF-8 JSON (no BOM) with `asset.version` \"2.0\".",
    f"{SCHEMA_ROW}; {GLTF} §3.2 (asset), §4.4.2 (structured JSON content)", authority=Authority.SCHEMA,
)
GLB_BOUNDS = define_rule(
    "GLB-BOUNDS", Severity.ERROR,
    "Every buffer view lies inside its buffer and every accessor inside its buffer view; "
    "strides are valid and the BIN chunk holds buffer 0.",
    f"{GLTF} §3.6 (buffers, buffer views, accessors; bufferView.schema.json byteStride 4..252, "
    "multiple of 4), §4.4.3 (binary buffer)",
    authority=Authority.PRACTICE,
    reason="a viewer reading an accessor past its buffer shows garbage or crashes; the schema "
    "asks for a mesh, not for this detail, so it is this project's check",
)
GLB_MESH = define_rule(
    "GLB-MESH", Severity.ERROR,
    "The file holds at least one mesh, each with at least one primitive whose attributes "
    "and indices name existing accessors.",
    f"{GLTF} §3.7 (geometry, meshes)",
    authority=Authority.PRACTICE,
    reason="a mesh file without a usable mesh shows nothing; glTF itself allows an empty file",
)

MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
MAX_BYTE_STRIDE = 252  # glTF: 4..252, a multiple of 4  # mutation: equivalent — 253 is no multiple of 4 (252 and 256 are tested)
MAX_JSON_BYTES = 64 * 1024 * 1024  # a mesh's JSON is small; refuse absurd declared sizes
MAX_JSON_DEPTH = 64  # glTF nests a few levels (extras deeper); Python's parser recurses per level
MAX_JSON_NUMBER_CHARS = 64  # a glTF number is an index, a length or a float: a few digits
BIN_PADDING = 3  # the BIN chunk may exceed buffer 0 by up to 3 padding bytes (§4.4.3.3)
COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
FIX = "re-export the mesh as binary glTF 2.0 (.glb) with a conforming exporter"

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class _JsonLimit(ValueError):
    pass


def json_depth(raw: bytes, chunk: int = 1 << 20) -> int:  # mutation: equivalent — chunk size only; the depth is the same for any chunk (tested with chunk=3)
    """Deepest nesting of arrays and objects in JSON text (strings skipped), measured in
    chunks with numpy, without parsing."""
    import numpy as np

    stripped = _JSON_STRING.sub(b'""', raw)
    depth = deepest = 0
    for start in range(0, len(stripped), chunk):
        arr = np.frombuffer(stripped, np.uint8, count=min(chunk, len(stripped) - start), offset=start)
        delta = ((arr == 0x5B) | (arr == 0x7B)).astype(np.int64) - ((arr == 0x5D) | (arr == 0x7D))
        if not delta.any():
            continue
        running = np.cumsum(delta) + depth
        deepest = max(deepest, int(running.max()))
        depth = int(running[-1])
    return deepest


def _bounded_number(convert):
    def parse(text: str):
        if len(text) > MAX_JSON_NUMBER_CHARS:
            raise _JsonLimit(
                f"a number of {len(text):,} characters (`{shorten(text, 20)}`), longer than "
                f"{MAX_JSON_NUMBER_CHARS} (limit MAX_JSON_NUMBER_CHARS)")
        return convert(text)
    return parse


def check_glb(path: Path, display: str | None = None) -> CheckResult:
    """All structural rules on one GLB file; findings name the byte offset or JSON pointer."""
    display = display or display_path(path.name)
    result = CheckResult()

    def fail(rule, message, where=None):
        text = f"{display}: {message}" + (f" (at {where})" if where else "")
        result.findings.append(rule.finding(text, Location(file=display), fix=FIX))
        return result

    try:
        with open_regular(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            header = fh.read(12)
            if len(header) < 12:
                return fail(GLB_CONTAINER, f"file is {size} bytes, shorter than the 12-byte GLB header")
            magic, version, length = struct.unpack("<III", header)
            if magic != MAGIC:
                return fail(GLB_CONTAINER, f"magic is {header[:4]!r}, not b'glTF': not a binary glTF file", "byte 0")
            if version != 2:
                return fail(GLB_CONTAINER, f"container version is {version}, not 2", "byte 4")
            if length != size:
                return fail(GLB_CONTAINER, f"header declares length {length} but the file has {size} bytes", "byte 8")
            chunks = []  # (type, offset of data, length)
            offset = 12
            while offset < size:
                if size - offset < 8:
                    return fail(GLB_CONTAINER, f"{size - offset} stray bytes after the last chunk", f"byte {offset}")
                fh.seek(offset)
                chunk_length, chunk_type = struct.unpack("<II", fh.read(8))
                if chunk_length % 4:
                    return fail(GLB_CONTAINER, f"chunk length {chunk_length} is not a multiple of 4", f"byte {offset}")
                if offset + 8 + chunk_length > size:
                    return fail(
                        GLB_CONTAINER,
                        f"chunk of {chunk_length} bytes runs past the end of the file",
                        f"byte {offset}",
                    )
                chunks.append((chunk_type, offset + 8, chunk_length))
                offset += 8 + chunk_length
            if not chunks or chunks[0][0] != CHUNK_JSON:
                return fail(GLB_CONTAINER, "the first chunk is not a JSON chunk", "byte 12")
            if any(t == CHUNK_JSON for t, _, _ in chunks[1:]):
                return fail(GLB_CONTAINER, "more than one JSON chunk")
            bin_positions = [i for i, (t, _, _) in enumerate(chunks) if t == CHUNK_BIN]
            if bin_positions and bin_positions != [1]:
                return fail(GLB_CONTAINER, "the BIN chunk must be the second chunk, and only one")
            bin_length = chunks[1][2] if bin_positions else None
            _, json_offset, json_length = chunks[0]
            if json_length > MAX_JSON_BYTES:
                return fail(GLB_JSON, f"JSON chunk declares {json_length} bytes, over the {MAX_JSON_BYTES}-byte cap", f"byte {json_offset}")
            fh.seek(json_offset)
            raw = fh.read(json_length)
    except OSError as exc:
        return fail(GLB_CONTAINER, f"cannot read the file: {exc.strerror or type(exc).__name__}")

    if raw.startswith(b"\xef\xbb\xbf"):
        return fail(GLB_JSON, "JSON chunk starts with a UTF-8 byte-order mark, which glTF forbids", f"byte {json_offset}")
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        return fail(GLB_JSON, f"JSON chunk nests arrays/objects {depth:,} levels deep, deeper than "
                    f"{MAX_JSON_DEPTH} (limit MAX_JSON_DEPTH); glTF JSON is a few levels deep",
                    f"byte {json_offset}")
    try:
        text = raw.decode("utf-8").rstrip(" \x00")  # padded with spaces (0x20)
        doc = json.loads(text, parse_int=_bounded_number(int), parse_float=_bounded_number(float))
    except UnicodeDecodeError as exc:
        return fail(GLB_JSON, f"JSON chunk is not valid UTF-8 ({exc.reason})", f"byte {json_offset + exc.start}")
    except json.JSONDecodeError as exc:
        return fail(GLB_JSON, f"JSON chunk is not valid JSON: {exc.msg}", f"JSON line {exc.lineno} column {exc.colno}")
    except _JsonLimit as exc:
        return fail(GLB_JSON, f"JSON chunk holds {exc}", f"byte {json_offset}")
    except RecursionError:  # a backstop: MAX_JSON_DEPTH keeps well below Python's limit
        return fail(GLB_JSON, "JSON chunk nests too deep to parse", f"byte {json_offset}")
    if not isinstance(doc, dict):
        return fail(GLB_JSON, "JSON chunk is not a JSON object", "/")
    asset = doc.get("asset")
    if not isinstance(asset, dict) or asset.get("version") != "2.0":
        found = asset.get("version") if isinstance(asset, dict) else None
        return fail(GLB_JSON, f"asset.version is {shorten(repr(found), 40)}, not \"2.0\"", "/asset/version")

    _check_bounds(doc, bin_length, fail)
    _check_meshes(doc, fail)
    if not result.findings:
        meshes = doc.get("meshes", [])
        result.notes.append(
            f"{display}: glTF 2.0 binary, {len(meshes)} mesh(es), "
            f"{sum(len(m.get('primitives', [])) for m in meshes)} primitive(s), "
            f"{len(doc.get('accessors', []))} accessor(s), BIN chunk "
            + (f"{bin_length} bytes" if bin_length is not None else "absent")
        )
    return result


def _is_index(value, items) -> bool:
    return (isinstance(items, list) and isinstance(value, int) and not isinstance(value, bool)
            and 0 <= value < len(items))


def _nonneg_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _show(value) -> str:
    """A JSON value quoted in a message: its repr, shortened."""
    return shorten(repr(value), 40)


def _check_bounds(doc: dict, bin_length: int | None, fail) -> None:
    buffers = doc.get("buffers", [])
    views = doc.get("bufferViews", [])
    accessors = doc.get("accessors", [])
    for name, value in (("buffers", buffers), ("bufferViews", views), ("accessors", accessors)):
        if not isinstance(value, list):
            fail(GLB_JSON, f"{name} is not an array", f"/{name}")
            return
    buffer_lengths = []
    for i, buf in enumerate(buffers):
        length = buf.get("byteLength") if isinstance(buf, dict) else None
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            fail(GLB_BOUNDS, f"buffer {i} has byteLength {_show(length)}, not a positive integer", f"/buffers/{i}/byteLength")
            length = 0
        elif i == 0 and "uri" not in buf:
            if bin_length is None:
                fail(GLB_BOUNDS, "buffer 0 has no uri but the file has no BIN chunk", "/buffers/0")
            elif length > bin_length:
                fail(GLB_BOUNDS, f"buffer 0 declares {length} bytes but the BIN chunk holds {bin_length}", "/buffers/0/byteLength")
            elif bin_length - length > BIN_PADDING:
                fail(GLB_BOUNDS, f"the BIN chunk holds {bin_length} bytes but buffer 0 declares {length}: "
                     f"more than {BIN_PADDING} bytes of padding", "/buffers/0/byteLength")
        buffer_lengths.append(length)
    view_lengths = []
    for i, view in enumerate(views):
        if not isinstance(view, dict) or not _is_index(view.get("buffer"), buffers):
            fail(GLB_BOUNDS, f"bufferView {i} names no existing buffer", f"/bufferViews/{i}/buffer")
            view_lengths.append(None)
            continue
        offset, length = view.get("byteOffset", 0), view.get("byteLength")
        if not _nonneg_int(offset) or not _nonneg_int(length) or length == 0:
            fail(GLB_BOUNDS, f"bufferView {i} has byteOffset {_show(offset)} / byteLength {_show(length)}", f"/bufferViews/{i}")
            view_lengths.append(None)
            continue
        if offset + length > buffer_lengths[view["buffer"]]:
            fail(
                GLB_BOUNDS,
                f"bufferView {i} spans bytes {offset}..{offset + length} but buffer "
                f"{view['buffer']} has {buffer_lengths[view['buffer']]}",
                f"/bufferViews/{i}",
            )
        stride = view.get("byteStride")
        if stride is not None and (not _nonneg_int(stride) or not 4 <= stride <= MAX_BYTE_STRIDE or stride % 4):
            fail(GLB_BOUNDS, f"bufferView {i} has byteStride {_show(stride)} (must be 4..252, a multiple of 4)", f"/bufferViews/{i}/byteStride")
            view_lengths.append(None)
            continue
        view_lengths.append((length, stride))
    for i, acc in enumerate(accessors):
        pointer = f"/accessors/{i}"
        if not isinstance(acc, dict):
            fail(GLB_BOUNDS, f"accessor {i} is not an object", pointer)
            continue
        component_type, kind = acc.get("componentType"), acc.get("type")
        comp = COMPONENT_BYTES.get(component_type) if isinstance(component_type, int) else None
        ncomp = TYPE_COMPONENTS.get(kind) if isinstance(kind, str) else None
        count = acc.get("count")
        if comp is None or ncomp is None:
            fail(GLB_BOUNDS, f"accessor {i} has componentType {_show(component_type)} / type {_show(kind)}", pointer)
            continue
        if not _nonneg_int(count) or count < 1:
            fail(GLB_BOUNDS, f"accessor {i} has count {_show(count)}, not a positive integer", f"{pointer}/count")
            continue
        if "bufferView" not in acc:
            continue  # all zeros (or sparse): no storage to check
        if not _is_index(acc["bufferView"], views) or view_lengths[acc["bufferView"]] is None:
            fail(GLB_BOUNDS, f"accessor {i} names no valid bufferView", f"{pointer}/bufferView")
            continue
        view_length, stride = view_lengths[acc["bufferView"]]
        offset = acc.get("byteOffset", 0)
        element = comp * ncomp
        if not _nonneg_int(offset) or offset % comp:
            fail(GLB_BOUNDS, f"accessor {i} byteOffset {_show(offset)} is not a multiple of its component size {comp}", f"{pointer}/byteOffset")
            continue
        if stride is not None and (stride < element or stride % comp):
            fail(GLB_BOUNDS, f"accessor {i} ({kind} of {comp}-byte components, {element} bytes per element) "
                 f"reads bufferView {acc['bufferView']} with byteStride {stride}: the stride must be at "
                 f"least {element} and a multiple of {comp}", f"/bufferViews/{acc['bufferView']}/byteStride")
            continue
        needed = offset + (count - 1) * (stride or element) + element
        if needed > view_length:
            fail(
                GLB_BOUNDS,
                f"accessor {i} needs {needed} bytes ({count} × {kind} of {comp}-byte "
                f"components from offset {offset}"
                + (f", stride {stride}" if stride else "")
                + f") but bufferView {acc['bufferView']} has {view_length}",
                pointer,
            )


def _check_meshes(doc: dict, fail) -> None:
    meshes = doc.get("meshes")
    accessors = doc.get("accessors", [])
    if not isinstance(meshes, list) or not meshes:
        fail(GLB_MESH, "the file holds no mesh", "/meshes")
        return
    for m, mesh in enumerate(meshes):
        prims = mesh.get("primitives") if isinstance(mesh, dict) else None
        if not isinstance(prims, list) or not prims:
            fail(GLB_MESH, f"mesh {m} has no primitives", f"/meshes/{m}/primitives")
            continue
        for p, prim in enumerate(prims):
            pointer = f"/meshes/{m}/primitives/{p}"
            attrs = prim.get("attributes") if isinstance(prim, dict) else None
            if not isinstance(attrs, dict) or not attrs:
                fail(GLB_MESH, f"mesh {m} primitive {p} has no attributes", f"{pointer}/attributes")
                continue
            for name, index in attrs.items():
                if not _is_index(index, accessors):
                    fail(GLB_MESH, f"attribute {shorten(name, 40)} names accessor {_show(index)}, which does not exist",
                         f"{pointer}/attributes/{shorten(name, 40)}")
            if "indices" in prim and not _is_index(prim["indices"], accessors):
                fail(GLB_MESH, f"indices name accessor {_show(prim['indices'])}, which does not exist", f"{pointer}/indices")
