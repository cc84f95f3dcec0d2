"""Render a DatasetSpec to files: OME-TIFF masks, objects tables, segmentation-masks.csv."""

from __future__ import annotations

import csv
import re
import uuid
from pathlib import Path

import numpy as np
import tifffile

from .labels import build_pyramid, make_volume, object_table_rows
from .spec import DatasetSpec, MaskSpec

SEG = Path("derived") / "segmentation_masks"
DOI = "10.5281/zenodo.0000000"
HEADER = [
    "Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)",
    "Annotation tool", "Object type", "X", "Y", "Z", "Area",
]
# Schema rows of HuBMAP's official object-by-feature template (dataset-metadata-spreadsheet
# epic/latest = v1.0.0), per column of HEADER; None = an empty cell, as in the template. X and Y
# are typed float here because the generated centroids are fractional (the template types them
# integer; CEDAR accepts fractions either way).
TYPE_ROW = ["text", "text", "obo id", "doi", "text", "obo id", "float", "float", "integer", "integer"]
UNIT_ROW = [None, None, None, None, None, None, "pixel", "pixel", "pixel", "count"]
CLASS_ROW = ["mask", "mask", "mask", "mask", "mask", "ontology", "spatial", "spatial", "spatial", "morphology"]
DESCRIPTION_ROW = [
    "The name of the OME TIFF file that contains the mask.",
    "The name of the mask. THIS MUST MATCH A CHANNEL IN THE OME TIFF FILE.",
    "The ontological ID defining the mask. This ID must be from an OBO Foundry ontology. https://obofoundry.org.",
    "The protocol used to define the mask.",
    "This is the tool used to annotate the objects.",
    "The ontological ID for the specific object identified in the mask.",
    "The X value of the object's centroid. The top left corner of the image is assumed to have a pixel value of 0.",
    "The Y value of the object's centroid. The top left corner of the image is assumed to have a pixel value of 0.",
    "The Z value of the object's centroid. The bottom of the 3D object is assumed to have a pixel value of 0.",
    "The number of pixels of the object.",
]
PROTOCOL_ROW = [None] * 5 + ["10.1016/j.cell.2021.04.048"] + ["10.1038/s41587-021-01044-w"] * 3 + [None]
ALTERNATIVE_ID_ROW = [None] * len(TYPE_ROW)
PERMISSIBLE_ROW = [None] * 4 + ["Azimuth | STELLAR | FUSION | In-house | Manual | Not applicable"] + [None] * 5
REQUIREMENT_ROW = ["REQUIRED"] * 5 + ["OPTIONAL"] + ["REQUIRED"] * 3 + ["OPTIONAL"]
# layouts: "newer" = the current template (Alternative ID row, completely empty separator row,
# header at row 10); "older" = the first generation (no Alternative ID, header at row 9);
# "plain" = header row first (no schema rows: ingest rejects it as an .xlsx)
TEMPLATE_LAYOUTS = ("newer", "older", "plain")
CSV_HEADER = [
    "Channel number", "Mask name", "Source file", "Ontology abbreviation", "Ontology ID",
    "Protocol", "Is entire image masked", "Num objects",
]
ONTOLOGY = {"cells": "CL:0000000", "nuclei": "GO:0005634", "tubules": "UBERON:0009773"}


def template_rows(template: str) -> list[list]:
    """The rows above the header row, as the official template has them: schema rows labelled in
    column A, then the completely empty separator row (column A empty too)."""
    if template not in TEMPLATE_LAYOUTS:
        raise ValueError(f"unknown template layout {template!r}")
    if template == "plain":
        return []
    rows = [
        ["Type"] + TYPE_ROW,
        ["Unit"] + UNIT_ROW,
        ["Feature class"] + CLASS_ROW,
        ["Description"] + DESCRIPTION_ROW,
        ["Protocol used to derive this feature value (DOI)"] + PROTOCOL_ROW,
    ]
    if template == "newer":
        rows.append(["Alternative ID"] + ALTERNATIVE_ID_ROW)
    rows += [["Permissible values"] + PERMISSIBLE_ROW, ["Requirement level"] + REQUIREMENT_ROW]
    rows.append([None] * (len(TYPE_ROW) + 1))
    return rows


# --- OME-XML ------------------------------------------------------------------------


def ome_xml(mask: MaskSpec, dtype: np.dtype) -> str:
    ome = tifffile.OmeXml()
    kwargs = {}
    if mask.physical_size is not None and "no-physical-size" not in mask.ome_edits:
        kwargs = dict(
            PhysicalSizeX=mask.physical_size, PhysicalSizeXUnit="µm",
            PhysicalSizeY=mask.physical_size, PhysicalSizeYUnit="µm",
        )
    c, z = len(mask.channels), mask.size_z
    if z > 1:  # planes stored channel by channel, z fastest: DimensionOrder XYZCT
        if mask.physical_size is not None and "no-physical-size" not in mask.ome_edits:
            kwargs.update(PhysicalSizeZ=2 * mask.physical_size, PhysicalSizeZUnit="µm")
        ome.addimage(
            dtype, (c, z, mask.height, mask.width), (c * z, 1, 1, mask.height, mask.width, 1),
            axes="CZYX", Channel={"Name": mask.channel_names}, **kwargs,
        )
    else:
        ome.addimage(
            dtype, (c, mask.height, mask.width), (c, 1, 1, mask.height, mask.width, 1),
            axes="CYX", Channel={"Name": mask.channel_names}, **kwargs,
        )
    return apply_ome_edits(ome.tostring(), mask)


def apply_ome_edits(xml: str, mask: MaskSpec) -> str:
    for edit in mask.ome_edits:
        if edit == "type-mismatch":
            xml = re.sub(r'Type="(\w+)"', lambda m: 'Type="%s"' % ("uint8" if m.group(1) != "uint8" else "uint16"), xml, count=1)
        elif edit == "missing-names":
            xml = re.sub(r' Name="[^"]*"(?=[^>]*>\s*<LightPath)', "", xml)
        elif edit == "duplicate-names":
            xml = re.sub(r'(<Channel [^>]*?)Name="[^"]*"', rf'\1Name="{mask.channels[0].name}"', xml)
        elif edit == "sizec-mismatch":
            xml = re.sub(r'SizeC="(\d+)"', lambda m: f'SizeC="{int(m.group(1)) + 1}"', xml)
        elif edit == "sizet-2":
            xml = xml.replace('SizeT="1"', 'SizeT="2"')
        elif edit == "binaryonly":
            head = xml[: xml.index("<Image")]
            xml = head + f'<BinaryOnly MetadataFile="{mask.stem}.companion.ome" UUID="urn:uuid:{uuid.uuid4()}"/></OME>'
        elif edit == "multifile-uuid":
            xml = re.sub(
                r'<TiffData IFD="0" PlaneCount="(\d+)"/>',
                lambda m: f'<TiffData IFD="0" PlaneCount="{m.group(1)}"><UUID FileName="{mask.stem}.part2.ome.tiff">'
                f"urn:uuid:{uuid.UUID(int=mask.seed + 7)}</UUID></TiffData>",
                xml,
            )
        elif edit == "xsd-invalid":  # well-formed, but an attribute the schema does not know
            xml = xml.replace("<Pixels ", '<Pixels Colour="purple" ', 1)
        elif edit == "not-xml":
            xml = "<OME this is not XML <<"
        elif edit in ("no-ome", "no-physical-size"):
            pass  # handled by the writer / ome_xml
        else:
            raise ValueError(f"unknown OME edit {edit!r}")
    return xml


# --- the mask -----------------------------------------------------------------------


def channel_pyramids(mask: MaskSpec) -> list[list[np.ndarray]]:
    """Per channel, the label pyramid in the mask's dtype (full resolution first); each level
    (H, W), or (Z, H, W) for 3D masks (the pyramid is built per plane)."""
    dtype = np.dtype(mask.dtype)
    levels = mask.pyramid_levels
    out = []
    for index in range(len(mask.channels)):
        vol = make_volume(mask, index)
        if dtype.kind in "ui" and vol.size and vol.max() > np.iinfo(dtype).max:
            raise ValueError(f"ids up to {vol.max()} do not fit in {dtype}")
        if dtype.kind == "u" and vol.size and vol.min() < 0:
            raise ValueError(f"negative pixels do not fit in {dtype}")
        per_plane = [build_pyramid(plane, levels, mask.pyramid_method, mask.pyramid_factor) for plane in vol]
        pyramid = [np.stack([p[k] for p in per_plane]).astype(dtype) for k in range(levels)]
        out.append([lvl if mask.size_z > 1 else lvl[0] for lvl in pyramid])
    return out


def write_mask(mask: MaskSpec, path: Path) -> list[np.ndarray]:
    """Write the OME-TIFF; returns the full-resolution labels per channel ((Z, H, W) in 3D)."""
    pyramids = channel_pyramids(mask)
    dtype = np.dtype(mask.dtype)
    levels = [np.stack([p[k] for p in pyramids]) for k in range(mask.pyramid_levels)]
    # ome=False: the OME-XML is ours (edits included); tifffile must not write its own
    layout = dict(compression=mask.compression, photometric="minisblack", metadata=None)
    if mask.tile:
        layout["tile"] = (mask.tile, mask.tile)
    else:
        layout["rowsperstrip"] = mask.rows_per_strip
    if "no-ome" in mask.ome_edits:
        description = None
    else:
        description = ome_xml(mask, dtype).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    legacy = mask.pyramid_method == "legacy"
    with tifffile.TiffWriter(path, bigtiff=mask.bigtiff, ome=False) as tif:
        sub = 0 if legacy else len(levels) - 1
        tif.write(levels[0], subifds=sub or None, description=description, **layout)
        for level in levels[1:]:
            if legacy:  # levels as separate series of full-size pages (pre-Bio-Formats-6 layout)
                tif.write(level, **layout)
            else:
                tif.write(level, subfiletype=1, **layout)
    return [p[0] for p in pyramids]


# --- tables -------------------------------------------------------------------------


def objects_rows(mask: MaskSpec, channel_index: int, labels: np.ndarray) -> list[list]:
    name = mask.channels[channel_index].name
    ontology = ONTOLOGY.get(name, "CL:0000000")
    if labels.ndim == 3:  # Z: the plane of the object's centroid (integer column of the template)
        zs = {oid: z for oid, z in object_z(labels)}
        flat = labels.reshape(-1, labels.shape[-1])  # planes stacked: rows of plane z follow plane z-1
        rows = object_table_rows(flat)
        h = labels.shape[1]
        return [[oid, mask.file_name, name, ontology, DOI, "In-house", ontology, round(x, 3),
                 round(_y_in_plane(labels, oid, y, h), 3), int(round(zs[oid])), area] for oid, x, y, area in rows]
    return [
        [oid, mask.file_name, name, ontology, DOI, "In-house", ontology, round(x, 3), round(y, 3), 0, area]
        for oid, x, y, area in object_table_rows(labels)
    ]


def object_z(labels: np.ndarray) -> list[tuple[int, float]]:
    """(id, centroid z) per object of a (Z, H, W) volume, in id order."""
    z, _, _ = np.nonzero(labels > 0)
    vals = labels[labels > 0]
    ids, inv, counts = np.unique(vals, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=z, minlength=len(ids))
    return [(int(i), float(s / c)) for i, s, c in zip(ids, sums, counts)]


def _y_in_plane(labels: np.ndarray, oid: int, stacked_y: float, height: int) -> float:
    """Centroid y within a plane (the stacked image adds z × height to every row)."""
    mask = labels == oid
    z = np.nonzero(mask)[0]
    return stacked_y - float(z.mean()) * height


def fill_template_file(template_file: str | Path, path: Path, objects: list[list]) -> Path:
    """Fill HuBMAP's official template workbook itself: the object rows go below its header row
    (styles kept), columns the template lacks are added with their schema cells, X/Y/Z are
    rounded where the template types them integer, and the pre-formatted empty rows it ships
    are removed (CEDAR would read them as data rows with missing REQUIRED cells)."""
    from openpyxl import load_workbook

    wb = load_workbook(template_file)
    ws = wb["MAIN"] if "MAIN" in wb.sheetnames else wb.worksheets[0]
    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Object ID")
    labels = {ws.cell(r, 1).value: r for r in range(1, header - 1) if ws.cell(r, 1).value}
    schema = {"Type": TYPE_ROW, "Unit": UNIT_ROW, "Feature class": CLASS_ROW, "Description": DESCRIPTION_ROW,
              "Requirement level": REQUIREMENT_ROW}
    names = [ws.cell(header, c).value for c in range(1, ws.max_column + 1)]
    for j, name in enumerate(HEADER):
        if name not in names:  # a feature column of ours: name it and give it its schema cells
            col = len([n for n in names if n]) + 1
            names.append(name)
            ws.cell(header, col, name)._style = ws.cell(header, col - 1)._style
            for label, values in schema.items():
                if label in labels:
                    ws.cell(labels[label], col, values[j - 1])._style = ws.cell(labels[label], col - 1)._style
    types = {name: ws.cell(labels["Type"], c + 1).value for c, name in enumerate(names)} if "Type" in labels else {}
    ws.delete_rows(header + 1, ws.max_row)
    for r in [r for r in ws.row_dimensions if r > header]:
        del ws.row_dimensions[r]
    for i, row in enumerate(objects):
        for name, value in zip(HEADER, row):
            if types.get(name) == "integer" and isinstance(value, float):
                value = int(round(value))
            ws.cell(header + 1 + i, names.index(name) + 1, value)
    wb.save(path)
    return path


def write_objects_table(dataset: DatasetSpec, mask: MaskSpec, channel_index: int,
                        labels: np.ndarray, path: Path) -> Path:
    if dataset.template_file and dataset.table_format != "tsv":
        return fill_template_file(dataset.template_file, path, objects_rows(mask, channel_index, labels))
    rows = template_rows(dataset.template) + [HEADER] + objects_rows(mask, channel_index, labels)
    if dataset.table_format == "tsv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
            writer.writerows([["" if v is None else v for v in row] for row in rows])
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("MAIN")
        for row in rows:
            ws.append(row)
        wb.save(path)
    return path


def write_segmentation_masks_csv(mask: MaskSpec, pyramids_labels: list[np.ndarray], path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for index, (channel, labels) in enumerate(zip(mask.channels, pyramids_labels)):
            ontology = ONTOLOGY.get(channel.name, "CL:0000000")
            prefix, _, number = ontology.partition(":")
            n = len(np.unique(labels[labels != 0]))
            writer.writerow([index, channel.name, mask.file_name, prefix, number, DOI, "No", n])
    return path


def table_name(dataset: DatasetSpec, channel: str) -> str:
    return f"{channel}-objects.{'tsv' if dataset.table_format == 'tsv' else 'xlsx'}"


def write_dataset(spec: DatasetSpec, out: Path) -> Path:
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    seg = out / SEG
    seg.mkdir(parents=True, exist_ok=True)
    folders = [out / "derived" / "extras"] + ([out / "extras"] if spec.writes_top_extras else [])
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        if not spec.empty_dirs:
            (folder / "README.txt").write_text("Placeholder so that version control keeps this folder.\n")
    for mask in spec.masks:
        labels = write_mask(mask, seg / mask.file_name)
        for index, channel in enumerate(mask.channels):
            write_objects_table(spec, mask, index, labels[index], seg / table_name(spec, channel.name))
        if spec.segmentation_masks_csv:
            write_segmentation_masks_csv(mask, labels, seg / "segmentation-masks.csv")
        write_companions(spec, mask, labels, seg)
    return out


def write_companions(spec: DatasetSpec, mask: MaskSpec, labels: list[np.ndarray], seg: Path) -> None:
    from .companions import edge_list_csv, make_glb, matrix_csv, neighbour_edges

    names = mask.channel_names
    for channel in spec.meshes:
        if channel in names:
            (seg / f"{channel}-mesh.glb").write_bytes(make_glb())
    for channel, kind, form in spec.adjacency:
        if channel not in names:
            continue
        ids = [int(i) for i in np.unique(labels[names.index(channel)]) if i != 0]
        path = seg / f"{channel}-{kind}-adjacency.csv"
        if form == "matrix":
            n = len(ids)
            matrix = np.zeros((n, n))
            for a in range(n - 1):
                matrix[a, a + 1] = matrix[a + 1, a] = 1.0 + a
            path.write_text(matrix_csv(ids, matrix), encoding="utf-8")
        else:
            edges = neighbour_edges(ids)
            path.write_text(edge_list_csv(edges, weights=[1.0 + i for i in range(len(edges))]), encoding="utf-8")
    if spec.transformations is not None:
        folder = seg / "transformations"
        folder.mkdir(exist_ok=True)
        for name in spec.transformations:
            (folder / name).write_text("1 0 0\n0 1 0\n0 0 1\n", encoding="utf-8")


def write_source_image(mask: MaskSpec, path: Path, *, width: int | None = None, height: int | None = None,
                       size_z: int | None = None, physical_size: float | None = ...,
                       unit: str = "µm") -> Path:
    """A source (parent) OME-TIFF for ``--segmask-source-image``: by default it matches the
    mask's SizeX/Y/Z and PhysicalSizeX/Y(/Z) exactly; pass a field to make it differ."""
    width, height = width or mask.width, height or mask.height
    size_z = size_z or mask.size_z
    size = mask.physical_size if physical_size is ... else physical_size
    ome = tifffile.OmeXml()
    kwargs = {}
    if size is not None:
        kwargs = dict(PhysicalSizeX=size, PhysicalSizeXUnit=unit, PhysicalSizeY=size, PhysicalSizeYUnit=unit)
        if size_z > 1:
            kwargs.update(PhysicalSizeZ=2 * size, PhysicalSizeZUnit=unit)
    ome.addimage(np.uint8, (size_z, height, width), (size_z, 1, 1, height, width, 1), axes="ZYX",
                 Channel={"Name": ["DAPI"]}, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path, ome=False) as tif:
        tif.write(np.zeros((size_z, height, width), np.uint8), description=ome.tostring().encode("utf-8"),
                  photometric="minisblack", metadata=None, tile=(64, 64) if min(width, height) >= 64 else None)
    return path
