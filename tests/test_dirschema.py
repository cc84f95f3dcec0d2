"""Directory-schema verdicts per version, on the tricky layouts (pure functions)."""

from __future__ import annotations

import os

import pytest
from conftest import make_tree

from pytest_segmask import dirschema
from pytest_segmask.findings import Severity
from pytest_segmask.rules import Authority
from pytest_segmask.dirschema import (
    VERSIONS,
    check_not_allowed,
    check_required,
    choose_version,
    evaluate,
    list_dataset,
    version_key,
)

M = "derived/segmentation_masks/"
BASE = ["derived/extras/", M + "sample.segmentations.ome.tiff", M + "cells-objects.xlsx"]
WITH_EXTRAS = ["extras/"] + BASE
ALL = set(VERSIONS)


def passing_versions(root, globs=(".*",)):
    listing = list_dataset(root)
    return {v for v in VERSIONS if evaluate(listing, v, list(globs)).passes}


@pytest.mark.parametrize(
    "entries, expected",
    [
        pytest.param(WITH_EXTRAS, ALL - {"2.0", "2.1"}, id="valid-2.2+"),
        pytest.param(BASE, {"2.0", "2.1"}, id="no-extras-is-2.0-2.1"),
        pytest.param(
            ["extras/"] + BASE[:2] + [M + "cells-objects.tsv"],
            {"2.2", "2.3", "2.7"}, id="tsv-2.3-and-2.7-not-2.4-2.6",
        ),
        pytest.param(
            ["extras/", "derived/extras/", M + "s.segmentations.ome.tif", M + "c-objects.xlsx"],
            {"2.5"}, id="ome.tif-only-2.5",
        ),
        pytest.param(
            ["derived/extras/", M + "s.segmentationsXomeXtiff", M + "c-objects.xlsx"],
            {"2.0"}, id="unescaped-dots-of-2.0",
        ),
        pytest.param(
            ["extras/"] + BASE[:2] + [M + "cells-objects.xlsx", ".DS_Store", ".git/config"],
            ALL - {"2.0", "2.1"}, id="hidden-files-ignored",
        ),
        pytest.param(WITH_EXTRAS + ["README.txt"], set(), id="stray-top-level-file"),
        pytest.param(
            WITH_EXTRAS + [M + "sub/other.segmentations.ome.tiff"],
            ALL - {"2.0", "2.1"}, id="subfolder-allowed-under-derived",
        ),
        pytest.param(
            ["extras/", "derived/extras/", M + "s.segmentations.OME.TIFF", M + "c-objects.xlsx"],
            set(), id="case-sensitive",
        ),
        pytest.param(
            ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + "c-objects.csv"],
            set(), id="csv-table",
        ),
        pytest.param(
            ["extras/x.txt", "derived/extras/y.json", M + "s.segmentations.ome.tiff",
             M + "c-objects.xlsx"],
            ALL - {"2.0", "2.1"}, id="folders-with-files",
        ),
        pytest.param(
            ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + "c-objects.xlsx",
             M + "transformations/", M + "c-mesh.glb", M + "c-centroid-adjacency.csv"],
            ALL - {"2.0", "2.1"}, id="optional-companions",
        ),
    ],
)
def test_versions_that_pass(tmp_path, entries, expected):
    make_tree(tmp_path / "ds", entries)
    assert passing_versions(tmp_path / "ds") == expected


def test_listing_semantics(tmp_path):
    root = make_tree(
        tmp_path / "ds",
        [
            "extras/",
            "derived/extras/sub/",  # derived/extras holds no files directly
            "derived/segmentation_masks/a.txt",
            "elsewhere/real.txt",
            "dirlink -> elsewhere",
            "dangling -> nowhere",
            "derived/segmentation_masks/filelink.txt -> a.txt",
        ],
    )
    paths = list_dataset(root).paths
    assert "extras/" in paths
    assert "derived/extras/sub/" in paths
    assert "derived/extras/" in paths  # holds only a subfolder, no files directly
    assert "derived/segmentation_masks/" not in paths  # holds files
    assert "dangling" in paths  # dangling symlinks are listed like files
    assert "derived/segmentation_masks/filelink.txt" in paths
    assert not any(p.startswith("dirlink") for p in paths)  # dir symlinks neither listed nor followed
    assert all(not p.startswith("./") for p in paths)


def test_derived_holding_only_folders_is_listed(tmp_path):
    root = make_tree(tmp_path / "ds", ["derived/a/x.txt"])
    assert "derived/" in list_dataset(root).paths


def test_symlinked_dir_does_not_count(tmp_path):
    real = make_tree(tmp_path / "real", ["x.segmentations.ome.tiff"])
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + "c-objects.xlsx"])
    os.symlink(real, root / M / "linked")
    assert passing_versions(root) == set()


def test_ignore_globs(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS + ["notes.bak", ".hidden/x"])
    assert passing_versions(root) == set()
    assert passing_versions(root, (".*", "*.bak")) == ALL - {"2.0", "2.1"}
    # without the default '.*', hidden files are not allowed either
    assert passing_versions(root, ("*.bak",)) == set()


def test_prefix_bug_not_copied(tmp_path):
    # The reference validator's global string replace turns `extras` into `extrs` under a root
    # named `a`; the listing must use real relative paths.
    root = make_tree(tmp_path / "a", WITH_EXTRAS)
    assert passing_versions(root) == ALL - {"2.0", "2.1"}


def test_auto_picks_highest_passing_version(tmp_path):
    root = make_tree(tmp_path / "ds", ["extras/"] + BASE[:2] + [M + "c-objects.tsv"])
    listing = list_dataset(root)
    choice = choose_version(listing, "auto", [".*"])
    assert (choice.version, choice.validates) == ("2.7", True)
    assert choice.passing_versions == ["2.2", "2.3", "2.7"]
    assert choice.header("ds") == "segmask: ds validates as segmentation-mask-v2.7"
    fixed = choose_version(listing, "2.5", [".*"])
    assert (fixed.version, fixed.validates) == ("2.5", False)


def test_auto_reports_highest_when_none_passes(tmp_path):
    root = make_tree(tmp_path / "ds", ["stray.txt"])
    choice = choose_version(list_dataset(root), "auto", [".*"])
    assert (choice.version, choice.validates) == ("2.7", False)
    assert choice.header("ds") == "segmask: ds fails every version; checked against v2.7"


def test_natural_version_order():
    assert version_key("2.10") > version_key("2.9")
    assert sorted(["2.10", "2.9", "2.1"], key=version_key) == ["2.1", "2.9", "2.10"]


def test_schema_is_one_table():
    keys = [p.key for p in dirschema.SCHEMA]
    assert len(keys) == len(set(keys)) == 10
    assert [p.key for p in dirschema.patterns_for("2.0")] == keys[1:]
    assert [p.key for p in dirschema.patterns_for("2.7")] == keys


def _missing_message(root, key, version="auto"):
    listing = list_dataset(root)
    choice = choose_version(listing, version, [".*"])
    result = check_required(listing, choice, key)
    assert len(result.errors) == 1, result
    finding = result.errors[0]
    assert finding.code == "DIR-REQUIRED"
    return finding.message, finding.fix


@pytest.mark.parametrize(
    "name, version, fragment",
    [
        ("s.segmentations_crop512.ome.tiff", "auto",
         "is named like a mask image but does not end in `.segmentations.ome.tiff`"),
        ("s.segmentations.OME.TIFF", "auto", "differs only in letter case"),
        ("sub/s.segmentations.ome.tiff", "auto",
         "is not directly in `derived/segmentation_masks/`, where the mask image must sit "
         "(move it to `derived/segmentation_masks/s.segmentations.ome.tiff`)"),
        ("s.segmentations.ome.tif", "2.7",
         "ends in `.ome.tif`; version 2.7 wants `.segmentations.ome.tiff` (only 2.5 accepts `.tif`)"),
    ],
)
def test_mask_near_misses(tmp_path, name, version, fragment):
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + name, M + "c-objects.xlsx"])
    message, fix = _missing_message(root, "mask-image", version)
    assert "required but missing: the mask image, a file named " in message
    assert "`derived/segmentation_masks/<name>.segmentations.ome.tiff`" in message
    assert f"`{M}{name}`" in message
    assert fragment in message
    assert fix == "rename or move the near-miss file(s) as described above"


@pytest.mark.parametrize(
    "name, version, fragment",
    [
        ("c-objects.csv", "auto",
         "is a `.csv` file; version 2.7 accepts `.xlsx` or `.tsv` for objects tables "
         "(save it as `c-objects.xlsx`)"),
        ("c-objects.tsv", "2.5",
         "is a `.tsv` file; version 2.5 accepts `.xlsx` for objects tables"),
        ("tables/c-objects.xlsx", "auto", "is not directly in `derived/segmentation_masks/`, where an objects table must sit"),
        ("c-objects.XLSX", "auto", "differs only in letter case"),
    ],
)
def test_table_near_misses(tmp_path, name, version, fragment):
    root = make_tree(
        tmp_path / "ds", ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + name]
    )
    message, _ = _missing_message(root, "objects-table", version)
    assert f"`{M}{name}`" in message
    assert fragment in message


def test_missing_folder_message(tmp_path):
    root = make_tree(tmp_path / "ds", BASE)
    message, fix = _missing_message(root, "extras-folder", "2.7")
    assert message.startswith("required but missing: the top-level extras folder, a folder `extras/`")
    assert "pattern `extras\\/.*`" in message
    assert fix == "create `extras/` (it may be empty)"


def test_not_allowed_message_names_paths_and_fix(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS + ["metadata.tsv", "x.segmentations.ome.tiff"])
    listing = list_dataset(root)
    choice = choose_version(listing, "auto", [".*"])
    [finding] = check_not_allowed(listing, choice, [".*"]).errors
    assert finding.code == "DIR-NOT-ALLOWED"
    assert finding.message.startswith("2 path(s) not allowed by segmentation-mask-v2.7: ")
    assert "`metadata.tsv`" in finding.message
    assert "`metadata.tsv` — " not in finding.message  # no hint for an unrelated file
    assert (
        "`x.segmentations.ome.tiff` — `x.segmentations.ome.tiff` is not directly in "
        "`derived/segmentation_masks/`, where the mask image must sit"
    ) in finding.message
    assert "--segmask-ignore-glob" in finding.fix


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root reads any folder")
def test_unreadable_folder(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS + ["derived/locked/x"])
    (root / "derived/locked").chmod(0)
    try:
        listing = list_dataset(root)
        choice = choose_version(listing, "auto", [".*"])
        codes = [f.code for f in check_not_allowed(listing, choice, [".*"]).errors]
        assert "DIR-UNREADABLE" in codes
    finally:
        (root / "derived/locked").chmod(0o755)


def test_unreadable_folder_as_finding(tmp_path, monkeypatch):
    """Even as root: an os.walk error becomes a DIR-UNREADABLE finding, not a crash."""
    root = make_tree(tmp_path / "ds", WITH_EXTRAS)
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        onerror(PermissionError(13, "Permission denied", str(root / "derived/locked")))
        yield from real_walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(dirschema.os, "walk", walk)
    listing = list_dataset(root)
    choice = choose_version(listing, "auto", [".*"])
    [finding] = check_not_allowed(listing, choice, [".*"]).findings
    assert (finding.code, finding.severity, finding.authority) == ("DIR-UNREADABLE", Severity.ERROR, Authority.INGEST)
    assert "cannot list folder `derived/locked`: Permission denied" in finding.message


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("seg_mask_good", None),
        ("seg_mask_bad_file", None),
        ("seg_mask_bad_metadata", None),
        ("seg_mask_empty", None),
        ("seg_mask_goodtiff",
         "`derived/segmentation_masks/917_cropped_0_Z0_C3_T0.ome.tiff` is named like a mask image "
         "but does not end in `.segmentations.ome.tiff`"),
        ("segmask_HBM787.DVDV.435_crop400",
         "`derived/segmentation_masks/H14-12555_1L_PAS.segmentations_crop400_pyramid.ome.tiff` is "
         "named like a mask image but does not end in `.segmentations.ome.tiff`"),
        ("segmask_HBM787.DVDV.435_crop512",
         "`derived/segmentation_masks/H14-12555_1L_PAS.segmentations_crop512.ome.tiff` is named "
         "like a mask image but does not end in `.segmentations.ome.tiff`"),
    ],
)
def test_real_datasets_fail_every_version_visibly(real_zip, name, fragment):
    root = real_zip(name)
    listing = list_dataset(root)
    assert passing_versions(root) == set()
    choice = choose_version(listing, "auto", [".*"])
    assert not choice.validates
    message, _ = _missing_message(root, "mask-image")
    if fragment:
        assert fragment in message
    else:  # no TIFF at all in the seg_mask_* trees
        assert "near miss" not in message
    # the top-level metadata files are not part of the dataset schema
    [finding] = check_not_allowed(listing, choice, [".*"]).errors
    assert "metadata.tsv`" in finding.message


# --- exactly one mask image (ingest-validation-tests segmentation_mask_imagesize_validation.py) ---

from pytest_segmask.dirschema import check_one_mask_image, ingest_mask_images  # noqa: E402


@pytest.mark.parametrize(
    "names, expected",
    [
        ([M + "a.segmentations.ome.tiff"], [M + "a.segmentations.ome.tiff"]),
        ([M + "a.ome.tif"], [M + "a.ome.tif"]),
        ([M + "a.OME.TIFF", M + "b.OME.TIF"], [M + "a.OME.TIFF", M + "b.OME.TIF"]),
        ([M + "a.Ome.Tiff", M + "a.ome.TIFF", M + "x.tiff"], []),  # ingest's globs are case-sensitive
        (["segmentation_masks/root.ome.tiff", "x/y/segmentation_masks/deep.ome.tif"],
         ["segmentation_masks/root.ome.tiff", "x/y/segmentation_masks/deep.ome.tif"]),  # ** = any depth
        ([M + "sub/nested.ome.tiff", "derived/other_masks/a.ome.tiff"], []),  # * stays in the folder
    ],
)
def test_ingest_mask_globs(tmp_path, names, expected):
    root = make_tree(tmp_path / "ds", ["extras/"] + names)
    assert ingest_mask_images(list_dataset(root)) == expected


def test_one_mask_image_passes_with_a_note(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS)
    result = check_one_mask_image(list_dataset(root))
    assert result.findings == []
    assert result.notes == [
        "one mask image, as HuBMAP's ingest requires: derived/segmentation_masks/sample.segmentations.ome.tiff"]


def test_two_mask_images_fail_as_ingest_does(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS + [M + "second.segmentations.ome.tiff", M + "x.OME.TIF"])
    [finding] = check_one_mask_image(list_dataset(root)).findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("DIR-ONE-MASK-IMAGE", "error", "ingest")
    assert finding.message == (
        "3 files match `**/segmentation_masks/*.ome.tif[f]` (also `.OME.TIF[F]`): "
        "`derived/segmentation_masks/sample.segmentations.ome.tiff`, "
        "`derived/segmentation_masks/second.segmentations.ome.tiff`, "
        "`derived/segmentation_masks/x.OME.TIF`; HuBMAP's ingest accepts exactly one mask image "
        "(\"Too many or too few files Mask\")")
    assert finding.location.file == M + "sample.segmentations.ome.tiff"
    assert finding.fix.startswith("put every mask into one multi-channel mask image")


def test_no_mask_image_fails_as_ingest_does(tmp_path):
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + "c-objects.xlsx", M + "a.tif"])
    [finding] = check_one_mask_image(list_dataset(root)).findings
    assert (finding.code, finding.severity.value, finding.authority.value) == ("DIR-ONE-MASK-IMAGE", "error", "ingest")
    assert finding.message == (
        "no file matches `**/segmentation_masks/*.ome.tif[f]` (also `.OME.TIF[F]`): HuBMAP's ingest "
        "needs exactly one mask image and rejects the dataset (\"Too many or too few files Mask\")")
    assert finding.location.file is None


def test_many_mask_images_are_cut_with_a_count(tmp_path):
    root = make_tree(tmp_path / "ds", ["extras/"] + [M + f"m{i}.ome.tiff" for i in range(8)])
    [finding] = check_one_mask_image(list_dataset(root)).findings
    assert finding.message.startswith("8 files match")
    assert "`derived/segmentation_masks/m4.ome.tiff` … (+3 more); HuBMAP's ingest" in finding.message


def test_a_fifo_named_like_a_mask_counts_for_ingest_but_is_not_listed(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS)
    os.mkfifo(root / M / "pipe.ome.tiff")
    listing = list_dataset(root)
    assert M + "pipe.ome.tiff" not in listing.paths
    assert ingest_mask_images(listing) == [M + "pipe.ome.tiff", M + "sample.segmentations.ome.tiff"]


@pytest.mark.parametrize("name", ["segmask_HBM787.DVDV.435_crop400", "segmask_HBM787.DVDV.435_crop512"])
def test_real_hbm787_has_exactly_one_mask_image_for_ingest(real_zip, name):
    result = check_one_mask_image(list_dataset(real_zip(name)))
    assert result.findings == []
    assert result.notes[0].startswith("one mask image, as HuBMAP's ingest requires: derived/segmentation_masks/H14-12555_1L_PAS")


def test_rule_sources_are_public():
    from pytest_segmask.rules import all_rules

    mine = {"DIR-", "ADJ-", "GLB-", "CSV-", "TRANSFORMATIONS-", "COMPANION-"}
    for rule in all_rules().values():
        if any(rule.code.startswith(p) for p in mine):
            assert "SPEC" not in rule.source, rule
            assert rule.source.strip(), rule
            assert (rule.reason is not None) == (rule.authority.value == "practice"), rule


def test_listing_findings_in_the_not_allowed_item_keep_the_schema_verdict(tmp_path):
    root = make_tree(tmp_path / "ds", WITH_EXTRAS)
    os.mkfifo(root / "derived/extras/p")
    listing = list_dataset(root)
    choice = choose_version(listing, "auto", [".*"])
    assert choice.validates  # a special file is reported, it does not change the version
    result = check_not_allowed(listing, choice, [".*"])
    assert [f.code for f in result.findings] == ["DIR-SPECIAL-FILE"]
    assert result.notes == []


def test_required_keys_per_version():
    required = {v: [p.key for p in dirschema.patterns_for(v) if p.required] for v in VERSIONS}
    base = ["derived-folder", "derived-extras-folder", "segmentation-masks-folder", "mask-image", "objects-table"]
    assert required["2.0"] == required["2.1"] == base
    assert all(required[v] == ["extras-folder"] + base for v in VERSIONS if version_key(v) >= (2, 2))


def test_missing_segmentation_masks_folder_is_named(tmp_path):
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/"])
    verdict = evaluate(list_dataset(root), "2.7", [".*"])
    assert verdict.missing == ["segmentation-masks-folder", "mask-image", "objects-table"]


def test_optional_items(tmp_path):
    from pytest_segmask.dirschema import check_optional

    root = make_tree(tmp_path / "ds", WITH_EXTRAS + [M + "cells-mesh.glb"])
    choice = choose_version(list_dataset(root), "auto", [".*"])
    assert check_optional(choice, "mesh").notes == [f"a GLB mesh: {M}cells-mesh.glb"]
    assert check_optional(choice, "mesh").skip is None
    absent = check_optional(choice, "centroid-adjacency")
    assert (absent.skip, absent.findings, absent.notes) == ("optional, absent", [], [])
