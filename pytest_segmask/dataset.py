"""The dataset model shared by a dataset's items: listing, schema choice, and lazily
computed, cached results (mask metadata, per-channel statistics, parsed companions).

Everything expensive is computed once per process on first use and shared: each channel is
decoded once, whichever items need its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import re

from . import dirschema

TABLE = re.compile(r"derived/segmentation_masks/[^/]+-objects\.(?:xlsx|tsv)")

@dataclass
class DatasetState:
    """What collection learns about one dataset, shared by its items."""

    root: Path
    node_id: str
    listing: dirschema.Listing
    choice: dirschema.SchemaChoice
    ignore_globs: list[str]
    cache: dict = field(default_factory=dict)

    # --- masks ---------------------------------------------------------------------

    def mask_paths(self) -> list[str]:
        return list(self.choice.verdict.matches.get("mask-image", []))

    def mask_info(self, rel: str):
        """Metadata of a mask image (no pixels); opened once."""
        key = ("info", rel)
        if key not in self.cache:
            from .checks.mask_image import open_mask

            self.cache[key] = open_mask(self.root / rel, rel)
        return self.cache[key]

    def mask_reader(self, rel: str):
        key = ("reader", rel)
        if key not in self.cache:
            from .checks.mask_image import MaskReader

            self.cache[key] = MaskReader(self.mask_info(rel))
        return self.cache[key]

    def planes(self, rel: str, channel_index: int):
        info = self.mask_info(rel)
        return self.mask_reader(rel).planes(channel_index, info.channel_names[channel_index])

    def channel_stats(self, rel: str, channel_index: int):
        """ChannelStats, or the MaskDecodeError that stopped the pass; computed once."""
        key = ("stats", rel, channel_index)
        if key not in self.cache:
            from .checks.channel_stats import compute_channel_stats
            from .checks.tiff_stream import MaskDecodeError

            try:
                self.cache[key] = compute_channel_stats(self.planes(rel, channel_index)[0])
            except MaskDecodeError as exc:  # planes() raises it too, for damaged IFDs
                self.cache[key] = exc
        return self.cache[key]

    def channels(self) -> dict[str, tuple[str, int]]:
        """Channel name -> (mask path, channel index), over all readable masks (first wins)."""
        out: dict[str, tuple[str, int]] = {}
        for rel in self.mask_paths():
            info = self.mask_info(rel)
            for index, name in enumerate(info.channel_names):
                out.setdefault(name, (rel, index))
        return out

    def channels_unknown(self) -> str | None:
        """Why the channel list cannot be trusted (no mask, or an unreadable one), else None."""
        masks = self.mask_paths()
        if not masks:
            return "no mask image was found (see dirschema::required:mask-image)"
        for rel in masks:
            info = self.mask_info(rel)
            if not info.readable:
                return f"the mask image {rel} could not be read (see its tiff item)"
            names = info.ome_channel_names
            if len(names) != info.planes or not all(names) or len(set(names)) != len(names):
                return (f"the mask image {rel} has no complete, unique OME channel names "
                        "(see its ome-xml and ome-consistency items)")
        return None

    def close(self) -> None:
        for key, value in list(self.cache.items()):
            if key[0] == "reader":
                value.close()

    # --- companions ------------------------------------------------------------------

    def adjacency(self, rel: str):
        key = ("adjacency", rel)
        if key not in self.cache:
            from .checks.adjacency import read_adjacency

            self.cache[key] = read_adjacency(self.root / rel, rel)
        return self.cache[key]

    def objects_table(self, rel: str):
        key = ("table", rel)
        if key not in self.cache:
            from .checks.objects_table import read_objects_table

            self.cache[key] = read_objects_table(self.root / rel, rel)
        return self.cache[key]

    def table_paths(self) -> list[str]:
        """Objects tables by name, whatever the version allows (the directory items judge that)."""
        return [p for p in self.listing.paths if TABLE.fullmatch(p)]

    def decoded_stats(self, channel: str):
        """ChannelStats of a channel by name, or None when absent, not a label type or undecodable."""
        owner = self.channels().get(channel)
        if owner is None:
            return None
        from .checks.mask_image import UNSIGNED

        info = self.mask_info(owner[0])
        if info.dtype not in UNSIGNED or info.segment_error:
            return None
        stats = self.channel_stats(*owner)
        return None if isinstance(stats, Exception) else stats

    def matches(self, key: str) -> list[str]:
        return list(self.choice.verdict.matches.get(key, []))

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


