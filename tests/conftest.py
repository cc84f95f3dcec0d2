"""Shared test helpers.

numpy, hypothesis, numba and the plugin's compiled kernels are imported once here: in-process
pytester runs would otherwise re-import them, and numpy refuses to load twice while numba
refuses to register its types twice ("cannot augment Function").
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import hypothesis  # noqa: F401
import numba  # noqa: F401
import numpy  # noqa: F401
import pytest

import pytest_segmask.checks.label_kernels  # noqa: F401
import pytest_segmask.checks.table_scan  # noqa: F401


def _warm_up_compiled_kernels() -> None:
    """Compile the numba kernels once, before any in-process pytester run: numba imports parts
    of itself on its first compilation, and pytester drops modules first imported during a run,
    after which numba fails to register its types again ("duplicate registration")."""
    import tempfile

    from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
    from pytest_segmask.checks.mask_image import MaskReader, open_mask
    from pytest_segmask.checks.objects_table import read_objects_table

    with tempfile.TemporaryDirectory() as tmp:
        # every pixel type the fixtures generator draws (a type first compiled inside a pytester
        # run, as after an edit to the kernels empties numba's cache, recompiles there each run)
        for dtype, table_format in (("uint16", "xlsx"), ("uint8", "tsv"), ("uint32", "xlsx"), ("int32", "xlsx"),
                                    ("int16", "tsv"), ("int8", "tsv")):
            root = write_dataset(DatasetSpec(table_format=table_format, masks=(MaskSpec(
                width=40, height=30, dtype=dtype, channels=(ChannelSpec("cells", 3),)),)), Path(tmp) / dtype)
            seg = root / "derived" / "segmentation_masks"
            info = open_mask(seg / "sample.segmentations.ome.tiff", "mask")
            reader = MaskReader(info)
            reader.channel_passes([0])
            reader.close()
            read_objects_table(seg / f"cells-objects.{table_format}", "table")


_warm_up_compiled_kernels()

hypothesis.settings.register_profile("ci", derandomize=True, deadline=None, max_examples=15)
hypothesis.settings.register_profile("thorough", deadline=None, max_examples=300)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PROJECT = Path(__file__).resolve().parents[1]
# next to the project; SEGMASK_REAL_DATA points elsewhere (tools/mutation.py runs tests in a copy)
REAL_DATA = Path(os.environ.get("SEGMASK_REAL_DATA") or PROJECT.parent / "shared" / "real-data")


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


@pytest.fixture(params=["inline", "ahead"])
def decode_mode(request, monkeypatch):
    """A pass in one part decodes its segments inline, or ahead on a pool (which the pass does
    only for large segments, ``label_pass.AHEAD_MIN_PIXELS``): tests on small masks run both."""
    from pytest_segmask.checks import label_pass

    monkeypatch.setattr(label_pass, "AHEAD_MIN_PIXELS", 0 if request.param == "ahead" else 1 << 62)
    return request.param


def assert_stats_equal(stats, ref) -> None:
    """Two ChannelStats (a streaming pass and the numpy reference) are the same."""
    import numpy as np

    np.testing.assert_array_equal(stats.ids, ref.ids)
    np.testing.assert_array_equal(stats.counts, ref.counts)
    np.testing.assert_allclose(stats.centroid_x, ref.centroid_x, rtol=1e-6)
    np.testing.assert_allclose(stats.centroid_y, ref.centroid_y, rtol=1e-6)
    np.testing.assert_array_equal(stats.bbox, ref.bbox)
    assert (stats.n_pixels, stats.background_pixels, stats.negative_pixels, stats.first_negative, stats.planes) == (
        ref.n_pixels, ref.background_pixels, ref.negative_pixels, ref.first_negative, ref.planes)
    if ref.centroid_z is None:
        assert stats.centroid_z is None and stats.z_range is None
    else:
        np.testing.assert_allclose(stats.centroid_z, ref.centroid_z, rtol=1e-6)
        np.testing.assert_array_equal(stats.z_range, ref.z_range)


def damage_segments(path: Path, indices, level: int = 0, page: int = 0) -> None:
    """Overwrite the compressed bytes of segments ``indices`` of IFD ``page`` (its SubIFD
    ``level`` − 1 when level > 0) with bytes no codec accepts."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        ifd = tif.pages[page] if level == 0 else tif.pages[page].pages[level - 1]
        spans = [(ifd.dataoffsets[i], ifd.databytecounts[i]) for i in indices]
    raw = bytearray(path.read_bytes())
    for offset, count in spans:
        raw[offset:offset + count] = b"\x13" * count
    path.write_bytes(bytes(raw))
