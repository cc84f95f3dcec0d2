"""Shared test helpers.

numpy and hypothesis are imported once here: in-process pytester runs would otherwise
re-import them, and numpy refuses to load twice (SPEC §8).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import hypothesis  # noqa: F401
import numpy  # noqa: F401
import pytest

hypothesis.settings.register_profile("ci", derandomize=True, deadline=None, max_examples=15)
hypothesis.settings.register_profile("thorough", deadline=None, max_examples=300)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PROJECT = Path(__file__).resolve().parents[1]
REAL_DATA = PROJECT.parent / "shared" / "real-data"


def make_tree(root: Path, entries: list[str]) -> Path:
    """Create files and folders: an entry ending in '/' is a folder, others are files.

    An entry 'a -> b' makes a symlink a pointing at b (relative to a's folder).
    """
    root.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if " -> " in entry:
            link, target = entry.split(" -> ")
            path = root / link
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)
        elif entry.endswith("/"):
            (root / entry).mkdir(parents=True, exist_ok=True)
        else:
            path = root / entry
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x")
    return root


@pytest.fixture
def real_zip(tmp_path):
    """Unzip one of the real HuBMAP datasets into tmp; skip when shared data is absent."""

    def unzip(name: str) -> Path:
        archive = REAL_DATA / "hubmap-datasets" / f"{name}.zip"
        if not archive.exists():
            pytest.skip(f"real data absent: {archive}")
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(tmp_path / "real")
        return tmp_path / "real" / name

    return unzip
