"""The HTML report without a browser: the conformance card (server-rendered HTML), the results
table rows (pytest-html's JSON blob), thumbnails and their marks, under xdist too.

Assertions are on structure (areas, states, where a finding appears), not on the exact
counts of items other engineers' checks produce.
"""

from __future__ import annotations

import html as htmllib
import json
import xml.etree.ElementTree as ET

import lxml.html
import numpy as np
import pytest

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
from pytest_segmask import thumbnails
from pytest_segmask.html_report import THUMB_KEY, area_label, pyramid_counts
from pytest_segmask.thumbnails import block_test, clusters, thumbnail

# averaged pyramid (PYRAMID-LABELS fails), strips (TIFF-LAYOUT warns), a stray file (DIR-NOT-ALLOWED)
BROKEN = DatasetSpec(masks=(MaskSpec(width=160, height=120, pyramid_method="mean", tile=None,
                                     channels=(ChannelSpec("cells", 14), ChannelSpec("nuclei", 10))),))
MASK = "derived/segmentation_masks/sample.segmentations.ome.tiff"


def write_broken(root):
    write_dataset(BROKEN, root)
    (root / "stray.txt").write_text("not part of the dataset")
    return root


def parse(report_path):
    """(document, tests): the static page and pytest-html's rows, by node id."""
    text = report_path.read_text(encoding="utf-8")
    doc = lxml.html.fromstring(text)
    blob = doc.get_element_by_id("data-container").get("data-jsonblob")
    tests = {nodeid: rows[-1] for nodeid, rows in json.loads(blob)["tests"].items()}
    return doc, tests


def card_rows(doc):
    return {tr.get("data-area"): tr for tr in doc.xpath("//tr[contains(@class,'segmask-area')]")}


@pytest.fixture(scope="module")
def broken_report(tmp_path_factory):
    """One in-process-free run (subprocess) of the broken dataset with --html and --junitxml."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("report")
    write_broken(root / "broken")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--rootdir={root}", "--segmask-dataset=broken",
         "--html=report.html", "--self-contained-html", "--junitxml=junit.xml", "-q"],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert (root / "report.html").exists(), proc.stdout + proc.stderr
    return root


# --- thumbnails ----------------------------------------------------------------------------


def pyramid(level0: np.ndarray, levels: int = 3) -> list[np.ndarray]:
    out = [level0]
    for _ in range(levels - 1):
        out.append(out[-1][::2, ::2])
    return out


def objects(h=120, w=160) -> np.ndarray:
    labels = np.zeros((h, w), dtype=np.uint16)
    for i, (y, x) in enumerate([(11, 11), (11, 81), (61, 31), (71, 111)], start=1):
        labels[y: y + 30, x: x + 40] = 10 * i
    return labels


def test_block_test_finds_averaged_pixels_only():
    base = objects()
    good = pyramid(base)
    assert not block_test(good[0], good[1], 2).any()
    b = base.astype(np.uint32)
    averaged = ((b[0::2, 0::2] + b[0::2, 1::2] + b[1::2, 0::2] + b[1::2, 1::2]) // 4).astype(np.uint16)
    bad = block_test(base, averaged, 2)
    assert bad.any()
    ys, xs = np.nonzero(bad)
    assert all(averaged[y, x] not in base[2 * y: 2 * y + 2, 2 * x: 2 * x + 2] for y, x in zip(ys, xs))


def test_one_wrong_pixel_is_boxed_and_counted():
    levels = pyramid(objects())
    levels[1] = levels[1].copy()
    levels[1][5, 5] = 999  # one invented id far from every object
    thumb = thumbnail(levels, read=lambda p: p)
    assert thumb.bad_by_level == {1: 1}
    assert thumb.clusters == 1 and thumb.boxes == 1
    assert "1 wrong pyramid pixel(s) (level 1: 1)" in thumb.caption()
    import imagecodecs

    rgb = imagecodecs.png_decode(thumb.png)
    assert rgb.shape[:2] == (thumb.height, thumb.width)
    assert (rgb.reshape(-1, 3) == thumbnails.BOX).all(axis=1).sum() > 8  # the box is drawn
    assert (rgb.reshape(-1, 3) == thumbnails.MARK).all(axis=1).any()  # the pixel is marked


def test_good_pyramid_has_no_marks():
    thumb = thumbnail(pyramid(objects()), read=lambda p: p)
    assert thumb.bad == 0 and thumb.clusters == 0 and thumb.marked_cells == 0
    assert thumb.caption() == "level 0, 160×120 px"
    assert max(thumb.width, thumb.height) >= thumbnails.MIN_SIDE  # small images are enlarged


def test_levels_too_large_use_the_checks_boxes_and_counts(monkeypatch):
    levels = pyramid(objects())
    monkeypatch.setattr(thumbnails, "MAX_SOURCE_PIXELS", 80 * 60)  # level 0 is not decoded
    data = {"bad_pixel_boxes": {"1": [[2, 3, 4, 6, 5]]}}
    thumb = thumbnail(levels, data, counts={1: 1987}, read=lambda p: p)
    assert thumb.level == 1  # the largest level small enough
    assert thumb.bad_by_level == {1: 1987}  # the check's count wins
    assert thumb.marked_cells == 2 * 3 and thumb.boxes == 1
    assert any("check's boxes" in s for s in thumb.sources)
    # first examples only (the pass as it is today): still marked and boxed
    thumb = thumbnail(levels, {"bad_pixels": {1: [(2, 3), (40, 50)]}}, read=lambda p: p)
    assert thumb.marked_cells == 2 and thumb.clusters == 2 and thumb.bad_by_level == {1: 2}


def test_no_small_level_no_thumbnail(monkeypatch):
    monkeypatch.setattr(thumbnails, "MAX_SOURCE_PIXELS", 10)
    assert thumbnail(pyramid(objects()), read=lambda p: p) is None


def test_clusters_join_near_cells_and_keep_far_ones_apart():
    marks = np.zeros((50, 50), dtype=bool)
    marks[1, 1] = marks[2, 3] = True  # two cells apart: one cluster
    marks[30:33, 30] = True
    assert clusters(marks) == [(30, 30, 33, 31, 3), (1, 1, 3, 4, 2)]


def test_pyramid_counts_from_data_or_messages():
    class F:
        code = "PYRAMID-LABELS"
        message = "x.ome.tiff: channel 'c' level 2: 1,987 of 4800 pixel(s) match none of …"

    assert pyramid_counts({"bad_pixel_counts": {"1": 5}}, [F()]) == {1: 5}
    assert pyramid_counts({}, [F()]) == {2: 1987}


def test_area_label_splits_file_areas():
    assert area_label("objects table derived/x/cells-objects.xlsx") == \
        (
        "objects table<br><span class='segmask-file'>cells-objects.xlsx</span><small>derived/x/</small>")
    assert area_label("channel cells") == "channel cells"


# --- the report -----------------------------------------------------------------------------


def test_card_has_a_row_per_area_with_states_and_first_findings(broken_report):
    doc, tests = parse(broken_report / "report.html")
    card = doc.xpath("//section[contains(@class,'segmask-card')]")
    assert len(card) == 1 and card[0].get("data-state") == "fail"
    assert card[0].xpath(".//span[@class='segmask-profile']")[0].text == "hubmap"
    rows = card_rows(doc)
    for area in ("directory layout", f"mask file {MASK}", "channel cells", "channel nuclei",
                 "objects table derived/segmentation_masks/cells-objects.xlsx", "segmentation-masks.csv"):
        assert area in rows, sorted(rows)
    areas = list(rows)
    assert areas[:4] == ["directory layout", f"mask file {MASK}", "channel cells", "channel nuclei"]
    assert rows["directory layout"].get("data-state") == "fail"
    assert rows[f"mask file {MASK}"].get("data-state") == "warn"
    assert rows["channel cells"].get("data-state") == "fail"
    first = rows["directory layout"].xpath(".//td[@class='segmask-first']")[0].text_content()
    assert "DIR-NOT-ALLOWED" in first and "stray.txt" in first and "fix:" in first
    first = rows["channel cells"].xpath(".//td[@class='segmask-first']")[0].text_content()
    assert "PYRAMID-LABELS" in first and "where:" in first and "nearest-neighbour" in first
    assert "TIFF-LAYOUT" in rows[f"mask file {MASK}"].text_content()
    # every link of the card points at a row of the results table (pytest-html: tbody id = node id)
    links = [a.get("href") for a in card[0].xpath(".//a[starts-with(@href,'#')]")]
    assert links and all(htmllib.unescape(h[1:]) in tests for h in links)
    assert "#broken::dirschema::not-allowed" in links
    assert card[0].xpath(".//a[@href='?visible=failed,error']")
    facts = card[0].xpath(".//table[@class='segmask-facts']")[0].text_content()
    assert "160 × 120 px" in facts and "cells: 14 objects" in facts and "14 object row(s)" in facts


def test_one_thumbnail_per_channel_marked_and_only_in_the_card(broken_report):
    doc, tests = parse(broken_report / "report.html")
    figures = doc.xpath("//figure[contains(@class,'segmask-thumb')]")
    assert sorted(f.get("data-channel") for f in figures) == ["cells", "nuclei"]
    for fig in figures:
        assert int(fig.get("data-bad")) > 0 and int(fig.get("data-boxes")) >= 1
        assert "wrong pyramid pixel(s)" in fig.text_content()
        assert fig.xpath(".//img")[0].get("src").startswith("data:image/png;base64,")
        assert fig.xpath("ancestor::tr")[0].get("data-area") == f"channel {fig.get('data-channel')}"
    for test in tests.values():  # the rows do not repeat the pictures
        assert not [e for e in test.get("extras", []) if e.get("format_type") == "image" or THUMB_KEY in e]


def test_thumbnail_count_agrees_with_the_check(broken_report):
    doc, tests = parse(broken_report / "report.html")
    for fig in doc.xpath("//figure[contains(@class,'segmask-thumb')]"):
        channel = fig.get("data-channel")
        log = tests[f"broken/{MASK}::channel:{channel}::pyramid-labels"]["log"]
        counts = [int(n) for n in __import__("re").findall(r"level \d+: (\d+) of \d+ pixel", htmllib.unescape(log))]
        assert int(fig.get("data-bad")) == sum(counts) > 0


def test_warned_item_reads_warned_and_keeps_pytest_html_filters(broken_report):
    doc, tests = parse(broken_report / "report.html")
    row = tests[f"broken/{MASK}::layout"]
    assert row["result"] == "Passed"  # pytest-html's filters and sort still see a pass
    cell = lxml.html.fragment_fromstring(row["resultsTableRow"][0], create_parent="tr").xpath("td")[0]
    assert cell.text_content() == "Warned" and "segmask-warned" in cell.get("class")
    finding = lxml.html.fragment_fromstring(row["resultsTableRow"][2], create_parent="tr").text_content()
    assert "TIFF-LAYOUT" in finding
    assert "TIFF-LAYOUT" in row["log"] and "warn" in row["log"]


def test_each_failure_shown_once_and_skips_show_their_reason(broken_report):
    doc, tests = parse(broken_report / "report.html")
    row = tests[f"broken/{MASK}::channel:cells::pyramid-labels"]
    log = htmllib.unescape(row["log"])
    assert "(+1 more finding(s) below)" not in log and "(error, schema):" not in log  # no raw pytest text
    assert log.count("level 2: ") == 1 and log.count("level 1: ") == 1
    assert "<table class='segmask-findings'>" in log
    finding = lxml.html.fragment_fromstring(row["resultsTableRow"][2], create_parent="tr").text_content()
    assert finding.startswith("PYRAMID-LABELS") and "(+1 more)" in finding
    skipped = [t for t in tests.values() if t["result"] == "Skipped"]
    assert skipped
    for test in skipped:
        assert "('" not in test["log"] and "Skipped: " in test["log"]
        assert "skipped: " in test["resultsTableRow"][2]


def test_report_properties_the_card_reads_are_on_every_junit_testcase(broken_report):
    cases = list(ET.parse(broken_report / "junit.xml").iter("testcase"))
    assert cases
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert {"dataset", "area", "schema_version", "schema_verdict"} <= set(props), props
        if case.find("skipped") is None:
            assert props["segmask_outcome"] in ("failed", "warned", "passed")
        if props.get("findings"):
            for f in json.loads(props["findings"]):
                assert {"code", "severity", "authority", "outcome", "message", "where", "fix", "follows_from"} <= set(f)


def test_card_and_thumbnails_under_xdist(pytester):
    pytest.importorskip("xdist")
    write_broken(pytester.path / "broken")
    pytester.runpytest_subprocess("--segmask-dataset=broken", "-n", "2", "--segmask-dist=items",
                                  "-p", "no:cacheprovider", "--html=report.html", "--self-contained-html")
    doc, tests = parse(pytester.path / "report.html")
    rows = card_rows(doc)
    assert rows["channel cells"].get("data-state") == "fail"
    assert rows[f"mask file {MASK}"].get("data-state") == "warn"
    figures = doc.xpath("//figure[contains(@class,'segmask-thumb')]")
    assert sorted(f.get("data-channel") for f in figures) == ["cells", "nuclei"]
    assert all(int(f.get("data-bad")) > 0 for f in figures)
    assert tests[f"broken/{MASK}::layout"]["resultsTableRow"][0].endswith(">Warned</td>")


def test_deselected_pyramid_item_labels_draws_the_picture(pytester):
    write_broken(pytester.path / "broken")
    pytester.runpytest_subprocess("--segmask-dataset=broken", "-k", "not pyramid", "-p", "no:cacheprovider",
                                  "--html=report.html", "--self-contained-html")
    doc, _ = parse(pytester.path / "report.html")
    figures = doc.xpath("//figure[contains(@class,'segmask-thumb')]")
    assert sorted(f.get("data-channel") for f in figures) == ["cells", "nuclei"]


def test_no_html_no_thumbnail_work(pytester, monkeypatch):
    write_broken(pytester.path / "broken")
    result = pytester.runpytest_subprocess("--segmask-dataset=broken", "-p", "no:cacheprovider",
                                           "--junitxml=j.xml")
    assert "Generated html report" not in result.stdout.str()
    assert "image/png" not in (pytester.path / "j.xml").read_text()


# --- the card from reports alone (no run) -----------------------------------------------------


class FakeState:
    node_id = "ds"
    root = "/data/ds"

    class choice:  # noqa: N801 - mimics SchemaChoice
        passing_versions = ["2.7"]
        validates = True
        version = "2.7"
        requested = "auto"

        @staticmethod
        def header(node_id):
            return f"segmask: {node_id} validates as segmentation-mask-v2.7"

    def summary_lines(self):
        return ["paths listed: 3"]

    def mask_paths(self):
        return []


def report(nodeid, outcome, when="call", longrepr=None, **props):
    from _pytest.reports import TestReport

    props = {"dataset": "ds", "schema_version": "2.7", "schema_verdict": "validates", **props}
    for key in ("findings", "notes"):
        if key in props:
            props[key] = json.dumps(props[key])
    return TestReport(nodeid, ("x", None, ""), {}, outcome, longrepr, when, user_properties=list(props.items()))


def finding(code, outcome="fail", follows_from="", **kw):
    return {"code": code, "severity": "error", "authority": "schema", "outcome": outcome,
            "message": kw.get("message", f"{code} happened"), "where": kw.get("where", ""),
            "fix": kw.get("fix", ""), "follows_from": follows_from}


def card_of(reports):
    from types import SimpleNamespace

    from pytest_segmask.html_report import HtmlReport

    plugin = SimpleNamespace(config=SimpleNamespace(), settings=SimpleNamespace(profile=None),
                             states=lambda: [FakeState()])
    hr = HtmlReport(plugin)
    for rep in reports:
        hr.pytest_runtest_logreport(rep)
    return hr, lxml.html.fragment_fromstring(hr.card(FakeState()))


def test_card_puts_root_causes_first_and_links_them():
    labels = "ds/m.ome.tiff::channel:glom::labels"
    table = "objects table ds/glom-objects.xlsx"
    reports = [
        report("ds/glom-objects.xlsx::mask-agreement", "failed", area=table, segmask_outcome="failed",
               findings=[finding("TABLE-MASK-AGREEMENT", follows_from=f"{labels}: the channel holds no objects")]),
        report("ds/glom-objects.xlsx::layout", "failed", area=table, segmask_outcome="failed",
               findings=[finding("TABLE-LAYOUT", where="row 10", fix="add rows")]),
        report(labels, "passed", area="channel glom", segmask_outcome="warned",
               findings=[finding("LABELS-EMPTY", outcome="warn")]),
    ]
    hr, card = card_of(reports)
    rows = {tr.get("data-area"): tr for tr in card.xpath(".//tr[contains(@class,'segmask-area')]")}
    assert list(rows) == ["channel glom", table]  # channels before tables
    first = rows[table].xpath(".//td[@class='segmask-first']")[0]
    assert first.text_content().startswith("TABLE-LAYOUT")  # the root cause, not the consequence
    assert "+1 more finding(s) in this area" in first.text_content()
    assert rows["channel glom"].get("data-state") == "warn"
    # the consequence's row says what it follows from, with a link to the cause's row
    row = lxml.html.fragment_fromstring(hr._row_finding(record_of_first(reports)), create_parent="div")
    follows = row.xpath(".//span[@class='segmask-follows']")[0]
    assert follows.text_content() == f"follows from {labels}: the channel holds no objects"
    assert follows.xpath(".//a")[0].get("href") == "#" + labels


def record_of_first(reports):
    from pytest_segmask.html_report import record_of

    return record_of(reports[0])


def test_card_skip_only_area_and_failures_without_findings():
    reports = [
        report("ds::dirschema::optional:mesh", "skipped", longrepr=("ds", None, "Skipped: optional, absent"),
               area="directory layout"),
        report("ds/a-mesh.glb::glb", "failed", longrepr="boom\nValueError: bad header", when="setup",
               area="companion ds/a-mesh.glb"),
    ]
    hr, card = card_of(reports)
    rows = {tr.get("data-area"): tr for tr in card.xpath(".//tr[contains(@class,'segmask-area')]")}
    assert rows["directory layout"].get("data-state") == "skip"
    assert "skipped: optional, absent" in rows["directory layout"].text_content()
    assert rows["companion ds/a-mesh.glb"].get("data-state") == "fail"
    assert "1 error:" in rows["companion ds/a-mesh.glb"].text_content()
    assert card.get("data-state") == "fail"


def test_worker_keeps_the_picture_on_the_report():
    """On an xdist worker the report must travel with its thumbnail extra."""
    from types import SimpleNamespace

    from pytest_segmask.html_report import HtmlReport

    hr = HtmlReport(SimpleNamespace(config=SimpleNamespace(workerinput={})))
    rep = report("ds/m::channel:c::pyramid-labels", "passed", area="channel c")
    rep.extras = [{"format_type": "image", "content": "x", THUMB_KEY: {"dataset": "ds"}}]
    hr.pytest_runtest_logreport(rep)
    assert len(rep.extras) == 1 and not hr._thumbs
