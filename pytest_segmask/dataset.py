"""The dataset model: the one resolver of the named inputs that check plans ask for.

Every input is produced lazily, once per process, and cached. When an input cannot be
produced, the producer raises ``Unavailable`` with the reason in words and the node id of the
item that reports the cause; the model records it, so every item that needs the input skips
with the same reason and pointer (and reports can link a finding to its root cause).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import dirschema
from .findings import Authority, CheckResult, Location, Severity, shorten
from .rules import define_rule

CHECKER_ERROR = define_rule(
    "CHECKER-ERROR", Severity.ERROR,
    "A check stopped on an unexpected error: the plugin could not reach a verdict (fails in every profile).",
    "pytest-segmask itself", authority=Authority.PRACTICE,
    reason="a bug in a checker must never let a file pass unchecked",
)
PACKAGE_DIR = Path(__file__).resolve().parent

TABLE = re.compile(r"derived/segmentation_masks/[^/]+-objects\.(?:xlsx|tsv)")
TABLE_SUFFIXES = ("-objects.xlsx", "-objects.tsv")
SEG = "derived/segmentation_masks/"
CSV_NAME = "segmentation-masks.csv"
ADJACENCY_SUFFIXES = {"centroid-adjacency": "-centroid-adjacency.csv", "linkage-adjacency": "-linkage-adjacency.csv"}
MESH_SUFFIX = "-mesh.glb"
TRANSFORMATIONS = "derived/segmentation_masks/transformations"


class Unavailable(Exception):
    """An input cannot be produced: ``reason`` in words, ``see`` the node id reporting why."""

    def __init__(self, reason: str, see: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.see = see

    def skip_reason(self) -> str:
        return f"{self.reason} (see {self.see})" if self.see else self.reason


@dataclass(frozen=True)
class ChannelSummary:
    """What later items need of a channel once its full statistics are released."""

    n_objects: int
    max_id: int
    ids: object  # sorted object ids (numpy array)


@dataclass(frozen=True)
class Node:
    """What identifies a node's inputs: its kind, file (dataset-relative) and channel."""

    kind: str
    rel: str = ""
    channel_index: int | None = None
    channel: str | None = None
    param: str | None = None  # e.g. the pattern key of a dirschema item
    param_what: str | None = None

    def key(self) -> tuple:
        return (self.rel, self.channel_index, self.param)


@dataclass
class DatasetModel:
    """What collection learns about one dataset, and the inputs its items need."""

    root: Path
    node_id: str
    listing: dirschema.Listing
    choice: dirschema.SchemaChoice
    ignore_globs: list[str]
    source_image: Path | None = None  # --segmask-source-image
    cache: dict = field(default_factory=dict)
    unavailable: dict = field(default_factory=dict)  # (input, node key) -> Unavailable
    causes: dict = field(default_factory=dict)  # (input, node key) -> "node id: why" (root causes)
    # the label pass, channel by channel: full results while items still need them, then only
    # a summary (object count, max id; ids only where a companion file needs them) — memory
    # stays at one channel's statistics on large masks (see MaskReader.iter_channel_passes)
    consumers: dict = field(default_factory=dict)  # (mask, channel index) -> items still to run
    ids_wanted: set | None = None  # channels whose ids later items need (None: not counted, keep all)
    passes: dict = field(default_factory=dict)  # (mask, channel index) -> ChannelPass or MaskDecodeError
    summaries: dict = field(default_factory=dict)  # (mask, channel index) -> ChannelSummary or error
    _pass_iters: dict = field(default_factory=dict)

    # --- resolving ---------------------------------------------------------------------

    def resolve(self, name: str, node: Node):
        """The input ``name`` for ``node``; raises (and records) Unavailable."""
        key = (name, node.key())
        if key in self.unavailable:
            raise self.unavailable[key]
        if key not in self.cache:
            try:
                self.cache[key] = getattr(self, "input_" + name.replace("-", "_"))(node)
            except Unavailable as why:
                self.unavailable[key] = why
                raise
        return self.cache[key]

    def run(self, node_plan, plan, node: Node) -> CheckResult:
        """Resolve the item's inputs and call its pure check. A missing input skips the item
        with the recorded reason; damaged pixel data found while decoding is a finding of the
        item's main rule; any other exception is a CHECKER-ERROR finding, not a traceback."""
        from .checks.tiff_stream import MaskDecodeError

        try:
            args = [self.resolve(name, node) for name in plan.inputs]
            notes = [str(self.resolve(name, node)) for name in node_plan.notes]
        except Unavailable as why:
            return CheckResult(skip=why.skip_reason())
        try:
            result = plan.function()(*args)
        except MaskDecodeError as exc:
            from .rules import all_rules

            rule = all_rules()[plan.rules[0]]
            result = CheckResult(findings=[rule.finding(
                str(exc), Location(file=node.rel, channel=node.channel),
                fix="re-export the mask; its IFDs or pixel data are damaged")])
        except Exception as exc:  # noqa: BLE001 - a checker bug becomes a finding
            result = CheckResult(findings=[checker_error(exc, plan, node)])
        result.notes[:0] = notes
        self.release_after(plan, node)
        if node.kind == "table" and result.findings and "table" in plan.inputs:
            self._table_cause(node)  # e.g. an empty channel leaves its table without data rows
        causes = [self.causes[(name, node.key())] for name in plan.inputs if (name, node.key()) in self.causes]
        if causes and result.findings:
            from dataclasses import replace

            result.findings = [f if f.follows_from else replace(f, follows_from=causes[0])
                               for f in result.findings]
        return result

    def release(self, name: str, node: Node) -> None:
        value = self.cache.pop((name, node.key()), None)
        if value is not None and hasattr(value, "close"):
            value.close()

    def close(self) -> None:
        for iterator in self._pass_iters.values():
            iterator.close()
        self._pass_iters.clear()
        for (name, _), value in list(self.cache.items()):
            if name == "mask_reader":
                value.close()

    # --- node ids (pointers in skip reasons) ---------------------------------------------

    def file_item(self, rel: str, item: str) -> str:
        from .items import safe_name

        return f"{self.node_id}/{safe_name(rel)}::{item}"

    def channel_item(self, rel: str, channel: str, item: str) -> str:
        from .items import safe_name

        return f"{self.node_id}/{safe_name(rel)}::channel:{safe_name(channel).replace(':', '_')}::{item}"

    def _cause(self, name: str, node: Node, item: str, why: str) -> None:
        """Record that input ``name`` of ``node`` carries a problem another item reports, so
        findings that use it say what they follow from."""
        self.causes[(name, node.key())] = f"{item}: {why}"

    def _channel_cause(self, name: str, node: Node, owner: tuple[str, int]) -> None:
        """An empty or undecodable channel explains the findings of items comparing against it."""
        channel = self.mask_info(owner[0]).channel_names[owner[1]]
        try:
            summary = self.channel_summary(*owner)
        except Unavailable as why:
            self._cause(name, node, why.see, why.reason)
            return
        labels = self.channel_item(owner[0], channel, "labels")
        if isinstance(summary, Exception):
            self._cause(name, node, labels, "the channel's pixel data could not be decoded")
        elif summary.n_objects == 0:
            self._cause(name, node, labels, "the channel holds no objects")

    def dataset_item(self, item: str) -> str:
        return f"{self.node_id}::dirschema::{item}"

    # --- which nodes the dataset has -----------------------------------------------------

    def mask_paths(self) -> list[str]:
        """The mask images; with none named right, the near misses (``…_crop400.ome.tiff``)
        are checked as masks, so one run shows every problem (the naming failure stays in
        ``dirschema::required:mask-image``)."""
        found = list(self.choice.verdict.matches.get("mask-image", []))
        if found:
            return found
        pattern = dirschema.find_pattern("mask-image")
        return [p for p in self.listing.paths
                if p.lower().endswith((".tif", ".tiff"))
                and dirschema.near_misses(pattern, self.choice.version, [p])]

    def table_paths(self) -> list[str]:
        """Objects tables by name, whatever the version allows (the directory items judge that)."""
        return [p for p in self.listing.paths if TABLE.fullmatch(p)]

    def matches(self, key: str) -> list[str]:
        return list(self.choice.verdict.matches.get(key, []))

    def file_nodes(self) -> list[tuple[str, str]]:
        """(plan kind, dataset-relative path) of every file node, in collection order."""
        nodes = [("mask", rel) for rel in self.mask_paths()]
        nodes += [("table", rel) for rel in self.table_paths()]
        csv_rel = SEG + CSV_NAME
        nodes.append(("segmentation-masks-csv" if csv_rel in self.listing.paths
                      else "segmentation-masks-csv-absent", csv_rel))
        for key in ADJACENCY_SUFFIXES:
            nodes += [("adjacency", rel) for rel in self.matches(key)]
        nodes += [("mesh", rel) for rel in self.matches("mesh")]
        if self.matches("transformations"):
            nodes.append(("transformations", TRANSFORMATIONS))
        return nodes

    def channel_nodes(self, rel: str) -> list[Node]:
        info = self.mask_info(rel)
        return [Node("channel", rel, index, name) for index, name in enumerate(info.channel_names)]

    def each(self, name: str) -> list[tuple[str, str]]:
        """(param, what) pairs for plan items declared ``each=name``."""
        patterns = dirschema.patterns_for(self.choice.version)
        required = name == "required_patterns"
        return [(p.key, p.what) for p in patterns if p.required == required]

    # --- masks (also used by the HTML report) --------------------------------------------

    def mask_info(self, rel: str):
        """Metadata of a mask image (no pixels); opened once."""
        return self.resolve("mask_info", Node("mask", rel))

    def mask_reader(self, rel: str):
        return self.resolve("mask_reader", Node("mask", rel))

    def planes(self, rel: str, channel_index: int):
        """One plane of the channel at every level (the middle plane of a 3D mask), for thumbnails."""
        info = self.mask_info(rel)
        return self.mask_reader(rel).planes(channel_index, info.channel_names[channel_index], middle=True)

    def channels(self) -> dict[str, tuple[str, int]]:
        """Channel name -> (mask path, channel index), over all readable masks (first wins)."""
        out: dict[str, tuple[str, int]] = {}
        for rel in self.mask_paths():
            for index, name in enumerate(self.mask_info(rel).channel_names):
                out.setdefault(name, (rel, index))
        return out

    def channels_unknown(self) -> Unavailable | None:
        """Why the channel list cannot be trusted (no mask, or an unreadable one), else None."""
        masks = self.mask_paths()
        if not masks:
            return Unavailable("channels unknown: no mask image was found",
                               self.dataset_item("required:mask-image"))
        for rel in masks:
            info = self.mask_info(rel)
            if not info.readable:
                return Unavailable(f"channels unknown: the mask image {rel} could not be read",
                                   self.file_item(rel, "tiff"))
            if info.ome_problem:
                return Unavailable(f"channels unknown: the OME metadata of {rel} cannot be used to find "
                                   "the channels' planes", self.file_item(rel, "ome-xml"))
            names = info.ome_channel_names
            if len(names) != len(info.plane_map) or not all(names) or len(set(names)) != len(names):
                return Unavailable(
                    f"channels unknown: the mask image {rel} has no complete, unique OME channel names",
                    self.file_item(rel, "ome-xml"))
        return None

    def decoded_stats(self, channel: str):
        """ChannelStats of a channel by name, or None when absent, not a label type or undecodable."""
        owner = self.channels().get(channel)
        if owner is None:
            return None
        try:
            stats = self.resolve("channel_stats", Node("channel", owner[0], owner[1]))
        except Unavailable:
            return None
        return None if isinstance(stats, Exception) else stats

    # --- the label pass, channel by channel -----------------------------------------------

    def channel_pass(self, rel: str, index: int):
        """ChannelPass (or the MaskDecodeError that stopped it) of one channel. Channels are
        decoded in order (``MaskReader.iter_channel_passes``: a large mask one channel at a time,
        its pass split over both cores); each result is kept until the last item that needs it
        has run (``release_after``)."""
        key = (rel, index)
        if key in self.passes:
            return self.passes[key]
        iterator = self._pass_iters.get(rel)
        if iterator is None:
            count = len(self.mask_info(rel).channel_names)
            wanted = [i for i in range(count) if (rel, i) not in self.summaries
                      and (not self.consumers or self.consumers.get((rel, i), 0) > 0 or i == index)]
            iterator = self._pass_iters[rel] = self.mask_reader(rel).iter_channel_passes(wanted)
        for done, result in iterator:
            self._keep(rel, done, result)
            if done == index:
                return result
        self._pass_iters.pop(rel, None)  # exhausted: a channel asked for again after its release
        from .checks.tiff_stream import MaskDecodeError

        try:
            result = self.mask_reader(rel).channel_pass(index)
        except MaskDecodeError as exc:
            result = exc
        self._keep(rel, index, result)
        return result

    def _keep(self, rel: str, index: int, result) -> None:
        self.passes[(rel, index)] = result
        keep_ids = self.ids_wanted is None or (rel, index) in self.ids_wanted
        self.summaries[(rel, index)] = result if isinstance(result, Exception) else ChannelSummary(
            result.stats.n_objects, result.stats.max_id, result.stats.ids if keep_ids else None)

    def companion_owner(self, node: Node) -> tuple[str, int] | None:
        """(mask path, channel index) whose ids a companion file (adjacency, mesh) is checked
        against, when known."""
        try:
            self.resolve("channels", node)
            return self.channels().get(self.resolve("companion_prefix", node))
        except Unavailable:
            return None

    def channel_summary(self, rel: str, index: int):
        """Object count, max id and ids of a channel (or the error), kept after the full
        statistics are released; raises Unavailable when the channel cannot be decoded."""
        self._decodable(Node("channel", rel, index))
        if (rel, index) not in self.summaries:
            self.channel_pass(rel, index)
        return self.summaries[(rel, index)]

    def table_owner(self, rel: str) -> tuple[str, int] | None:
        """(mask path, channel index) of the channel a table's prefix names, when known."""
        if self.channels_unknown() is not None:
            return None
        from .checks.objects_table import table_prefix

        return self.channels().get(table_prefix(self.file_name(rel)))

    def pass_keys(self, plan, node: Node) -> list[tuple[str, int]]:
        """The channels whose full pass results an item uses (for counting consumers)."""
        names = set(plan.inputs)
        if node.kind == "channel" and names & {"channel_stats", "channel_pyramid", "channel_pass"}:
            return [(node.rel, node.channel_index)]
        if node.kind == "table" and "table_stats" in names:
            owner = self.table_owner(node.rel)
            return [owner] if owner else []
        return []

    def release_after(self, plan, node: Node) -> None:
        """The item ran: drop the full results of channels no later item needs."""
        for key in self.pass_keys(plan, node):
            if key not in self.consumers:
                continue
            self.consumers[key] -= 1
            if self.consumers[key] <= 0:
                rel = key[0]
                if all(n <= 0 for (r, _), n in self.consumers.items() if r == rel):
                    # the mask's last pass is done: stop its decoder and close its file (a later
                    # user, e.g. a thumbnail, reopens it lazily)
                    iterator = self._pass_iters.pop(rel, None)
                    if iterator is not None:
                        iterator.close()
                    self.release("mask_reader", Node("mask", rel))
                result = self.passes.pop(key, None)
                if result is not None and not isinstance(result, Exception):
                    held = (result, result.stats, result.pyramid)
                    for cache_key in [k for k, v in self.cache.items() if any(v is h for h in held)]:
                        del self.cache[cache_key]
                    del held, result
                    from .checks.label_pass import return_freed_memory

                    return_freed_memory()  # before the next channel's pass starts

    # --- input producers: input_<name>(node) -------------------------------------------------

    def input_listing(self, node: Node):
        return self.listing

    def input_choice(self, node: Node):
        return self.choice

    def input_ignore_globs(self, node: Node):
        return self.ignore_globs

    def input_param(self, node: Node):
        return node.param

    def input_schema_header(self, node: Node):
        return self.choice.header(self.node_id)

    def input_root(self, node: Node):
        return self.root

    def input_path(self, node: Node):
        return self.listing.fs_path(self.root, node.rel)  # the real name of an escaped one

    def input_display(self, node: Node):
        return node.rel

    def input_file_name(self, node: Node):
        return self.file_name(node.rel)

    def input_mask_info(self, node: Node):
        if node.kind != "mask":  # the mask's, opened once for all its channels' items
            return self.mask_info(node.rel)
        from .checks.mask_image import open_mask

        return open_mask(self.listing.fs_path(self.root, node.rel), node.rel)

    def input_mask_reader(self, node: Node):
        if node.kind != "mask":
            return self.mask_reader(node.rel)
        from .checks.mask_image import MaskReader

        return MaskReader(self.mask_info(node.rel))

    def input_channel_name(self, node: Node):
        return node.channel

    def _decodable(self, node: Node) -> None:
        """Channel pixels need a readable label image whose OME metadata maps the planes;
        otherwise skip, pointing at the file item that says why."""
        info = self.mask_info(node.rel)
        problem = info.channels_problem()
        if problem is not None:
            raise Unavailable(problem[0], self.file_item(node.rel, problem[1]))
        if node.channel_index is not None:
            # a channel whose planes the OME-XML places in other files (a multi-file member),
            # or that has no plane at all: a consequence of the OME items' findings
            missing = info.channel_problem(node.channel_index)
            if missing is None and any(ifd is None for ifd in info.plane_map[node.channel_index]):
                missing = f"channel {info.channel_names[node.channel_index]!r} lacks planes in {info.display}"
            if missing is not None:
                elsewhere = any(c == node.channel_index for c, _ in info.other_files)
                raise Unavailable(missing, self.file_item(node.rel, "ome-xml" if elsewhere else "ome-consistency"))

    def input_channel_pass(self, node: Node):
        """The channel's one streaming pass (statistics over all planes and the pyramid block
        test), or the MaskDecodeError that stopped it. Channels are decoded in order, both cores
        busy (see ``channel_pass``); each result is kept for its items."""
        self._decodable(node)
        return self.channel_pass(node.rel, node.channel_index)

    def input_channel_stats(self, node: Node):
        """ChannelStats, or the MaskDecodeError that stopped the pass (labels reports it)."""
        passed = self.resolve("channel_pass", node)
        return passed if isinstance(passed, Exception) else passed.stats

    def input_channel_pyramid(self, node: Node):
        """The block-test result, or the MaskDecodeError (pyramid-labels reports it)."""
        passed = self.resolve("channel_pass", node)
        return passed if isinstance(passed, Exception) else passed.pyramid

    def input_source_info(self, node: Node):
        """Metadata of the source image given with --segmask-source-image."""
        if self.source_image is None:
            raise Unavailable("no source image given: pass --segmask-source-image=PATH (the OME-TIFF the "
                              "mask was derived from) to compare their sizes as HuBMAP's ingest does", "")
        from .checks.mask_image import open_mask

        return open_mask(self.source_image, str(self.source_image))

    def input_channels(self, node: Node):
        """The names of every channel of the dataset's masks."""
        why = self.channels_unknown()
        if why is not None:
            raise why
        return list(self.channels())

    def input_channel_table_paths(self, node: Node):
        self.resolve("channels", node)  # the pairing needs trustworthy channel names
        return self.table_paths()

    def input_table_paths(self, node: Node):
        return self.table_paths()

    def input_table_suffixes(self, node: Node):
        return TABLE_SUFFIXES

    def _misnamed_mask_cause(self, name: str, node: Node) -> None:
        if self.mask_paths() and not self.choice.verdict.matches.get("mask-image"):
            self._cause(name, node, self.dataset_item("required:mask-image"),
                        "the mask image is not named `<name>.segmentations.ome.tiff`, so names that "
                        "refer to the proper name find no mask image")

    def input_mask_files(self, node: Node):
        self._misnamed_mask_cause("mask_files", node)
        return [self.file_name(rel) for rel in self.mask_paths()]

    def input_mask_channel_names(self, node: Node):
        self.resolve("channels", node)
        self._misnamed_mask_cause("mask_channel_names", node)
        return {self.file_name(rel): self.mask_info(rel).channel_names for rel in self.mask_paths()}

    # objects tables

    def input_table(self, node: Node):
        from .checks.objects_table import read_objects_table

        return read_objects_table(self.listing.fs_path(self.root, node.rel), node.rel)

    def _table_owner(self, node: Node) -> tuple[str, int] | None:
        """(mask path, channel index) of the channel a table's prefix names, or None."""
        self.resolve("channels", node)
        from .checks.objects_table import table_prefix

        return self.channels().get(table_prefix(self.file_name(node.rel)))

    def _table_cause(self, node: Node) -> None:
        """A table's own findings may follow from its channel (empty, undecodable)."""
        if ("table", node.key()) in self.causes or self.channels_unknown() is not None:
            return
        from .checks.objects_table import table_prefix

        owner = self.channels().get(table_prefix(self.file_name(node.rel)))
        if owner is not None:
            self._channel_cause("table", node, owner)

    def input_table_channel(self, node: Node):
        owner = self._table_owner(node)
        return self.mask_info(owner[0]).channel_names[owner[1]] if owner else None

    def input_table_mask_file(self, node: Node):
        owner = self._table_owner(node)
        return self.file_name(owner[0]) if owner else None

    def input_table_stats(self, node: Node):
        owner = self._table_owner(node)
        if owner is None:
            return None
        self._channel_cause("table_stats", node, owner)
        return self.decoded_stats(self.mask_info(owner[0]).channel_names[owner[1]])

    def input_table_image_size(self, node: Node):
        """(size_z, height, width) of the mask whose channel the table describes."""
        owner = self._table_owner(node)
        if owner is None:
            return (1, 0, 0)
        info = self.mask_info(owner[0])
        return (info.size_z, info.height, info.width)

    def input_table_physical(self, node: Node):
        """Micrometres per pixel (x, y, z) of that mask, PhysicalSize*Unit applied."""
        owner = self._table_owner(node)
        return None if owner is None else self.mask_info(owner[0]).physical_size_um()

    # segmentation-masks.csv

    def input_csv_rows(self, node: Node):
        from .checks.segmentation_masks_csv import read_rows

        return read_rows(self.listing.fs_path(self.root, node.rel))

    def input_channel_object_counts(self, node: Node):
        self.resolve("channels", node)
        out = {}
        for rel in self.mask_paths():
            for index, name in enumerate(self.mask_info(rel).channel_names):
                if self.channels().get(name, (None,))[0] != rel:
                    continue
                try:
                    summary = self.channel_summary(rel, index)
                except Unavailable:
                    continue
                if not isinstance(summary, Exception):
                    out[(self.file_name(rel), name)] = (summary.n_objects, summary.max_id)
        return out

    # companions

    def input_adjacency(self, node: Node):
        from .checks.adjacency import read_adjacency

        return read_adjacency(self.listing.fs_path(self.root, node.rel), node.rel)

    def input_companion_prefix(self, node: Node):
        from .checks.adjacency import companion_prefix

        name = self.file_name(node.rel)
        for suffix in (*ADJACENCY_SUFFIXES.values(), MESH_SUFFIX):
            if name.endswith(suffix):
                return companion_prefix(name, suffix)
        return name

    def input_companion_channel_ids(self, node: Node):
        self.resolve("channels", node)
        prefix = self.resolve("companion_prefix", node)
        owner = self.channels().get(prefix)
        if owner is None:
            raise Unavailable(f"prefix {prefix!r} names no channel", self.file_item(node.rel, "channel"))
        summary = self.channel_summary(*owner)
        if isinstance(summary, Exception):
            raise Unavailable(f"channel {prefix!r} could not be decoded",
                              self.channel_item(owner[0], prefix, "labels"))
        self._channel_cause("companion_channel_ids", node, owner)
        if summary.ids is None:  # not foreseen at collection: decode the channel again
            self.ids_wanted = None
            self.summaries.pop(owner)
            self.passes.pop(owner, None)
            summary = self.channel_summary(*owner)
            self.passes.pop(owner, None)
            if isinstance(summary, Exception):
                raise Unavailable(f"channel {prefix!r} could not be decoded",
                                  self.channel_item(owner[0], prefix, "labels"))
        return summary.ids

    def input_transformations_listing(self, node: Node):
        return self.matches("transformations")

    # --- reports ---------------------------------------------------------------------------

    @staticmethod
    def file_name(rel: str) -> str:
        return PurePosixPath(rel).name

    def summary_lines(self) -> list[str]:
        """'key: value' lines describing the dataset, for the HTML summary."""
        matches = self.choice.verdict.matches
        lines = [f"paths listed: {len(self.listing.paths)}"]
        for key, label in (("mask-image", "mask images"), ("objects-table", "objects tables")):
            found = matches.get(key, [])
            lines.append(f"{label}: {len(found)}" + (f" ({', '.join(found)})" if found else ""))
        companions = [
            path
            for key in ("centroid-adjacency", "linkage-adjacency", "mesh", "transformations")
            for path in matches.get(key, [])
        ]
        lines.append(f"companions: {', '.join(companions) if companions else 'none'}")
        return lines

    def properties(self) -> dict[str, str]:
        return {
            "dataset": self.node_id,
            "schema_version": self.choice.version,
            "schema_verdict": "validates" if self.choice.validates else "fails",
        }


DatasetState = DatasetModel  # the HTML report's older name


def checker_error(exc: BaseException, plan, node: Node):
    """A CHECKER-ERROR finding: file, check, exception type and the innermost frame of this package."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve().is_relative_to(PACKAGE_DIR)]
    where = ""
    if frames:
        frame = frames[-1]
        where = f" in {Path(frame.filename).resolve().relative_to(PACKAGE_DIR.parent).as_posix()}:{frame.lineno} ({frame.name})"
    return CHECKER_ERROR.finding(
        f"the check {plan.name!r} stopped on an unexpected {type(exc).__name__}{where}: "
        f"{shorten(str(exc), 200)}",
        Location(file=node.rel or None, channel=node.channel),
        fix="please report this to pytest-segmask with the file (or its header); "
            "the file could not be checked")
