"""Many datasets: whole datasets per xdist worker, and whole datasets per CI job.

- Under pytest-xdist, every item of one dataset runs on the same worker (a scheduler that
  groups node ids by dataset), so no worker lists a dataset, opens a mask or reads a table
  that another worker reads too. ``--segmask-dist=items`` gives xdist's own item-by-item
  distribution back.
- ``--segmask-shard=K/N`` keeps the K-th of N shares of the datasets (sorted by node id,
  dealt round-robin), so N CI jobs check disjoint sets of whole datasets;
  ``python -m pytest_segmask.merge`` joins their junit files and writes one HTML index.
"""

from __future__ import annotations

import re

import pytest

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'K/N' -> (K, N) with 1 ≤ K ≤ N; None when not given."""
    if text is None or not str(text).strip():
        return None
    match = SHARD.match(str(text))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise pytest.UsageError(f"--segmask-shard: expected K/N with 1 ≤ K ≤ N (e.g. 2/4); got {text!r}")
    return int(match.group(1)), int(match.group(2))


def shard_members(dataset_ids: list[str], shard: tuple[int, int] | None) -> set[str]:
    """The dataset ids of shard K of N: sorted, dealt round-robin (balanced and deterministic)."""
    if shard is None:
        return set(dataset_ids)
    k, n = shard
    return {ds for i, ds in enumerate(sorted(set(dataset_ids))) if i % n == k - 1}


def dataset_of(nodeid: str, dataset_ids: list[str]) -> str | None:
    """The dataset a node id belongs to (the longest dataset id it starts with)."""
    for ds in sorted(dataset_ids, key=len, reverse=True):
        if nodeid == ds or nodeid.startswith(ds + "/") or nodeid.startswith(ds + "::"):
            return ds
    return None


def make_scheduler(config: pytest.Config, log, dataset_ids: list[str]):
    """A LoadScope scheduler whose scope is the dataset: whole datasets per worker."""
    from xdist.scheduler import LoadScopeScheduling

    class DatasetScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            ds = dataset_of(nodeid, dataset_ids)
            return f"segmask-dataset:{ds}" if ds is not None else super()._split_scope(nodeid)

    return DatasetScheduling(config, log)
