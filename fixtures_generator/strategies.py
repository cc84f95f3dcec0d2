"""Hypothesis strategies over DatasetSpec: valid datasets across the whole space.

Draws shrink towards the smallest readable counterexample: version 2.7, one small channel,
uint16, tiles, zlib, one pyramid level, xlsx tables of the newer template.
"""

from __future__ import annotations

from hypothesis import strategies as st

from .spec import ChannelSpec, DatasetSpec, MaskSpec

VERSIONS = ("2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0")  # shrink to the newest
CHANNEL_NAMES = ("cells", "nuclei", "tubules", "glomeruli", "arteries-arterioles", "cortical_interstitium")


@st.composite
def channel_specs(draw, count: int, max_objects: int, max_id: int):
    names = draw(st.lists(st.sampled_from(CHANNEL_NAMES), min_size=count, max_size=count, unique=True))
    channels = []
    for name in names:
        # at least one object: an empty channel's table has no data rows, which ingest rejects
        # (empty channels are the empty-channel defect)
        n = draw(st.integers(min_value=1, max_value=max_objects))
        sparse = draw(st.booleans()) and 3 * n <= max_id
        channels.append(ChannelSpec(name, n, sparse))
    return tuple(channels)


@st.composite
def mask_specs(draw, max_side: int = 160, max_z: int = 3, signed: bool = True):
    """Valid masks: 2D or 3D (size_z up to ``max_z``), pyramid factors 2–4, unsigned or (with a
    practice warning, never a failure) signed integer containers without negative values."""
    width = draw(st.integers(min_value=8, max_value=max_side))
    height = draw(st.integers(min_value=8, max_value=max_side))
    dtypes = ["uint16", "uint8", "uint32"] + (["int32", "int16", "int8"] if signed else [])
    dtype = draw(st.sampled_from(dtypes))
    max_id = 127 if dtype == "int8" else 255 if dtype == "uint8" else 10_000
    # objects need a grid cell of at least 2×2 pixels each
    max_objects = min(30, (width // 2) * (height // 2))
    channels = draw(channel_specs(draw(st.integers(1, 4)), max_objects, max_id))
    tiled = draw(st.booleans().map(lambda b: not b))  # shrinks to tiles
    factor = draw(st.integers(2, 4))
    max_levels = 1
    while min(width, height) // factor**max_levels >= 1 and max_levels < 4:
        max_levels += 1
    return MaskSpec(
        width=width,
        height=height,
        channels=channels,
        dtype=dtype,
        tile=draw(st.sampled_from([64, 16, 32])) if tiled else None,
        rows_per_strip=draw(st.sampled_from([16, 1, 7])),
        compression=draw(st.sampled_from(["zlib", None, "lzw", "packbits", "zstd"])),
        pyramid_levels=draw(st.integers(1, max_levels)),
        pyramid_method=draw(st.sampled_from(["topleft", "mode"])),
        pyramid_factor=factor,
        size_z=draw(st.integers(1, max_z)),
        physical_size=draw(st.sampled_from([0.5, 0.252, 1.0])),
        bigtiff=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


@st.composite
def dataset_specs(draw, max_side: int = 160):
    version = draw(st.sampled_from(VERSIONS))
    # HuBMAP's ingest needs at least one .xlsx table ("No object by feature .XLSX files found."),
    # so a valid dataset's tables are .xlsx; TSV-only datasets are the defects
    # tsv-table-where-xlsx-required and table-plain-tsv
    formats = ["xlsx"]
    mask = draw(mask_specs(max_side))
    names = mask.channel_names
    meshes = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    adjacency = draw(st.lists(
        st.tuples(st.sampled_from(names), st.sampled_from(["centroid", "linkage"]),
                  st.sampled_from(["edges", "matrix"])),
        unique_by=lambda t: t[:2], max_size=2))
    transformations = draw(st.none() | st.lists(st.sampled_from(["t0.txt", "t1.json"]), unique=True).map(tuple))
    return DatasetSpec(
        version=version,
        masks=(mask,),
        table_format=draw(st.sampled_from(formats)),
        template=draw(st.sampled_from(["newer", "older"])),
        segmentation_masks_csv=True,
        empty_dirs=draw(st.booleans()),
        meshes=tuple(meshes),
        adjacency=tuple(adjacency),
        transformations=transformations,
    )
