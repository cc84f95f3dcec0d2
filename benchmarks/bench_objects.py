"""Benchmark the objects-table pass on a 1,000,000-row × 15-column table, .xlsx and .tsv.

    python benchmarks/bench_objects.py [--rows 1000000] [--skip-openpyxl]

The .xlsx is written the way Excel writes one (shared strings, numbers as <v>, the current
template's schema rows, an empty separator row, the header at row 10); the .tsv holds the same
rows. Tables are generated once and cached in the temp folder. Every measurement runs in a fresh
process started by this script, which reports its CPU seconds (user + system) and peak RSS:

* ours: ``read_objects_table`` plus every table check (layout, columns, values, ids, mask
  agreement and centroids against a channel holding the same ids);
* the unzip floor: inflating the sheet XML and nothing else (tsv: reading the bytes);
* openpyxl read-only: iterating every row's values (what the plugin used before);
* python-calamine: iterating every row of the sheet (it holds the whole sheet in memory);
* ours, cold: the same as ours with an empty numba cache (compiling the scanner once).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)", "Annotation tool",
          "Object type", "X", "Y", "Z", "Area", "Perimeter", "Eccentricity", "Solidity", "Mean intensity"]
SCHEMA = [
    ["Type", "text", "text", "obo id", "doi", "text", "obo id", "float", "float", "integer", "integer", "float",
     "float", "float", "float"],
    ["Unit", None, None, None, None, None, None, "pixel", "pixel", "pixel", "count", "pixel", None, None, "intensity"],
    ["Feature class", "mask", "mask", "mask", "mask", "mask", "ontology", "spatial", "spatial", "spatial",
     "morphology", "morphology", "morphology", "morphology", "antibody"],
    ["Description"] + [f"feature {i}" for i in range(14)],
    ["Protocol used to derive this feature value (DOI)"] + [None] * 14,
    ["Alternative ID"] + [None] * 14,
    ["Permissible values", None, None, None, None, "Azimuth | STELLAR | FUSION | In-house | Manual | Not applicable"]
    + [None] * 9,
    ["Requirement level"] + ["REQUIRED"] * 5 + ["OPTIONAL"] + ["REQUIRED"] * 3 + ["OPTIONAL"] * 5,
    [None] * 15,
    HEADER,
]
FIXED = ["big.segmentations.ome.tiff", "cells", "CL:0000000", "10.5281/zenodo.1234567", "In-house", "CL:0000000"]


def _col(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _data(n: int):
    rng = np.random.default_rng(0)
    xs = rng.uniform(0, 49_999, n).round(2)
    ys = rng.uniform(0, 49_999, n).round(2)
    area = rng.integers(20, 400, n)
    for i in range(n):
        yield [i + 1, *FIXED, float(xs[i]), float(ys[i]), 0, int(area[i]), 40.5, 0.3, 0.9, 12.25]


def write_xlsx(path: Path, n: int) -> None:
    """An Excel-like workbook: shared strings, numbers in <v>, the schema rows of the template."""
    cols = [_col(i) for i in range(len(HEADER))]
    shared: dict[str, int] = {}

    def cell(ref, value):
        if isinstance(value, str):
            index = shared.setdefault(value, len(shared))
            return f'<c r="{ref}" t="s"><v>{index}</v></c>'
        return f'<c r="{ref}"><v>{value!r}</v></c>'

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.'
                     b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for r, row in enumerate(SCHEMA, 1):
                fh.write((f'<row r="{r}">' + "".join(cell(f"{cols[c]}{r}", v) for c, v in enumerate(row)
                                                      if v is not None) + "</row>").encode())
            buf = []
            for i, row in enumerate(_data(n)):
                r = i + len(SCHEMA) + 1
                buf.append(f'<row r="{r}" spans="1:15">' + "".join(cell(f"{cols[c]}{r}", v) for c, v in enumerate(row))
                           + "</row>")
                if len(buf) == 20_000:
                    fh.write("".join(buf).encode())
                    buf = []
            fh.write("".join(buf).encode() + b"</sheetData></worksheet>")
        zf.writestr("xl/sharedStrings.xml", '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.'
                    'openxmlformats.org/spreadsheetml/2006/main">'
                    + "".join(f"<si><t>{escape(s)}</t></si>" for s in shared) + "</sst>")
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
                    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships"><sheets><sheet name="MAIN" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.'
                    'openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
                    'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                    'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
                    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')


def write_tsv(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in SCHEMA:
            fh.write("\t".join("" if v is None else str(v) for v in row) + "\n")
        buf = []
        for row in _data(n):
            buf.append("\t".join(repr(v) if isinstance(v, float) else str(v) for v in row))
            if len(buf) == 50_000:
                fh.write("\n".join(buf) + "\n")
                buf = []
        if buf:
            fh.write("\n".join(buf) + "\n")


# --- measured in a child process ------------------------------------------------------------


class _Stats:
    def __init__(self, n: int) -> None:
        self.ids = np.arange(1, n + 1, dtype=np.int64)
        self.bbox = np.broadcast_to(np.array([0, 0, 50_000, 50_000], np.int64), (n, 4))
        self.z_range = None
        self.centroid_z = None

    def index_of(self, ids):
        return np.where((ids >= 1) & (ids <= len(self.ids)), ids - 1, -1)


def run_ours(path: str, n: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from pytest_segmask.checks.objects_table import (
        check_centroids, check_columns, check_ids, check_layout, check_mask_agreement, check_values,
        read_objects_table,
    )

    table = read_objects_table(Path(path))
    stats = _Stats(n)
    found = []
    for check in (check_layout, check_columns, check_values, check_ids):
        found += check(table).findings
    found += check_mask_agreement(table, "cells", "big.segmentations.ome.tiff", stats,
                                  ["big.segmentations.ome.tiff"]).findings
    found += check_centroids(table, "cells", stats, (1, 50_000, 50_000), (1.0, 1.0, None)).findings
    return {"rows": table.rows, "findings": sorted({f.code for f in found})}


def run_unzip(path: str, n: int) -> dict:
    total = 0
    if path.endswith(".tsv"):
        with open(path, "rb") as fh:
            while data := fh.read(8 << 20):
                total += len(data)
    else:
        with zipfile.ZipFile(path) as zf, zf.open("xl/worksheets/sheet1.xml") as fh:
            while data := fh.read(8 << 20):
                total += len(data)
    return {"bytes": total}


def run_openpyxl(path: str, n: int) -> dict:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    rows = sum(1 for _ in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    return {"rows": rows}


def run_calamine(path: str, n: int) -> dict:
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_path(path).get_sheet_by_index(0)
    return {"rows": sum(1 for _ in sheet.iter_rows())}


def child(kind: str, path: str, n: int) -> None:
    start_cpu, start = time.process_time(), time.perf_counter()
    out = {"ours": run_ours, "ours-cold": run_ours, "unzip": run_unzip, "openpyxl": run_openpyxl,
           "calamine": run_calamine}[kind](path, n)
    out["cpu"] = time.process_time() - start_cpu
    out["wall"] = time.perf_counter() - start
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def measure(kind: str, path: Path, n: int) -> dict:
    env = dict(os.environ)
    if kind == "ours-cold":
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="segmask-numba-cold-")
    done = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(n)], capture_output=True,
                          text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip-openpyxl", action="store_true", help="skip the slow openpyxl baseline")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    folder = Path(tempfile.gettempdir()) / f"segmask-bench-objects-v2-{args.rows}"
    folder.mkdir(exist_ok=True)
    print(f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
          f"{time.strftime('%Y-%m-%d')}")
    for ext in ("xlsx", "tsv"):
        path = folder / f"cells-objects.{ext}"
        if not path.exists():
            t = time.perf_counter()
            (write_xlsx if ext == "xlsx" else write_tsv)(path, args.rows)
            print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s")
        kinds = ["ours", "ours-cold", "unzip"]
        if ext == "xlsx":
            kinds += ([] if args.skip_openpyxl else ["openpyxl"]) + ["calamine"]
        measure("ours", path, args.rows)  # warm the numba cache (the cold run has its own)
        print(f"{ext}: {args.rows:,} rows × {len(HEADER)} columns")
        for kind in kinds:
            if kind == "calamine" and importlib.util.find_spec("python_calamine") is None:
                print(f"  {'python-calamine':<24} not installed here (pip install python-calamine)")
                continue
            r = measure(kind, path, args.rows)
            label = {"ours": "ours", "ours-cold": "ours, cold numba cache", "unzip": "unzip floor" if ext == "xlsx"
                     else "read floor", "openpyxl": "openpyxl read-only", "calamine": "python-calamine"}[kind]
            extra = f", findings {r['findings']}" if "findings" in r else ""
            print(f"  {label:<24} {r['cpu']:6.1f} s CPU {r['wall']:6.1f} s wall  peak RSS {r['rss_mb']:5.0f} MB{extra}")


if __name__ == "__main__":
    main()
