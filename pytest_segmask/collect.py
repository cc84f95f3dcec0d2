"""Collection: a dataset becomes a tree of collectors and check items (SPEC §1).

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
from .dataset import DatasetState
from .items import STRICT_KEY, WAIVERS_KEY, SegmaskItem, safe_name


@dataclass
class Settings:
    datasets: list[Path]
    schema_version: str
    ignore_globs: list[str]
    strict: bool
    waivers: dict[str, str] = field(default_factory=dict)


def dataset_node_id(root: Path, rootpath: Path) -> str:
    """The dataset root relative to the rootdir ('../x' when outside it)."""
    rel = os.path.relpath(root, rootpath)
    return Path(rel).as_posix()


class SegmaskPlugin:
    """Registered only when a dataset is given."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._states: dict[Path, DatasetState] = {}
        config.stash[STRICT_KEY] = settings.strict
        config.stash[WAIVERS_KEY] = settings.waivers
        self._tally: dict[str, dict[str, int]] = {}  # rule code -> outcome -> items
        if config.pluginmanager.hasplugin("html"):
            from .html_report import HtmlReport

            config.pluginmanager.register(HtmlReport(self), "segmask-html")

    def pytest_sessionfinish(self) -> None:
        for state in self._states.values():
            state.close()

    def states(self) -> list[DatasetState]:
        return [self.state(root) for root in self.settings.datasets]

    def state(self, root: Path) -> DatasetState:
        """Listing and schema choice, computed once per dataset and process."""
        if root not in self._states:
            listing = dirschema.list_dataset(root)
            choice = dirschema.choose_version(
                listing, self.settings.schema_version, self.settings.ignore_globs
            )
            self._states[root] = DatasetState(
                root, dataset_node_id(root, self.config.rootpath), listing, choice,
                self.settings.ignore_globs,
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
        lines = [
            self.state(root).choice.header(dataset_node_id(root, config.rootpath))
            for root in self.settings.datasets
        ]
        lines += [f"segmask: waived {code}: {why}" for code, why in self.settings.waivers.items()]
        return lines

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            outcome = {"failed_rules": "failed", "warned_rules": "warned", "waived_rules": "waived"}.get(name)
            if outcome:
                for code in str(value).split():
                    counts = self._tally.setdefault(code, {})
                    counts[outcome] = counts.get(outcome, 0) + 1

    def pytest_terminal_summary(self, terminalreporter) -> None:
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


class DatasetDirectory(pytest.Directory):
    """One dataset root: collects the directory-schema items, then per-file items."""

    def __init__(self, *, state: DatasetState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self):
        state = self.state
        yield DirSchemaCollector.from_parent(self, name="dirschema", state=state)
        for rel in state.mask_paths():
            yield mask_collector(self, state, rel)
        yield from table_collectors(self, state)
        yield from companion_collectors(self, state)


class DirSchemaCollector(pytest.Collector):
    def __init__(self, *, state: DatasetState, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state

    def collect(self):
        state = self.state
        choice = state.choice
        version = choice.version
        props = state.properties()
        header = choice.header(state.node_id)
        for pattern in dirschema.patterns_for(version):
            if not pattern.required:
                continue
            yield _item(
                self, f"required:{pattern.key}", f"required: {pattern.what}", props, header,
                lambda key=pattern.key: dirschema.check_required(state.listing, choice, key),
            )
        yield _item(
            self, "not-allowed", "no paths outside the schema", props, header,
            lambda: dirschema.check_not_allowed(state.listing, choice, state.ignore_globs),
        )
        for pattern in dirschema.patterns_for(version):
            if pattern.required:
                continue
            yield _item(
                self, f"optional:{pattern.key}", f"optional: {pattern.what}", props, header,
                lambda key=pattern.key: dirschema.check_optional(choice, key),
            )


class FileCollector(pytest.Collector):
    """Items about one file (or folder) of the dataset: node id ``<dataset>/<path>``.

    A plain Collector, not pytest.File: --lf would match File paths against the rootdir
    and drop datasets outside it.
    """

    def __init__(self, *, state: DatasetState, rel: str, checks, channels=(), on_teardown=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.rel = rel
        self._checks = checks  # [(name, description, callable -> CheckResult)]
        self._channels = channels  # [(channel name, checks)]
        self._on_teardown = on_teardown

    @classmethod
    def for_path(cls, parent, state: DatasetState, rel: str, checks, channels=(), on_teardown=None):
        rel = rel.rstrip("/")
        return cls.from_parent(
            parent, name=rel, nodeid=f"{state.node_id}/{rel}", path=state.root / rel,
            state=state, rel=rel, checks=checks, channels=channels, on_teardown=on_teardown,
        )

    def teardown(self) -> None:
        # e.g. close a mask's file handle once its items ran (later users reopen lazily;
        # computed statistics stay cached)
        if self._on_teardown is not None:
            self._on_teardown()

    def collect(self):
        props = {**self.state.properties(), "file": self.rel}
        for name, description, check in self._checks:
            yield SegmaskItem.from_parent(
                self, name=name, check=check, description=f"{self.rel}: {description}",
                properties=props,
            )
        for channel, checks in self._channels:
            yield ChannelCollector.from_parent(
                self, name=f"channel:{safe_name(channel).replace(':', '_')}", state=self.state, rel=self.rel,
                checks=checks, channel=channel,
            )


class ChannelCollector(pytest.Collector):
    """Items about one channel of a mask: node id ``<dataset>/<mask>::channel:<name>``."""

    def __init__(self, *, state: DatasetState, rel: str, checks, channel: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.rel = rel
        self.channel = channel
        self._checks = checks

    def collect(self):
        props = {**self.state.properties(), "file": self.rel, "channel": self.channel}
        for name, description, check in self._checks:
            yield SegmaskItem.from_parent(
                self, name=name, check=check,
                description=f"{self.rel} channel {self.channel!r}: {description}",
                properties=props,
            )


def mask_collector(parent, state: DatasetState, rel: str) -> FileCollector:
    """File items for one mask image, then per-channel items (labels, pyramid labels)."""
    from .checks import objects_table
    from .checks.channel_stats import LABELS, check_labels
    from .checks.mask_image import FILE_CHECKS, UNSIGNED
    from .checks.pyramid_labels import PYRAMID_LABELS, check_pyramid_labels

    info = state.mask_info(rel)
    checks = [
        (name, description, lambda f=func: f(state.mask_info(rel)))
        for name, (description, func) in FILE_CHECKS.items()
    ]

    def gate(check, rule):
        """Channel items need decodable unsigned pixels; otherwise skip, pointing at why.
        IFDs that cannot be read when decoding starts are a finding of the item's rule."""

        def run():
            from .findings import CheckResult
            from .checks.tiff_stream import MaskDecodeError

            if info.dtype not in UNSIGNED:
                return CheckResult(skip=f"pixel type {info.dtype} is not a label type (see {rel}::pixel-type)")
            if info.segment_error:
                return CheckResult(skip=f"the pixel layout cannot be decoded safely (see {rel}::tiff)")
            try:
                return check()
            except MaskDecodeError as exc:
                return CheckResult(findings=[rule.finding(
                    str(exc), info.location(), fix="re-export the mask; its IFDs or pixel data are damaged")])

        return run

    channels = []
    for index, name in enumerate(info.channel_names):
        channels.append((name, [
            ("labels", "object ids and counts",
             gate(lambda i=index, n=name: check_labels(state.channel_stats(rel, i), info, n), LABELS)),
            ("pyramid-labels", "pyramid levels keep labels (2×2 block test)",
             gate(lambda i=index, n=name: check_pyramid_labels(info, state.planes(rel, i), n), PYRAMID_LABELS)),
            ("objects-table", "exactly one objects table", needs_channels(
                state, lambda n=name: objects_table.check_channel_table(
                    n, rel, state.table_paths(), ("-objects.xlsx", "-objects.tsv")))),
        ]))
    return FileCollector.for_path(parent, state, rel, checks, channels,
                                  on_teardown=lambda: state.mask_reader(rel).close())


def needs_channels(state: DatasetState, check):
    """Checks against the mask's channels skip (pointing at the cause) when those are unknown."""

    def run():
        from .findings import CheckResult

        reason = state.channels_unknown()
        return CheckResult(skip=f"channels unknown: {reason}") if reason else check()

    return run


def table_collectors(parent, state: DatasetState):
    """Items per objects table, then segmentation-masks.csv."""
    from .checks import objects_table as ot
    from .checks import segmentation_masks_csv as smc

    mask_files = [state.file_name(r) for r in state.mask_paths()]

    def owner_info(table):
        owner = state.channels().get(table.prefix)
        return (state.mask_info(owner[0]), owner) if owner else (None, None)

    def agreement(rel):
        def run():
            table = state.objects_table(rel)
            info, owner = owner_info(table)
            return ot.check_mask_agreement(
                table, table.prefix if owner else None, state.file_name(owner[0]) if owner else None,
                state.decoded_stats(table.prefix), mask_files)
        return run

    def centroids(rel):
        def run():
            table = state.objects_table(rel)
            info, owner = owner_info(table)
            if info is None:
                return ot.check_centroids(table, None, None, (0, 0), None)
            try:
                physical = (float(info.ome["PhysicalSizeY"]), float(info.ome["PhysicalSizeX"]))
            except (KeyError, ValueError):
                physical = None
            return ot.check_centroids(table, table.prefix, state.decoded_stats(table.prefix),
                                      (info.height, info.width), physical)
        return run

    for rel in state.table_paths():
        def parsed(check, r=rel):
            return lambda: check(state.objects_table(r))

        yield FileCollector.for_path(parent, state, rel, [
            ("layout", "object-by-feature template layout", parsed(ot.check_layout)),
            ("columns", "required columns", parsed(ot.check_columns)),
            ("values", "types, required cells, permissible values", parsed(ot.check_values)),
            ("ids", "positive unique Object IDs", parsed(ot.check_ids)),
            ("channel", "prefix names a mask channel", needs_channels(
                state, lambda r=rel: ot.check_table_channel(state.file_name(r), r, list(state.channels())))),
            ("mask-agreement", "Object IDs = the channel's ids", needs_channels(state, agreement(rel))),
            ("centroids", "X, Y inside the objects", needs_channels(state, centroids(rel))),
        ])

    csv_rel = "derived/segmentation_masks/" + smc.NAME
    if not (state.root / csv_rel).is_file():
        yield FileCollector.for_path(parent, state, csv_rel, [
            ("present", "segmentation-masks.csv present", lambda: smc.check_present(csv_rel)),
        ])
        return

    def counts():
        out = {}
        for rel in state.mask_paths():
            for name in state.mask_info(rel).channel_names:
                stats = state.decoded_stats(name)
                if stats is not None and state.channels().get(name, (None,))[0] == rel:
                    out[(state.file_name(rel), name)] = stats.n_objects
        return out

    def parsed():
        """The csv, read once for both items."""
        if ("csv",) not in state.cache:
            state.cache[("csv",)] = smc.read_rows(state.root / csv_rel)
        return state.cache[("csv",)]

    yield FileCollector.for_path(parent, state, csv_rel, [
        ("rows", "one row per channel, in order", needs_channels(
            state, lambda: smc.check_rows(
                parsed(), csv_rel,
                {state.file_name(r): state.mask_info(r).channel_names for r in state.mask_paths()},
                mask_files))),
        ("num-objects", "Num objects = ids per channel", needs_channels(
            state, lambda: smc.check_num_objects(parsed(), csv_rel, counts()))),
    ])


def companion_collectors(parent, state: DatasetState):
    """Adjacency CSVs, meshes and the transformations folder, when present."""
    from .checks import adjacency, glb, transformations
    from .findings import CheckResult

    def channel_check(rel, suffix):
        name = state.file_name(rel)
        return needs_channels(state, lambda: adjacency.check_companion_channel(
            rel, adjacency.companion_prefix(name, suffix), list(state.channels())))

    def ids_check(rel, suffix):
        def run():
            prefix = adjacency.companion_prefix(state.file_name(rel), suffix)
            owner = state.channels().get(prefix)
            if owner is None:
                return CheckResult(skip=f"prefix {prefix!r} names no channel (see {rel}::channel)")
            stats = state.channel_stats(*owner)
            if isinstance(stats, Exception):
                return CheckResult(skip=f"channel {prefix!r} could not be decoded (see its labels item)")
            return adjacency.check_adjacency_ids(state.adjacency(rel), prefix, stats.ids)

        return run

    for key, suffix in (("centroid-adjacency", "-centroid-adjacency.csv"),
                        ("linkage-adjacency", "-linkage-adjacency.csv")):
        for rel in state.matches(key):
            yield FileCollector.for_path(parent, state, rel, [
                ("channel", "prefix names a mask channel", channel_check(rel, suffix)),
                ("structure", "edge list or symmetric matrix",
                 lambda r=rel: adjacency.check_adjacency_structure(state.adjacency(r))),
                ("ids", "ids exist in the channel", needs_channels(state, ids_check(rel, suffix))),
            ])
    for rel in state.matches("mesh"):
        yield FileCollector.for_path(parent, state, rel, [
            ("channel", "prefix names a mask channel", channel_check(rel, "-mesh.glb")),
            ("glb", "glTF 2.0 binary structure", lambda r=rel: glb.check_glb(state.root / r, r)),
        ])
    listed = state.matches("transformations")
    if listed:
        yield FileCollector.for_path(parent, state, transformations.FOLDER, [
            ("files", "transformation files non-empty and readable",
             lambda: transformations.check_transformations(state.root, listed)),
        ])


def _item(parent, name, description, props, header, check):
    def with_header():
        result = check()
        result.notes.insert(0, header)
        return result

    return SegmaskItem.from_parent(
        parent, name=name, check=with_header, description=description, properties=props
    )
