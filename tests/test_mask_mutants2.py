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
