"""Collection: a dataset becomes a tree of collectors and check items.

Node ids:
  <dataset>::dirschema::<check>
  <dataset>/<path in dataset>::<check>
  <dataset>/<mask path>::channel:<name>::<check>
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from . import dirschema
from .dataset import DatasetModel, Node
from .findings import Profile
from .items import PROFILE_KEY, WAIVERS_KEY, SegmaskItem, safe_name
from .plans import PLANS


PROFILE_MEANING = {
    Profile.INGEST: "only what HuBMAP's ingest rejects fails; everything else warns",
    Profile.HUBMAP: "ingest and schema errors fail; practice findings warn",
    Profile.STRICT: "every finding fails",
}


@dataclass
class Settings:
    datasets: list[Path]
    schema_version: str
    ignore_globs: list[str]
    profile: Profile = Profile.HUBMAP
    waivers: dict[str, str] = field(default_factory=dict)
    shard: tuple[int, int] | None = None  # (K, N): this run checks the K-th of N shares
    dist: str = "dataset"  # under xdist: whole datasets per worker, or xdist's own "items"
    source_image: Path | None = None  # the OME-TIFF the masks were derived from


def dataset_node_id(root: Path, rootpath: Path) -> str:
    """The dataset root relative to the rootdir ('../x' when outside it)."""
    rel = os.path.relpath(root, rootpath)
    return Path(rel).as_posix()


class SegmaskPlugin:
    """Registered only when a dataset is given."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._states: dict[Path, DatasetModel] = {}
        config.stash[PROFILE_KEY] = settings.profile
        config.stash[WAIVERS_KEY] = settings.waivers
        self._tally: dict[str, dict[str, int]] = {}  # rule code -> outcome -> items
        self._warned: list[tuple[str, str]] = []  # (node id, findings JSON) of passing items that warn
        # SegmaskWarning is for -W error promotion only; the summary shows warned items as findings
        config.addinivalue_line("filterwarnings", "ignore::pytest_segmask.SegmaskWarning")
        if config.pluginmanager.hasplugin("html") and config.getoption("htmlpath", None):
            from .html_report import HtmlReport  # only when a report is written (--html)

            config.pluginmanager.register(HtmlReport(self), "segmask-html")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for state in self._states.values():
            state.close()
        if self.settings.shard and not self.settings.datasets and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            session.exitstatus = pytest.ExitCode.OK  # an empty shard is not an error

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Run each objects table's items right after the items of the channel it describes, so
        that channel's full statistics can be released early (memory stays at one channel on a large mask)."""
        items[:] = tables_after_their_channels(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Count, per channel, the items that use its full statistics (released after the last),
        and note the channels whose ids a companion file needs (the others keep no ids)."""
        for item in session.items:
            if isinstance(item, SegmaskItem):
                model = item.model
                if model.ids_wanted is None:
                    model.ids_wanted = set()
                for key in model.pass_keys(item.plan, item.node):
                    model.consumers[key] = model.consumers.get(key, 0) + 1
                if "companion_channel_ids" in item.plan.inputs:
                    owner = model.companion_owner(item.node)
                    if owner is not None:
                        model.ids_wanted.add(owner)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log):
        """Whole datasets per worker, unless the user chose another --dist or --segmask-dist=items."""
        if self.settings.dist != "dataset" or config.getvalue("dist") != "load":
            return None
        from .distribute import make_scheduler

        return make_scheduler(config, log, [self.state(root).node_id for root in self.settings.datasets])

    def states(self) -> list[DatasetModel]:
        return [self.state(root) for root in self.settings.datasets]

    def state(self, root: Path) -> DatasetModel:
        """Listing and schema choice, computed once per dataset and process."""
        if root not in self._states:
            listing = dirschema.list_dataset(root)
            choice = dirschema.choose_version(
                listing, self.settings.schema_version, self.settings.ignore_globs
            )
            self._states[root] = DatasetModel(
                root, dataset_node_id(root, self.config.rootpath), listing, choice,
                self.settings.ignore_globs, source_image=self.settings.source_image,
            )
        return self._states[root]

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector):
        if Path(os.path.normpath(path)) in self.settings.datasets:
            root = Path(os.path.normpath(path))
            state = self.state(root)
            return DatasetDirectory.from_parent(
                parent, path=root, nodeid=state.node_id, state=state
            )
        return None

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = [f"segmask: profile {self.settings.profile.value} ({PROFILE_MEANING[self.settings.profile]})"]
        if self.settings.shard:
            k, n = self.settings.shard
            names = ", ".join(dataset_node_id(r, config.rootpath) for r in self.settings.datasets) or "none"
            lines.append(f"segmask: shard {k}/{n} checks {len(self.settings.datasets)} dataset(s): {names}")
        lines += [layout_header(self.state(root)) for root in self.settings.datasets]
        lines += [f"segmask: waived {code}: {why}" for code, why in self.settings.waivers.items()]
        return lines

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if isinstance(item, SegmaskItem) and report.skipped and isinstance(report.longrepr, tuple):
            # locate the skip at the item, not at the line of the plugin that raised it
            report.longrepr = (str(self.config.rootpath / item.nodeid), None, report.longrepr[2])
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        props = dict(report.user_properties)
        if report.passed and props.get("findings"):
            self._warned.append((report.nodeid, props["findings"]))
        for name, value in report.user_properties:
            outcome = {"failed_rules": "failed", "warned_rules": "warned", "waived_rules": "waived"}.get(name)
            if outcome:
                for code in str(value).split():
                    counts = self._tally.setdefault(code, {})
                    counts[outcome] = counts.get(outcome, 0) + 1

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self._warned:
            import json

            terminalreporter.section("segmask warnings (these items pass)", sep="_")
            for nodeid, findings in self._warned:
                findings = json.loads(findings)
                warned = any(f["outcome"] == "warn" for f in findings)
                terminalreporter.write_line(f"{'WARNED' if warned else 'WAIVED'} {nodeid}", yellow=True, bold=True)
                for f in findings:
                    if f["outcome"] == "waived":
                        reason = self.settings.waivers.get(f["code"], "")
                        terminalreporter.write_line(f"  waived {f['code']} ({reason}): {f['message']}")
                        continue
                    terminalreporter.write_line(f"  {f['code']} ({f['severity']}, {f['authority']}): {f['message']}")
                    if f["fix"]:
                        terminalreporter.write_line(f"    fix: {f['fix']}")
                    if f["follows_from"]:
                        terminalreporter.write_line(f"    follows from: {f['follows_from']}")
        if not self._tally:
            return
        terminalreporter.section("segmask rules")
        for code in sorted(self._tally):
            counts = self._tally[code]
            parts = [f"{n} item(s) {outcome}" for outcome, n in sorted(counts.items())]
            line = f"{code}: {', '.join(parts)}"
            if code in self.settings.waivers:
                line += f" (waived: {self.settings.waivers[code]})"
            terminalreporter.write_line(line)


def layout_header(model: DatasetModel) -> str:
    """What the directory items know, and only that: the layout, not the dataset, conforms."""
    choice = model.choice
    versions = ", ".join(f"v{v}" for v in choice.passing_versions)
    if choice.validates and choice.requested == "auto" and choice.version != dirschema.VERSIONS[-1]:
        newer = [v for v in dirschema.VERSIONS if v > choice.version]
        why = ("they need `.ome.tiff`" if any(p.endswith(".ome.tif") for p in model.mask_paths())
               else "see the dirschema items run against them")
        return (f"segmask: {model.node_id}: the directory layout conforms only to {versions} "
                f"(newest v{choice.version}); {', '.join('v' + v for v in newer)} reject it: {why}")
    if choice.validates:
        return (f"segmask: {model.node_id}: the directory layout conforms to segmentation-mask-v{choice.version}"
                f" (checked against v{choice.version}; the file items below check the contents)")
    if choice.requested == "auto":
        return (f"segmask: {model.node_id}: the directory layout conforms to no schema version; "
                f"checked against v{choice.version} (see the dirschema items)")
    return (f"segmask: {model.node_id}: the directory layout does not conform to "
            f"segmentation-mask-v{choice.version} (see the dirschema items)")


def tables_after_their_channels(items: list) -> list:
    """``items`` with every objects table's items moved right after the last item of the
    channel the table describes (tables naming no channel stay where they are)."""
    last: dict[tuple, pytest.Item] = {}
    for item in items:
        if isinstance(item, SegmaskItem) and item.node.kind == "channel":
            last[(id(item.model), item.node.rel, item.node.channel_index)] = item
    moved: dict[tuple, list] = {}
    for item in items:
        if isinstance(item, SegmaskItem) and item.node.kind == "table":
            owner = item.model.table_owner(item.node.rel)
            key = (id(item.model), *owner) if owner else None
            if key in last:
                moved.setdefault(key, []).append(item)
    if not moved:
        return items
    moving = {id(item) for group in moved.values() for item in group}
    after = {id(last[key]): group for key, group in moved.items()}
    out = []
    for item in items:
        if id(item) in moving:
            continue
        out.append(item)
        out.extend(after.get(id(item), ()))
    return out


def area_of(node: Node) -> str:
    """The row of the conformance card an item belongs to."""
    if node.kind == "dataset":
        return "directory layout"
    if node.kind == "channel":
        return f"channel {node.channel}"
    if node.kind.startswith("segmentation-masks-csv"):
        return "segmentation-masks.csv"
    return f"{ {'mask': 'mask file', 'table': 'objects table'}.get(node.kind, 'companion') } {node.rel}"


class DatasetDirectory(pytest.Directory):
    """One dataset root: the directory-layout items, then one collector per file node."""

    def __init__(self, *, state: DatasetModel, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self):
        model = self.state
        yield PlanCollector.from_parent(self, name="dirschema", model=model, node=Node("dataset"))
        for kind, rel in model.file_nodes():
            yield PlanCollector.from_parent(
                self, name=rel, nodeid=f"{model.node_id}/{safe_name(rel)}", path=model.root / rel,
                model=model, node=Node(kind, rel),
            )


class PlanCollector(pytest.Collector):
    """The items of one node, as its plan declares them; a mask also yields its channels.

    A plain Collector, not pytest.File: --lf would match File paths against the rootdir
    and drop datasets outside it. Node ids: ``<dataset>::dirschema``, ``<dataset>/<path>``,
    ``<dataset>/<mask>::channel:<name>``.
    """

    def __init__(self, *, model: DatasetModel, node: Node, **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.node = node

    def collect(self):
        model, node = self.model, self.node
        plan = PLANS[node.kind]
        props = dict(model.properties())
        props["area"] = area_of(node)
        prefix = ""
        if node.rel:
            props["file"] = node.rel
            prefix = f"{node.rel}: "
        if node.channel is not None:
            props["channel"] = node.channel
            prefix = f"{node.rel} channel {node.channel!r}: "
        for item in plan.items:
            params = model.each(item.each) if item.each else [(None, None)]
            for param, what in params:
                item_node = Node(node.kind, node.rel, node.channel_index, node.channel, param, what)
                yield SegmaskItem.from_parent(
                    self, name=item.name.format(param=param), model=model, node_plan=plan, plan=item,
                    node=item_node, description=prefix + item.description.format(param_what=what),
                    properties=props,
                )
        if node.kind == "mask":
            for channel in model.channel_nodes(node.rel):
                yield PlanCollector.from_parent(
                    self, name=f"channel:{safe_name(channel.channel).replace(':', '_')}",
                    model=model, node=channel,
                )
