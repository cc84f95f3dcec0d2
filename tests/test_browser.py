"""The HTML report of a broken dataset, rendered in headless Chromium (skipped without it).

What a data provider sees without expanding anything: the conformance card (areas, states,
first findings, one marked thumbnail per channel), warned rows labelled "Warned", each failure
shown once. ``SEGMASK_UPDATE_DOCS=1`` also writes the screenshot to docs/report.png.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_PNG = Path(__file__).resolve().parents[1] / "docs" / "report.png"
MASK = "derived/segmentation_masks/sample.segmentations.ome.tiff"
# an averaged pyramid (fails), strips (warns), a stray file (fails)
BROKEN = DatasetSpec(masks=(MaskSpec(width=160, height=120, pyramid_method="mean", tile=None,
                                     channels=(ChannelSpec("cells", 14), ChannelSpec("nuclei", 10))),))


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)


def failing_report(pytester):
    write_dataset(BROKEN, pytester.path / "broken")
    (pytester.path / "broken" / "stray.txt").write_text("not part of the dataset")
    pytester.runpytest_subprocess("--segmask-dataset=broken", "--html=report.html", "--self-contained-html",
                                  "-p", "no:cacheprovider")
    return pytester.path / "report.html"


@pytest.fixture
def rendered(pytester, tmp_path):
    """The live DOM after pytest-html's script ran, without its JSON blob (only what is shown)."""
    report = failing_report(pytester)
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", report.as_uri()).stdout
    doc = lxml.html.fromstring(dom)
    for blob in doc.xpath("//*[@id='data-container']"):
        blob.drop_tree()
    return doc


def results_rows(doc):
    """Rendered rows of the results table: node id -> tbody."""
    return {tb.get("id"): tb for tb in doc.xpath("//table[@id='results-table']/tbody[contains(@class,'results-table-row')]")}


def test_card_rows_and_states(rendered):
    doc = rendered
    assert doc.xpath("//h1[@id='title']")[0].text_content() == "segmask conformance: broken"
    card = doc.xpath("//section[contains(@class,'segmask-card')]")[0]
    # the card is the first thing under the title, above pytest-html's environment table
    body = [e for e in doc.body if e.tag not in ("script", "template", "footer")]
    assert [e.get("id") for e in body].index("segmask-cards") < [e.get("id") for e in body].index("environment-header")
    assert "Dataset broken" in card.text_content() and card.get("data-state") == "fail"
    assert "Profile: hubmap" in card.text_content()
    states = {tr.get("data-area"): tr.get("data-state") for tr in card.xpath(".//tr[contains(@class,'segmask-area')]")}
    assert states["directory layout"] == "fail"
    assert states[f"mask file {MASK}"] == "warn"
    assert states["channel cells"] == "fail" and states["channel nuclei"] == "fail"
    assert "segmentation-masks.csv" in states
    assert any(a.startswith("objects table ") for a in states)
    for tr in card.xpath(".//tr[contains(@class,'segmask-area')]"):
        badge = tr.xpath(".//span[contains(@class,'segmask-state')]")[0].text_content()
        assert badge == tr.get("data-state").upper()
    layout = card.xpath(".//tr[@data-area='directory layout']")[0].text_content()
    assert "DIR-NOT-ALLOWED" in layout and "stray.txt" in layout and "fix:" in layout
    # links from the card reach rendered rows
    rows = results_rows(doc)
    hrefs = [a.get("href")[1:] for a in card.xpath(".//a[starts-with(@href,'#')]")]
    assert hrefs and all(h in rows for h in hrefs)


def test_thumbnails_one_per_channel_with_marks(rendered):
    doc = rendered
    figures = doc.xpath("//figure[contains(@class,'segmask-thumb')]")
    assert sorted(f.get("data-channel") for f in figures) == ["cells", "nuclei"]
    for fig in figures:
        assert fig.xpath("ancestor::section[contains(@class,'segmask-card')]")  # in the card, not in a row
        assert fig.xpath(".//img")[0].get("src").startswith("data:image/png;base64,")
        bad = int(fig.get("data-bad"))
        assert bad > 10 and int(fig.get("data-boxes")) >= 1
        assert re.search(rf"{bad:,} wrong pyramid pixel\(s\) \(level 1: [\d,]+, level 2: [\d,]+\) marked red",
                         fig.text_content())
    # no other picture anywhere on the page (the rows do not repeat them)
    assert len(doc.xpath("//img[starts-with(@src,'data:image/png')]")) == 2


def test_warned_item_labelled_warned(rendered):
    row = results_rows(rendered)[f"broken/{MASK}::layout"]
    result = row.xpath(".//td[contains(@class,'col-result')]")[0]
    assert result.text_content() == "Warned"
    assert "TIFF-LAYOUT" in row.xpath(".//td[@class='col-segmask-finding']")[0].text_content()
    assert "TIFF-LAYOUT" in row.xpath(".//div[@class='log']")[0].text_content()


def test_each_failure_shown_once_and_skips_read_as_reasons(rendered):
    rows = results_rows(rendered)
    row = rows[f"broken/{MASK}::channel:cells::pyramid-labels"]
    assert row.xpath(".//td[contains(@class,'col-result')]")[0].text_content() == "Failed"
    finding = row.xpath(".//td[@class='col-segmask-finding']")[0].text_content()
    assert finding.startswith("PYRAMID-LABELS") and "(+1 more)" in finding
    log = row.xpath(".//div[@class='log']")[0]
    assert len(log.xpath(".//table[@class='segmask-findings']")) == 1
    text = log.text_content()
    assert text.count("channel 'cells' level 2: ") == 1  # once, in the findings table
    assert "(error, schema):" not in text and "more finding(s) below" not in text  # no raw pytest text
    skipped = [tb for tb in rows.values() if "skipped" in tb.get("class")]
    assert skipped
    for tb in skipped:
        assert "('" not in tb.text_content()
        assert tb.xpath(".//td[@class='col-segmask-finding']")[0].text_content().startswith("skipped: ")


def test_screenshot(pytester, tmp_path):
    report = failing_report(pytester)
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1100,1320", "--hide-scrollbars", "--virtual-time-budget=10000",
             f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and 10_000 < shot.stat().st_size < 300_000
    if os.environ.get("SEGMASK_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, DOCS_PNG)
    assert DOCS_PNG.stat().st_size < 300_000
