"""The defect catalogue: each defect breaks a valid dataset in one named way and declares
which items must fail, with which rule code. The property tests run the real plugin on
valid + one defect and require exactly those failures.

Item ids are given relative to the dataset node id: ``::dirschema::not-allowed`` or
``/derived/segmentation_masks/<file>::<check>``.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace

import tifffile
from pathlib import Path

from hypothesis import strategies as st

from .companions import edge_list_csv, make_glb, matrix_csv
from .spec import DatasetSpec
from .writer import SEG, table_name


@dataclass(frozen=True)
class Defect:
    """``items(spec)`` maps the relative id of every item the defect must fail (or, for a
    rule of warning severity, warn) to the rule code that item must report."""

    name: str
    items: Callable[[DatasetSpec], dict[str, str]]
    mutate_spec: Callable[[DatasetSpec], DatasetSpec] | None = None
    mutate_files: Callable[[Path, DatasetSpec], None] | None = None
    applies: Callable[[DatasetSpec], bool] = lambda spec: True
    warns: bool = False  # the rule's finding is a warning here though the rule is an error
    # items (relative ids, as in ``items``) whose finding is a warning while the defect's others are
    # errors: they fail only under the strict profile
    warn_items: Callable[[DatasetSpec], dict[str, str]] = lambda spec: {}
    # items whose finding carries another authority than its rule (e.g. a level-0 decode
    # failure inside LABELS is ingest: HuBMAP's ingest decodes every page)
    authorities: Callable[[DatasetSpec], dict[str, str]] = lambda spec: {}
    # extra command-line options the run needs (e.g. --segmask-source-image=…)
    options: Callable[[Path, DatasetSpec], list[str]] = lambda out, spec: []

    def apply(self, spec: DatasetSpec) -> DatasetSpec:
        return self.mutate_spec(spec) if self.mutate_spec else spec


def _version(spec: DatasetSpec) -> tuple[int, ...]:
    return tuple(int(p) for p in spec.version.split("."))


def _seg(out: Path) -> Path:
    return out / SEG


def _mask_path(out: Path, spec: DatasetSpec) -> Path:
    return _seg(out) / spec.masks[0].file_name


def _touch(relative: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")

    return mutate


def _rename_mask(new_suffix: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = _mask_path(out, spec)
        path.rename(path.with_name(spec.masks[0].stem + new_suffix))

    return mutate


def _remove_tables(out: Path, spec: DatasetSpec) -> None:
    for channel in spec.masks[0].channels:
        (_seg(out) / table_name(spec, channel.name)).unlink()


def _remove_folder(relative: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        shutil.rmtree(out / relative)

    return mutate


DIRSCHEMA = "::dirschema::"


def _locked_folder(out: Path, spec: DatasetSpec) -> None:
    locked = out / "derived" / "extras" / "locked"
    locked.mkdir(parents=True)
    (locked / "x.txt").write_text("x")
    locked.chmod(0)


def _can_lock_folders() -> bool:
    """root reads every folder whatever its mode, so the defect only exists for other users."""
    return not hasattr(os, "geteuid") or os.geteuid() != 0

CATALOGUE: tuple[Defect, ...] = (
    Defect(
        "folder-unreadable",
        lambda spec: {DIRSCHEMA + "not-allowed": "DIR-UNREADABLE"},
        mutate_files=_locked_folder,
        applies=lambda spec: _can_lock_folders(),
    ),
    Defect(
        "stray-top-level-file",
        lambda spec: {DIRSCHEMA + "not-allowed": "DIR-NOT-ALLOWED"},
        mutate_files=_touch("notes.txt"),
    ),
    Defect(
        "mask-name-near-miss",
        lambda spec: _near_miss_items(spec),
        mutate_files=_rename_mask(".segmentations_crop.ome.tiff"),
    ),
    Defect(
        "mask-upper-case-ending",
        lambda spec: _near_miss_items(spec),
        mutate_files=_rename_mask(".segmentations.OME.TIFF"),
    ),
    Defect(
        "objects-tables-missing",
        lambda spec: {DIRSCHEMA + "required:objects-table": "DIR-REQUIRED",
                      DIRSCHEMA + "xlsx-tables": "TABLE-XLSX-PRESENT"},
        mutate_files=_remove_tables,
        # a channel without a table is a warning
        warn_items=lambda spec: {_channel_item(spec, c.name, "objects-table"): "TABLE-PAIRING"
                                 for c in spec.masks[0].channels},
    ),
    Defect(
        "derived-extras-missing",
        lambda spec: {DIRSCHEMA + "required:derived-extras-folder": "DIR-REQUIRED"},
        mutate_files=_remove_folder("derived/extras"),
    ),
    Defect(
        "top-extras-missing",
        lambda spec: {DIRSCHEMA + "required:extras-folder": "DIR-REQUIRED"},
        mutate_files=_remove_folder("extras"),
        applies=lambda spec: _version(spec) >= (2, 2),
    ),
    Defect(
        "top-extras-under-2.0",
        lambda spec: {DIRSCHEMA + "not-allowed": "DIR-NOT-ALLOWED"},
        mutate_files=_touch("extras/x.txt"),
        applies=lambda spec: _version(spec) < (2, 2),
    ),
    Defect(
        "tsv-table-where-xlsx-required",
        lambda spec: {DIRSCHEMA + "required:objects-table": "DIR-REQUIRED",
                      DIRSCHEMA + "xlsx-tables": "TABLE-XLSX-PRESENT"},
        mutate_spec=lambda spec: replace(spec, table_format="tsv"),
        applies=lambda spec: spec.version in ("2.4", "2.5", "2.6"),
    ),
)


def _near_miss_items(spec: DatasetSpec) -> dict[str, str]:
    """A misnamed mask is still checked as the mask: the naming fails, and every Source file
    that names the mask's proper name now names no existing mask image."""
    items = {DIRSCHEMA + "required:mask-image": "DIR-REQUIRED"}
    items.update({_seg_item(table_name(spec, c.name), "mask-agreement"): "TABLE-MASK-AGREEMENT"
                  for c in spec.masks[0].channels})
    if spec.segmentation_masks_csv:
        items[_seg_item("segmentation-masks.csv", "rows")] = "CSV-ROWS"
    return items


def _mask(spec: DatasetSpec, **changes) -> DatasetSpec:
    return replace(spec, masks=(replace(spec.masks[0], **changes),) + spec.masks[1:])


def _mask_item(spec: DatasetSpec, check: str) -> str:
    return f"/{SEG.as_posix()}/{spec.masks[0].file_name}::{check}"


def _channel_item(spec: DatasetSpec, channel: str, check: str) -> str:
    return _mask_item(spec, f"channel:{channel}::{check}")


def _file_item(code: str, check: str, **changes) -> dict:
    """A defect expressed as mask-spec changes, failing one mask-file item."""
    return dict(
        items=lambda spec: {_mask_item(spec, check): code},
        mutate_spec=lambda spec: _mask(spec, **changes),
    )


def _ome_edit(edit: str) -> Callable[[DatasetSpec], DatasetSpec]:
    return lambda spec: _mask(spec, ome_edits=(edit,))


def _dense_pyramid(method: str) -> Callable[[DatasetSpec], DatasetSpec]:
    """Averaging breaks labels only where objects meet background: make sure there are some."""

    def mutate(spec: DatasetSpec) -> DatasetSpec:
        mask = spec.masks[0]
        channels = tuple(replace(c, n_objects=max(c.n_objects, 6), id_offset=0, sparse_ids=False)
                         for c in mask.channels)
        return _mask(spec, width=max(mask.width, 64), height=max(mask.height, 64),
                     pyramid_levels=max(mask.pyramid_levels, 2), pyramid_method=method, channels=channels)

    return mutate


def _every_channel(check: str, code: str) -> Callable[[DatasetSpec], dict[str, str]]:
    return lambda spec: {_channel_item(spec, c.name, check): code for c in spec.masks[0].channels}


def _not_a_tiff(out: Path, spec: DatasetSpec) -> None:
    _mask_path(out, spec).write_text("this is not a TIFF file\n")


def _garbage_first_tile(out: Path, spec: DatasetSpec) -> None:
    path = _mask_path(out, spec)
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = b"\x13" * count
    path.write_bytes(bytes(data))


def _tile_width_zero(out: Path, spec: DatasetSpec) -> None:
    """TileWidth = 0 in the first IFD (a ZeroDivisionError for a naive tile grid)."""
    import struct

    path = _mask_path(out, spec)
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags["TileWidth"]
        offset, fmt = tag.valueoffset, "<H" if tag.dtype == 3 else "<I"
    data = bytearray(path.read_bytes())
    data[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, 0)
    path.write_bytes(bytes(data))


def _first_channel_decode_items(spec: DatasetSpec) -> dict[str, str]:
    first = spec.masks[0].channels[0].name
    items = {_channel_item(spec, first, "labels"): "LABELS"}
    if spec.masks[0].pyramid_levels > 1:
        items[_channel_item(spec, first, "pyramid-labels")] = "PYRAMID-LABELS"
    return items


MASK_DEFECTS: tuple[Defect, ...] = (
    Defect("mask-not-a-tiff", lambda spec: {_mask_item(spec, "tiff"): "TIFF-READ"},
           mutate_files=_not_a_tiff),
    Defect("garbage-first-tile", _first_channel_decode_items, mutate_files=_garbage_first_tile,
           authorities=lambda spec: {_channel_item(spec, spec.masks[0].channels[0].name, "labels"): "ingest"},
           applies=lambda spec: spec.masks[0].compression == "zlib"),
    Defect("signed-container", **_file_item("PIXEL-SIGNED", "pixel-type", dtype="int32")),
    # the generated table lists the negative value as an object, and the csv counts it
    Defect("negative-pixel", lambda spec: {_mask_item(spec, "pixel-type"): "PIXEL-SIGNED",
                                           _channel_item(spec, spec.masks[0].channels[0].name, "labels"): "LABELS-NEGATIVE",
                                           _seg_item(_table_rel(spec), "ids"): "TABLE-IDS",
                                           **({_seg_item("segmentation-masks.csv", "num-objects"): "CSV-NUM-OBJECTS"}
                                              if spec.segmentation_masks_csv else {})},
           mutate_spec=lambda spec: _mask(spec, dtype="int16", channels=(
               replace(spec.masks[0].channels[0], negative_at=(0, 1, 1)),) + spec.masks[0].channels[1:])),
    Defect("tile-width-zero", lambda spec: {_mask_item(spec, "tiff"): "TIFF-READ"},
           mutate_files=_tile_width_zero, applies=lambda spec: spec.masks[0].tile is not None),
    Defect("float-pixels", **_file_item("PIXEL-TYPE", "pixel-type", dtype="float32")),
    Defect("no-ome-xml", lambda spec: {_mask_item(spec, "ome-xml"): "OME-XML"},
           mutate_spec=_ome_edit("no-ome")),
    Defect("ome-xml-not-xml", lambda spec: {_mask_item(spec, "ome-xml"): "OME-XML"},
           mutate_spec=_ome_edit("not-xml")),
    Defect("ome-xsd-invalid", lambda spec: {_mask_item(spec, "ome-xml"): "OME-XSD"},
           mutate_spec=_ome_edit("xsd-invalid")),
    Defect("ome-binaryonly", lambda spec: {_mask_item(spec, "ome-xml"): "OME-SELF-CONTAINED"},
           mutate_spec=_ome_edit("binaryonly")),
    Defect("ome-multifile-uuid", lambda spec: {_mask_item(spec, "ome-xml"): "OME-SELF-CONTAINED"},
           mutate_spec=_ome_edit("multifile-uuid")),
    Defect("ome-type-mismatch", lambda spec: {_mask_item(spec, "ome-consistency"): "OME-CONSISTENT"},
           mutate_spec=_ome_edit("type-mismatch")),
    Defect("ome-sizec-mismatch", lambda spec: {_mask_item(spec, "ome-consistency"): "OME-CONSISTENT"},
           mutate_spec=_ome_edit("sizec-mismatch")),
    Defect("ome-sizet-2", lambda spec: {_mask_item(spec, "ome-consistency"): "OME-CONSISTENT"},
           mutate_spec=_ome_edit("sizet-2")),
    Defect("ome-missing-channel-names", lambda spec: {_mask_item(spec, "ome-consistency"): "OME-CHANNEL-NAMES"},
           mutate_spec=_ome_edit("missing-names")),
    Defect("ome-duplicate-channel-names", lambda spec: {_mask_item(spec, "ome-consistency"): "OME-CHANNEL-NAMES"},
           mutate_spec=_ome_edit("duplicate-names"), applies=lambda spec: len(spec.masks[0].channels) > 1),
    Defect("no-physical-size", lambda spec: {_mask_item(spec, "physical-size"): "PHYSICAL-SIZE"},
           mutate_spec=_ome_edit("no-physical-size")),
    Defect("pyramid-wrong-sizes", lambda spec: {_mask_item(spec, "pyramid"): "PYRAMID"},
           mutate_spec=lambda spec: _mask(spec, pyramid_method="wrong-sizes",
                                          width=max(spec.masks[0].width, 32), height=max(spec.masks[0].height, 32),
                                          pyramid_levels=max(spec.masks[0].pyramid_levels, 2))),
    Defect("pyramid-missing-small", lambda spec: {_mask_item(spec, "pyramid"): "PYRAMID-MISSING"},
           mutate_spec=lambda spec: _mask(spec, pyramid_levels=1), warns=True),
    Defect("pyramid-legacy-layout", lambda spec: {_mask_item(spec, "pyramid"): "PYRAMID-LEGACY"},
           mutate_spec=lambda spec: _mask(spec, pyramid_method="legacy",
                                          pyramid_levels=max(spec.masks[0].pyramid_levels, 2))),
    Defect("pyramid-mean", _every_channel("pyramid-labels", "PYRAMID-LABELS"), mutate_spec=_dense_pyramid("mean")),
    Defect("pyramid-mean-factor-3", _every_channel("pyramid-labels", "PYRAMID-LABELS"),
           mutate_spec=lambda spec: _mask(_dense_pyramid("mean")(spec), pyramid_factor=3)),
    Defect("pyramid-bilinear", _every_channel("pyramid-labels", "PYRAMID-LABELS"), mutate_spec=_dense_pyramid("bilinear")),
    Defect("strips", lambda spec: {_mask_item(spec, "layout"): "TIFF-LAYOUT"},
           mutate_spec=lambda spec: _mask(spec, tile=None, compression="zlib")),
    Defect("tiles-not-power-of-two", lambda spec: {_mask_item(spec, "layout"): "TIFF-LAYOUT"},
           mutate_spec=lambda spec: _mask(spec, tile=48, compression="zlib")),
    Defect("zstd", lambda spec: {_mask_item(spec, "layout"): "TIFF-COMPRESSION"},
           mutate_spec=lambda spec: _mask(spec, compression="zstd", tile=64)),
    # an empty channel's table has no data rows, which CEDAR rejects (it follows from the channel)
    Defect("empty-channel", lambda spec: {_channel_item(spec, spec.masks[0].channels[0].name, "labels"): "LABELS-EMPTY",
                                          _seg_item(_table_rel(spec), "layout"): "TABLE-LAYOUT"},
           mutate_spec=lambda spec: _mask(spec, channels=(replace(spec.masks[0].channels[0], n_objects=0),)
                                          + spec.masks[0].channels[1:])),
    Defect("sparse-ids", lambda spec: {_channel_item(spec, spec.masks[0].channels[0].name, "labels"): "LABELS-SPARSE"},
           mutate_spec=lambda spec: _mask(spec, channels=(replace(spec.masks[0].channels[0], n_objects=2,
                                                                  sparse_ids=False, id_offset=100),)
                                          + spec.masks[0].channels[1:])),
)
def _seg_item(name: str, check: str) -> str:
    return f"/{SEG.as_posix()}/{name}::{check}"


def _with_objects(spec: DatasetSpec, minimum: int = 3) -> DatasetSpec:
    """The first channel holds at least ``minimum`` objects (adjacency needs ids)."""
    first = spec.masks[0].channels[0]
    if first.n_objects >= minimum:
        return spec
    mask = spec.masks[0]
    return _mask(spec, channels=(replace(first, n_objects=minimum),) + mask.channels[1:],
                 width=max(mask.width, 16), height=max(mask.height, 16))


def _first(spec: DatasetSpec) -> str:
    return spec.masks[0].channels[0].name


def _write(relative: Callable[[DatasetSpec], str], content: Callable[[DatasetSpec], bytes]):
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = _seg(out) / relative(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content(spec))

    return mutate


def _mesh_defect(name: str, glb_defect: str, code: str) -> Defect:
    return Defect(
        name, lambda spec: {_seg_item(f"{_first(spec)}-mesh.glb", "glb"): code},
        mutate_files=_write(lambda spec: f"{_first(spec)}-mesh.glb", lambda spec: make_glb(glb_defect)),
    )


def _adjacency_defect(name: str, text: Callable[[list[int]], str | bytes], check: str, code: str) -> Defect:
    """An adjacency file for the first channel, built from its real ids by ``text``."""

    def content(spec: DatasetSpec) -> bytes:
        from .labels import object_ids

        data = text([int(i) for i in object_ids(spec.masks[0], 0)])
        return data if isinstance(data, bytes) else data.encode("utf-8")

    return Defect(
        name, lambda spec: {_seg_item(f"{_first(spec)}-centroid-adjacency.csv", check): code},
        mutate_spec=_with_objects,
        mutate_files=_write(lambda spec: f"{_first(spec)}-centroid-adjacency.csv", content),
    )


def _symlink_outside(out: Path, spec: DatasetSpec) -> None:
    target = out.resolve().parent / f"{out.name}-outside.txt"
    target.write_text("outside the dataset")
    (out / "derived" / "extras" / "outside.txt").symlink_to(target)


def _name_not_utf8(out: Path, spec: DatasetSpec) -> None:
    with open(os.path.join(os.fsencode(out), b"derived", b"extras", b"notes-\xff.txt"), "wb") as fh:
        fh.write(b"x")


def _empty_transformation(out: Path, spec: DatasetSpec) -> None:
    folder = _seg(out) / "transformations"
    folder.mkdir(exist_ok=True)
    (folder / "t.txt").write_bytes(b"")


def _empty_transformations_folder(out: Path, spec: DatasetSpec) -> None:
    (_seg(out) / "transformations").mkdir(exist_ok=True)


COMPANION_DEFECTS: tuple[Defect, ...] = (
    _mesh_defect("mesh-bad-magic", "bad-magic", "GLB-CONTAINER"),
    _mesh_defect("mesh-truncated", "truncated", "GLB-CONTAINER"),
    _mesh_defect("mesh-json-invalid", "bad-json", "GLB-JSON"),
    _mesh_defect("mesh-asset-version", "asset-version", "GLB-JSON"),
    _mesh_defect("mesh-accessor-out-of-bounds", "accessor-out-of-bounds", "GLB-BOUNDS"),
    _mesh_defect("mesh-without-mesh", "no-mesh", "GLB-MESH"),
    Defect("mesh-prefix-names-no-channel",
           lambda spec: {_seg_item("no-such-channel-mesh.glb", "channel"): "COMPANION-CHANNEL"},
           mutate_files=_write(lambda spec: "no-such-channel-mesh.glb", lambda spec: make_glb())),
    _adjacency_defect("adjacency-unknown-ids", lambda ids: edge_list_csv([(ids[0], 999_999)]), "ids", "ADJ-IDS"),
    _adjacency_defect("adjacency-self-loop", lambda ids: edge_list_csv([(ids[0], ids[0])]), "structure", "ADJ-SELF-LOOP"),
    _adjacency_defect("adjacency-duplicate-edge", lambda ids: edge_list_csv([(ids[0], ids[1])] * 2), "structure", "ADJ-DUPLICATE"),
    _adjacency_defect("adjacency-negative-weight", lambda ids: edge_list_csv([(ids[0], ids[1])], weights=[-1.0]), "structure", "ADJ-WEIGHTS"),
    _adjacency_defect("adjacency-asymmetric-matrix",
                      lambda ids: matrix_csv(ids[:3], [[0, 1, 0], [2, 0, 0], [0, 0, 0]]), "structure", "ADJ-SYMMETRIC"),
    _adjacency_defect("adjacency-not-text", lambda ids: b"a,b\n\xff\xfe\x00\x01,2\n", "structure", "ADJ-FORM"),
    _adjacency_defect("adjacency-id-not-ascii-digits", lambda ids: edge_list_csv([(ids[0], "²")]), "structure", "ADJ-FORM"),
    _adjacency_defect("adjacency-id-over-int64", lambda ids: edge_list_csv([(ids[0], 2**63)]), "structure", "ADJ-FORM"),
    _adjacency_defect("adjacency-matrix-negative-weight",
                      lambda ids: matrix_csv(ids[:3], [[0, -1, 0], [-1, 0, 0], [0, 0, 0]]), "structure", "ADJ-WEIGHTS"),
    _adjacency_defect("adjacency-matrix-short-row",
                      lambda ids: matrix_csv(ids[:3], [[0, 1, 0], [1, 0, 0], [0, 0, 0]]).rstrip("\n").rsplit(",", 1)[0] + "\n",
                      "structure", "ADJ-FORM"),
    _mesh_defect("mesh-stride-too-small", "stride-too-small", "GLB-BOUNDS"),
    _mesh_defect("mesh-buffer-longer-than-bin", "buffer-longer-than-bin", "GLB-BOUNDS"),
    _mesh_defect("mesh-json-too-deep", "json-too-deep", "GLB-JSON"),
    _mesh_defect("mesh-component-type-list", "component-type-list", "GLB-BOUNDS"),
    Defect("fifo-in-dataset", lambda spec: {DIRSCHEMA + "not-allowed": "DIR-SPECIAL-FILE"},
           mutate_files=lambda out, spec: os.mkfifo(out / "derived" / "extras" / "pipe")),
    Defect("symlink-leaves-dataset", lambda spec: {DIRSCHEMA + "not-allowed": "DIR-SYMLINK-OUTSIDE"},
           mutate_files=_symlink_outside),
    Defect("file-name-not-utf8", lambda spec: {DIRSCHEMA + "not-allowed": "DIR-NAME-ENCODING"},
           mutate_files=_name_not_utf8),
    Defect("transformation-file-empty",
           lambda spec: {"/" + SEG.as_posix() + "/transformations::files": "TRANSFORMATIONS-FILES"},
           mutate_files=_empty_transformation),
    Defect("transformations-folder-empty",
           lambda spec: {"/" + SEG.as_posix() + "/transformations::files": "TRANSFORMATIONS-EMPTY"},
           mutate_files=_empty_transformations_folder, applies=lambda spec: not spec.transformations),
)
# --- objects tables and segmentation-masks.csv ----------------------------------------


def _table_rel(spec: DatasetSpec, channel: str | None = None) -> str:
    return table_name(spec, channel or _first(spec))


def _read_rows(path: Path) -> list[list]:
    if path.suffix == ".tsv":
        with open(path, encoding="utf-8", newline="") as fh:
            return [list(r) for r in csv.reader(fh, delimiter="\t")]
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def _write_rows(path: Path, rows: list[list]) -> None:
    if path.suffix == ".tsv":
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(
                [["" if v is None else v for v in r] for r in rows])
        return
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("MAIN")
    for row in rows:
        ws.append(row)
    wb.save(path)


def _edit_table(edit: Callable[[list[list], int], None]) -> Callable[[Path, DatasetSpec], None]:
    """Rewrite the first channel's table; ``edit(rows, header_index)`` changes rows in place."""

    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = _seg(out) / _table_rel(spec)
        rows = _read_rows(path)
        header = next(i for i, r in enumerate(rows) if r and r[0] == "Object ID")
        edit(rows, header)
        _write_rows(path, rows)

    return mutate


def _col(rows, header, name):
    return rows[header].index(name)


def _table_items(check: str, code: str) -> Callable[[DatasetSpec], dict[str, str]]:
    return lambda spec: {_seg_item(_table_rel(spec), check): code}


def _set_cell(column: str, value) -> Callable[[list[list], int], None]:
    def edit(rows, header):
        rows[header + 1][_col(rows, header, column)] = value

    return edit


def _drop_column(column: str) -> Callable[[list[list], int], None]:
    def edit(rows, header):
        index = _col(rows, header, column)
        for row in rows:
            if len(row) > index:
                del row[index]

    return edit


def _duplicate_first_row(rows, header):
    rows.insert(header + 2, list(rows[header + 1]))


def _extra_row_with_id(value) -> Callable[[list[list], int], None]:
    def edit(rows, header):
        row = list(rows[header + 1])
        row[_col(rows, header, "Object ID")] = value
        rows.insert(header + 2, row)

    return edit


def _drop_first_row(rows, header):
    del rows[header + 1]


def _move_centroid_out_of_box(rows, header):
    """Put the first object's centroid on the diagonally opposite corner of the image."""
    x, y = float(rows[header + 1][_col(rows, header, "X")]), float(rows[header + 1][_col(rows, header, "Y")])
    rows[header + 1][_col(rows, header, "X")] = 0.0 if x > 8 else 1e9
    rows[header + 1][_col(rows, header, "Y")] = 0.0 if y > 8 else 1e9


def _type_vocabulary(rows, header):
    rows[0][_col(rows, header, "Annotation tool")] = "category"


def _not_a_workbook(out: Path, spec: DatasetSpec) -> None:
    (_seg(out) / _table_rel(spec)).write_bytes(b"Object ID\tX\n1\t2\n" if spec.table_format == "xlsx" else b"\xff\xfe\x00bad")


def _garbled_layout(out: Path, spec: DatasetSpec) -> None:
    _write_rows(_seg(out) / _table_rel(spec), [["bad"], ["still bad"]])


def _orphan_table(out: Path, spec: DatasetSpec) -> None:
    source = _seg(out) / _table_rel(spec)
    target = _seg(out) / table_name(spec, "no-such-channel")
    target.write_bytes(source.read_bytes())


def _edit_csv(edit: Callable[[list[list[str]]], None]) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = _seg(out) / "segmentation-masks.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            rows = [list(r) for r in csv.reader(fh)]
        edit(rows)
        with open(path, "w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, lineterminator="\n").writerows(rows)

    return mutate


def _csv_item(check: str, code: str) -> Callable[[DatasetSpec], dict[str, str]]:
    return lambda spec: {_seg_item("segmentation-masks.csv", check): code}


def _csv_wrong_count(rows):
    rows[1][-1] = str(2**32 + 1)  # above any uint32 id: neither the distinct count nor the max id


def _csv_reorder_header(rows):
    for row in rows:
        row[0], row[1] = row[1], row[0]


def _csv_drop_row(rows):
    del rows[-1]


def _remove_csv(out: Path, spec: DatasetSpec) -> None:
    (_seg(out) / "segmentation-masks.csv").unlink()


_HAS_TEMPLATE = lambda spec: spec.template != "plain"  # noqa: E731 - a predicate in a table


_XLSX_TEMPLATE = lambda spec: spec.template != "plain" and spec.table_format == "xlsx"  # noqa: E731


def _plain_layout(spec: DatasetSpec) -> dict[str, str]:
    # every table is plain: an .xlsx without schema rows has no separator row (CEDAR rejects it);
    # a plain TSV warns
    code = "TABLE-LAYOUT" if spec.table_format == "xlsx" else "TABLE-LAYOUT-PLAIN"
    return {_seg_item(table_name(spec, c.name), "layout"): code for m in spec.masks for c in m.channels}


def _labelled_separator(rows, header):
    rows[header - 1] = ["[ THIS ROW MUST BE PRESENT AND EMPTY ]"] + list(rows[header - 1][1:])


def _number_as_text(rows, header):
    col = _col(rows, header, "Z")
    rows[header + 1][col] = str(rows[header + 1][col])


# CEDAR's value rules are `ingest` for .xlsx only (HuBMAP never sees a TSV: schema there), so the
# defects that exercise them apply to .xlsx tables.
TABLE_DEFECTS: tuple[Defect, ...] = (
    Defect("table-not-a-workbook", _table_items("layout", "TABLE-READ"), mutate_files=_not_a_workbook),
    Defect("table-garbled-layout", _table_items("layout", "TABLE-LAYOUT"), mutate_files=_garbled_layout),
    Defect("table-plain-layout", _plain_layout, mutate_spec=lambda spec: replace(spec, template="plain")),
    Defect("table-labelled-separator-row", _table_items("layout", "TABLE-LAYOUT"),
           mutate_files=_edit_table(_labelled_separator), applies=_XLSX_TEMPLATE),
    Defect("table-missing-column", _table_items("columns", "TABLE-COLUMNS"),
           mutate_files=_edit_table(_drop_column("Mask ID"))),
    Defect("table-empty-required-cell", _table_items("values", "TABLE-MISSING-REQUIRED"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Mask ID", None)), applies=_XLSX_TEMPLATE),
    Defect("table-bad-permissible-value", _table_items("values", "TABLE-NOT-PERMISSIBLE"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Annotation tool", "bad_val")), applies=_XLSX_TEMPLATE),
    Defect("table-bad-doi", _table_items("values", "TABLE-FORMAT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Protocol for mask creation (DOI)", "not a doi")),
           applies=_XLSX_TEMPLATE),
    Defect("table-doi-as-url", _table_items("values", "TABLE-FORMAT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Protocol for mask creation (DOI)", "https://doi.org/10.5281/zenodo.1")),
           applies=_XLSX_TEMPLATE),
    Defect("table-number-as-text", _table_items("values", "TABLE-NOT-NUMBER"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_number_as_text), applies=_XLSX_TEMPLATE),
    Defect("table-unknown-type", _table_items("layout", "TABLE-VOCABULARY"),
           mutate_files=_edit_table(_type_vocabulary), applies=_HAS_TEMPLATE),
    Defect("table-duplicate-id", _table_items("ids", "TABLE-IDS"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_duplicate_first_row)),
    # an extra row whose Object ID is not an integer (the objects' own rows stay)
    Defect("table-non-integer-id", _table_items("ids", "TABLE-IDS"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_extra_row_with_id("cell-1"))),
    Defect("table-missing-object", _table_items("mask-agreement", "TABLE-MASK-AGREEMENT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_drop_first_row), warns=True),
    Defect("table-unknown-object", _table_items("mask-agreement", "TABLE-MASK-AGREEMENT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Object ID", 999_999))),
    Defect("table-wrong-mask-name", _table_items("mask-agreement", "TABLE-MASK-AGREEMENT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Mask name", "something-else"))),
    Defect("table-wrong-source-file", _table_items("mask-agreement", "TABLE-MASK-AGREEMENT"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Source file", "other.segmentations.ome.tiff"))),
    Defect("table-centroid-outside-object", _table_items("centroids", "TABLE-CENTROIDS"),
           mutate_spec=lambda spec: _with_objects(spec, 4), mutate_files=_edit_table(_move_centroid_out_of_box)),
    Defect("table-orphan", lambda spec: {_seg_item(table_name(spec, "no-such-channel"), "channel"): "TABLE-PAIRING"},
           mutate_files=_orphan_table),
    Defect("table-missing-for-channel",
           lambda spec: {_channel_item(spec, _first(spec), "objects-table"): "TABLE-PAIRING"},
           mutate_files=lambda out, spec: (_seg(out) / _table_rel(spec)).unlink(),
           applies=lambda spec: len(spec.masks[0].channels) > 1, warns=True),
    Defect("csv-absent", _csv_item("present", "CSV-PRESENT"), mutate_files=_remove_csv),
    Defect("csv-row-missing", _csv_item("rows", "CSV-ROWS"), mutate_files=_edit_csv(_csv_drop_row)),
    Defect("csv-num-objects-wrong", _csv_item("num-objects", "CSV-NUM-OBJECTS"), mutate_files=_edit_csv(_csv_wrong_count)),
    Defect("csv-header-reordered", _csv_item("rows", "CSV-HEADER"), mutate_files=_edit_csv(_csv_reorder_header)),
)


def _insert_schema_row(label: str, values: dict[str, object]) -> Callable[[list[list], int], None]:
    """A schema row (e.g. `Max value`) above the separator, values by column name."""
    def edit(rows, header):
        row = [label] + [None] * (len(rows[header]) - 1)
        for column, value in values.items():
            row[_col(rows, header, column)] = value
        rows.insert(header - 1, row)  # header - 1 is the separator row

    return edit


def _set_type(column: str, kind: str) -> Callable[[list[list], int], None]:
    def edit(rows, header):
        type_row = next(i for i, r in enumerate(rows[:header]) if r and r[0] == "Type")
        rows[type_row][_col(rows, header, column)] = kind

    return edit


def _cell_beyond_last_column(out: Path, spec: DatasetSpec) -> None:
    """A cell in column XFE (16,385), one past Excel's last column, in the first data row."""
    import re
    import zipfile

    path = _seg(out) / _table_rel(spec)
    with zipfile.ZipFile(path) as zf:
        members = {info: zf.read(info.filename) for info in zf.infolist()}
    for info, data in members.items():
        if info.filename.startswith("xl/worksheets/sheet"):
            rows = re.findall(rb'<row r="(\d+)"', data)
            last = rows[-1].decode()
            members[info] = re.sub(rb'(<row r="%s"[^>]*>.*?)(</row>)' % last.encode(),
                                   rb'\1<c r="XFE%s"><v>1</v></c>\2' % last.encode(), data, count=1, flags=re.S)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members.items():
            zf.writestr(info, data)


def _second_mask(out: Path, spec: DatasetSpec) -> None:
    mask = _mask_path(out, spec)
    shutil.copyfile(mask, mask.with_name("copy" + spec.masks[0].suffix))


def _source_image_elsewhere(out: Path) -> Path:
    return out.parent / f"{out.name}-source.ome.tiff"  # beside the dataset, not in it


def _write_differing_source(out: Path, spec: DatasetSpec) -> None:
    from .writer import write_source_image

    write_source_image(spec.masks[0], _source_image_elsewhere(out), width=spec.masks[0].width + 1)


MORE_DEFECTS: tuple[Defect, ...] = (
    Defect("two-mask-images",
           lambda spec: {DIRSCHEMA + "one-mask-image": "DIR-ONE-MASK-IMAGE",
                         **({_seg_item("segmentation-masks.csv", "rows"): "CSV-ROWS"} if spec.segmentation_masks_csv else {})},
           mutate_files=_second_mask),
    Defect("source-image-differs", lambda spec: {_mask_item(spec, "source-image"): "SOURCE-IMAGE"},
           mutate_files=_write_differing_source,
           options=lambda out, spec: [f"--segmask-source-image={_source_image_elsewhere(out)}"]),
    Defect("table-non-ascii-text",
           lambda spec: {_seg_item(_table_rel(spec), "values"): "TABLE-ENCODING",
                         _seg_item(_table_rel(spec), "mask-agreement"): "TABLE-MASK-AGREEMENT"},
           mutate_spec=_with_objects, applies=_XLSX_TEMPLATE,
           mutate_files=_edit_table(lambda rows, header: _set_cell("Source file", "caf\u00e9.segmentations.ome.tiff")(rows, header))),
    Defect("table-integer-fraction", _table_items("values", "TABLE-INTEGER-FRACTION"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_set_cell("Area", 12.5)), applies=_HAS_TEMPLATE),
    Defect("table-max-value-exceeded", _table_items("values", "TABLE-RANGE"), mutate_spec=_with_objects,
           mutate_files=_edit_table(_insert_schema_row("Max value", {"Area": 0})), applies=_XLSX_TEMPLATE),
    Defect("table-url-column",
           lambda spec: {_seg_item(_table_rel(spec), "values"): "TABLE-URL",
                         _seg_item(_table_rel(spec), "layout"): "TABLE-VOCABULARY"},
           mutate_spec=_with_objects, mutate_files=_edit_table(_set_type("Annotation tool", "url")),
           applies=_XLSX_TEMPLATE),
    Defect("table-cell-beyond-excel-columns", _table_items("layout", "TABLE-LIMIT"), mutate_spec=_with_objects,
           mutate_files=_cell_beyond_last_column, applies=_XLSX_TEMPLATE),
    Defect("table-plain-tsv",
           lambda spec: {**{_seg_item(table_name(spec, c.name), "layout"): "TABLE-LAYOUT-PLAIN"
                            for m in spec.masks for c in m.channels},
                         DIRSCHEMA + "xlsx-tables": "TABLE-XLSX-PRESENT"},
           mutate_spec=lambda spec: replace(spec, template="plain", table_format="tsv"),
           applies=lambda spec: spec.version in ("2.0", "2.1", "2.2", "2.3", "2.7")),
)
CATALOGUE = CATALOGUE + MASK_DEFECTS + COMPANION_DEFECTS + TABLE_DEFECTS + MORE_DEFECTS


def by_name(name: str) -> Defect:
    return next(d for d in CATALOGUE if d.name == name)


def defects(spec: DatasetSpec | None = None) -> st.SearchStrategy[Defect]:
    """Draw a defect from the catalogue (one that applies to ``spec`` when given)."""
    pool = [d for d in CATALOGUE if spec is None or d.applies(spec)]
    return st.sampled_from(pool)
