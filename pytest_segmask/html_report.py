"""pytest-html integration: a title naming the datasets and a summary per dataset.

Registered only when pytest-html is active. The summary is built from the reports'
properties, so it is the same under xdist (the controller runs no items).
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict

import pytest


class HtmlReport:
    def __init__(self, segmask_plugin) -> None:
        self.segmask = segmask_plugin
        # dataset node id -> list of (nodeid, outcome, properties)
        self._items: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)

    def pytest_runtest_logreport(self, report) -> None:
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        props = dict(report.user_properties)
        dataset = props.get("dataset")
        if dataset is not None:
            self._items[dataset].append((report.nodeid, report.outcome, props))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "call" and report.failed:
            table = self._findings_table(item)
            if table:
                from pytest_html import extras

                report.extras = [*getattr(report, "extras", []), extras.html(table)]
        if call.when == "call" and item.name in ("labels", "pyramid-labels"):
            png = self._thumbnail(item)
            if png:
                from pytest_html import extras

                report.extras = [*getattr(report, "extras", []),
                                 extras.png(base64.b64encode(png).decode("ascii"), item.node.channel)]
        return report

    @staticmethod
    def _findings_table(item) -> str | None:
        """The findings as a table: rule, what (first rows/ids/pixels), where, fix."""
        from .items import RESULT_KEY

        result = item.stash.get(RESULT_KEY, None)
        if result is None or not result.findings:
            return None
        esc = html.escape
        cells = "".join(
            f"<tr><td>{esc(f.code)}</td><td>{esc(f.severity.value)}</td><td>{esc(f.message)}</td>"
            f"<td>{esc(str(f.location))}</td><td>{esc(f.fix or '')}</td></tr>"
            for f in result.findings[:20]
        )
        more = f"<p>… and {len(result.findings) - 20} more findings</p>" if len(result.findings) > 20 else ""
        return (
            "<table class='segmask-findings' style='border-collapse:collapse' border='1'>"
            "<tr><th>rule</th><th>severity</th><th>finding</th><th>where</th><th>fix</th></tr>"
            f"{cells}</table>{more}"
        )

    def _thumbnail(self, item) -> bytes | None:
        """The channel's thumbnail; for pyramid-labels, bad pixels marked in red."""
        from .items import RESULT_KEY
        from .thumbnails import render

        node = getattr(item, "node", None)
        if node is None or node.channel_index is None:
            return None
        result = item.stash.get(RESULT_KEY, None)
        if result is None or result.skip:
            return None
        try:
            planes = item.model.planes(node.rel, node.channel_index)
            return render(planes, result.data.get("bad_pixels"))
        except Exception:  # noqa: BLE001 - a thumbnail must never break the report
            return None

    def pytest_html_report_title(self, report) -> None:
        names = [state.node_id for state in self.segmask.states()]
        report.title = "segmask conformance: " + ", ".join(names)

    def pytest_html_results_summary(self, prefix, summary, postfix, session=None) -> None:
        for state in self.segmask.states():
            prefix.append(self._dataset_summary(state))

    def _dataset_summary(self, state) -> str:
        choice = state.choice
        esc = html.escape
        rows = [
            ("path", str(state.root)),
            ("schema", choice.header(state.node_id).removeprefix("segmask: ")),
            ("versions passing", ", ".join(choice.passing_versions) or "none"),
        ]
        for line in state.summary_lines():
            key, _, value = line.partition(": ")
            rows.append((key, value))
        items = self._items.get(state.node_id, [])
        objects = {(p.get("file"), p.get("channel")): p["objects"] for _, _, p in items if "objects" in p}
        for rel in state.mask_paths():
            info = state.mask_info(rel)
            if not info.readable:
                rows.append((rel, "not readable as TIFF"))
                continue
            counts = ", ".join(f"{name}: {objects.get((rel, name), '?')} objects" for name in info.channel_names)
            rows.append((rel, f"{info.width} × {info.height} px, {info.dtype}, {info.planes} channel(s), "
                              f"{len(info.levels)} level(s), {info.compression}, "
                              f"{'tiles' if info.tiled else 'strips'}; {counts}"))
        for _, _, p in items:
            if "rows" in p:
                rows.append((p.get("file", ""), f"{p['rows']} object row(s)"))
        failed: dict[str, int] = defaultdict(int)
        warned: dict[str, int] = defaultdict(int)
        for _nodeid, _outcome, props in self._items.get(state.node_id, []):
            for code in props.get("failed_rules", "").split():
                failed[code] += 1
            for code in props.get("warned_rules", "").split():
                warned[code] += 1
        rows.append(("rules failed", _counts(failed) or "none"))
        rows.append(("rules warned", _counts(warned) or "none"))
        body = "".join(
            f"<tr><th style='text-align:left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows
        )
        return (
            f"<div class='segmask-summary'><h2>Dataset {esc(state.node_id)}</h2>"
            f"<table>{body}</table></div>"
        )


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} ({n})" for code, n in sorted(counts.items()))
