"""python -m fixtures_generator OUT [options]: write a valid segmentation-mask dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from .spec import COMPRESSIONS, ChannelSpec, DatasetSpec, MaskSpec
from .writer import write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fixtures_generator", description=__doc__)
    parser.add_argument("out", type=Path, help="output folder (absent or empty)")
    parser.add_argument("--version", default="2.7", help="directory-schema version (default 2.7)")
    parser.add_argument("--stem", default="sample", help="mask file name stem")
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--height", type=int, default=200)
    parser.add_argument("--channels", default="cells,nuclei", help="comma-separated channel names")
    parser.add_argument("--objects", type=int, default=12, help="objects per channel")
    parser.add_argument("--sparse-ids", action="store_true")
    parser.add_argument("--dtype", default="uint16")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--tile", type=int, default=64)
    layout.add_argument("--strips", action="store_true", help="strips instead of tiles")
    parser.add_argument("--compression", default="zlib", choices=[str(c) for c in COMPRESSIONS])
    parser.add_argument("--levels", type=int, default=3, help="pyramid levels incl. full resolution")
    parser.add_argument("--pyramid-method", default="topleft")
    parser.add_argument("--physical-size", type=float, default=0.5)
    parser.add_argument("--bigtiff", action="store_true")
    parser.add_argument("--table-format", default="xlsx", choices=["xlsx", "tsv"])
    parser.add_argument("--template", default="newer", choices=["newer", "older", "plain"])
    parser.add_argument("--no-csv", action="store_true", help="omit segmentation-masks.csv")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    mask = MaskSpec(
        stem=args.stem, width=args.width, height=args.height,
        channels=tuple(ChannelSpec(n, args.objects, args.sparse_ids) for n in args.channels.split(",")),
        dtype=args.dtype, tile=None if args.strips else args.tile,
        compression=None if args.compression == "None" else args.compression,
        pyramid_levels=args.levels, pyramid_method=args.pyramid_method,
        physical_size=args.physical_size, bigtiff=args.bigtiff, seed=args.seed,
    )
    spec = DatasetSpec(
        version=args.version, masks=(mask,), table_format=args.table_format,
        template=args.template, segmentation_masks_csv=not args.no_csv,
    )
    out = write_dataset(spec, args.out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
