"""pytest-html integration: a conformance card per dataset at the top of the report, and
results-table rows a person can read without expanding them.

Registered only when pytest-html is installed; does work only when ``--html`` is given.

* The **card** (``pytest_html_results_summary``): one row per area — the directory layout, the
  mask file, each channel, each objects table, segmentation-masks.csv, each companion — with
  its state (fail / warn / pass / skip), the first finding (what, where, how to fix, what it
  follows from) and links to its items; one thumbnail per channel with the wrong pyramid
  pixels marked. It is built from the reports' properties (``user_properties``: dataset,
  area, segmask_outcome, findings, notes, objects, rows …), so it is the same under xdist.
* **Thumbnails** are drawn where the item runs (an xdist worker, in
  ``pytest_runtest_makereport``) and travel as a report extra marked ``segmask_thumbnail``;
  the controller takes them off the report (``pytest_runtest_logreport``) into the card, so
  each channel's picture appears once. The controller never decodes pixels.
* **Rows**: a "Finding" column (the first finding, the skip reason, or a note); warned items
  read "Warned"; the details of a segmask item are its findings table and notes — pytest's
  text of the same failure is left out (each failure is shown once), and a skip shows its
  reason, not a Python tuple.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

THUMB_KEY = "segmask_thumbnail"  # marks the report extra that carries a channel's thumbnail
STATES = ("fail", "warn", "pass", "skip")
STATE_WORDS = {"fail": "FAIL", "warn": "WARN", "pass": "PASS", "skip": "SKIP"}
AREA_RANK = (("directory layout", 0), ("mask file", 1), ("channel ", 2), ("objects table", 3),
             ("segmentation-masks.csv", 4), ("companion", 5))
FINDING_CELL_CHARS = 220  # first finding as shown in a results-table row
CARD_MESSAGE_CHARS = 400
_PYRAMID_COUNT = re.compile(r"level (\d+): ([\d,]+) of [\d,]+ pixel")

esc = html.escape


@dataclass
class Record:
    """One item as the card sees it (from its report only)."""

    nodeid: str
    name: str
    dataset: str
    area: str
    outcome: str  # failed, error, warned, passed, skipped
    props: dict
    findings: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str = ""  # skip reason, or the first line of a failure that has no findings

    @property
    def state(self) -> str:
        return {"failed": "fail", "error": "fail", "warned": "warn", "passed": "pass"}.get(self.outcome, "skip")


def _json_list(value) -> list:
    try:
        data = json.loads(value) if isinstance(value, str) else (value or [])
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def item_name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1]


def skip_reason(report) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
    else:
        text = str(longrepr or "")
    return text.removeprefix("Skipped: ").strip()


def outcome_of(report, props: dict) -> str:
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return "warned" if props.get("segmask_outcome") == "warned" else "passed"


def record_of(report) -> Record | None:
    """The card's view of a report, or None for reports the card does not show."""
    props = dict(getattr(report, "user_properties", None) or [])
    dataset = props.get("dataset")
    if dataset is None:
        return None
    if not (report.when == "call" or (report.when in ("setup", "teardown") and not report.passed)):
        return None
    rec = Record(
        nodeid=report.nodeid, name=item_name(report.nodeid), dataset=str(dataset),
        area=str(props.get("area") or "other"), outcome=outcome_of(report, props), props=props,
        findings=[f for f in _json_list(props.get("findings")) if isinstance(f, dict)],
        notes=[str(n) for n in _json_list(props.get("notes"))],
    )
    if rec.outcome == "skipped":
        rec.reason = skip_reason(report)
    elif rec.outcome in ("failed", "error") and not rec.findings:
        rec.reason = failure_line(report)
    return rec


def failure_line(report) -> str:
    """What a failure without findings says, in one line (the crash message or the last line)."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if getattr(crash, "message", None):
        return str(crash.message).splitlines()[0]
    lines = (getattr(report, "longreprtext", "") or "").strip().splitlines()
    return lines[0] if lines else ""


def shown_findings(rec: Record) -> list[dict]:
    """The findings that decide the item's outcome, root causes first."""
    wanted = {"failed": "fail", "error": "fail", "warned": "warn"}.get(rec.outcome)
    chosen = [f for f in rec.findings if f.get("outcome") == wanted] if wanted else []
    return sorted(chosen, key=lambda f: bool(f.get("follows_from")))


def area_rank(area: str) -> int:
    for prefix, rank in AREA_RANK:
        if area.startswith(prefix):
            return rank
    return len(AREA_RANK)


def anchor(nodeid: str) -> str:
    """href of an item's row: pytest-html gives each row's tbody the node id as its id."""
    return "#" + quote(nodeid, safe="/:@-._~!$&'()*+,;=")


def area_label(area: str) -> str:
    """The area's kind in bold and, for a file, its name with its folder in small print."""
    for kind in ("mask file ", "objects table ", "companion "):
        if area.startswith(kind):
            path = area[len(kind):]
            folder, _, name = path.rpartition("/")
            small = f"<small>{esc(folder)}/</small>" if folder else ""
            return f"{esc(kind.strip())}<br><span class='segmask-file'>{esc(name)}</span>{small}"
    return esc(area)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def shorten(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def pyramid_counts(data: dict | None, findings=()) -> dict[int, int]:
    """Wrong pyramid pixels per level: the check's ``bad_pixel_counts`` if it gives them, else
    read from its PYRAMID-LABELS messages ("level k: N of M pixel(s) …")."""
    raw = (data or {}).get("bad_pixel_counts")
    out: dict[int, int] = {}
    if isinstance(raw, dict):
        for level, n in raw.items():
            try:
                out[int(level)] = int(n)
            except (TypeError, ValueError):
                continue
        if out:
            return out
    for f in findings:
        if getattr(f, "code", None) != "PYRAMID-LABELS":
            continue
        m = _PYRAMID_COUNT.search(getattr(f, "message", ""))
        if m:
            out[int(m.group(1))] = out.get(int(m.group(1)), 0) + int(m.group(2).replace(",", ""))
    return out


class HtmlReport:
    def __init__(self, segmask_plugin) -> None:
        self.segmask = segmask_plugin
        self._records: dict[str, list[Record]] = defaultdict(list)
        self._thumbs: dict[str, dict[tuple[str, str], dict]] = defaultdict(dict)
        self._session_ids: set[str] | None = None

    # --- where items run (xdist workers): thumbnails -----------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        try:
            if call.when == "call" and item.config.getoption("htmlpath", None) and self._draws_thumbnail(item):
                report.extras = [*getattr(report, "extras", []), self._thumbnail_extra(item)]
        except Exception:  # noqa: BLE001 - a picture must never break a report
            pass
        return report

    def _draws_thumbnail(self, item) -> bool:
        """One item per channel draws its picture: pyramid-labels (it holds the wrong pixels),
        or labels when pyramid-labels is not part of the run (-k, --deselect)."""
        node = getattr(item, "node", None)
        if node is None or getattr(node, "kind", None) != "channel" or getattr(node, "channel_index", None) is None:
            return False
        if item.name == "pyramid-labels":
            return True
        if item.name != "labels":
            return False
        if self._session_ids is None:
            self._session_ids = {i.nodeid for i in item.session.items}
        return item.nodeid.rsplit("::", 1)[0] + "::pyramid-labels" not in self._session_ids

    def _thumbnail_extra(self, item) -> dict:
        from pytest_html import extras

        from .items import RESULT_KEY
        from .thumbnails import MAX_SOURCE_PIXELS, thumbnail

        node = item.node
        props = dict(item.user_properties)
        meta = {"dataset": props.get("dataset"), "file": node.rel, "channel": node.channel,
                "channel_index": node.channel_index, "area": props.get("area"), "item": item.nodeid}
        content = ""
        try:
            result = item.stash.get(RESULT_KEY, None)
            data = result.data if result is not None and item.name == "pyramid-labels" else {}
            counts = pyramid_counts(data, result.findings if result is not None else [])
            thumb = thumbnail(item.model.planes(node.rel, node.channel_index), data, counts)
        except Exception as exc:  # noqa: BLE001
            meta["missing"] = shorten(f"no picture: the channel could not be read ({type(exc).__name__}: {exc})", 300)
        else:
            if thumb is None:
                side = int(MAX_SOURCE_PIXELS ** 0.5)
                meta["missing"] = (f"no picture: every level is larger than {side} × {side} pixels "
                                   "(the mask has no small pyramid level)")
            else:
                meta.update(thumb.meta())
                content = base64.b64encode(thumb.png).decode("ascii")
        extra = extras.png(content, f"channel {node.channel}")
        extra[THUMB_KEY] = meta
        return extra

    # --- the controller: collect what the card shows -----------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report) -> None:
        if hasattr(getattr(self.segmask, "config", None), "workerinput"):
            return  # an xdist worker: the report still has to travel, pictures included
        extras = getattr(report, "extras", None)
        if extras:
            kept = []
            for extra in extras:
                meta = extra.get(THUMB_KEY) if isinstance(extra, dict) else None
                if isinstance(meta, dict):
                    self._thumbs[str(meta.get("dataset"))][(meta.get("file"), meta.get("channel"))] = {
                        **meta, "content": extra.get("content") or ""}
                else:
                    kept.append(extra)
            report.extras = kept  # the card shows the picture; the row does not repeat it
        rec = record_of(report)
        if rec is None:
            return
        records = self._records[rec.dataset]
        for i, old in enumerate(records):
            if old.nodeid == rec.nodeid:  # a teardown error after the call: keep the worse
                if rec.state == "fail":
                    records[i] = rec
                return
        records.append(rec)

    # --- the results table ---------------------------------------------------------------

    def pytest_html_report_title(self, report) -> None:
        names = [state.node_id for state in self.segmask.states()]
        report.title = "segmask conformance: " + ", ".join(names)

    def pytest_html_results_table_header(self, cells) -> None:
        cells.insert(2, '<th class="segmask-finding-head">Finding</th>')

    def pytest_html_results_table_row(self, report, cells) -> None:
        rec = record_of(report) if getattr(report, "when", None) else None
        cells.insert(2, f'<td class="col-segmask-finding">{self._row_finding(rec) if rec else ""}</td>')
        if rec is not None and rec.outcome == "warned" and cells and "col-result" in cells[0]:
            # pytest-html reads the result (its filters, its sort) from the first <td>…</td>
            # of this cell; the attribute holds that "Passed", the cell shows "Warned".
            cells[0] = ('<td class="col-result segmask-warned" data-pytest-html="<td>Passed</td>">'
                        'Warned</td>')

    def pytest_html_results_table_html(self, report, data) -> None:
        rec = record_of(report) if getattr(report, "when", None) else None
        if rec is None:
            return
        sections = [f"<pre class='segmask-captured'>{esc(header)}\n{esc(content)}</pre>"
                    for header, content in getattr(report, "sections", [])]
        data[:] = [f"<div class='segmask-log'>{self._details(rec)}{''.join(sections)}</div>"]

    def _row_finding(self, rec: Record) -> str:
        if rec.outcome == "skipped":
            return f"<span class='segmask-skip'>skipped: {self._linked(shorten(rec.reason, FINDING_CELL_CHARS))}</span>"
        chosen = shown_findings(rec)
        if chosen:
            first = chosen[0]
            more = f" <span class='segmask-more'>(+{len(chosen) - 1} more)</span>" if len(chosen) > 1 else ""
            follows = self._follows(first)
            return (f"<span class='segmask-{rec.state}'><b>{esc(first.get('code', ''))}</b> "
                    f"{esc(shorten(first.get('message', ''), FINDING_CELL_CHARS))}</span>{more}{follows}")
        if rec.reason:
            return f"<span class='segmask-fail'>{esc(shorten(rec.reason, FINDING_CELL_CHARS))}</span>"
        note = next((n for n in rec.notes if not n.startswith("segmask:")), "")
        return f"<span class='segmask-note'>{esc(shorten(note, FINDING_CELL_CHARS))}</span>" if note else ""

    def _follows(self, finding: dict) -> str:
        cause = finding.get("follows_from") or ""
        if not cause:
            return ""
        nodeid, _, why = cause.partition(": ")
        why = f": {esc(why)}" if why else ""
        return (f" <span class='segmask-follows'>follows from <a href='{esc(anchor(nodeid))}'>"
                f"{esc(nodeid)}</a>{why}</span>")

    def _details(self, rec: Record) -> str:
        """An item's details: its findings (what, where, fix, root cause) and notes."""
        parts = []
        if rec.outcome == "skipped":
            parts.append(f"<p class='segmask-skip'>Skipped: {self._linked(rec.reason)}</p>")
        if rec.reason and rec.outcome != "skipped":
            parts.append(f"<p class='segmask-fail'>{esc(rec.reason)}</p>")
        if rec.findings:
            order = {"fail": 0, "warn": 1, "waived": 2}
            rows = "".join(
                f"<tr class='segmask-row-{esc(f.get('outcome', ''))}'><td>{esc(f.get('outcome', ''))}</td>"
                f"<td><b>{esc(f.get('code', ''))}</b><br><small>{esc(f.get('severity', ''))}, "
                f"{esc(f.get('authority', ''))}</small></td><td>{esc(f.get('message', ''))}"
                f"{self._follows(f)}</td><td>{esc(f.get('where', ''))}</td><td>{esc(f.get('fix', ''))}</td></tr>"
                for f in sorted(rec.findings, key=lambda f: order.get(f.get("outcome"), 3)))
            parts.append("<table class='segmask-findings'><tr><th>outcome</th><th>rule</th><th>finding</th>"
                         f"<th>where</th><th>fix</th></tr>{rows}</table>")
        if rec.notes:
            parts.append("<ul class='segmask-notes'>" + "".join(f"<li>{esc(n)}</li>" for n in rec.notes) + "</ul>")
        return "".join(parts) or "<p>No findings.</p>"

    def _linked(self, text: str) -> str:
        """Escaped text with the node ids it names turned into links to their rows."""
        out = esc(text)
        ids = sorted({r.nodeid for records in self._records.values() for r in records if r.nodeid in text},
                     key=len, reverse=True)
        if not ids:
            return out
        pattern = re.compile("|".join(re.escape(esc(i)) for i in ids))
        return pattern.sub(lambda m: f"<a href='{esc(anchor(html.unescape(m.group())))}'>{m.group()}</a>", out)

    # --- the card --------------------------------------------------------------------------

    def pytest_html_results_summary(self, prefix, summary, postfix, session=None) -> None:
        cards = "".join(self.card(state) for state in self.segmask.states())
        prefix.append(
            f"<style>{CSS}</style><div id='segmask-cards'>{cards}</div>"
            # put the cards above the environment table, which starts collapsed
            "<script>(function(){var top=document.getElementById('environment-header'),"
            "cards=document.getElementById('segmask-cards'),env=document.getElementById('environment');"
            "if(top&&cards){top.parentNode.insertBefore(cards,top);}"
            "if(top&&env){env.classList.add('hidden');top.classList.add('collapsed');}})();</script>")

    def areas(self, dataset: str) -> list[tuple[str, list[Record]]]:
        groups: dict[str, list[Record]] = {}
        for rec in self._records.get(dataset, []):
            groups.setdefault(rec.area, []).append(rec)
        thumbs = self._thumbs.get(dataset, {})
        channel_index = {f"channel {ch}": meta.get("channel_index", 0) for (_, ch), meta in thumbs.items()}
        arrival = {area: i for i, area in enumerate(groups)}
        return sorted(groups.items(), key=lambda kv: (area_rank(kv[0]), channel_index.get(kv[0], 0), arrival[kv[0]]))

    def card(self, state) -> str:
        dataset = state.node_id
        areas = self.areas(dataset)
        records = self._records.get(dataset, [])
        area_states = [_area_state(recs) for _, recs in areas]
        verdict = next((s for s in STATES if s in area_states), "skip")
        counts = defaultdict(int)
        for rec in records:
            counts[rec.outcome] += 1
        tally = ", ".join(f"{counts[o]} {o}" for o in ("failed", "error", "warned", "passed", "skipped") if counts[o])
        n_fail, n_warn = area_states.count("fail"), area_states.count("warn")
        headline = (f"{n_fail} of {len(areas)} areas fail" + (f", {n_warn} warn" if n_warn else "") if n_fail
                    else f"{n_warn} of {len(areas)} areas warn" if n_warn
                    else f"all {len(areas)} areas pass" if areas else "no items ran")
        profile = self._profile()
        rows = "".join(self._area_row(dataset, area, recs) for area, recs in areas)
        filter_link = ("<a class='segmask-filter' href='?visible=failed,error'>show only failed items</a>"
                       if counts["failed"] or counts["error"] else "")
        return (
            f"<section class='segmask-card' id='segmask-card-{slug(dataset)}' data-dataset='{esc(dataset)}' "
            f"data-state='{verdict}'>"
            f"<h2>Dataset {esc(dataset)}: <span class='segmask-state {verdict}'>{STATE_WORDS[verdict]}</span> "
            f"<span class='segmask-headline'>{esc(headline)}</span></h2>"
            f"<p class='segmask-meta'>{profile} <b>Directory layout:</b> {esc(self._layout(state))}. "
            f"<b>Items:</b> {esc(tally) or 'none'}. {filter_link}</p>"
            "<table class='segmask-card-table'><thead><tr><th>area</th><th>state</th>"
            "<th>first finding: what, where, how to fix</th><th>items</th><th>picture</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{self._facts(state)}</section>"
        )

    def _profile(self) -> str:
        settings = getattr(self.segmask, "settings", None)
        profile = getattr(settings, "profile", None)
        if profile is None:
            return ""
        name = getattr(profile, "value", str(profile))
        try:
            from .collect import PROFILE_MEANING

            meaning = PROFILE_MEANING.get(profile, "")
        except Exception:  # noqa: BLE001
            meaning = ""
        meaning = f" ({esc(meaning)})" if meaning else ""
        return f"<b>Profile:</b> <span class='segmask-profile'>{esc(name)}</span>{meaning}."

    @staticmethod
    def _layout(state) -> str:
        try:
            from .collect import layout_header

            text = layout_header(state)
        except Exception:  # noqa: BLE001
            text = state.choice.header(state.node_id)
        return text.removeprefix("segmask: ").removeprefix(f"{state.node_id}: ")

    def _area_row(self, dataset: str, area: str, recs: list[Record]) -> str:
        st = _area_state(recs)
        area_id = f"segmask-area-{slug(dataset)}-{slug(area)}"
        first = self._area_first(st, recs)
        items = self._area_items(recs)
        picture = self._picture(dataset, area, recs)
        return (f"<tr id='{area_id}' class='segmask-area {st}' data-area='{esc(area)}' data-state='{st}'>"
                f"<td class='segmask-area-name' title='{esc(area)}'>{area_label(area)}</td>"
                f"<td><span class='segmask-state {st}'>{STATE_WORDS[st]}</span></td>"
                f"<td class='segmask-first'>{first}</td><td class='segmask-items'>{items}</td>"
                f"<td class='segmask-picture'>{picture}</td></tr>")

    def _area_first(self, st: str, recs: list[Record]) -> str:
        if st in ("fail", "warn"):
            candidates = [(rec, f) for rec in recs if rec.state == st for f in shown_findings(rec)]
            candidates.sort(key=lambda rf: bool(rf[1].get("follows_from")))  # root causes first
            if candidates:
                rec, f = candidates[0]
                where = f"<div class='segmask-where'><b>where:</b> {esc(f['where'])}</div>" if f.get("where") else ""
                fix = f"<div class='segmask-fix'><b>fix:</b> {esc(f['fix'])}</div>" if f.get("fix") else ""
                more = len(candidates) - 1
                more = (f"<div class='segmask-more'>+{more} more finding(s) in this area</div>" if more else "")
                return (f"<div><a href='{esc(anchor(rec.nodeid))}'><b>{esc(f.get('code', ''))}</b></a> "
                        f"{esc(shorten(f.get('message', ''), CARD_MESSAGE_CHARS))}{self._follows(f)}</div>"
                        f"{where}{fix}{more}")
            rec = next(r for r in recs if r.state == st)
            return f"<div><a href='{esc(anchor(rec.nodeid))}'>{esc(rec.name)}</a>: {esc(rec.reason or rec.outcome)}</div>"
        if st == "skip":
            rec = recs[0]
            return f"<div class='segmask-skip'>skipped: {self._linked(shorten(rec.reason, CARD_MESSAGE_CHARS))}</div>"
        facts = []
        for rec in recs:
            if "objects" in rec.props:
                facts.append(f"{rec.props['objects']} objects")
            if "rows" in rec.props:
                facts.append(f"{rec.props['rows']} rows")
        note = next((n for rec in recs for n in rec.notes if not n.startswith("segmask:")), "")
        text = "; ".join(facts + ([shorten(note, CARD_MESSAGE_CHARS)] if note else []))
        return f"<div class='segmask-note'>{esc(text)}</div>" if text else ""

    @staticmethod
    def _area_items(recs: list[Record]) -> str:
        parts = []
        for outcome in ("failed", "error", "warned", "skipped", "passed"):
            chosen = [r for r in recs if r.outcome == outcome]
            if not chosen:
                continue
            if outcome == "passed":
                parts.append(f"<span class='segmask-passed'>{len(chosen)} passed</span>")
                continue
            links = ", ".join(f"<a href='{esc(anchor(r.nodeid))}'>{esc(r.name)}</a>" for r in chosen)
            parts.append(f"<span class='segmask-{outcome}'>{len(chosen)} {outcome}:</span> {links}")
        return "<br>".join(parts)

    def _picture(self, dataset: str, area: str, recs: list[Record]) -> str:
        if not area.startswith("channel "):
            return ""
        channel = recs[0].props.get("channel")
        file = recs[0].props.get("file")
        meta = self._thumbs.get(dataset, {}).get((file, channel))
        if meta is None:
            return ""
        label = f"channel {channel}"
        if not meta.get("content"):
            return f"<div class='segmask-nopicture'>{esc(meta.get('missing', 'no picture'))}</div>"
        bad = int(meta.get("bad") or 0)
        caption = esc(meta.get("caption", ""))
        cls = "segmask-thumb marked" if bad else "segmask-thumb"
        return (f"<figure class='{cls}' data-channel='{esc(str(channel))}' data-bad='{bad}' "
                f"data-boxes='{int(meta.get('boxes') or 0)}'>"
                f"<img alt='{esc(label)}' src='data:image/png;base64,{meta['content']}' "
                f"width='{int(meta.get('width') or 0)}' height='{int(meta.get('height') or 0)}'>"
                f"<figcaption>{caption}</figcaption></figure>")

    def _facts(self, state) -> str:
        rows = [("path", str(state.root))]
        try:
            rows.append(("versions passing", ", ".join(state.choice.passing_versions) or "none"))
            for line in state.summary_lines():
                key, _, value = line.partition(": ")
                rows.append((key, value))
        except Exception:  # noqa: BLE001
            pass
        records = self._records.get(state.node_id, [])
        objects = {(r.props.get("file"), r.props.get("channel")): r.props["objects"] for r in records if "objects" in r.props}
        try:
            for rel in state.mask_paths():
                info = state.mask_info(rel)  # header and OME-XML only, no pixels
                if not info.readable:
                    rows.append((rel, "not readable as TIFF"))
                    continue
                counts = ", ".join(f"{name}: {objects.get((rel, name), '?')} objects" for name in info.channel_names)
                rows.append((rel, f"{info.width} × {info.height} px, {info.dtype}, {info.planes} channel(s), "
                                  f"{len(info.levels)} level(s), {info.compression}, "
                                  f"{'tiles' if info.tiled else 'strips'}; {counts}"))
        except Exception:  # noqa: BLE001 - facts are a bonus; the card above does not need them
            pass
        rows += [(str(r.props.get("file", "")), f"{r.props['rows']} object row(s)") for r in records if "rows" in r.props]
        failed: dict[str, int] = defaultdict(int)
        warned: dict[str, int] = defaultdict(int)
        for rec in records:
            for code in str(rec.props.get("failed_rules", "")).split():
                failed[code] += 1
            for code in str(rec.props.get("warned_rules", "")).split():
                warned[code] += 1
        rows.append(("rules failed", _counts(failed) or "none"))
        rows.append(("rules warned", _counts(warned) or "none"))
        body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        return f"<table class='segmask-facts'>{body}</table>"


def _area_state(recs: list[Record]) -> str:
    states = {r.state for r in recs}
    return next((s for s in STATES if s in states), "skip")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} ({n})" for code, n in sorted(counts.items()))


CSS = """
#segmask-cards{margin:8px 0 16px}
.segmask-card{border:1px solid #ccc;border-radius:6px;padding:8px 12px;margin:0 0 12px;background:#fff;color:#222}
.segmask-card a,td.col-segmask-finding a,.segmask-log a{color:#0b5cad}
td.col-segmask-finding{color:#222}
.segmask-card h2{margin:4px 0 6px;font-size:20px}
.segmask-meta{margin:0 0 8px;color:#333}
.segmask-state{display:inline-block;min-width:3.4em;text-align:center;font-weight:bold;border-radius:3px;padding:1px 5px;color:#fff}
.segmask-state.fail{background:#c62828}.segmask-state.warn{background:#e08e00}
.segmask-state.pass{background:#2e7d32}.segmask-state.skip{background:#888}
.segmask-card-table{border-collapse:collapse;width:100%;font-size:13px}
.segmask-card-table th,.segmask-card-table td{border:1px solid #ddd;padding:4px 6px;vertical-align:top;text-align:left}
.segmask-card-table th{background:#f2f2f2}
.segmask-area.fail td:first-child{border-left:5px solid #c62828}
.segmask-area.warn td:first-child{border-left:5px solid #e08e00}
.segmask-area.pass td:first-child{border-left:5px solid #2e7d32}
.segmask-area.skip td:first-child{border-left:5px solid #888}
.segmask-area-name{font-weight:bold;width:13em;min-width:10em}
.segmask-area-name small{display:block;font-weight:normal;color:#555;overflow-wrap:anywhere}
.segmask-area-name .segmask-file{overflow-wrap:anywhere}
.segmask-first{min-width:24em}
.segmask-where,.segmask-fix,.segmask-more,.segmask-follows{color:#333;font-size:12px}
.segmask-fix{color:#1b5e20}
.segmask-items{font-size:12px;min-width:10em}
.segmask-failed,.segmask-error,.segmask-fail{color:#c62828}
.segmask-warned,.segmask-warn{color:#b26b00}
.segmask-passed{color:#2e7d32}.segmask-skipped,.segmask-skip,.segmask-note{color:#666}
.segmask-picture{width:1%}
.segmask-thumb{margin:0;text-align:center}
.segmask-thumb img{image-rendering:pixelated;border:1px solid #999;max-width:240px;height:auto}
.segmask-thumb figcaption{font-size:11px;max-width:240px;color:#333}
.segmask-thumb.marked figcaption{color:#c62828;font-weight:bold}
.segmask-facts{font-size:12px;margin-top:6px;border-collapse:collapse}
.segmask-facts th{text-align:left;padding-right:10px;font-weight:normal;color:#555}
.passed .col-result.segmask-warned{color:#b26b00;font-weight:bold}
td.col-segmask-finding{font-size:12px;max-width:60em}
.segmask-log{white-space:normal;font-family:Helvetica,Arial,sans-serif}
.segmask-findings{border-collapse:collapse;margin:4px 0}
.segmask-findings td,.segmask-findings th{border:1px solid #ccc;padding:3px 5px;vertical-align:top;text-align:left}
tr.segmask-row-fail td:first-child{color:#c62828;font-weight:bold}
tr.segmask-row-warn td:first-child{color:#b26b00;font-weight:bold}
.segmask-findings td{color:#222}
.segmask-captured{white-space:pre-wrap}
"""
