"""pytest-segmask: conformance items for HuBMAP segmentation-mask datasets."""

from .items import SegmaskWarning

__all__ = ["SegmaskWarning"]
