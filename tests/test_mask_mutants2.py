"""Mask-image checks, second round of mutant-killing tests (docs/mutation.md)."""

from __future__ import annotations

import numpy as np
import tifffile

from pytest_segmask.checks import mask_image as mi
from pytest_segmask.checks.tiff_stream import MaskDecodeError


def test_first_undecodable_ifd_is_the_one_named(tmp_path, monkeypatch):
    # IFDs 1 and 2 both fail the layout check: the first failure is kept, the later one not
    path = tmp_path / "three.tiff"
    tifffile.imwrite(path, np.ones((3, 16, 16), np.uint16), tile=(16, 16), photometric="minisblack", metadata=None)
    real = mi.segment_layout

    def layout(page):
        if page.index in (1, 2):
            raise MaskDecodeError(f"damaged {page.index}")
        return real(page)

    monkeypatch.setattr(mi, "segment_layout", layout)
    info = mi.open_mask(path, display="m.tiff")
    assert info.ifd_count == 3 and info.segment_error == "IFD 1: damaged 1"


def test_exactly_max_ifds_is_within_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "MAX_IFDS", 3)
    monkeypatch.setattr(mi, "limit_text", lambda name: f"the limit {name} = 3")
    for planes, error in ((3, None), (4, "the file has 4 IFDs, beyond the limit MAX_IFDS = 3")):
        path = tmp_path / f"p{planes}.tiff"
        tifffile.imwrite(path, np.ones((planes, 16, 16), np.uint8), tile=(16, 16), photometric="minisblack",
                         metadata=None)
        info = mi.open_mask(path, display="m.tiff")
        assert (info.ifd_count, info.segment_error) == (3, error)
