"""Build valid and deliberately broken HuBMAP segmentation-mask datasets.

A spec (``DatasetSpec`` / ``MaskSpec`` / ``ChannelSpec``) describes a dataset; ``write_dataset``
renders it. Defects are spec fields or named mutations, so tests and hypothesis strategies
can produce every failing case from a valid one.
"""

from .spec import ChannelSpec, DatasetSpec, MaskSpec
from .writer import write_dataset

__all__ = ["ChannelSpec", "DatasetSpec", "MaskSpec", "write_dataset"]
