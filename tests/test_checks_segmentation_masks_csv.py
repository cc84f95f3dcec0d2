"""segmentation-masks.csv: the real file, and bad input as findings."""

from __future__ import annotations

import pytest
from conftest import REAL_DATA

from pytest_segmask.checks.segmentation_masks_csv import check_num_objects, check_present, check_rows, read_rows

MASK = "H14-12555_1L_PAS.segmentations.ome.tiff"
CHANNELS = ["cortical-interstitium", "medullary-interstitium", "glomeruli", "tubules", "arteries-arterioles"]


def real_csv():
    path = REAL_DATA / "ome-samples" / "hubmap-ingest-validation-tests" / "segmentation-masks.csv"
    if not path.exists():
        pytest.skip(f"real data absent: {path}")
    return path


def test_real_csv_rows_match_the_real_channels():
    assert check_rows(read_rows(real_csv()), "segmentation-masks.csv", {MASK: CHANNELS}, [MASK]).findings == []


def test_real_csv_counts_against_the_empty_crop():
    counts = {(MASK, name): 0 for name in CHANNELS}
    [finding] = check_num_objects(read_rows(real_csv()), "segmentation-masks.csv", counts).findings
    assert finding.code == "CSV-NUM-OBJECTS"
    assert "line 5 ('tubules'): Num objects `35164`, the channel holds 0" in finding.message


def test_channel_order_and_names(tmp_path):
    path = tmp_path / "segmentation-masks.csv"
    path.write_text(
        "Channel number,Mask name,Source file,Ontology abbreviation,Ontology ID,Protocol,Is entire image masked,Num objects\n"
        "1,nuclei,m.segmentations.ome.tiff,GO,5634,10.1/x,No,3\n"
        "0,cells,m.segmentations.ome.tiff,CL,0,10.1/x,No,\n", encoding="utf-8")
    [finding] = check_rows(read_rows(path), "csv", {"m.segmentations.ome.tiff": ["cells", "nuclei"]},
                           ["m.segmentations.ome.tiff"]).findings
    assert finding.code == "CSV-ROWS"
    assert "line 2: Channel number `1`, expected 0 (0-based, in order)" in finding.message
    assert "line 2: Mask name `nuclei` but channel 0 is named 'cells'" in finding.message
    [count] = check_num_objects(read_rows(path), "csv", {("m.segmentations.ome.tiff", "cells"): (4, 4)}).findings
    assert count.message == "csv: 1 wrong count(s): line 3 ('cells'): Num objects is empty"


@pytest.mark.parametrize("data, fragment", [(b"\xff\xfe\x00garbage", "not UTF-8 text"),
                                            (b"a,b\n1,2\n", "header lacks 'Channel number'")])
def test_bad_files(tmp_path, data, fragment):
    path = tmp_path / "segmentation-masks.csv"
    path.write_bytes(data)
    [finding] = check_rows(read_rows(path), "csv", {}, []).findings
    assert finding.code == "CSV-ROWS" and fragment in finding.message
    assert check_num_objects(read_rows(path), "csv", {}).skip


# --- Num objects: distinct count or max id, and which one holds ------------------------------

from pytest_segmask.checks.segmentation_masks_csv import HEADER  # noqa: E402

M1 = "m.segmentations.ome.tiff"


def write(tmp_path, rows, header=",".join(HEADER)):
    path = tmp_path / "segmentation-masks.csv"
    path.write_text(header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8")
    return read_rows(path)


def row(number, name, count, source=M1, extra="CL,0000000,10.1/x,No"):
    return f"{number},{name},{source},{extra},{count}"


def test_num_objects_distinct_or_max_id_says_which_holds(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 12), row(1, "nuclei", 389), row(2, "vessels", 7)])
    counts = {(M1, "cells"): (12, 12), (M1, "nuclei"): (371, 389), (M1, "vessels"): (7, 30)}
    result = check_num_objects(parsed, "csv", counts)
    assert result.findings == []
    assert result.notes == [
        "Num objects = the distinct id count, which is also the maximum id for 1 channel(s): 'cells'",
        "Num objects = the distinct id count for 1 channel(s): 'vessels'",
        "Num objects = the maximum id (ids are not contiguous) for 1 channel(s): 'nuclei'",
    ]


def test_num_objects_neither_count(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 13), row(1, "nuclei", "x1"), row(2, "vessels", "")])
    counts = {(M1, "cells"): (12, 14), (M1, "nuclei"): (3, 3), (M1, "vessels"): (1, 1)}
    [finding] = check_num_objects(parsed, "csv", counts).findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("CSV-NUM-OBJECTS", "error", "practice")
    assert finding.message == (
        "csv: 3 wrong count(s): line 2 ('cells'): Num objects `13`, the channel holds 12 distinct id(s) "
        "with maximum id 14; line 3 ('nuclei'): Num objects `x1` is not a whole number; "
        "line 4 ('vessels'): Num objects is empty")
    assert finding.fix == "write the number of distinct object ids of each channel (or its maximum id)"


def test_num_objects_with_a_bare_distinct_count(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 12)])
    assert check_num_objects(parsed, "csv", {(M1, "cells"): 12}).findings == []
    [finding] = check_num_objects(parsed, "csv", {(M1, "cells"): 11}).findings
    assert finding.message == "csv: 1 wrong count(s): line 2 ('cells'): Num objects `12`, the channel holds 11 distinct id(s)"


def test_num_objects_without_its_column_skips(tmp_path):
    parsed = write(tmp_path, ["0,cells," + M1], header="Channel number,Mask name,Source file")
    assert check_num_objects(parsed, "csv", {(M1, "cells"): (1, 1)}).skip == "csv has no `Num objects` column (see its rows item)"


def test_num_objects_without_decoded_channels(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 12)])
    assert check_num_objects(parsed, "csv", {}).notes == ["no decoded channel to compare (0 given)"]


def test_num_objects_cap_counts_the_rest(tmp_path):
    names = [f"c{i}" for i in range(8)]
    parsed = write(tmp_path, [row(i, n, 99) for i, n in enumerate(names)])
    [finding] = check_num_objects(parsed, "csv", {(M1, n): (1, 1) for n in names}).findings
    assert finding.message.startswith("csv: 8 wrong count(s): line 2 ('c0'): Num objects `99`")
    assert finding.message.endswith("line 6 ('c4'): Num objects `99`, the channel holds 1 distinct id(s) with maximum id 1 … (+3 more)")


# --- rows (schema) and header (practice) -------------------------------------------------------


def test_correct_rows_pass_with_a_note(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 1), row(1, "nuclei", 1)])
    result = check_rows(parsed, "csv", {M1: ["cells", "nuclei"]}, [M1])
    assert result.findings == [] and result.notes == ["2 row(s), one per channel"]


def test_rows_cap_exceeded_counts_the_rest(tmp_path):
    names = [f"c{i}" for i in range(7)]
    parsed = write(tmp_path, [row(i, "wrong", 1) for i in range(7)])
    [finding] = check_rows(parsed, "csv", {M1: names}, [M1]).findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("CSV-ROWS", "error", "schema")
    assert finding.message == (
        "csv: 7 problem(s): line 2: Mask name `wrong` but channel 0 is named 'c0'; "
        "line 3: Mask name `wrong` but channel 1 is named 'c1'; line 4: Mask name `wrong` but channel 2 is named 'c2'; "
        "line 5: Mask name `wrong` but channel 3 is named 'c3'; line 6: Mask name `wrong` but channel 4 is named 'c4' "
        "… (+2 more)")


def test_rows_source_file_and_row_count(tmp_path):
    parsed = write(tmp_path, [row(0, "cells", 1, source="other.ome.tiff"), row("", "", 1)])
    [finding] = check_rows(parsed, "csv", {M1: ["cells"]}, [M1]).findings
    assert finding.message == (
        "csv: 4 problem(s): line 2: Source file `other.ome.tiff` is not a mask image here; "
        "line 3: Channel number, Mask name empty; line 3: Channel number ``, expected 0 (0-based, in order); "
        "line 3: Mask name `` but channel 0 is named 'cells'")
    parsed = write(tmp_path, [row(0, "cells", 1)])
    [finding] = check_rows(parsed, "csv", {M1: ["cells", "nuclei"]}, [M1]).findings
    assert finding.message == "csv: 1 problem(s): 1 row(s) for `m.segmentations.ome.tiff`, which has 2 channel(s)"


def test_header_and_layout_are_practice(tmp_path):
    header = "Mask name,Channel number,Source file,Ontology ID,Protocol,Is entire image masked,Num objects,Extra"
    parsed = write(tmp_path, ["cells,0," + M1 + ",,10.1/x,No,3,e", "nuclei,1," + M1 + ",1,2"], header=header)
    result = check_rows(parsed, "csv", {M1: ["cells", "nuclei"]}, [M1])
    [finding] = result.findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("CSV-HEADER", "error", "practice")
    assert finding.message == (
        "csv: 4 layout problem(s): the header is `" + header + "`, not `" + ",".join(HEADER) + "`; "
        "line 3 has 5 cell(s) for 8 columns; line 2: Ontology ID empty; "
        "line 3: Is entire image masked empty")
    assert finding.fix == f"use the header {','.join(HEADER)} and fill every cell"


def test_missing_correspondence_column_is_a_rows_error(tmp_path):
    parsed = write(tmp_path, ["0," + M1], header="Channel number,Source file")
    [finding] = check_rows(parsed, "csv", {M1: ["cells"]}, [M1]).findings
    assert finding.code == "CSV-ROWS"
    assert finding.message == "csv: header lacks 'Mask name' (found Channel number, Source file)"


def test_present_rule_is_a_schema_warning():
    [finding] = check_present("derived/segmentation_masks/segmentation-masks.csv").findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("CSV-PRESENT", "warning", "schema")
    assert finding.message == ("`derived/segmentation_masks/segmentation-masks.csv` is absent; it documents "
                               "the class of objects in each mask channel")


def test_empty_and_nul_files(tmp_path):
    path = tmp_path / "segmentation-masks.csv"
    path.write_bytes(b"")
    assert read_rows(path).error == "the file is empty"
    path.write_bytes(",".join(HEADER).encode() + b"\n0,a\x00,m,a,b,c,No,1\n")
    assert read_rows(path).error == "line 2 holds binary bytes (NUL)"
