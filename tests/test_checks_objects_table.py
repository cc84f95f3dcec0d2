"""Objects tables: real HuBMAP tables, and bad input that must end as findings."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest
from openpyxl import Workbook

from fixtures_generator import DatasetSpec, MaskSpec, write_dataset
from fixtures_generator.writer import HEADER, template_rows
from pytest_segmask.checks.channel_stats import ChannelStats
from pytest_segmask.checks.objects_table import (
    check_centroids,
    check_columns,
    check_ids,
    check_layout,
    check_mask_agreement,
    check_values,
    read_objects_table,
)

SEG = "derived/segmentation_masks"


def codes(result):
    return [f.code for f in result.findings]


def workbook(path, rows, merge=None, far_styled_row=None):
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    if merge:
        ws.merge_cells(merge)
    if far_styled_row:
        from openpyxl.styles import Font

        ws.cell(row=far_styled_row, column=1).font = Font(bold=True)
    wb.save(path)
    return path


def template_table(rows_after_header):
    return template_rows("older") + [HEADER] + rows_after_header


ROW = [1, "s.segmentations.ome.tiff", "cells", "CL:0000000", "10.5281/zenodo.1", "FUSION", "CL:0000000", 1.0, 2.0, 0, 5]


def test_generated_tables_pass(tmp_path):
    out = write_dataset(DatasetSpec(masks=(MaskSpec(),)), tmp_path / "ds")
    table = read_objects_table(out / SEG / "cells-objects.xlsx")
    for check in (check_layout, check_columns, check_values, check_ids):
        assert check(table).findings == [], check.__name__
    assert table.layout == "newer" and table.rows == 12


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"this is text", "is not an .xlsx workbook (not a zip file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "is an encrypted workbook or a legacy .xls file"),
        (b"PK\x03\x04garbage", "cannot be read as a workbook"),
    ],
)
def test_not_a_workbook(tmp_path, content, fragment):
    path = tmp_path / "cells-objects.xlsx"
    path.write_bytes(content)
    table = read_objects_table(path)
    [finding] = check_layout(table).findings
    assert finding.code == "TABLE-READ" and fragment in finding.message
    assert check_values(table).skip


def test_macro_workbook(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", template_table([ROW]))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/vbaProject.bin", b"macro")
    [finding] = check_layout(read_objects_table(path)).findings
    assert finding.code == "TABLE-READ" and "contains macros" in finding.message


def test_empty_sheet(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", [])
    [finding] = check_layout(read_objects_table(path)).findings
    assert finding.code == "TABLE-LAYOUT" and "the sheet is empty" in finding.message


def test_merged_header_cells(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", template_table([ROW]), merge="A9:C9")
    table = read_objects_table(path)
    [finding] = check_columns(table).findings
    assert finding.code == "TABLE-COLUMNS"
    assert "'Source file', 'Mask name'" in finding.message and "row 9" in finding.message


def test_million_empty_formatted_rows_are_cut_short(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", template_table([ROW]), far_styled_row=1_000_000)
    start = time.perf_counter()
    table = read_objects_table(path)
    assert time.perf_counter() - start < 10
    assert table.rows == 1 and table.trailing_ignored
    assert "trailing empty rows ignored" in check_layout(table).notes[0]


def test_formulas_instead_of_values(tmp_path):
    row = list(ROW)
    row[7] = "=1+1"
    path = workbook(tmp_path / "cells-objects.xlsx", template_table([row]))
    [finding] = check_values(read_objects_table(path)).findings
    assert finding.code == "TABLE-VALUES" and "formula(s) instead of values: row 10 X = `=1+1`" in finding.message


@pytest.mark.parametrize("data, fragment", [(b"Object ID\tX\n\xe9t\xe9\t1\n", "is not UTF-8 text"),
                                            (b"Object ID\tX\n1\t\x002\n", "binary bytes (NUL)")])
def test_tsv_bad_bytes(tmp_path, data, fragment):
    path = tmp_path / "cells-objects.tsv"
    path.write_bytes(data)
    [finding] = check_layout(read_objects_table(path)).findings
    assert finding.code == "TABLE-READ" and fragment in finding.message


def test_integer_ids_as_text_accepted_and_types(tmp_path):
    rows = [list(ROW), list(ROW)]
    rows[0][0] = "7"
    rows[1][0] = 8
    rows[1][9] = "zero"  # Z is an integer column
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", template_table(rows)))
    assert check_ids(table).findings == []
    [finding] = check_values(table).findings
    assert "row 11 Z = `zero` is not integer" in finding.message


def _stats(ids, boxes):
    ids = np.asarray(ids, dtype=np.int64)
    return ChannelStats(ids=ids, counts=np.ones(len(ids), np.int64), centroid_x=np.zeros(len(ids)),
                        centroid_y=np.zeros(len(ids)), bbox=np.asarray(boxes, dtype=np.int64).reshape(-1, 4),
                        n_pixels=100, background_pixels=90)


def test_mask_agreement_counts_and_first_ids(tmp_path):
    rows = []
    for oid in (1, 2, 3, 10):
        row = list(ROW)
        row[0] = oid
        rows.append(row)
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", template_table(rows)))
    result = check_mask_agreement(table, "cells", "s.segmentations.ome.tiff", _stats([1, 2, 3, 4, 5], [[0, 0, 5, 5]] * 5),
                                  ["s.segmentations.ome.tiff"])
    [finding] = result.findings
    assert ("the table lists 4, the mask holds 5; 2 id(s) in the mask but not in the table (first 4, 5); "
            "1 id(s) in the table but not in the mask (first 10)") in finding.message


def test_centroids_in_micrometers(tmp_path):
    rows = template_rows("older") + [HEADER, list(ROW)]
    rows[1][7] = rows[1][8] = "micrometer"  # the Unit row for X and Y
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", rows))
    inside = check_centroids(table, "cells", _stats([1], [[3, 1, 5, 3]]), (10, 10), (0.5, 0.5))
    assert inside.findings == []  # (1 µm, 2 µm) = pixel (2, 4): inside x 1–3, y 3–5
    outside = check_centroids(table, "cells", _stats([1], [[3, 1, 5, 3]]), (10, 10), (0.1, 0.1))
    [finding] = outside.findings
    assert "outside the 10 × 10 px image" in finding.message
    assert "row 10 id 1 at (1, 2) (micrometer)" in finding.message


def real_table(real_zip, name, table):
    root = real_zip(name)
    return read_objects_table(root / SEG / table, f"{SEG}/{table}")


def test_real_bad_file_fails_layout(real_zip):
    table = real_table(real_zip, "seg_mask_bad_file", "seg_mask_bad_file-objects.xlsx")
    [finding] = check_layout(table).findings
    assert finding.code == "TABLE-LAYOUT"
    assert "no header row starting with `Object ID`" in finding.message and "row 1 starts with `bad`" in finding.message


def test_real_bad_metadata_fails_on_empty_cell_and_bad_val(real_zip):
    table = real_table(real_zip, "seg_mask_bad_metadata", "seg_mask_bad_metadata-objects.xlsx")
    assert check_layout(table).findings == []
    messages = [f.message for f in check_values(table).findings]
    assert any("REQUIRED cell(s) empty: row 10 Protocol for mask creation (DOI) is empty" in m for m in messages)
    assert any("row 17 Annotation tool = `bad_val` is not one of" in m for m in messages)


def test_real_good_table_passes(real_zip):
    table = real_table(real_zip, "seg_mask_good", "seg_mask_good-objects.xlsx")
    for check in (check_layout, check_columns, check_values, check_ids):
        assert check(table).findings == [], check.__name__


@pytest.mark.parametrize("crop", ["crop400", "crop512"])
def test_real_hbm787_crop_tables_fail_mask_agreement_plainly(pytester, real_zip, crop):
    root = real_zip(f"segmask_HBM787.DVDV.435_{crop}")
    masks = list((root / SEG).glob("*.ome.tiff"))
    # the crops' masks are named like `…segmentations_crop400_pyramid.ome.tiff`; the tables'
    # Source file says `H14-12555_1L_PAS.segmentations.ome.tiff`: use that name
    masks[0].rename(root / SEG / "H14-12555_1L_PAS.segmentations.ome.tiff")
    result = pytester.runpytest(f"--segmask-dataset={root}", "-k", "mask-agreement", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*glomeruli-objects.xlsx: the mask channel 'glomeruli' holds no objects, but the table lists 371*",
        "*tubules-objects.xlsx: the mask channel 'tubules' holds no objects, but the table lists 35146*",
    ])
