"""segmentation-masks.csv: the real file, and bad input as findings."""

from __future__ import annotations

import pytest
from conftest import REAL_DATA

from pytest_segmask.checks.segmentation_masks_csv import check_num_objects, check_rows, read_rows

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
