"""The plugin through pytest itself: options, collection, node ids, pytest's toolbox."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import PROJECT, make_tree

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
from pytest_segmask.rules import README_END, README_START, all_rules, readme_with_rules

M = "derived/segmentation_masks/"
VALID = ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + "cells-objects.xlsx"]
SMALL = DatasetSpec(masks=(MaskSpec(width=40, height=30, channels=(ChannelSpec("cells", 3),), pyramid_levels=2),))
# items of SMALL: 11 directory-schema (4 optional skip), 7 mask-file, 3 channel, 7 objects-table,
# 2 segmentation-masks.csv
ITEMS, PASS, SKIP = 33, 28, 5


def make_valid(root: Path, extra: list[str] = ()) -> Path:
    """A real generated dataset (one small channel) plus extra paths."""
    write_dataset(SMALL, root)
    return make_tree(root, list(extra))


@pytest.fixture
def dataset(pytester):
    return make_valid(pytester.path / "ds")


def test_inert_without_dataset(pytester):
    pytester.makepyfile("def test_one(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "segmask:" not in result.stdout.str()


def test_entry_point_imports_nothing_heavy():
    code = (
        "import sys, pytest_segmask.plugin\n"
        "heavy = {'numpy', 'tifffile', 'openpyxl', 'lxml', 'ome_types'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--segmask-dataset=nope"], "--segmask-dataset: {root}/nope does not exist"),
        (["--segmask-dataset=afile"], "--segmask-dataset: {root}/afile is not a directory"),
        (["--segmask-dataset=ds", "--segmask-schema-version=3.1"],
         "--segmask-schema-version: unknown version '3.1'; use auto or one of 2.0, 2.1, 2.2, "
         "2.3, 2.4, 2.5, 2.6, 2.7"),
    ],
)
def test_usage_errors(pytester, dataset, args, message):
    pytester.path.joinpath("afile").write_text("x")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {message.format(root=pytester.path)}" in result.stderr.lines
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_valid_dataset_passes_with_header(pytester, dataset):
    result = pytester.runpytest("--segmask-dataset=ds", "-v")
    result.assert_outcomes(passed=PASS, skipped=SKIP)
    result.stdout.fnmatch_lines(["segmask: ds: the directory layout conforms to segmentation-mask-v2.7*"])
    result.stdout.fnmatch_lines(["*ds::dirschema::optional:mesh SKIPPED (optional, absent)*"])


def test_collect_only_node_ids(pytester, dataset):
    result = pytester.runpytest("--segmask-dataset=ds", "--co", "-q")
    ids = [line for line in result.stdout.lines if "::" in line]
    mask = "ds/derived/segmentation_masks/sample.segmentations.ome.tiff"
    table = "ds/derived/segmentation_masks/cells-objects.xlsx"
    csv = "ds/derived/segmentation_masks/segmentation-masks.csv"
    assert ids[13:] == [
        f"{mask}::{check}" for check in
        ("tiff", "ome-xml", "ome-consistency", "pixel-type", "physical-size", "pyramid", "layout", "source-image")
    ] + [f"{mask}::channel:cells::{check}" for check in ("labels", "pyramid-labels", "objects-table")] + [
        f"{table}::{check}" for check in
        ("layout", "columns", "values", "ids", "channel", "mask-agreement", "centroids")
    ] + [f"{csv}::rows", f"{csv}::num-objects"]
    assert ids[:13] == [
        "ds::dirschema::required:extras-folder",
        "ds::dirschema::required:derived-folder",
        "ds::dirschema::required:derived-extras-folder",
        "ds::dirschema::required:segmentation-masks-folder",
        "ds::dirschema::required:mask-image",
        "ds::dirschema::required:objects-table",
        "ds::dirschema::one-mask-image",
        "ds::dirschema::xlsx-tables",
        "ds::dirschema::not-allowed",
        "ds::dirschema::optional:centroid-adjacency",
        "ds::dirschema::optional:linkage-adjacency",
        "ds::dirschema::optional:mesh",
        "ds::dirschema::optional:transformations",
    ]


def test_dataset_outside_rootdir(pytester, tmp_path_factory):
    outside = make_valid(tmp_path_factory.mktemp("outside") / "ds")
    project = pytester.mkdir("project")
    project.joinpath("pytest.ini").write_text("[pytest]\n")
    result = pytester.runpytest(f"--segmask-dataset={outside}", "--co", "-q", f"--rootdir={project}")
    ids = [line for line in result.stdout.lines if "::" in line]
    import os

    expected_prefix = Path(os.path.relpath(outside, project)).as_posix()
    assert expected_prefix.startswith("../")
    assert ids[0] == f"{expected_prefix}::dirschema::required:extras-folder"
    assert len(ids) == ITEMS
    assert ids[-1] == f"{expected_prefix}/derived/segmentation_masks/segmentation-masks.csv::num-objects"


def test_default_args_replaced_but_explicit_paths_kept(pytester, dataset):
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    pytester.mkdir("tests").joinpath("test_x.py").write_text("def test_x(): pass\n")
    only_dataset = pytester.runpytest("--segmask-dataset=ds", "--co", "-q")
    assert not any("test_x" in line for line in only_dataset.stdout.lines)
    both = pytester.runpytest("--segmask-dataset=ds", "tests", "--co", "-q")
    assert "tests/test_x.py::test_x" in both.stdout.lines
    assert "ds::dirschema::not-allowed" in both.stdout.lines


def test_dataset_named_build_is_collected(pytester):
    # norecursedirs contains build; the dataset is collected anyway
    make_valid(pytester.path / "build")
    result = pytester.runpytest("--segmask-dataset=build", "-q")
    result.assert_outcomes(passed=PASS, skipped=SKIP)


def test_ini_options(pytester):
    make_valid(pytester.path / "ds", ["notes.bak"])
    pytester.makeini(
        "[pytest]\nsegmask_dataset = ds\nsegmask_schema_version = 2.3\n"
        "segmask_ignore_globs =\n    .*\n    *.bak\n"
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=PASS, skipped=SKIP)
    result.stdout.fnmatch_lines(["segmask: ds: the directory layout conforms to segmentation-mask-v2.3*"])


def test_ignore_glob_option_adds_to_default(pytester):
    make_valid(pytester.path / "ds", ["notes.bak", ".DS_Store"])
    failing = pytester.runpytest("--segmask-dataset=ds")
    failing.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
    passing = pytester.runpytest("--segmask-dataset=ds", "--segmask-ignore-glob=*.bak")
    passing.assert_outcomes(passed=PASS, skipped=SKIP)


def test_failure_report_is_a_finding_not_a_traceback(pytester):
    make_tree(pytester.path / "ds", VALID[:2] + [M + "s.segmentations_crop512.ome.tiff", M + "c-objects.xlsx"])
    result = pytester.runpytest("--segmask-dataset=ds", "-rf", "-k", "dirschema")
    result.assert_outcomes(failed=1, passed=8, skipped=4)
    out = result.stdout.str()
    assert "Traceback" not in out and "def runtest" not in out
    result.stdout.fnmatch_lines(
        [
            "DIR-REQUIRED (error, ingest): required but missing: the mask image, a file named "
            "`derived/segmentation_masks/<name>.segmentations.ome.tiff`*",
            "*near miss: `derived/segmentation_masks/s.segmentations_crop512.ome.tiff` is named "
            "like a mask image but does not end in `.segmentations.ome.tiff`*",
            "FAILED ds::dirschema::required:mask-image - DIR-REQUIRED (error, ingest): req*",
        ]
    )
    result.stdout.fnmatch_lines(["segmask: ds: the directory layout conforms to no schema version; checked against v2.7*"])


def test_fixed_version_reported(pytester, dataset):
    result = pytester.runpytest("--segmask-dataset=ds", "--segmask-schema-version=2.0")
    result.stdout.fnmatch_lines(["segmask: ds: the directory layout does not conform to segmentation-mask-v2.0*"])
    # extras/ is not part of 2.0
    result.assert_outcomes(failed=1, passed=PASS - 2, skipped=SKIP)


def test_k_selects(pytester, dataset):
    result = pytester.runpytest("--segmask-dataset=ds", "-k", "required:mask-image or not-allowed", "-q")
    result.assert_outcomes(passed=2)


def test_last_failed_reruns_only_failures(pytester):
    root = make_valid(pytester.path / "ds", ["stray.txt"])
    first = pytester.runpytest("--segmask-dataset=ds")
    first.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
    again = pytester.runpytest("--segmask-dataset=ds", "--lf", "-v")
    again.assert_outcomes(failed=1, deselected=ITEMS - 1)
    (root / "stray.txt").unlink()
    fixed = pytester.runpytest("--segmask-dataset=ds", "--lf")
    fixed.assert_outcomes(passed=1, deselected=ITEMS - 1)


def test_junitxml_properties(pytester, dataset):
    pytester.runpytest("--segmask-dataset=ds", "--junitxml=out.xml")
    tree = ET.parse(pytester.path / "out.xml")
    cases = tree.findall(".//testcase")
    assert len(cases) == ITEMS
    case = next(c for c in cases if c.get("name") == "required:mask-image")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["dataset"] == "ds"
    assert props["schema_version"] == "2.7"
    assert props["schema_verdict"] == "validates"


def test_xdist_same_outcomes_as_serial(pytester):
    spec = DatasetSpec(masks=(MaskSpec(pyramid_method="mean",
                                       channels=(ChannelSpec("cells"), ChannelSpec("nuclei"), ChannelSpec("vessels", 0))),))
    write_dataset(spec, pytester.path / "multi")
    make_tree(pytester.path / "multi", ["stray.txt"])
    serial = pytester.runpytest_subprocess("--segmask-dataset=multi", "-rA", "-p", "no:xdist")
    parallel = pytester.runpytest_subprocess("--segmask-dataset=multi", "-rA", "-n", "2")
    assert parallel.ret == serial.ret == 1  # no INTERNALERROR: warnings cross xdist intact
    counts = {k: v for k, v in serial.parseoutcomes().items() if k in ("failed", "passed", "skipped")}
    assert counts == {k: v for k, v in parallel.parseoutcomes().items() if k in ("failed", "passed", "skipped")}
    # not-allowed, pyramid-labels of the two non-empty channels, and the empty channel's table
    # (no data rows: CEDAR rejects it)
    assert counts["failed"] == 4
    assert _outcome_lines(serial) == _outcome_lines(parallel)


def _outcome_lines(result):
    """'PASSED <id>' / 'FAILED <id>' … lines of -rA, sorted: the same run, whatever the order."""
    return sorted(
        line.split(" - ")[0]
        for line in result.stdout.lines
        if line.startswith(("PASSED ", "FAILED ", "SKIPPED "))
    )


def test_readme_rules_table_matches_code():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme
    assert readme == readme_with_rules(readme), (
        "README rules table is stale: run `python -m pytest_segmask.rules --write-readme`"
    )


def test_docs_rules_table_matches_code():
    from pytest_segmask.rules import doc_with_rules

    doc = (PROJECT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert README_START in doc
    assert doc == doc_with_rules(doc), "docs/rules.md is stale: run `python -m pytest_segmask.rules --write-readme`"


def test_rules_cite_public_sources_and_practice_reasons():
    from pytest_segmask.findings import Authority

    for rule in all_rules().values():
        assert rule.source and "SPEC" not in rule.source, rule
        assert rule.authority in Authority, rule
        if rule.authority is Authority.PRACTICE:
            assert rule.reason, f"{rule.code}: a practice rule says why it exists"


def test_every_rule_code_belongs_to_a_planned_item():
    from pytest_segmask.plans import PLANS

    planned = {code for plan in PLANS.values() for item in plan.items for code in item.rules}
    assert set(all_rules()) - planned <= {"CHECKER-ERROR"}, sorted(set(all_rules()) - planned)
    assert planned <= set(all_rules()), sorted(planned - set(all_rules()))


def test_ci_runs_readme_test_command():
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    lines = readme.splitlines()
    index = lines.index("<!-- ci:test-command -->")
    assert lines[index + 1] == "```sh"
    assert lines[index + 2].startswith("python -m pytest")
    assert "ci:test-command" in (PROJECT / ".ci" / "run").read_text()


def test_terminal_summary_counts_rule_codes(pytester):
    make_tree(pytester.path / "ds", ["derived/segmentation_masks/x.txt", "stray.txt"])
    result = pytester.runpytest("--segmask-dataset=ds")
    result.stdout.fnmatch_lines(
        ["*segmask rules*", "DIR-NOT-ALLOWED: 1 item(s) failed", "DIR-REQUIRED: 4 item(s) failed"]
    )


def test_waiver_with_reason(pytester):
    make_valid(pytester.path / "ds", ["stray.txt"])
    result = pytester.runpytest(
        "--segmask-dataset=ds", "--segmask-ignore=DIR-NOT-ALLOWED: stray.txt is removed on upload",
        "-rA", "--junitxml=out.xml",
    )
    result.assert_outcomes(passed=PASS, skipped=SKIP)
    result.stdout.fnmatch_lines(
        [
            "segmask: waived DIR-NOT-ALLOWED: stray.txt is removed on upload",
            "*waived DIR-NOT-ALLOWED (stray.txt is removed on upload): 1 path(s) not allowed*",
            "DIR-NOT-ALLOWED: 1 item(s) waived (waived: stray.txt is removed on upload)",
        ]
    )
    tree = ET.parse(pytester.path / "out.xml")
    case = next(c for c in tree.findall(".//testcase") if c.get("name") == "not-allowed")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["waived_rules"] == "DIR-NOT-ALLOWED"


@pytest.mark.parametrize(
    "value, message",
    [
        ("DIR-NOT-ALLOWED", "--segmask-ignore: waiving DIR-NOT-ALLOWED needs a reason: "
         "write 'DIR-NOT-ALLOWED: why it does not apply'"),
        ("NO-SUCH: because", "--segmask-ignore: unknown rule code 'NO-SUCH'; the README's rules "
         "table lists them"),
    ],
)
def test_waiver_usage_errors(pytester, dataset, value, message):
    result = pytester.runpytest("--segmask-dataset=ds", f"--segmask-ignore={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {message}" in result.stderr.lines


def test_html_report_thumbnails_and_overlay(pytester):
    spec = DatasetSpec(masks=(MaskSpec(width=120, height=90, pyramid_method="mean",
                                       channels=(ChannelSpec("cells", 12), ChannelSpec("nuclei", 9))),))
    write_dataset(spec, pytester.path / "ds")
    pytester.runpytest("--segmask-dataset=ds", "--html=report.html", "--self-contained-html")
    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    # labels and pyramid-labels of two channels: four thumbnails, each ≤ 256 px, embedded
    assert page.count("image/png") == 2  # one thumbnail per channel, bad pyramid pixels marked
    assert "PYRAMID-LABELS" in page
    # the summary describes the mask and the tables
    assert "120 × 90 px, uint16, 2 channel(s), 3 level(s), ADOBE_DEFLATE, tiles; cells: 12 objects, nuclei: 9 objects" in page
    assert "12 object row(s)" in page
    assert "segmask-findings" in page  # failed items carry a findings table


def test_stats_computed_once_per_channel(pytester, monkeypatch):
    from pytest_segmask.checks.mask_image import MaskReader

    calls = []
    real = MaskReader.channel_pass

    def counting(self, channel_index, workers=2):
        calls.append(self.info.channel_names[channel_index])
        return real(self, channel_index, workers)

    monkeypatch.setattr(MaskReader, "channel_pass", counting)
    spec = DatasetSpec(masks=(MaskSpec(channels=(ChannelSpec("cells"), ChannelSpec("nuclei"), ChannelSpec("vessels"))),))
    write_dataset(spec, pytester.path / "ds")
    reprec = pytester.inline_run("--segmask-dataset=ds", "-p", "no:cacheprovider")
    assert not reprec.getfailures()
    # labels, pyramid-labels, mask-agreement, centroids and num-objects all use the one pass
    assert sorted(calls) == ["cells", "nuclei", "vessels"]


def test_html_report_title_and_summary(pytester):
    make_valid(pytester.path / "ds", ["stray.txt"])
    pytester.runpytest("--segmask-dataset=ds", "--html=report.html", "--self-contained-html")
    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    assert "segmask conformance: ds" in page
    assert "data-dataset='ds'" in page and "Dataset ds:" in page
    assert "ds fails every version; checked against v2.7" in page
    assert "DIR-NOT-ALLOWED (1)" in page


def test_example_dataset_conforms(pytester):
    """The README's first command: the shipped example passes every item."""
    example = PROJECT / "examples" / "kidney-demo"
    result = pytester.runpytest(f"--segmask-dataset={example}", "-rfEs")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["segmask: *kidney-demo: the directory layout conforms to segmentation-mask-v2.7*"])
    assert "failed" not in result.stdout.lines[-1]


def test_no_network_and_no_writes_into_the_dataset(pytester, monkeypatch):
    import socket

    from pytest_segmask.checks import mask_image

    def refuse(*args, **kwargs):
        raise AssertionError("the plugin opened a network connection")

    mask_image.ome_schema.cache_clear()  # build the XSD again, under the guard
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    root = make_valid(pytester.path / "ds")
    (root / "derived" / "segmentation_masks" / "cells-mesh.glb").write_bytes(b"glTF")

    def snapshot():
        return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*"))

    before = snapshot()
    result = pytester.runpytest("--segmask-dataset=ds", "-p", "no:cacheprovider", "--html=report.html")
    assert result.ret == 1  # the broken mesh fails; everything else ran
    assert "opened a network connection" not in result.stdout.str()
    assert snapshot() == before


def test_warnings_pass_unless_strict(pytester):
    spec = DatasetSpec(masks=(MaskSpec(tile=None, channels=(ChannelSpec("cells", 3),)),))  # strips: a warning
    write_dataset(spec, pytester.path / "ds")
    relaxed = pytester.runpytest("--segmask-dataset=ds", "-p", "no:cacheprovider")
    assert relaxed.ret == 0
    relaxed.stdout.fnmatch_lines(["*segmask warnings (these items pass)*", "WARNED ds/*::layout",
                                  "  TIFF-LAYOUT (warning, practice): *stored in strips*"])
    assert "items.py" not in relaxed.stdout.str()  # no plugin source lines
    strict = pytester.runpytest("--segmask-dataset=ds", "--segmask-strict", "-p", "no:cacheprovider")
    strict.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
    strict.stdout.fnmatch_lines(["*(warnings fail because the profile is strict**"])
    promoted = pytester.runpytest("--segmask-dataset=ds", "-W", "error::pytest_segmask.SegmaskWarning",
                                  "-p", "no:cacheprovider")
    promoted.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
    promoted.stdout.fnmatch_lines(["*warning promoted to error*TIFF-LAYOUT*"])


def test_last_failed_outside_rootdir(pytester, tmp_path_factory):
    outside = make_valid(tmp_path_factory.mktemp("elsewhere") / "ds", ["stray.txt"])
    pytester.makeini("[pytest]\n")
    first = pytester.runpytest(f"--segmask-dataset={outside}")
    first.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
    again = pytester.runpytest(f"--segmask-dataset={outside}", "--lf")
    again.assert_outcomes(failed=1, deselected=ITEMS - 1)


def test_channel_statistics_released_after_their_last_item(pytester, monkeypatch):
    """Each table runs right after its channel, and a channel's full statistics are dropped
    once its last item ran. A mask with enough tiles is passed one channel at a time (each pass
    on both cores), so at most one channel's pass is held; only ids a companion needs are kept."""
    from pytest_segmask.dataset import DatasetModel

    held, open_files, real = [], [], DatasetModel.release_after

    def recording(self, plan, node):
        real(self, plan, node)
        held.append(len(self.passes))
        open_files.append(any(name == "mask_reader" for name, _ in self.cache))

    monkeypatch.setattr(DatasetModel, "release_after", recording)
    names = ("cells", "nuclei", "vessels", "tubules")
    models = []

    def keeping(self, rel, index, result, real_keep=DatasetModel._keep):
        real_keep(self, rel, index, result)
        models.append(self)

    monkeypatch.setattr(DatasetModel, "_keep", keeping)
    monkeypatch.setattr("pytest_segmask.checks.mask_image.SPLIT_MIN_PIXELS", 0)  # this small mask counts as large
    spec = DatasetSpec(masks=(MaskSpec(tile=16, channels=tuple(ChannelSpec(n, 5) for n in names)),))
    write_dataset(spec, pytester.path / "ds")
    reprec = pytester.inline_run("--segmask-dataset=ds", "-p", "no:cacheprovider")
    assert not reprec.getfailures()
    assert max(held) <= 1 and held[-1] == 0
    assert [s.n_objects for s in models[-1].summaries.values()] == [5] * 4
    assert all(s.ids is None for s in models[-1].summaries.values())  # no adjacency file needs them
    assert open_files[-1] is False  # the mask's file closed with its last pass
    order = [r.nodeid for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"]
    for name in names:  # the table's items follow the channel's
        channel_last = max(i for i, n in enumerate(order) if f"::channel:{name}::" in n)
        table = [i for i, n in enumerate(order) if f"/{name}-objects.xlsx::" in n]
        assert table == list(range(channel_last + 1, channel_last + 1 + len(table)))


def test_3d_factor_3_int32_mask_passes(pytester):
    """A 3D mask (SizeZ 3), pyramid factor 3, int32 labels without negatives — as producers
    write them — passes every item; only the signed container warns (practice)."""
    spec = DatasetSpec(masks=(MaskSpec(width=200, height=150, size_z=3, pyramid_factor=3, dtype="int32",
                                       channels=(ChannelSpec("cells", 8), ChannelSpec("nuclei", 5))),))
    write_dataset(spec, pytester.path / "ds")
    reprec = pytester.inline_run("--segmask-dataset=ds", "-p", "no:cacheprovider")
    assert not reprec.getfailures()
    warned = {r.nodeid.split("::", 1)[1]: dict(r.user_properties).get("warned_rules")
              for r in reprec.getreports("pytest_runtest_logreport")
              if r.when == "call" and dict(r.user_properties).get("warned_rules")}
    assert warned == {"pixel-type": "PIXEL-SIGNED"}


def test_table_node_ids_stay_in_k_alphabet(pytester):
    spec = DatasetSpec(masks=(MaskSpec(channels=(ChannelSpec("blood vessels", 3),)),))
    write_dataset(spec, pytester.path / "ds")
    result = pytester.runpytest("--segmask-dataset=ds", "--co", "-q")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert "ds/derived/segmentation_masks/blood_vessels-objects.xlsx::layout" in ids
    assert not [i for i in ids if " " in i]


def test_a_checker_bug_is_a_checker_error_finding(pytester, monkeypatch):
    """An unexpected exception inside a check fails its item with CHECKER-ERROR (file, check,
    exception type, innermost frame of the package, "please report") — never a traceback —
    and fails in every profile."""
    from pytest_segmask.checks import mask_image

    def broken(info):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(mask_image, "check_layout", broken)
    write_dataset(SMALL, pytester.path / "ds")
    for profile in ("ingest", "hubmap", "strict"):
        result = pytester.runpytest("--segmask-dataset=ds", "-p", "no:cacheprovider", f"--segmask-profile={profile}")
        result.assert_outcomes(failed=1, passed=PASS - 1, skipped=SKIP)
        result.stdout.fnmatch_lines([
            "*CHECKER-ERROR (error, practice): the check 'layout' stopped on an unexpected ZeroDivisionError*",
            "*please report this to pytest-segmask*",
        ])
        assert "Traceback" not in result.stdout.str()


def test_file_name_that_is_not_utf8_keeps_reports_valid(pytester):
    import os

    root = write_dataset(SMALL, pytester.path / "ds")
    with open(os.path.join(os.fsencode(root / "derived" / "extras"), b"caf\xe9.txt"), "wb") as f:
        f.write(b"x")
    result = pytester.runpytest("--segmask-dataset=ds", "-p", "no:cacheprovider",
                                "--junitxml=report.xml", "--html=report.html", "--self-contained-html")
    assert result.ret == 0, result.stdout.str()  # DIR-NAME-ENCODING is practice: a warning here
    result.stdout.fnmatch_lines(["*DIR-NAME-ENCODING (error, practice): 1 name(s) are not UTF-8 text*caf\\xe9.txt*"])
    assert "INTERNALERROR" not in result.stdout.str()
    ET.parse(pytester.path / "report.xml")  # valid XML
    page = (pytester.path / "report.html").read_bytes().decode("utf-8")
    assert "caf\\xe9.txt" in page


def test_adjacency_gets_ids_dropped_at_release(pytester, monkeypatch):
    """A companion whose channel collection could not foresee (its ids were not kept when the
    channel was released) still gets them: the channel is decoded again."""
    from pytest_segmask.dataset import DatasetModel

    from pytest_segmask.checks.mask_image import MaskReader

    monkeypatch.setattr(DatasetModel, "companion_owner", lambda self, node: None)
    passes, real_pass = [], MaskReader.channel_pass
    monkeypatch.setattr(MaskReader, "channel_pass", lambda self, i, **kw: passes.append(i) or real_pass(self, i, **kw))
    spec = DatasetSpec(masks=(MaskSpec(width=40, height=30, tile=16, channels=(ChannelSpec("cells", 6),)),),
                       adjacency=(("cells", "centroid", "edges"),))
    write_dataset(spec, pytester.path / "ds")
    adjacency = pytester.path / "ds" / M / "cells-centroid-adjacency.csv"
    adjacency.write_text("id_1,id_2\n1,2\n2,999\n")
    result = pytester.runpytest("--segmask-dataset=ds", "-p", "no:cacheprovider", "-k", "adjacency or labels")
    result.stdout.fnmatch_lines(["*ADJ-IDS*999*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and "error" not in outcomes
    assert passes == [0, 0]  # decoded for the labels item, then again for the adjacency ids
