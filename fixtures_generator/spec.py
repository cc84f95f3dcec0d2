"""Dataset specs: plain frozen dataclasses that describe a dataset; writer.py renders them.

Defects are expressed as spec fields (``dataclasses.replace`` a valid spec), so hypothesis
strategies and the defect catalogue can build on them.
"""

from __future__ import annotations

from dataclasses import dataclass

PYRAMID_METHODS = ("topleft", "mode", "mean", "bilinear", "wrong-sizes", "legacy")
OME_EDITS = (
    "type-mismatch", "missing-names", "duplicate-names", "sizec-mismatch", "binaryonly",
    "multifile-uuid", "no-ome", "not-xml", "sizet-2", "no-physical-size", "xsd-invalid",
)
COMPRESSIONS = (None, "zlib", "lzw", "zstd", "packbits")


@dataclass(frozen=True)
class ChannelSpec:
    name: str
    n_objects: int = 12  # distinct ids >= 1; 0 = an all-background channel
    sparse_ids: bool = False  # ids drawn from 1 … 3·n instead of 1 … n
    id_offset: int = 0  # added to every id (a large offset makes ids wildly sparse)
    negative_at: tuple[int, int, int] | None = None  # (z, y, x) set to -1 (signed dtypes: a defect)


@dataclass(frozen=True)
class MaskSpec:
    stem: str = "sample"
    width: int = 300
    height: int = 200
    channels: tuple[ChannelSpec, ...] = (ChannelSpec("cells"), ChannelSpec("nuclei"))
    dtype: str = "uint16"  # uint8/16/32 valid; int8/16/32 valid with a warning; float32 a defect
    tile: int | None = 64  # None: strips
    rows_per_strip: int = 16
    compression: str | None = "zlib"
    pyramid_levels: int = 3  # including full resolution; 1 = no pyramid
    pyramid_method: str = "topleft"  # topleft/mode valid; mean/bilinear/wrong-sizes/legacy defects
    pyramid_factor: int = 2  # any integer >= 2 (bfconvert -pyramid-scale)
    size_z: int = 1  # z-planes per channel (3D masks; DimensionOrder XYZCT)
    physical_size: float | None = 0.5  # µm
    bigtiff: bool = False
    suffix: str = ".segmentations.ome.tiff"
    ome_edits: tuple[str, ...] = ()
    seed: int = 0

    @property
    def file_name(self) -> str:
        return self.stem + self.suffix

    @property
    def channel_names(self) -> list[str]:
        return [c.name for c in self.channels]


@dataclass(frozen=True)
class DatasetSpec:
    version: str = "2.7"
    masks: tuple[MaskSpec, ...] = (MaskSpec(),)
    table_format: str = "xlsx"  # "xlsx" or "tsv"
    template: str = "newer"  # "newer" (current official template), "older" (first generation) or "plain"
    # an official template .xlsx to fill in (openpyxl, styles kept) instead of writing the rows
    template_file: str | None = None
    segmentation_masks_csv: bool = True
    top_extras: bool | None = None  # None: as the version requires (2.2 and later)
    empty_dirs: bool = False  # False: placeholder files so git keeps extras/ folders
    # optional companions
    meshes: tuple[str, ...] = ()  # channel names that get `<channel>-mesh.glb`
    adjacency: tuple[tuple[str, str, str], ...] = ()  # (channel, "centroid"|"linkage", "edges"|"matrix")
    transformations: tuple[str, ...] | None = None  # file names under transformations/; () = empty folder

    @property
    def writes_top_extras(self) -> bool:
        if self.top_extras is not None:
            return self.top_extras
        return tuple(int(p) for p in self.version.split(".")) >= (2, 2)
