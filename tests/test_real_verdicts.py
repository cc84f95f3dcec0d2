"""HuBMAP's own material through the whole plugin, with the verdict expected in each profile.

- ingest-validation-tests' `tests/test_segmentation_mask_validator.py` records CEDAR's answers
  for the objects tables of its `seg_mask_good`, `seg_mask_bad_file` and `seg_mask_bad_metadata`
  datasets: PASSED; "Missing a separator row."; exactly `missingRequired` on
  'Protocol for mask creation (DOI)' in the first data row and `notStandardTerm` for `bad_val`
  in 'Annotation tool'. Under `--segmask-profile=ingest` the table items give the same answers.
  (Those folders hold only a table, so their directory items are not part of that test.)
- The real kidney dataset HBM787 (two crops): expected outcomes written out per profile.
"""

from __future__ import annotations

import json

import pytest

SEG = "/derived/segmentation_masks/"


def run(pytester, root, *args):
    reprec = pytester.inline_run(f"--segmask-dataset={root}", "-p", "no:cacheprovider", *args)
    outcomes, findings = {}, {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            nodeid = report.nodeid
            rel = nodeid[nodeid.index(SEG):] if SEG in nodeid else nodeid[nodeid.index("::"):]
            outcomes[rel] = report.outcome
            props = dict(report.user_properties)
            findings[rel] = json.loads(props.get("findings", "[]"))
    return outcomes, findings


def failed(outcomes):
    return sorted(k for k, v in outcomes.items() if v == "failed")


def test_seg_mask_good_table_passes_under_ingest(pytester, real_zip):
    root = real_zip("seg_mask_good")
    outcomes, _ = run(pytester, root, "--segmask-profile=ingest", "-k", "objects.xlsx")
    assert outcomes and not failed(outcomes)


def test_seg_mask_bad_file_is_missing_a_separator_row(pytester, real_zip):
    root = real_zip("seg_mask_bad_file")
    outcomes, findings = run(pytester, root, "--segmask-profile=ingest", "-k", "objects.xlsx")
    layout = SEG + "seg_mask_bad_file-objects.xlsx::layout"
    assert failed(outcomes) == [layout]
    assert [f["code"] for f in findings[layout] if f["outcome"] == "fail"] == ["TABLE-LAYOUT"]
    assert "Missing a separator row." in findings[layout][0]["message"]


def test_seg_mask_bad_metadata_gives_exactly_cedars_two_errors(pytester, real_zip):
    root = real_zip("seg_mask_bad_metadata")
    outcomes, findings = run(pytester, root, "--segmask-profile=ingest", "-k", "objects.xlsx")
    values = SEG + "seg_mask_bad_metadata-objects.xlsx::values"
    assert failed(outcomes) == [values]
    errors = [f for f in findings[values] if f["outcome"] == "fail"]
    assert sorted(f["code"] for f in errors) == ["TABLE-MISSING-REQUIRED", "TABLE-NOT-PERMISSIBLE"]
    missing = next(f for f in errors if f["code"] == "TABLE-MISSING-REQUIRED")
    assert "missingRequired" in missing["message"] and "Protocol for mask creation (DOI)" in missing["message"]
    assert "row 10" in missing["message"]  # the first data row, as Excel numbers it
    term = next(f for f in errors if f["code"] == "TABLE-NOT-PERMISSIBLE")
    assert "notStandardTerm" in term["message"] and "bad_val" in term["message"]


MASK = {"crop400": "H14-12555_1L_PAS.segmentations_crop400_pyramid.ome.tiff",
        "crop512": "H14-12555_1L_PAS.segmentations_crop512.ome.tiff"}
TABLES = ("arteries-arterioles", "glomeruli", "tubules")
CHANNELS = ("cortical-interstitium", "medullary-interstitium", "glomeruli", "tubules", "arteries-arterioles")


def hbm787_expected(crop: str, profile: str) -> list[str]:
    """What each profile fails on the HBM787 crops, and why:
    - ingest: the mask is named `…_crop400_pyramid.ome.tiff` (the directory pattern wants
      `.segmentations.ome.tiff`), and every table has the labelled separator row, which CEDAR
      rejects ("Missing a separator row.");
    - hubmap adds: the crops contain no objects while the tables list the whole slide's objects
      (ids not in the channel; centroids outside the crop), and segmentation-masks.csv's Source
      file names the uncropped mask;
    - strict adds: empty channels, the two whole-region channels without tables, strips instead
      of tiles, and (crop512) a missing pyramid on a small image."""
    items = ["::dirschema::required:mask-image"] + [f"{SEG}{t}-objects.xlsx::layout" for t in TABLES]
    if profile in ("hubmap", "strict"):
        items += [f"{SEG}{t}-objects.xlsx::{check}" for t in TABLES for check in ("mask-agreement", "centroids")]
        items += [f"{SEG}segmentation-masks.csv::rows"]
    if profile == "strict":
        mask = SEG + MASK[crop]
        items += [f"{mask}::layout"] + [f"{mask}::channel:{c}::labels" for c in CHANNELS]
        items += [f"{mask}::channel:{c}::objects-table" for c in CHANNELS[:2]]
        if crop == "crop512":
            items += [f"{mask}::pyramid"]
    return sorted(items)


@pytest.mark.parametrize("profile", ["ingest", "hubmap", "strict"])
@pytest.mark.parametrize("crop", ["crop400", "crop512"])
def test_hbm787_crops_per_profile(pytester, real_zip, crop, profile):
    root = real_zip(f"segmask_HBM787.DVDV.435_{crop}")
    outcomes, findings = run(pytester, root, f"--segmask-profile={profile}")
    assert failed(outcomes) == hbm787_expected(crop, profile)
    # the misnamed mask is still checked as the mask: its channel items ran
    assert outcomes[f"{SEG}{MASK[crop]}::channel:glomeruli::labels"] in ("passed", "failed")
    # whole-region channels without a table warn (schema says one table per mask, HBM787 has none)
    pairing = findings[f"{SEG}{MASK[crop]}::channel:cortical-interstitium::objects-table"]
    assert [f["code"] for f in pairing] == ["TABLE-PAIRING"]
