"""Structured fuzzing: damaged datasets never crash, hang or exhaust the plugin.

Hypothesis edits a valid dataset with every kind of companion the way real damage and
hostile input look: TIFF tag types, counts and values, IFD chains, OME-XML (depth, entities,
sizes), xlsx zip members (sizes, compression, names, sheet XML), GLB headers and JSON,
CSV/TSV bytes, and file types (FIFO, folder, symlinks). Each example runs the real plugin in a
fresh process with a memory cap and a timeout, and must end with every item passed, failed
with a finding, or skipped — no INTERNALERROR, no traceback, no CHECKER-ERROR, no item over
its time budget, no write into the dataset.

Profiles: the default `ci` profile runs a few examples; `HYPOTHESIS_PROFILE=thorough` runs
hundreds with fresh seeds (nightly); `SEGMASK_FUZZ_EXAMPLES=N` sets the number.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

SEG = Path("derived") / "segmentation_masks"
MASK = SEG / "sample.segmentations.ome.tiff"
SPEC = DatasetSpec(
    masks=(MaskSpec(width=96, height=64, tile=32, channels=(ChannelSpec("cells", 6), ChannelSpec("nuclei", 4))),),
    meshes=("cells",), adjacency=(("nuclei", "centroid", "matrix"), ("cells", "linkage", "edges")),
    transformations=("affine.txt",),
)
MEMORY_CAP = 3 * 1024**3  # bytes of address space for the plugin's process
RUN_TIMEOUT = 120  # seconds for one damaged dataset (a valid one takes about 2 s)
ITEM_BUDGET = 30.0  # seconds for any one item
_counter = itertools.count()

REPORTER = '''
import json, os
RESULTS = []
def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        props = dict(report.user_properties)
        RESULTS.append([report.nodeid, report.when, report.outcome, report.duration,
                        props.get("failed_rules", ""), str(report.longrepr)[:2000] if report.failed else ""])
def pytest_sessionfinish(session):
    with open(os.environ["FUZZ_OUT"], "w") as f:
        json.dump(RESULTS, f)
'''


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """The valid dataset every example damages, and the folder of the reporting plugin."""
    root = tmp_path_factory.mktemp("fuzz-base") / "ds"
    write_dataset(SPEC, root)
    helper = tmp_path_factory.mktemp("fuzz-plugin")
    (helper / "fuzz_reporter.py").write_text(REPORTER)
    return root, helper


# --- edits -------------------------------------------------------------------------------


def tiff_tag_edit(data: st.DataObject, root: Path) -> str:
    """Overwrite the type, count or value field of one IFD entry of the mask."""
    import tifffile

    path = root / MASK
    with tifffile.TiffFile(path) as tif:
        tags = [(t.code, t.offset) for page in list(tif.pages)[:2] for t in page.tags.values()]
        sub = tif.pages[0].subifds or ()
    code, offset = data.draw(st.sampled_from(tags), label="tag")
    field = data.draw(st.sampled_from(["type", "count", "value"]), label="field")
    raw = bytearray(path.read_bytes())
    if field == "type":
        raw[offset + 2:offset + 4] = struct.pack("<H", data.draw(st.integers(0, 20), label="type"))
    elif field == "count":
        count = data.draw(st.sampled_from([0, 1, 2, 3, 255, 2**16, 2**31 - 1, 2**32 - 1]), label="count")
        raw[offset + 4:offset + 8] = struct.pack("<I", count)
    else:
        value = data.draw(st.sampled_from([0, 1, 2**15, 2**31, 2**32 - 1, len(raw), len(raw) + 10]), label="value")
        raw[offset + 8:offset + 12] = struct.pack("<I", value)
    path.write_bytes(bytes(raw))
    return f"tag {code} {field} (subifds: {len(sub)})"


def ifd_chain_edit(data: st.DataObject, root: Path) -> str:
    """Point the first IFD's next-IFD offset at itself, past the end, or at a SubIFD."""
    path = root / MASK
    raw = bytearray(path.read_bytes())
    first = struct.unpack("<I", raw[4:8])[0]
    entries = struct.unpack("<H", raw[first:first + 2])[0]
    at = first + 2 + 12 * entries
    target = data.draw(st.sampled_from([first, len(raw) + 4096, 8, 2**32 - 2, at]), label="next")
    raw[at:at + 4] = struct.pack("<I", target)
    path.write_bytes(bytes(raw))
    return f"next IFD -> {target}"


def _deep(depth: int) -> str:
    return "<a>" * depth + "</a>" * depth


def ome_xml_edit(data: st.DataObject, root: Path) -> str:
    import tifffile

    path = root / MASK
    with tifffile.TiffFile(path) as tif:
        xml = tif.pages[0].description
    kind = data.draw(st.sampled_from(["deep", "entities", "sizec", "sizez", "not-xml", "latin1", "huge-size"]),
                     label="ome")
    if kind == "deep":
        xml = xml.replace("</OME>", _deep(data.draw(st.integers(100, 20000), label="depth")) + "</OME>")
    elif kind == "entities":
        xml = ('<?xml version="1.0"?><!DOCTYPE OME [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>'
               + xml.split("?>", 1)[-1].replace('Name="cells"', 'Name="&d;"'))
    elif kind == "sizec":
        xml = xml.replace('SizeC="2"', f'SizeC="{data.draw(st.sampled_from([0, 2**31, 10**30]), label="c")}"')
    elif kind == "sizez":
        xml = xml.replace('SizeZ="1"', f'SizeZ="{data.draw(st.sampled_from([0, 7, 2**31]), label="z")}"')
    elif kind == "not-xml":
        xml = "<OME" + "x" * data.draw(st.integers(0, 1000), label="junk")
    elif kind == "latin1":
        xml = xml.replace('Name="cells"', 'Name="c\xe9lls"')
    else:
        xml = xml.replace('SizeX="96"', 'SizeX="2147483648"')
    comment = xml.encode("latin-1", "replace") if kind == "latin1" else xml.encode("utf-8")
    tifffile.tiffcomment(path, comment)
    return f"ome {kind}"


def _rezip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    path.write_bytes(buffer.getvalue())


def xlsx_edit(data: st.DataObject, root: Path) -> str:
    path = root / SEG / "cells-objects.xlsx"
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    sheet = next(n for n in members if n.startswith("xl/worksheets/sheet"))
    kind = data.draw(st.sampled_from(["far-right", "deep", "inflate", "shared-huge", "rename-sheet",
                                      "stored", "truncated-sheet", "declared-size", "row-number"]), label="xlsx")
    if kind == "far-right":
        members[sheet] = members[sheet].replace(b'r="B', b'r="AAAAAAA', 1)
    elif kind == "deep":
        members[sheet] = members[sheet].replace(b"</sheetData>", _deep(5000).encode() + b"</sheetData>")
    elif kind == "inflate":
        rows = b"".join(b'<row r="%d"><c r="A%d"><v>1</v></c></row>' % (i, i) for i in range(20, 200020))
        members[sheet] = members[sheet].replace(b"</sheetData>", rows + b"</sheetData>")
    elif kind == "shared-huge":
        key = "xl/sharedStrings.xml"
        if key in members:
            members[key] = members[key].replace(b"<t>", b"<t>" + b"x" * 5_000_000, 1)
    elif kind == "rename-sheet":
        members[sheet.replace("sheet", "shoot")] = members.pop(sheet)
    elif kind == "truncated-sheet":
        members[sheet] = members[sheet][: len(members[sheet]) // 2]
    elif kind == "row-number":
        members[sheet] = members[sheet].replace(b'<row r="', b'<row r="9', 3)
    _rezip(path, members, zipfile.ZIP_STORED if kind == "stored" else zipfile.ZIP_DEFLATED)
    if kind == "declared-size":
        raw = bytearray(path.read_bytes())
        at = raw.find(b"PK\x01\x02")  # first central directory entry: uncompressed size at +24
        raw[at + 24:at + 28] = struct.pack("<I", 2**32 - 1)
        path.write_bytes(bytes(raw))
    return f"xlsx {kind}"


def glb_edit(data: st.DataObject, root: Path) -> str:
    path = root / SEG / "cells-mesh.glb"
    raw = bytearray(path.read_bytes())
    kind = data.draw(st.sampled_from(["length", "chunk-length", "version", "json"]), label="glb")
    if kind == "length":
        raw[8:12] = struct.pack("<I", data.draw(st.sampled_from([0, 12, 2**32 - 1]), label="len"))
    elif kind == "chunk-length":
        raw[12:16] = struct.pack("<I", data.draw(st.sampled_from([0, 3, 2**31, 2**32 - 1]), label="clen"))
    elif kind == "version":
        raw[4:8] = struct.pack("<I", data.draw(st.integers(0, 2**32 - 1), label="ver"))
    else:
        doc = data.draw(st.sampled_from([
            "[" * 100000 + "]" * 100000, '{"asset":{"version":"2.0"},"accessors":[{"componentType":[1],"type":{}}]}',
            '{"asset":{"version":"2.0"},"x":' + "9" * 5000 + "}", '{"asset": 1}', "\ufeff{}",
            '{"asset":{"version":"2.0"},"meshes":[{"primitives":[{"attributes":{"POSITION":99}}]}]}',
        ]), label="json").encode("utf-8")
        doc += b" " * (-len(doc) % 4)
        raw = bytearray(struct.pack("<III", 0x46546C67, 2, 12 + 8 + len(doc)) + struct.pack("<II", len(doc), 0x4E4F534A) + doc)
    path.write_bytes(bytes(raw))
    return f"glb {kind}"


def csv_edit(data: st.DataObject, root: Path) -> str:
    target = data.draw(st.sampled_from(["nuclei-centroid-adjacency.csv", "cells-linkage-adjacency.csv",
                                        "segmentation-masks.csv"]), label="csv")
    content = data.draw(st.one_of(
        st.binary(max_size=300),
        st.sampled_from([b"id1,id2\n\xc2\xb2,1\n", b"id1,id2\n" + b"9" * 5000 + b",1\n",
                         b"id1,id2\n9223372036854775808,1\n", b"a" * 300_000, b",,,\n" * 1000,
                         b"\x00\x01\x02", "id1,id2\n١,٢\n".encode()]),
    ), label="bytes")
    (root / SEG / target).write_bytes(content)
    return f"csv {target}"


def file_type_edit(data: st.DataObject, root: Path) -> str:
    target = data.draw(st.sampled_from([MASK, SEG / "cells-objects.xlsx", SEG / "segmentation-masks.csv",
                                        SEG / "cells-mesh.glb", SEG / "nuclei-centroid-adjacency.csv",
                                        SEG / "transformations" / "affine.txt"]), label="file")
    kind = data.draw(st.sampled_from(["fifo", "folder", "dev-zero", "dangling", "outside"]), label="type")
    path = root / target
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dangling":
        path.symlink_to("no-such-file")
    else:
        path.symlink_to(Path(sys.executable).resolve())
    return f"{target.name} -> {kind}"


EDITS = [tiff_tag_edit, ifd_chain_edit, ome_xml_edit, xlsx_edit, glb_edit, csv_edit, file_type_edit]


def _limit_memory() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            out[str(path)] = "special"
        else:
            out[str(path)] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out


def run_damaged(helper: Path, work: Path) -> list:
    out = work / "results.json"
    env = {**os.environ, "FUZZ_OUT": str(out),
           "PYTHONPATH": os.pathsep.join([str(helper), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-m", "pytest", "-p", "fuzz_reporter", "-p", "no:cacheprovider", "-q",
            "--rootdir", str(work), f"--segmask-dataset={work / 'ds'}"]
    done = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          preexec_fn=_limit_memory)
    assert done.returncode in (0, 1), (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout[-3000:]
    return json.loads(out.read_text())


# SEGMASK_FUZZ_EXAMPLES=N overrides the profile's number of examples (e.g. a nightly campaign)
_EXAMPLES = {"max_examples": int(os.environ["SEGMASK_FUZZ_EXAMPLES"])} if os.environ.get("SEGMASK_FUZZ_EXAMPLES") else {}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None,
          **_EXAMPLES)
@given(data=st.data())
def test_damaged_dataset_ends_in_findings(base, tmp_path_factory, data):
    work = tmp_path_factory.mktemp(f"fuzz{next(_counter)}")
    root = work / "ds"
    shutil.copytree(base[0], root, symlinks=True)
    edits = data.draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=2, unique=True), label="edits")
    applied = [edit(data, root) for edit in edits]
    before = _digest(root)
    results = run_damaged(base[1], work)
    assert results, applied
    for nodeid, when, outcome, duration, failed_rules, text in results:
        assert duration < ITEM_BUDGET, (applied, nodeid, duration)
        assert "CHECKER-ERROR" not in failed_rules.split(), (applied, nodeid, text)
        if outcome == "failed":
            assert "Traceback" not in text and when == "call", (applied, nodeid, when, text[:1500])
    assert _digest(root) == before, ("the plugin wrote into the dataset", applied)
