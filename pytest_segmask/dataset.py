"""The dataset model shared by a dataset's items: listing, schema choice, and lazily
computed, cached results (mask metadata, per-channel statistics, parsed companions).

Everything expensive is computed once per process on first use and shared: each channel is
decoded once, whichever items need its statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import dirschema

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
            except MaskDecodeError as exc:
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


