"""Join the reports of sharded runs: ``python -m pytest_segmask.merge``.

    python -m pytest_segmask.merge --junit segmask.xml --html segmask.html shard-*/segmask.xml

writes one junit file with every test suite of the inputs, and one HTML page with a row per
dataset (items passed / warned / failed / skipped, and the failing items with their first
finding), linking to each shard's own pytest-html report when ``--link`` names them.
"""

from __future__ import annotations

import argparse
import html
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def merge_junit(inputs: list[Path]) -> ET.Element:
    merged = ET.Element("testsuites", name="segmask")
    for path in inputs:
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            suite.set("name", f"{suite.get('name', 'pytest')} ({path.parent.name or path.stem})")
            merged.append(suite)
    totals = defaultdict(float)
    for suite in merged:
        for key in ("tests", "failures", "errors", "skipped", "time"):
            totals[key] += float(suite.get(key, 0) or 0)
    for key, value in totals.items():
        merged.set(key, f"{value:.3f}" if key == "time" else str(int(value)))
    return merged


def dataset_rows(merged: ET.Element) -> dict[str, dict]:
    """Per dataset: counts by outcome and the failing items' first lines (junit properties)."""
    rows: dict[str, dict] = {}
    for case in merged.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        dataset = props.get("dataset")
        if dataset is None:
            continue
        row = rows.setdefault(dataset, {"passed": 0, "warned": 0, "failed": 0, "skipped": 0,
                                        "failures": [], "version": props.get("schema_version", "")})
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            row["failed"] += 1
            name = f"{case.get('classname', '')}.{case.get('name', '')}"
            row["failures"].append((name, (failure.get("message") or "").splitlines()[0][:300]))
        elif case.find("skipped") is not None:
            row["skipped"] += 1
        elif props.get("warned_rules"):
            row["warned"] += 1
        else:
            row["passed"] += 1
    return rows


def html_index(rows: dict[str, dict], links: list[str]) -> str:
    esc = html.escape
    body = []
    for dataset in sorted(rows):
        row = rows[dataset]
        verdict = "fail" if row["failed"] else ("warn" if row["warned"] else "pass")
        colour = {"fail": "#f8d7da", "warn": "#fff3cd", "pass": "#d4edda"}[verdict]
        failures = "".join(f"<li><code>{esc(n)}</code>: {esc(m)}</li>" for n, m in row["failures"][:10])
        more = f"<li>… and {len(row['failures']) - 10} more</li>" if len(row["failures"]) > 10 else ""
        body.append(
            f"<tr style='background:{colour}'><td>{esc(dataset)}</td><td>{verdict}</td>"
            f"<td>{row['passed']}</td><td>{row['warned']}</td><td>{row['failed']}</td>"
            f"<td>{row['skipped']}</td><td><ul>{failures}{more}</ul></td></tr>")
    link_list = "".join(f"<li><a href='{esc(link)}'>{esc(link)}</a></li>" for link in links)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>segmask conformance</title></head>"
        "<body><h1>segmask conformance</h1>"
        "<table border='1' style='border-collapse:collapse'><tr><th>dataset</th><th>verdict</th>"
        "<th>passed</th><th>warned</th><th>failed</th><th>skipped</th><th>failing items</th></tr>"
        + "".join(body) + "</table>"
        + (f"<h2>Shard reports</h2><ul>{link_list}</ul>" if links else "")
        + "</body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_segmask.merge", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="junit XML files of the shards")
    parser.add_argument("--junit", type=Path, required=True, help="merged junit XML to write")
    parser.add_argument("--html", type=Path, help="HTML index to write")
    parser.add_argument("--link", action="append", default=[], help="a shard's HTML report to link (repeatable)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.inputs if not p.is_file()]
    if missing:
        parser.error(f"no such junit file: {', '.join(missing)}")
    merged = merge_junit(args.inputs)
    ET.ElementTree(merged).write(args.junit, encoding="utf-8", xml_declaration=True)
    rows = dataset_rows(merged)
    if args.html:
        args.html.write_text(html_index(rows, args.link), encoding="utf-8")
    failed = sum(row["failed"] for row in rows.values())
    print(f"merged {len(args.inputs)} junit file(s): {len(rows)} dataset(s), {failed} failing item(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
