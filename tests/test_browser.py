"""The HTML report of a failing dataset, rendered in headless Chromium (skipped without it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)


def failing_report(pytester):
    spec = DatasetSpec(masks=(MaskSpec(width=160, height=120, pyramid_method="mean",
                                       channels=(ChannelSpec("cells", 14), ChannelSpec("nuclei", 10))),))
    write_dataset(spec, pytester.path / "broken")
    (pytester.path / "broken" / "stray.txt").write_text("not part of the dataset")
    pytester.runpytest("--segmask-dataset=broken", "--html=report.html", "--self-contained-html")
    return pytester.path / "report.html"


def test_report_shows_summary_thumbnails_and_failures(pytester, tmp_path):
    report = failing_report(pytester)
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", report.as_uri()).stdout
    assert "segmask conformance: broken" in dom  # title
    assert "Dataset broken" in dom and "fails every version; checked against v2.7" in dom  # summary
    assert "PYRAMID-LABELS (2)" in dom and "DIR-NOT-ALLOWED (1)" in dom
    # failing items are listed as rows of the results table
    assert "broken::dirschema::not-allowed" in dom
    assert "channel:cells::pyramid-labels" in dom
    assert dom.count("data:image/png;base64") >= 4  # channel thumbnails


def test_screenshot(pytester, tmp_path):
    report = failing_report(pytester)
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1280,1400", "--virtual-time-budget=10000", f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
