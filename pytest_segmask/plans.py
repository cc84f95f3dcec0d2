"""Check plans: every item of the product, declared once, as data.

A ``NodePlan`` says which items a kind of node (the dataset's directory layout, a mask file, one
mask channel, an objects table, …) carries. Each ``ItemPlan`` names its item, its rule codes,
the **named inputs** it needs and the pure check it calls: the check receives the inputs
positionally, in the order given. ``dataset.DatasetModel`` produces every input lazily, once
per process, and records why one cannot be produced; ``collect`` turns plans into collectors
and items. Adding a check for a new kind of file is one plan entry and one pure function.

The README's item list is generated from this table (``python -m pytest_segmask.plans``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ItemPlan:
    name: str  # item name; "{param}" is replaced by each value of the node's ``each`` input
    description: str
    rules: tuple[str, ...]  # rule codes the check may report; the first is its main rule
    inputs: tuple[str, ...]  # named inputs, passed positionally to the check
    check: str  # "module:function" of the pure check (imported on first use)
    each: str | None = None  # an input listing (param, what) pairs: one item per pair

    def function(self) -> Callable:
        module, _, name = self.check.partition(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class NodePlan:
    kind: str
    what: str  # the node, in words (README)
    items: tuple[ItemPlan, ...]
    notes: tuple[str, ...] = ()  # inputs whose text leads every item's notes


_CHECKS = "pytest_segmask.checks."
_DIR = "pytest_segmask.dirschema:"


def _mask_file_item(name: str, description: str, rules: tuple[str, ...], check: str) -> ItemPlan:
    return ItemPlan(name, description, rules, ("mask_info",), _CHECKS + "mask_image:" + check)


# an adjacency CSV's or mesh's prefix names a channel
_COMPANION_CHANNEL = ItemPlan("channel", "prefix names a mask channel", ("COMPANION-CHANNEL",),
                              ("display", "companion_prefix", "channels"), _CHECKS + "adjacency:check_companion_channel")

PLANS: dict[str, NodePlan] = {plan.kind: plan for plan in (
    NodePlan(
        "dataset", "the directory layout (`<dataset>::dirschema::<check>`)",
        notes=("schema_header",),
        items=(
            ItemPlan("required:{param}", "required: {param_what}", ("DIR-REQUIRED", "DIR-UNREADABLE"),
                     ("listing", "choice", "param"), _DIR + "check_required", each="required_patterns"),
            ItemPlan("one-mask-image", "exactly one mask image, as ingest globs it", ("DIR-ONE-MASK-IMAGE",),
                     ("listing",), _DIR + "check_one_mask_image"),
            ItemPlan("xlsx-tables", "at least one objects table as .xlsx, as ingest requires", ("TABLE-XLSX-PRESENT",),
                     ("table_paths",), _CHECKS + "objects_table:check_xlsx_present"),
            ItemPlan("not-allowed", "no paths outside the schema", ("DIR-NOT-ALLOWED", "DIR-UNREADABLE", "DIR-SPECIAL-FILE", "DIR-SYMLINK-OUTSIDE", "DIR-NAME-ENCODING"),
                     ("listing", "choice", "ignore_globs"), _DIR + "check_not_allowed"),
            ItemPlan("optional:{param}", "optional: {param_what}", (),
                     ("choice", "param"), _DIR + "check_optional", each="optional_patterns"),
        ),
    ),
    NodePlan(
        "mask", "a mask image `<name>.segmentations.ome.tiff`",
        items=(
            _mask_file_item("tiff", "readable TIFF", ("TIFF-READ",), "check_tiff"),
            _mask_file_item("ome-xml", "embedded, valid, self-contained OME-XML",
                            ("OME-XML", "OME-XSD", "OME-SELF-CONTAINED"), "check_ome_xml"),
            _mask_file_item("ome-consistency", "OME-XML agrees with the IFDs",
                            ("OME-CONSISTENT", "OME-CHANNEL-NAMES"), "check_ome_consistency"),
            _mask_file_item("pixel-type", "integer label pixels", ("PIXEL-TYPE", "PIXEL-SIGNED"), "check_pixel_type"),
            _mask_file_item("physical-size", "PhysicalSizeX/Y present", ("PHYSICAL-SIZE",), "check_physical_size"),
            _mask_file_item("pyramid", "SubIFD pyramid", ("PYRAMID", "PYRAMID-MISSING", "PYRAMID-LEGACY"),
                            "check_pyramid"),
            _mask_file_item("layout", "tiles and compression", ("TIFF-LAYOUT", "TIFF-COMPRESSION"), "check_layout"),
            ItemPlan("source-image", "sizes and physical sizes equal the source image's", ("SOURCE-IMAGE",),
                     ("mask_info", "source_info"), _CHECKS + "mask_image:check_source_image"),
        ),
    ),
    NodePlan(
        "channel", "one channel of a mask (`<mask>::channel:<name>::<check>`)",
        items=(
            ItemPlan("labels", "object ids and counts", ("LABELS", "LABELS-NEGATIVE", "LABELS-EMPTY", "LABELS-SPARSE"),
                     ("channel_stats", "mask_info", "channel_name"), _CHECKS + "channel_stats:check_labels"),
            ItemPlan("pyramid-labels", "pyramid levels keep labels (f × f block test)", ("PYRAMID-LABELS",),
                     ("mask_info", "channel_pyramid", "channel_name"), _CHECKS + "pyramid_labels:check_pyramid_labels"),
            ItemPlan("objects-table", "exactly one objects table", ("TABLE-PAIRING",),
                     ("channel_name", "display", "channel_table_paths", "table_suffixes"),
                     _CHECKS + "objects_table:check_channel_table"),
        ),
    ),
    NodePlan(
        "table", "an objects table `<channel>-objects.xlsx|.tsv`",
        items=(
            ItemPlan("layout", "object-by-feature template layout",
                     ("TABLE-READ", "TABLE-LIMIT", "TABLE-LAYOUT", "TABLE-LAYOUT-PLAIN", "TABLE-VOCABULARY"),
                     ("table",), _CHECKS + "objects_table:check_layout"),
            ItemPlan("columns", "required columns", ("TABLE-COLUMNS",), ("table",),
                     _CHECKS + "objects_table:check_columns"),
            ItemPlan("values", "CEDAR's value rules: required cells, types, patterns, permissible values",
                     ("TABLE-MISSING-REQUIRED", "TABLE-NOT-NUMBER", "TABLE-NOT-PERMISSIBLE", "TABLE-FORMAT",
                      "TABLE-ENCODING", "TABLE-RANGE", "TABLE-URL", "TABLE-INTEGER-FRACTION"), ("table",),
                     _CHECKS + "objects_table:check_values"),
            ItemPlan("ids", "positive unique Object IDs", ("TABLE-IDS",), ("table",),
                     _CHECKS + "objects_table:check_ids"),
            ItemPlan("channel", "prefix names a mask channel", ("TABLE-PAIRING",),
                     ("file_name", "display", "channels"), _CHECKS + "objects_table:check_table_channel"),
            ItemPlan("mask-agreement", "Object IDs = the channel's ids", ("TABLE-MASK-AGREEMENT",),
                     ("table", "table_channel", "table_mask_file", "table_stats", "mask_files"),
                     _CHECKS + "objects_table:check_mask_agreement"),
            ItemPlan("centroids", "X, Y inside the objects", ("TABLE-CENTROIDS",),
                     ("table", "table_channel", "table_stats", "table_image_size", "table_physical"),
                     _CHECKS + "objects_table:check_centroids"),
        ),
    ),
    NodePlan(
        "segmentation-masks-csv-absent", "`segmentation-masks.csv`, when it is absent",
        items=(
            ItemPlan("present", "segmentation-masks.csv present", ("CSV-PRESENT",), ("display",),
                     _CHECKS + "segmentation_masks_csv:check_present"),
        ),
    ),
    NodePlan(
        "segmentation-masks-csv", "`segmentation-masks.csv`",
        items=(
            ItemPlan("rows", "one row per channel, in order", ("CSV-ROWS", "CSV-HEADER"),
                     ("csv_rows", "display", "mask_channel_names", "mask_files"),
                     _CHECKS + "segmentation_masks_csv:check_rows"),
            ItemPlan("num-objects", "Num objects = ids per channel", ("CSV-NUM-OBJECTS",),
                     ("csv_rows", "display", "channel_object_counts"),
                     _CHECKS + "segmentation_masks_csv:check_num_objects"),
        ),
    ),
    NodePlan(
        "adjacency", "an adjacency CSV `<channel>-centroid-adjacency.csv` or `-linkage-adjacency.csv`",
        items=(
            _COMPANION_CHANNEL,
            ItemPlan("structure", "edge list or symmetric matrix",
                     ("ADJ-FORM", "ADJ-SELF-LOOP", "ADJ-DUPLICATE", "ADJ-SYMMETRIC", "ADJ-WEIGHTS"),
                     ("adjacency",), _CHECKS + "adjacency:check_adjacency_structure"),
            ItemPlan("ids", "ids exist in the channel", ("ADJ-IDS",),
                     ("adjacency", "companion_prefix", "companion_channel_ids"),
                     _CHECKS + "adjacency:check_adjacency_ids"),
        ),
    ),
    NodePlan(
        "mesh", "a mesh `<channel>-mesh.glb`",
        items=(
            _COMPANION_CHANNEL,
            ItemPlan("glb", "glTF 2.0 binary structure", ("GLB-CONTAINER", "GLB-JSON", "GLB-BOUNDS", "GLB-MESH"),
                     ("path", "display"), _CHECKS + "glb:check_glb"),
        ),
    ),
    NodePlan(
        "transformations", "the `transformations/` folder",
        items=(
            ItemPlan("files", "transformation files non-empty and readable",
                     ("TRANSFORMATIONS-FILES", "TRANSFORMATIONS-EMPTY"),
                     ("root", "transformations_listing", "listing"),
                     _CHECKS + "transformations:check_transformations"),
        ),
    ),
)}


def items_markdown() -> str:
    """The README's item list: one row per item of every kind of node."""
    lines = ["| node | item | checks | rules |", "| --- | --- | --- | --- |"]
    for plan in PLANS.values():
        for item in plan.items:
            rules = ", ".join(f"`{code}`" for code in item.rules) or "—"
            lines.append(f"| {plan.what} | `{item.name}` | {item.description} | {rules} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(items_markdown())
