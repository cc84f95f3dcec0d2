"""Objects tables: HuBMAP's official templates, CEDAR's verdict on one-change variants, the real
HuBMAP answers, and the checks against a mask channel.

A variant's *ingest verdict* is whether any finding of authority ``ingest`` and severity error
is reported by the table items (what CEDAR / ingest-validation-tests would reject)."""

from __future__ import annotations

import re
import shutil
import zipfile

import numpy as np
import pytest

from pytest_segmask.checks.objects_table import (
    check_centroids,
    check_channel_table,
    check_columns,
    check_ids,
    check_layout,
    check_mask_agreement,
    check_table_channel,
    check_values,
    check_xlsx_present,
    java_str,
    read_objects_table,
)
from pytest_segmask.findings import Authority, Severity

from conftest import REAL_DATA

TEMPLATES = REAL_DATA / "hubmap-templates"
LATEST = TEMPLATES / "segmentation-mask-object-by-feature.latest.xlsx"
FIRST = TEMPLATES / "segmentation-mask-object-by-feature.2ea7daf.xlsx"
SEG = "derived/segmentation_masks"
TABLE_CHECKS = (check_layout, check_columns, check_values, check_ids)


def need(path):
    if not path.exists():
        pytest.skip(f"real data absent: {path}")
    return path


def findings(table):
    return [f for check in TABLE_CHECKS for f in check(table).findings]


def ingest_errors(table):
    return [f for f in findings(table) if f.authority is Authority.INGEST and f.severity is Severity.ERROR]


def codes(items):
    return sorted({f.code for f in items})


class FakeStats:
    """The ChannelStats interface the table checks use."""

    def __init__(self, ids, bbox, z_range=None):
        self.ids = np.asarray(ids, np.int64)
        self.bbox = np.asarray(bbox, np.int64).reshape(-1, 4)
        self.counts = np.ones(len(self.ids), np.int64)
        self.centroid_x = (self.bbox[:, 1] + self.bbox[:, 3]) / 2
        self.centroid_y = (self.bbox[:, 0] + self.bbox[:, 2]) / 2
        self.z_range = None if z_range is None else np.asarray(z_range, np.int64).reshape(-1, 2)
        self.centroid_z = None if z_range is None else self.z_range.mean(axis=1)
        self.n_objects = len(self.ids)
        self.max_id = int(self.ids.max()) if len(self.ids) else 0

    def index_of(self, ids):
        ids = np.asarray(ids, np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(len(self.ids) - 1, 0))
        ok = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        return np.where(ok, pos, -1)


def object_row(i):
    """One correct row of the template's columns (X, Y, Z integers as the template types them)."""
    return [i, "mask.segmentations.ome.tiff", "cells", "CL:0000000", "10.17504/protocols.io.dm6gp35p8vzp/v1",
            "FUSION", "CL:0000000", 10 + i, 20 + i, 0]


def fill_template(template, path, n=20, edit=None, rows=None):
    """The official template file, filled in with openpyxl (styles kept): ``n`` object rows
    written over the pre-formatted rows (20 > the 13 it ships, so none is left empty)."""
    from openpyxl import load_workbook

    wb = load_workbook(need(template))
    ws = wb["MAIN"]
    header = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "Object ID")
    for i, row in enumerate(rows if rows is not None else [object_row(k + 1) for k in range(n)]):
        for j, value in enumerate(row):
            ws.cell(header + 1 + i, j + 1, value)
    if edit:
        edit(wb, ws, header)
    wb.save(path)
    return path


def as_tsv(xlsx, path):
    from openpyxl import load_workbook

    wb = load_workbook(xlsx)
    ws = wb["MAIN"]
    with open(path, "w", encoding="utf-8") as fh:
        for row in ws.iter_rows(values_only=True):
            if all(v is None for v in row) and fh.tell() > 0 and row is not None:
                pass
            fh.write("\t".join("" if v is None else str(v) for v in row) + "\n")
    return path


def patch_sheet(path, pattern, replacement):
    """Rewrite the sheet XML of a saved workbook (to write what openpyxl cannot: cached formula
    values, error cells, booleans in given places)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                text, n = re.subn(pattern, replacement, data.decode())
                assert n == 1, pattern
                data = text.encode()
            dst.writestr(info, data)
    shutil.move(tmp, path)
    return path


# --- the official templates, filled in correctly, pass every table check ------------------


@pytest.mark.parametrize("template", [LATEST, FIRST], ids=["latest", "first-generation"])
def test_official_template_filled_in_passes(tmp_path, template):
    path = fill_template(template, tmp_path / "cells-objects.xlsx")
    table = read_objects_table(path)
    assert findings(table) == []
    assert table.layout == "template" and table.rows == 20 and len(table.validated) == 9
    assert table.header_row == (10 if template is LATEST else 9)
    stats = FakeStats(range(1, 21), [[19 + i, 9 + i, 21 + i, 11 + i] for i in range(1, 21)])
    assert check_mask_agreement(table, "cells", "mask.segmentations.ome.tiff", stats,
                                ["mask.segmentations.ome.tiff"]).findings == []
    assert check_centroids(table, "cells", stats, (1, 100, 100), (0.5, 0.5, None)).findings == []
    # and as TSV (the same layout as text)
    tsv = read_objects_table(as_tsv(path, tmp_path / "cells-objects.tsv"))
    assert findings(tsv) == [] and tsv.rows == 20 and tsv.layout == "template"


def test_template_left_with_its_formatted_empty_rows(tmp_path):
    path = fill_template(LATEST, tmp_path / "cells-objects.xlsx", n=3)
    table = read_objects_table(path)
    [finding] = ingest_errors(table)
    assert finding.code == "TABLE-MISSING-REQUIRED"
    assert "rows 14–23 hold only cell formatting" in finding.message
    assert "80 × missingRequired" in finding.message  # 10 rows × 8 REQUIRED columns
    assert finding.fix.startswith("delete the empty formatted rows left from the template")


# --- one change each: CEDAR's verdict ------------------------------------------------------


def _swap_rows(a, b):
    def edit(wb, ws, header):
        for col in range(1, 11):
            x, y = ws.cell(a, col), ws.cell(b, col)
            x.value, y.value = y.value, x.value
    return edit


def _insert_schema_row(label, values):
    def edit(wb, ws, header):
        ws.insert_rows(header - 1)  # above the separator row
        ws.cell(header - 1, 1, label)
        for col, value in values.items():
            ws.cell(header - 1, col, value)
    return edit


def _properties_block(wb, ws, header):
    ws.insert_rows(1, 2)
    ws.cell(1, 1, "Header schema ID")
    ws.cell(1, 2, "https://repo.metadatacenter.org/templates/abc")


def _main_not_first(wb, ws, header):
    other = wb.create_sheet("Notes", 0)
    other["A1"] = "notes for the curator"


def _set(ref, value):
    def edit(wb, ws, header):
        ws[ref] = value
    return edit


def _set_many(**cells):
    def edit(wb, ws, header):
        for ref, value in cells.items():
            ws[ref] = value
    return edit


def _delete_rows(first, count):
    def edit(wb, ws, header):
        ws.delete_rows(first, count)
    return edit


def _no_data_rows(wb, ws, header):
    ws.delete_rows(header + 1, 40)
    for r in list(ws.row_dimensions):
        if r > header:
            del ws.row_dimensions[r]


def _gap_row(wb, ws, header):
    ws.delete_rows(header + 1, ws.max_row)
    for i, r in enumerate((header + 1, header + 2, header + 4, header + 5)):
        for j, value in enumerate(object_row(i + 1)):
            ws.cell(r, j + 1, value)


def _empty_row_inside_data(wb, ws, header):
    for col in range(1, 11):
        ws.cell(header + 5, col).value = None


def _two_empty_rows_inside_data(wb, ws, header):
    for r in (header + 5, header + 6):
        for col in range(1, 11):
            ws.cell(r, col).value = None


# (variant id, edit, expected ingest codes); the latest template, 20 rows, header at row 10
VARIANTS = [
    ("metadata-rows-in-another-order", _swap_rows(2, 4), []),
    ("example-row", _insert_schema_row("Example", {8: 12}), []),
    ("min-max-value-rows", lambda wb, ws, h: (_insert_schema_row("Min value", {8: 0})(wb, ws, h),
                                              _insert_schema_row("Max value", {8: 1000})(wb, ws, h + 1)), []),
    ("max-value-exceeded", _insert_schema_row("Max value", {8: 15}), ["TABLE-RANGE"]),
    ("input-pattern-row", _insert_schema_row("Input pattern", {3: "^cells$"}), []),
    ("input-pattern-violated", _insert_schema_row("Input pattern", {3: "^nuclei$"}), ["TABLE-FORMAT"]),
    ("header-schema-id-properties-block", _properties_block, []),
    ("main-sheet-not-first", _main_not_first, []),
    ("na-in-required-text-column", _set("B12", "N/A"), []),
    ("na-in-optional-obo-id-column", _set("G12", "N/A"), ["TABLE-FORMAT"]),
    ("na-in-integer-column", _set("H12", "N/A"), ["TABLE-NOT-NUMBER"]),
    ("fractional-x-in-integer-column", _set("H12", 20.5), []),
    ("labelled-separator-row", _set("A9", "[ THIS ROW MUST BE PRESENT AND EMPTY ]"), ["TABLE-LAYOUT"]),
    ("https-doi", _set("E12", "https://doi.org/10.17504/protocols.io.dm6gp35p8vzp/v1"), ["TABLE-FORMAT"]),
    ("dx-doi", _set("E12", "dx.doi.org/10.17504/protocols.io.dm6gp35p8vzp/v1"), ["TABLE-FORMAT"]),
    ("six-digit-obo-id", _set("D12", "CL:000000"), ["TABLE-FORMAT"]),
    ("number-stored-as-text", _set("H12", "30"), ["TABLE-NOT-NUMBER"]),
    ("non-ascii-text", _set("B12", "cellule-é.segmentations.ome.tiff"), ["TABLE-ENCODING"]),
    ("bad-permissible-value", _set("F12", "bad_val"), ["TABLE-NOT-PERMISSIBLE"]),
    ("permissible-value-other-case", _set("F12", "fusion"), []),
    ("single-permissible-value", _set("C7", "N/A"), ["TABLE-NOT-PERMISSIBLE"]),
    ("empty-required-cell", _set("E12", None), ["TABLE-MISSING-REQUIRED"]),
    ("whitespace-required-cell", _set("E12", "   "), ["TABLE-MISSING-REQUIRED"]),
    ("empty-optional-cell", _set("G12", None), []),
    ("recommended-is-not-required", _set_many(E8="RECOMMENDED", E12=None), []),
    ("object-id-empty", _set("A12", None), []),  # column A has no schema: CEDAR never checks it
    ("type-in-other-case-reads-as-text", _set("H1", "Integer"), []),
    ("boolean-in-integer-column", _set("H12", True), ["TABLE-NOT-NUMBER"]),
    ("number-in-obo-id-column", _set("D12", 5), ["TABLE-FORMAT"]),
    ("gap-row-inside-data", _gap_row, ["TABLE-LAYOUT"]),
    ("empty-row-inside-data", _empty_row_inside_data, ["TABLE-LAYOUT"]),
    ("two-empty-rows-inside-data", _two_empty_rows_inside_data, ["TABLE-MISSING-REQUIRED"]),
    ("formula-without-cached-value", _set("H12", "=1+1"), ["TABLE-LAYOUT"]),
    ("no-data-rows", _no_data_rows, ["TABLE-LAYOUT"]),
    ("rows-deleted-but-row-heights-kept", _delete_rows(11, 40), ["TABLE-MISSING-REQUIRED"]),
    ("only-formatted-empty-rows", lambda wb, ws, h: None, ["TABLE-MISSING-REQUIRED"]),
]


@pytest.mark.parametrize("name, edit, expected", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_variant_verdict(tmp_path, name, edit, expected):
    n = 0 if name == "only-formatted-empty-rows" else 20
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", n=n, edit=edit))
    assert codes(ingest_errors(table)) == expected


def test_fractional_x_is_a_practice_warning(tmp_path):
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", edit=_set("H12", 20.5)))
    [finding] = check_values(table).findings
    assert finding.code == "TABLE-INTEGER-FRACTION" and finding.authority is Authority.PRACTICE
    assert finding.severity is Severity.WARNING and "row 12: 20.5" in finding.message


def test_messages_use_cedar_wording_with_row_column_value(tmp_path):
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", edit=_set("H12", "30")))
    [finding] = check_values(table).findings
    assert "1 × notNumberType: Value is not a number (a number stored as text)" in finding.message
    assert "row 12, column 'X', value '30'" in finding.message and finding.fix


def test_labelled_separator_message(tmp_path):
    edit = _set("A9", "[ THIS ROW MUST BE PRESENT AND EMPTY ]")
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", edit=edit))
    [finding] = check_layout(table).findings
    assert finding.code == "TABLE-LAYOUT" and "Missing a separator row." in finding.message
    assert check_values(table).skip


def test_too_many_separator_rows(tmp_path):
    def edit(wb, ws, header):
        ws.insert_rows(1, 2)
        ws.cell(1, 1, "Header schema ID")
        ws.cell(1, 2, "x")
        ws.insert_rows(5, 1)  # an empty row inside the schema rows
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", edit=edit))
    [finding] = check_layout(table).findings
    assert "Too many separator rows." in finding.message


def test_formula_with_cached_value_is_read_as_that_value(tmp_path):
    path = fill_template(LATEST, tmp_path / "cells-objects.xlsx")
    patch_sheet(path, r'<c r="H12"[^>]*>.*?</c>', '<c r="H12"><f>10+20</f><v>30</v></c>')
    table = read_objects_table(path)
    assert findings(table) == []
    patch_sheet(path, r'<c r="B12"[^>]*>.*?</c>', '<c r="B12" t="str"><f>"a"&amp;"b"</f><v>ab</v></c>')
    assert findings(read_objects_table(path)) == []


def test_error_cell_reads_as_no_value(tmp_path):
    path = fill_template(LATEST, tmp_path / "cells-objects.xlsx")
    patch_sheet(path, r'<c r="E12"[^>]*>.*?</c>', '<c r="E12" t="e"><v>#N/A</v></c>')
    [finding] = ingest_errors(read_objects_table(path))
    assert finding.code == "TABLE-MISSING-REQUIRED" and "row 12" in finding.message


def test_rich_text_and_entities(tmp_path):
    path = fill_template(LATEST, tmp_path / "cells-objects.xlsx")
    patch_sheet(path, r'<c r="F12"[^>]*>.*?</c>',
                '<c r="F12" t="inlineStr"><is><r><t>FU</t></r><r><rPr><b/></rPr><t>SION</t></r></is></c>')
    patch_sheet(path, r'<c r="F13"[^>]*>.*?</c>', '<c r="F13" t="inlineStr"><is><t>In-&#104;ouse</t></is></c>')
    assert findings(read_objects_table(path)) == []


def test_schema_label_near_miss_warns(tmp_path):
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx",
                                             edit=_set("A8", "Requirement Level")))
    assert ingest_errors(table) == []  # no column is required any more
    messages = [f.message for f in check_layout(table).findings]
    assert any("CEDAR matches labels exactly and ignores this row" in m for m in messages)


def test_type_outside_vocabulary_is_a_schema_error(tmp_path):
    table = read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", edit=_set("F1", "category")))
    [finding] = check_layout(table).findings
    assert finding.code == "TABLE-VOCABULARY" and finding.authority is Authority.SCHEMA
    assert "Type of 'Annotation tool' is 'category' (CEDAR reads it as text)" in finding.message


def test_tsv_findings_of_ingest_rules_are_schema(tmp_path):
    path = fill_template(LATEST, tmp_path / "x.xlsx", edit=_set("E12", "https://doi.org/10.1/x"))
    table = read_objects_table(as_tsv(path, tmp_path / "cells-objects.tsv"))
    [finding] = findings(table)
    assert finding.code == "TABLE-FORMAT" and finding.authority is Authority.SCHEMA


def test_plain_tables(tmp_path):
    rows = [["Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)",
             "Annotation tool", "Object type", "X", "Y", "Z"]] + [object_row(i) for i in (1, 2)]
    tsv = tmp_path / "cells-objects.tsv"
    tsv.write_text("\n".join("\t".join(map(str, r)) for r in rows) + "\n")
    [finding] = check_layout(read_objects_table(tsv)).findings
    assert finding.code == "TABLE-LAYOUT-PLAIN" and finding.severity is Severity.WARNING
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(tmp_path / "cells-objects.xlsx")
    [finding] = check_layout(read_objects_table(tmp_path / "cells-objects.xlsx")).findings
    assert finding.code == "TABLE-LAYOUT" and finding.authority is Authority.INGEST


# --- HuBMAP's own answers (ingest-validation-tests tests/test_segmentation_mask_validator.py) --


def real_table(real_zip, name):
    root = real_zip(name)
    return read_objects_table(root / SEG / f"{name}-objects.xlsx", f"{SEG}/{name}-objects.xlsx")


def test_real_seg_mask_good_passes(real_zip):
    assert ingest_errors(real_table(real_zip, "seg_mask_good")) == []


def test_real_seg_mask_bad_file_missing_separator(real_zip):
    [finding] = ingest_errors(real_table(real_zip, "seg_mask_bad_file"))
    assert finding.code == "TABLE-LAYOUT" and "Missing a separator row." in finding.message


def test_real_seg_mask_bad_metadata_exactly_two_errors(real_zip):
    table = real_table(real_zip, "seg_mask_bad_metadata")
    required, term = ingest_errors(table)
    assert required.code == "TABLE-MISSING-REQUIRED"
    assert "1 × missingRequired" in required.message
    assert "row 10, column 'Protocol for mask creation (DOI)'" in required.message  # the first data row
    assert term.code == "TABLE-NOT-PERMISSIBLE"
    assert "1 × notStandardTerm" in term.message and "row 17, column 'Annotation tool', value 'bad_val'" in term.message


def test_real_seg_mask_empty_has_no_xlsx(real_zip):
    real_zip("seg_mask_empty")
    [finding] = check_xlsx_present([]).findings
    assert finding.message.startswith("No object by feature .XLSX files found.")
    assert finding.authority is Authority.INGEST


def test_xlsx_present_with_only_tsv():
    [finding] = check_xlsx_present([f"{SEG}/cells-objects.tsv"]).findings
    assert "The dataset's tables are TSV" in finding.message
    assert check_xlsx_present([f"{SEG}/cells-objects.xlsx"]).findings == []


@pytest.mark.parametrize("crop", ["crop400", "crop512"])
def test_real_hbm787_tables(real_zip, crop):
    root = real_zip(f"segmask_HBM787.DVDV.435_{crop}")
    glomeruli = read_objects_table(root / SEG / "glomeruli-objects.xlsx")
    # its row above the header is labelled "[ THIS ROW MUST BE PRESENT AND EMPTY ]": CEDAR rejects it
    [layout] = [f for f in check_layout(glomeruli).findings if f.authority is Authority.INGEST]
    assert "Missing a separator row." in layout.message and "row 9 above the header is labelled" in layout.message
    assert check_values(glomeruli).skip
    # the rest is still read for the schema's own checks
    assert glomeruli.rows == 371 and len(glomeruli.ids) == 371 and glomeruli.ids.max() == 389
    # the producer lists a subset of the channel's objects: missing ids warn, extra ids fail
    stats = FakeStats(range(1, 390), [[0, 0, 10**6, 10**6]] * 389)
    [finding] = check_mask_agreement(glomeruli, "glomeruli", None, stats, []).findings[-1:]
    assert finding.severity is Severity.WARNING and "18 of the 389 objects" in finding.message


# --- the checks against the mask channel -----------------------------------------------------


def _table(tmp_path, rows, unit=None, edit=None):
    def all_edits(wb, ws, header):
        if unit:
            ws["H2"] = ws["I2"] = ws["J2"] = unit
        if edit:
            edit(wb, ws, header)
    return read_objects_table(fill_template(LATEST, tmp_path / "cells-objects.xlsx", rows=rows, edit=all_edits))


def test_mask_agreement_extra_is_error_missing_is_warning(tmp_path):
    rows = [object_row(i) for i in (1, 2, 3, 10)] + [object_row(11)] * 0
    table = _table(tmp_path, rows + [object_row(i) for i in range(20, 29)])
    stats = FakeStats([1, 2, 3, 4, 5] + list(range(20, 29)), [[0, 0, 99, 99]] * 14)
    error, warning = check_mask_agreement(table, "cells", "mask.segmentations.ome.tiff", stats,
                                          ["mask.segmentations.ome.tiff"]).findings
    assert error.severity is Severity.ERROR and "1 Object ID(s) in the table are not objects" in error.message
    assert "(first 10)" in error.message
    assert warning.severity is Severity.WARNING and "2 of the 14 objects of channel 'cells' are not in the table" \
        in warning.message and "(first 4, 5)" in warning.message


def test_centroids_pixels_labelled_micrometer(tmp_path):
    rows = [object_row(i) for i in range(1, 21)]
    stats = FakeStats(range(1, 21), [[19 + i, 9 + i, 21 + i, 11 + i] for i in range(1, 21)])
    table = _table(tmp_path, rows, unit="micrometer")
    [finding] = check_centroids(table, "cells", stats, (1, 4000, 4000), (0.25, 0.25, None)).findings
    assert "the Unit row says micrometer/micrometer, but the values are pixel positions" in finding.message
    assert finding.fix.startswith("write 'pixel' in the Unit row")


def test_centroids_micrometres_converted(tmp_path):
    rows = [[i, *object_row(i)[1:7], (10 + i) * 0.5, (20 + i) * 0.5, 0] for i in range(1, 21)]
    stats = FakeStats(range(1, 21), [[19 + i, 9 + i, 21 + i, 11 + i] for i in range(1, 21)])
    table = _table(tmp_path, rows, unit="µm", edit=_set_many(H1="float", I1="float"))
    assert check_centroids(table, "cells", stats, (1, 100, 100), (0.5, 0.5, None)).findings == []
    # nanometre pixels: 0.5 µm = 500 nm per pixel, converted by the caller
    assert check_centroids(table, "cells", stats, (1, 100, 100), (1e-3 * 500, 0.5, None)).findings == []


def test_centroids_outside_image_and_box_and_z(tmp_path):
    rows = [object_row(1), object_row(2)]
    rows[1][7] = 5000  # X
    rows[0][9] = 7  # Z outside the object's planes
    table = _table(tmp_path, rows)
    stats = FakeStats([1, 2], [[20, 10, 22, 12], [21, 11, 23, 13]], z_range=[[0, 1], [0, 1]])
    messages = [f.message for f in check_centroids(table, "cells", stats, (3, 100, 100), (1, 1, 1)).findings]
    [outside] = messages
    assert "2 centroid(s) outside the 100 × 100 × 3 px image" in outside
    assert "row 12 id 2 at (5000, 22, 0)" in outside and "row 11 id 1 at (11, 21, 7)" in outside


def test_pairing():
    [finding] = check_channel_table("tubules", "m.segmentations.ome.tiff", [f"{SEG}/cells-objects.xlsx"],
                                    ("-objects.xlsx",)).findings
    assert finding.severity is Severity.WARNING
    [finding] = check_table_channel("nope-objects.xlsx", f"{SEG}/nope-objects.xlsx", ["cells"]).findings
    assert finding.severity is Severity.ERROR and finding.code == "TABLE-PAIRING"


def test_java_str():
    assert [java_str(v) for v in (1.0, 20.5, True, "x", 1e20, 1e-5)] == [
        "1", "20.5", "true", "x", "2147483647", "1.0E-5"]


# --- the fixtures generator writes the official layouts ------------------------------------


@pytest.mark.parametrize("template, header_row", [("newer", 10), ("older", 9)])
@pytest.mark.parametrize("fmt", ["xlsx", "tsv"])
def test_generator_writes_the_template_layouts(tmp_path, template, header_row, fmt):
    from fixtures_generator import DatasetSpec, MaskSpec, write_dataset

    out = write_dataset(DatasetSpec(masks=(MaskSpec(),), template=template, table_format=fmt), tmp_path / "ds")
    table = read_objects_table(out / SEG / f"cells-objects.{fmt}")
    assert findings(table) == [] and table.layout == "template" and table.header_row == header_row
    assert ("Alternative ID" in table.schema_rows) == (template == "newer")
    assert table.rows == 12 and len(table.ids) == 12


def test_generator_fills_the_official_template_file(tmp_path):
    from fixtures_generator import DatasetSpec, MaskSpec, write_dataset

    spec = DatasetSpec(masks=(MaskSpec(),), template_file=str(need(LATEST)))
    out = write_dataset(spec, tmp_path / "ds")
    table = read_objects_table(out / SEG / "cells-objects.xlsx")
    assert findings(table) == [] and table.header_row == 10 and table.rows == 12
    assert table.columns[-1] == "Area" and table.validated[-1].type == "integer"
