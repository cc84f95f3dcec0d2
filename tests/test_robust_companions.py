"""Issue 12 regression tests for the companions and the directory listing: every input class
that crashed, hung or blew up memory is built in tmp_path and must end as a finding in words.

Pure functions only (no pytester): read_adjacency, check_glb, read_rows/check_rows,
check_transformations, list_dataset/check_not_allowed.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import make_tree

from fixtures_generator.companions import make_glb
from pytest_segmask import dirschema
from pytest_segmask.checks import adjacency, segmentation_masks_csv as smc
from pytest_segmask.checks.adjacency import check_adjacency_ids, check_adjacency_structure, read_adjacency
from pytest_segmask.checks.glb import MAX_JSON_DEPTH, MAX_JSON_NUMBER_CHARS, check_glb, json_depth
from pytest_segmask.checks.transformations import check_transformations
from pytest_segmask.dirschema import check_not_allowed, choose_version, display_path, list_dataset, open_regular
from pytest_segmask.findings import shorten

M = "derived/segmentation_masks/"
VALID = ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + "cells-objects.xlsx"]
EXCEPTION_WORDS = ("Error:", "Error(", "Exception", "Traceback", "errno", "<class")


def finishes(fn, *args, seconds: float = 20.0):
    """fn(*args) in a thread; fail (instead of hanging the suite) when it blocks."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # pragma: no cover - reported below
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} blocked for {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def in_words(message: str) -> None:
    assert not any(word in message for word in EXCEPTION_WORDS), message
    message.encode("utf-8")  # valid text: no lone surrogates


def only(result, code: str, severity: str, authority: str):
    [finding] = result.findings
    assert (finding.code, finding.severity.value, finding.authority.value) == (code, severity, authority)
    in_words(finding.message)
    return finding


# --- adjacency ids that str.isdigit() accepts but int() rejects, or >= 2^63 ---------------


@pytest.mark.parametrize(
    "cell, why",
    [
        ("²", "`²` is not a whole number"),
        ("٣", "`٣` is not a whole number"),  # an Arabic-Indic digit: isdigit() is True
        ("9" * 1000, "is larger than 9223372036854775807 (2^63 - 1)"),
        (str(2**63), "`9223372036854775808` is larger than 9223372036854775807 (2^63 - 1)"),
        ("0", "`0` is 0 is the background, not an object"),
    ],
)
def test_edge_list_ids_that_are_not_int64(tmp_path, cell, why):
    path = tmp_path / "cells-centroid-adjacency.csv"
    path.write_text(f"a,b\n1,2\n3,{cell}\n", encoding="utf-8")
    adj = read_adjacency(path, "x.csv")
    finding = only(check_adjacency_structure(adj), "ADJ-FORM", "error", "practice")
    assert finding.message.startswith("x.csv: 1 row(s) without two positive integer ids: row 3: ")
    assert why in finding.message
    assert len(finding.message) < 300  # the 1000-digit id is shortened
    assert adj.ids.tolist() == [1, 2]


def test_5000_digit_id_is_over_the_field_limit(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1," + "9" * 5000 + "\n", encoding="utf-8")
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert finding.message == (
        "a.csv: line 2 holds a field of 5,000 characters, longer than 1,024 (limit MAX_CSV_FIELD_CHARS)")


def test_largest_int64_id_is_an_id(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(f"a,b\n1,{2**63 - 1}\n", encoding="utf-8")
    adj = read_adjacency(path, "a.csv")
    assert check_adjacency_structure(adj).findings == []
    finding = only(check_adjacency_ids(adj, "cells", np.array([1], np.int64)), "ADJ-IDS", "error", "schema")
    assert f"{2**63 - 1} (row 2)" in finding.message


@pytest.mark.parametrize("cell", ["²", "9" * 1000, str(2**64)])
def test_matrix_header_ids_that_are_not_int64(tmp_path, cell):
    path = tmp_path / "a.csv"
    path.write_text(f",1,2,{cell}\n1,0,1,0\n2,1,0,0\n", encoding="utf-8")
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert finding.message.startswith("a.csv: the first row of the matrix must hold object ids; found `")


def test_matrix_row_id_that_is_not_int64(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(f",1,2\n1,0,1\n{'9' * 1000},1,0\n", encoding="utf-8")
    structure = check_adjacency_structure(read_adjacency(path, "a.csv"))
    assert [f.code for f in structure.findings] == ["ADJ-FORM", "ADJ-SYMMETRIC"]
    assert "row 3 starts with `99999999999999999999… (1000 characters)`, which is larger than" in structure.findings[0].message


# --- CSV that never ends a line; line and field bounds ---------------------------------------


def test_adjacency_symlink_to_dev_zero_is_not_opened(tmp_path):
    link = tmp_path / "cells-centroid-adjacency.csv"
    link.symlink_to("/dev/zero")
    finding = only(check_adjacency_structure(finishes(read_adjacency, link, "c.csv")), "ADJ-FORM", "error", "practice")
    assert finding.message == "cannot read c.csv: not a regular file: it is a character device"


def test_adjacency_line_longer_than_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(adjacency, "MAX_CSV_LINE_CHARS", 1000)
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1," + "2" * 5000, encoding="utf-8")  # no end of line at all
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert finding.message == (
        "a.csv: line 2 is longer than 1,000 characters (limit MAX_CSV_LINE_CHARS); "
        "a line this long is not CSV text")


def test_adjacency_default_line_limit_on_a_binary_blob(tmp_path):
    path = tmp_path / "a.csv"
    with open(path, "w") as fh:  # 9 Mi characters, no newline: over the default 8 Mi limit
        fh.write("a" * (9 * 1024 * 1024))
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert "line 1 is longer than 8,388,608 characters (limit MAX_CSV_LINE_CHARS)" in finding.message


def test_adjacency_field_longer_than_the_limit(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("a,b,w\n1,2," + "1" * 2000 + "\n", encoding="utf-8")
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert finding.message == (
        "a.csv: line 2 holds a field of 2,000 characters, longer than 1,024 (limit MAX_CSV_FIELD_CHARS)")


def test_adjacency_quoted_field_spanning_lines_is_bounded(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('a,b\n1,"' + "x\n" * 100_000 + '"\n', encoding="utf-8")
    finding = only(check_adjacency_structure(read_adjacency(path, "a.csv")), "ADJ-FORM", "error", "practice")
    assert "holds a field longer than" in finding.message or "holds a field of" in finding.message


def test_segmentation_masks_csv_symlink_to_dev_zero(tmp_path):
    link = tmp_path / "segmentation-masks.csv"
    link.symlink_to("/dev/zero")
    parsed = finishes(smc.read_rows, link)
    finding = only(smc.check_rows(parsed, "s.csv", {}, []), "CSV-ROWS", "error", "schema")
    assert finding.message == "s.csv: cannot be read: not a regular file: it is a character device"
    assert smc.check_num_objects(parsed, "s.csv", {}).skip == "s.csv cannot be read (see its rows item)"


def test_segmentation_masks_csv_line_and_field_limits(tmp_path, monkeypatch):
    path = tmp_path / "segmentation-masks.csv"
    path.write_text(",".join(smc.HEADER) + "\n0," + "n" * 5000 + ",m,a,b,c,No,1\n", encoding="utf-8")
    finding = only(smc.check_rows(smc.read_rows(path), "s.csv", {}, []), "CSV-ROWS", "error", "schema")
    assert finding.message == (
        "s.csv: line 2 holds a field of 5,000 characters, longer than 4,096 (limit MAX_CSV_FIELD_CHARS)")
    monkeypatch.setattr(smc, "MAX_CSV_LINE_CHARS", 100)
    finding = only(smc.check_rows(smc.read_rows(path), "s.csv", {}, []), "CSV-ROWS", "error", "schema")
    assert finding.message == (
        "s.csv: line 1 is longer than 100 characters (limit MAX_CSV_LINE_CHARS); a line this long is not CSV text")


def test_segmentation_masks_csv_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(smc, "MAX_ROWS", 3)
    path = tmp_path / "segmentation-masks.csv"
    path.write_text(",".join(smc.HEADER) + "\n" + "0,a,m,x,1,p,No,1\n" * 4, encoding="utf-8")
    finding = only(smc.check_rows(smc.read_rows(path), "s.csv", {}, []), "CSV-ROWS", "error", "schema")
    assert finding.message == "s.csv: more than 3 rows (limit MAX_ROWS): this is not a per-channel table"


# --- GLB JSON depth, long numbers, wrong JSON types ------------------------------------------


def glb_with_json(json_bytes: bytes, binary: bytes = b"") -> bytes:
    json_bytes += b" " * (-len(json_bytes) % 4)
    chunks = struct.pack("<II", len(json_bytes), 0x4E4F534A) + json_bytes
    if binary:
        binary += b"\x00" * (-len(binary) % 4)
        chunks += struct.pack("<II", len(binary), 0x004E4942) + binary
    return b"glTF" + struct.pack("<II", 2, 12 + len(chunks)) + chunks


def test_glb_json_nested_100000_deep(tmp_path):
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(glb_with_json(b'{"asset":{"version":"2.0"},"extras":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    finding = only(check_glb(path, "c-mesh.glb"), "GLB-JSON", "error", "schema")
    assert finding.message == (
        f"c-mesh.glb: JSON chunk nests arrays/objects 100,001 levels deep, deeper than {MAX_JSON_DEPTH} "
        "(limit MAX_JSON_DEPTH); glTF JSON is a few levels deep (at byte 20)")


def test_json_depth_skips_strings_and_spans_chunks():
    assert json_depth(b'{"a": "[[[[{{{", "b": [[1]]}') == 3
    assert json_depth(b'["\\"[[[", 1]') == 1
    assert json_depth(b"[" * 10 + b"]" * 10, chunk=3) == 10


@pytest.mark.parametrize("number", ["9" * 5000, "1." + "5" * 5000, "-" + "1" * 100])
def test_glb_json_number_too_long(tmp_path, number):
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(glb_with_json(b'{"asset":{"version":"2.0"},"scene":' + number.encode() + b"}"))
    finding = only(check_glb(path, "c-mesh.glb"), "GLB-JSON", "error", "schema")
    assert finding.message.startswith(f"c-mesh.glb: JSON chunk holds a number of {len(number):,} characters (`")
    assert f"longer than {MAX_JSON_NUMBER_CHARS} (limit MAX_JSON_NUMBER_CHARS) (at byte 20)" in finding.message


def _doc(accessor: dict) -> dict:
    return {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": 36}],
        "bufferViews": [{"buffer": 0, "byteLength": 36}],
        "accessors": [{"bufferView": 0, "count": 3, **accessor}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
    }


@pytest.mark.parametrize(
    "accessor, shown",
    [
        ({"componentType": [5126], "type": "VEC3"}, "componentType [5126] / type 'VEC3'"),
        ({"componentType": {"a": 1}, "type": "VEC3"}, "componentType {'a': 1} / type 'VEC3'"),
        ({"componentType": 5126, "type": ["VEC3"]}, "componentType 5126 / type ['VEC3']"),
        ({"componentType": 5126, "type": {"VEC3": 1}}, "componentType 5126 / type {'VEC3': 1}"),
        ({"componentType": True, "type": "VEC3"}, "componentType True / type 'VEC3'"),
    ],
)
def test_glb_component_type_or_type_not_a_scalar(tmp_path, accessor, shown):
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(glb_with_json(json.dumps(_doc(accessor)).encode(), b"\x00" * 36))
    finding = only(check_glb(path, "c.glb"), "GLB-BOUNDS", "error", "practice")
    assert finding.message == f"c.glb: accessor 0 has {shown} (at /accessors/0)"


def test_glb_accessors_not_an_array_does_not_break_the_mesh_check(tmp_path):
    doc = _doc({"componentType": 5126, "type": "VEC3"})
    doc["accessors"] = 5
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(glb_with_json(json.dumps(doc).encode(), b"\x00" * 36))
    result = check_glb(path, "c.glb")
    assert [f.message for f in result.findings] == [
        "c.glb: accessors is not an array (at /accessors)",
        "c.glb: attribute POSITION names accessor 0, which does not exist "
        "(at /meshes/0/primitives/0/attributes/POSITION)",
    ]


def test_glb_string_stride_with_huge_count_is_not_multiplied(tmp_path):
    doc = _doc({"componentType": 5126, "type": "VEC3"})
    doc["accessors"][0]["count"] = 10**15
    doc["bufferViews"][0]["byteStride"] = "xxxxxxxx"
    path = tmp_path / "c-mesh.glb"
    path.write_bytes(glb_with_json(json.dumps(doc).encode(), b"\x00" * 36))
    result = check_glb(path, "c.glb")
    assert [f.message for f in result.findings] == [
        "c.glb: bufferView 0 has byteStride 'xxxxxxxx' (must be 4..252, a multiple of 4) "
        "(at /bufferViews/0/byteStride)",
        "c.glb: accessor 0 names no valid bufferView (at /accessors/0/bufferView)",
    ]


# --- FIFOs, sockets, devices: findings, never opened -------------------------------------------


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    yield path
    try:  # unblock a reader that should not exist
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


def test_open_regular_refuses_fifo_socket_device_and_folder(tmp_path, fifo):
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for path, words in ((fifo, "a FIFO (named pipe)"), (sock_path, "a socket"),
                            (Path("/dev/null"), "a character device"), (tmp_path, "a folder")):
            with pytest.raises(dirschema.NotRegularFile) as info:
                finishes(open_regular, path)
            assert info.value.strerror == f"not a regular file: it is {words}"
    finally:
        sock.close()
    regular = tmp_path / "r.txt"
    regular.write_text("x")
    with open_regular(regular, "r", encoding="utf-8") as fh:
        assert fh.read() == "x"


@pytest.mark.parametrize("reader", ["adjacency", "glb", "csv", "transformations"])
def test_each_companion_reader_refuses_a_fifo(tmp_path, fifo, reader):
    if reader == "adjacency":
        result = check_adjacency_structure(finishes(read_adjacency, fifo, "p.csv"))
        expected = "cannot read p.csv: not a regular file: it is a FIFO (named pipe)"
    elif reader == "glb":
        result = finishes(check_glb, fifo, "p.glb")
        expected = "p.glb: cannot read the file: not a regular file: it is a FIFO (named pipe)"
    elif reader == "csv":
        result = smc.check_rows(finishes(smc.read_rows, fifo), "p.csv", {}, [])
        expected = "p.csv: cannot be read: not a regular file: it is a FIFO (named pipe)"
    else:
        result = finishes(check_transformations, tmp_path, ["pipe"])
        expected = "1 of 1 transformation file(s) unusable: `pipe` cannot be read: not a regular file: it is a FIFO (named pipe)"
    [finding] = result.findings
    assert finding.message == expected


def test_listing_keeps_special_files_out_and_reports_them(tmp_path):
    root = make_tree(tmp_path / "ds", VALID + ["derived/extras/ok.txt"])
    os.mkfifo(root / M / "cells-centroid-adjacency.csv")
    os.symlink("/dev/null", root / "derived/extras/null.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "derived/extras/sock"))
    try:
        listing = finishes(list_dataset, root)
    finally:
        sock.close()
    assert listing.special == [
        ("derived/extras/null.txt", "a character device (behind a symlink)"),
        ("derived/extras/sock", "a socket"),
        (M + "cells-centroid-adjacency.csv", "a FIFO (named pipe)"),
    ]
    assert not any(p in listing.paths for p, _ in listing.special)
    assert listing.outside == [("derived/extras/null.txt", "/dev/null")]
    choice = choose_version(listing, "auto", [".*"])
    assert choice.validates and choice.verdict.matches["centroid-adjacency"] == []
    result = check_not_allowed(listing, choice, [".*"])
    assert [(f.code, f.severity.value, f.authority.value) for f in result.findings] == [
        ("DIR-SPECIAL-FILE", "error", "practice"), ("DIR-SYMLINK-OUTSIDE", "error", "practice")]
    assert result.findings[0].message == (
        "3 entr(ies) that are not regular files; they were not opened: "
        "`derived/extras/null.txt` is a character device (behind a symlink), "
        "`derived/extras/sock` is a socket, "
        "`derived/segmentation_masks/cells-centroid-adjacency.csv` is a FIFO (named pipe)")


def test_folder_holding_only_a_fifo_is_file_less(tmp_path):
    root = make_tree(tmp_path / "ds", VALID + ["derived/extras/x/"])
    os.mkfifo(root / "derived/extras/x/p")
    listing = list_dataset(root)
    assert "derived/extras/x/" in listing.paths
    assert listing.special == [("derived/extras/x/p", "a FIFO (named pipe)")]


# --- symlinks that leave the dataset ----------------------------------------------------------


def test_symlinks_leaving_the_dataset(tmp_path):
    outside = make_tree(tmp_path / "elsewhere", ["t.txt", "d/x.txt"])
    root = make_tree(tmp_path / "ds", VALID + ["derived/extras/inside.txt -> ../../extras/../derived/extras/real.txt",
                                               "derived/extras/real.txt"])
    os.symlink(outside / "t.txt", root / "derived/extras/file-link.txt")
    os.symlink(outside / "d", root / "derived/extras/dir-link")
    os.symlink("../../../elsewhere/t.txt", root / "derived/extras/relative-link.txt")
    listing = list_dataset(root)
    assert listing.outside == [
        ("derived/extras/dir-link/", str(outside / "d")),
        ("derived/extras/file-link.txt", str(outside / "t.txt")),
        ("derived/extras/relative-link.txt", "../../../elsewhere/t.txt"),
    ]
    assert "derived/extras/file-link.txt" in listing.paths  # listed like files (the reference does)
    assert not any(p.startswith("derived/extras/dir-link") for p in listing.paths)  # not followed
    choice = choose_version(listing, "auto", [".*"])
    finding = only(check_not_allowed(listing, choice, [".*"]), "DIR-SYMLINK-OUTSIDE", "error", "practice")
    assert finding.message.startswith("3 symlink(s) point outside the dataset: `derived/extras/dir-link/` -> `")
    assert finding.fix == "copy the target into the dataset in place of the symlink, or remove the symlink"


def test_symlink_out_to_a_fifo_is_not_followed(tmp_path, fifo):
    root = make_tree(tmp_path / "ds", VALID)
    os.symlink(fifo, root / M / "cells-linkage-adjacency.csv")
    listing = finishes(list_dataset, root)
    assert listing.special == [(M + "cells-linkage-adjacency.csv", "a FIFO (named pipe) (behind a symlink)")]
    assert listing.outside == [(M + "cells-linkage-adjacency.csv", str(fifo))]
    assert M + "cells-linkage-adjacency.csv" not in listing.paths


# --- names that are not UTF-8 ------------------------------------------------------------------


def test_display_path_escapes_bytes_that_are_not_utf8():
    assert display_path("derived/extras/ok-é.txt") == "derived/extras/ok-é.txt"
    assert display_path(os.fsdecode(b"a/b\xff\xfe.txt")) == "a/b\\xff\\xfe.txt"


def test_names_that_are_not_utf8_are_text_everywhere(tmp_path):
    root = make_tree(tmp_path / "ds", VALID + [M + "transformations/"])
    broot = os.fsencode(root)
    with open(os.path.join(broot, b"derived/extras/bad\xff.txt"), "wb") as fh:
        fh.write(b"x")
    os.mkdir(os.path.join(broot, b"derived/segmentation_masks/transformations/t\xe9"))
    with open(os.path.join(broot, b"derived/segmentation_masks/transformations/t\xe9/m.txt"), "wb") as fh:
        fh.write(b"matrix")
    listing = list_dataset(root)
    for path in listing.paths:
        path.encode("utf-8")  # valid text: junit and HTML can carry it
    assert "derived/extras/bad\\xff.txt" in listing.paths
    assert listing.undecodable == ["derived/extras/bad\\xff.txt", M + "transformations/t\\xe9/"]
    assert listing.fs_path(root, "derived/extras/bad\\xff.txt").read_bytes() == b"x"
    choice = choose_version(listing, "auto", [".*"])
    finding = only(check_not_allowed(listing, choice, [".*"]), "DIR-NAME-ENCODING", "error", "practice")
    assert finding.message == (
        "2 name(s) are not UTF-8 text (bytes that are not text shown as \\xNN): "
        "`derived/extras/bad\\xff.txt`, `derived/segmentation_masks/transformations/t\\xe9/`")
    listed = [p for p in listing.paths if p.startswith(M + "transformations/")]
    result = check_transformations(root, listed, listing)
    assert result.findings == []
    assert result.notes == [f"1 file(s): {M}transformations/t\\xe9/m.txt"]


def test_unreadable_folder_name_is_text(tmp_path, monkeypatch):
    root = make_tree(tmp_path / "ds", VALID)
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        onerror(PermissionError(13, "Permission denied", os.fsdecode(os.path.join(os.fsencode(root), b"x\xff"))))
        yield from real_walk(top, onerror=onerror, followlinks=followlinks)

    monkeypatch.setattr(dirschema.os, "walk", walk)
    listing = list_dataset(root)
    assert listing.unreadable == [("x\\xff", "Permission denied")]


# --- values quoted in messages are shortened ---------------------------------------------------


def test_shorten():
    assert shorten("abc") == "abc"
    assert shorten("x" * 100, limit=10) == "xxxxxxxxxx… (100 characters)"
    assert shorten(b"\xff" * 3) == "\\xff\\xff\\xff"
    assert shorten(os.fsdecode(b"a\xff")) == "a\\xff"
    assert shorten("\ud800") == "\\ud800"
    assert shorten(10**5000) == "an integer of about 5000 digits"
    assert shorten(12) == "12"


def test_huge_values_are_shortened_in_messages(tmp_path):
    path = tmp_path / "segmentation-masks.csv"
    name = "n" * 4000
    path.write_text(",".join(smc.HEADER) + f"\n0,{name},{name}.ome.tiff,a,b,c,No,1\n", encoding="utf-8")
    result = smc.check_rows(smc.read_rows(path), "s.csv", {"m.ome.tiff": ["cells"]}, ["m.ome.tiff"])
    assert result.findings and all(len(f.message) < 1000 for f in result.findings)
    weights = tmp_path / "a.csv"
    weights.write_text("a,b,w\n1,2," + "x" * 1000 + "\n", encoding="utf-8")
    finding = only(check_adjacency_structure(read_adjacency(weights, "a.csv")), "ADJ-WEIGHTS", "error", "practice")
    assert finding.message == (
        "a.csv: 1 weight(s) not finite and non-negative: row 2 w = `" + "x" * 30 + "… (1000 characters)`")


@pytest.mark.parametrize("data", [b'a,b\n1,"2\n', b"a,b\r1,2\r\n3,4\x00\n", b"\xef\xbb\xbfa,b\n1,2\n"])
def test_csv_oddities_never_quote_exception_reprs(tmp_path, data):
    path = tmp_path / "a.csv"
    path.write_bytes(data)
    for finding in check_adjacency_structure(read_adjacency(path, "a.csv")).findings:
        in_words(finding.message)
    for finding in smc.check_rows(smc.read_rows(path), "s.csv", {}, []).findings:
        in_words(finding.message)


def test_glb_fuzzed_bytes_end_as_findings(tmp_path):
    """Seeded byte flips over a valid mesh: every outcome is a finding or a pass, in words."""
    rng = np.random.default_rng(12)
    valid = make_glb()
    path = tmp_path / "c-mesh.glb"
    for _ in range(300):
        data = bytearray(valid)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
            data[pos] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data))
        for finding in check_glb(path, "c.glb").findings:
            in_words(finding.message)


def test_csv_error_text_is_words():
    import csv

    assert adjacency.csv_error_text(csv.Error("line contains NUL")) == (
        "it is not comma-separated text (line contains NUL)")
