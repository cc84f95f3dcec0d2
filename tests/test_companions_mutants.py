"""Companion checks at their boundaries (exactly at a cap, one over it, whitespace rows, cells
past the header, a last line without a newline) with whole messages."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fixtures_generator.companions import edge_list_csv
from pytest_segmask.checks import adjacency
from pytest_segmask.checks.adjacency import (
    BoundedLines, CsvLimitError, check_adjacency_ids, check_adjacency_structure, read_adjacency,
)

IDS = np.array([1, 2, 3, 5, 8], dtype=np.int64)
NAME = "cells-centroid-adjacency.csv"


def run(tmp_path, text, channel_ids=IDS):
    path = tmp_path / NAME
    path.write_text(text, encoding="utf-8", newline="")
    adj = read_adjacency(path, NAME)
    return adj, check_adjacency_structure(adj), check_adjacency_ids(adj, "cells", channel_ids)


def messages(result):
    return [(f.code, f.message) for f in result.findings]


# --- bounded lines ------------------------------------------------------------------------------


def test_bounded_lines_limit_and_last_line():
    assert list(BoundedLines(io.StringIO("abcd\nxy"), 4)) == ["abcd\n", "xy"]
    assert list(BoundedLines(io.StringIO("abcd"), 4)) == ["abcd"]
    lines = BoundedLines(io.StringIO("ab\nabcde\n"), 4, "LIMIT")
    assert next(lines) == "ab\n"
    with pytest.raises(CsvLimitError) as err:
        next(lines)
    assert str(err.value) == ("line 2 is longer than 4 characters (limit LIMIT); a line this long is not CSV text")


def test_edge_list_without_final_newline(tmp_path):
    adj, structure, ids = run(tmp_path, "a,b\n1,2\n2,3")
    assert structure.findings == [] and adj.n_edges == 2
    assert structure.notes == [f"{NAME}: edge list, 3 object ids, 2 edge(s)"]


def test_field_limits_named(monkeypatch):
    rows = adjacency.csv_rows(io.StringIO("a,bbbbbb\n"), max_line=100, max_field=5, limit_names=("L", "F"))
    with pytest.raises(CsvLimitError) as err:
        next(rows)
    assert str(err.value) == "line 1 holds a field of 6 characters, longer than 5 (limit F)"
    assert list(adjacency.csv_rows(io.StringIO("a,bbbbb\n"), max_line=100, max_field=5)) == [(1, ["a", "bbbbb"])]


# --- edge lists -----------------------------------------------------------------------------------


def test_whitespace_rows_are_skipped(tmp_path):
    adj, structure, _ = run(tmp_path, "a,b\n1,2\n , \n\n2,3\n")
    assert structure.findings == [] and adj.n_edges == 2
    adj, structure, _ = run(tmp_path, "\n".join([",1,2,3,5", "1,0,1,0,0", " , , , , ", "2,1,0,0,0",
                                                 "3,0,0,0,0", "5,0,0,0,0"]) + "\n")
    assert adj.form == "matrix" and structure.findings == [] and adj.n_edges == 2


def test_weight_past_the_header_is_named_by_column_number(tmp_path):
    _, structure, _ = run(tmp_path, "a,b,w\n1,2,3,-1\n2,3,-2\n")
    assert messages(structure) == [("ADJ-WEIGHTS", f"{NAME}: 2 weight(s) not finite and non-negative: "
                                    "row 2 column 4 = `-1`; row 3 w = `-2`")]


def test_row_problems_whole(tmp_path):
    _, structure, _ = run(tmp_path, "a,b\n7\n0,2\nx,1.5\n3,3\n")
    assert messages(structure) == [
        ("ADJ-FORM", f"{NAME}: 3 row(s) without two positive integer ids: row 2: `7` has one cell, not two ids; "
         "row 3: `0` is 0 is the background, not an object; row 4: `x` is not a whole number, `1.5` is not a "
         "whole number"),
        ("ADJ-SELF-LOOP", f"{NAME}: 1 self-loop(s): row 5: 3–3"),
    ]


@pytest.mark.parametrize("n, tail", [(5, ""), (6, " … (+1 more)")])
def test_unknown_ids_at_the_cap(tmp_path, n, tail):
    edges = [(1, 100 + i) for i in range(n)]
    _, _, ids = run(tmp_path, edge_list_csv(edges))
    shown = ", ".join(f"{100 + i} (row {2 + i})" for i in range(5))
    assert messages(ids) == [("ADJ-IDS", f"{NAME}: {n} of {n + 1} object id(s) do not exist in mask channel "
                              f"'cells' (which holds 5 objects): {shown}{tail}")]


def test_unknown_ids_beyond_the_row_table(tmp_path, monkeypatch):
    adj, _, _ = run(tmp_path, edge_list_csv([(1, 100)]))
    adj.id_rows = {1: 2}
    assert messages(check_adjacency_ids(adj, "cells", IDS))[0][1].endswith("holds 5 objects): 100")


@pytest.mark.parametrize("n, tail", [(5, ""), (6, " … (+1 more)")])
def test_duplicates_at_the_cap(tmp_path, n, tail):
    edges = [(1, k) for k in range(2, 2 + n)] * 2
    _, structure, _ = run(tmp_path, edge_list_csv(edges))
    shown = ", ".join(f"1–{k} (first at row {k}, 2×)" for k in range(2, 7))
    assert messages(structure) == [("ADJ-DUPLICATE", f"{NAME}: {n} edge(s) listed more than once: {shown}{tail}")]


@pytest.mark.parametrize("n, tail", [(5, ""), (6, " … (+1 more)")])
def test_asymmetric_at_the_cap(tmp_path, n, tail):
    ids = list(range(1, n + 2))
    rows = ["," + ",".join(map(str, ids))]
    for i in ids:
        rows.append(",".join([str(i)] + ["2" if j == i + 1 else "0" for j in ids]))
    _, structure, _ = run(tmp_path, "\n".join(rows) + "\n")
    shown = "; ".join(f"{i}–{i + 1} = 2 but {i + 1}–{i} = 0" for i in range(1, 6))
    assert messages(structure) == [("ADJ-SYMMETRIC", f"{NAME}: {n} asymmetric entr(ies): {shown}{tail}")]


def test_matrix_messages_whole(tmp_path):
    text = "\n".join([",1,2,3,5", "1,0,1,0,0", "2,1,4,0", "x,0,0,0,0", "3,0,0,-1,0", "5,0,0,0,inf"]) + "\n"
    _, structure, _ = run(tmp_path, text)
    assert messages(structure) == [
        ("ADJ-FORM", f"{NAME}: a 4-column matrix needs an id and 4 values per row: row 3 has 4 cells; "
         "row 4 starts with `x`, which is not a whole number"),
        ("ADJ-WEIGHTS", f"{NAME}: 2 value(s) not finite and non-negative: row 5 column 3 = `-1`; "
         "row 6 column 5 = `inf`"),
        ("ADJ-SYMMETRIC", f"{NAME}: the first column ids (1, 3, 5) differ from the first row ids (1, 2, 3, 5)"),
    ]
    _, structure, _ = run(tmp_path, ",1,2,3,5\n1,0,0,0,0\n2,0,2,0,0\n3,0,0,0,0\n5,0,0,0,0\n")
    assert messages(structure) == [("ADJ-SELF-LOOP", f"{NAME}: 1 non-zero diagonal value(s): row 3: 2–2 = 2")]
    _, structure, _ = run(tmp_path, ",1,0,x,5\n")
    assert messages(structure) == [("ADJ-FORM", f"{NAME}: the first row of the matrix must hold object ids; "
                                    "found `0` (0 is the background, not an object), `x` (not a whole number)")]


# --- transformations ------------------------------------------------------------------------------


def test_transformations_findings_whole(tmp_path):
    from pytest_segmask.checks.transformations import FOLDER, check_transformations
    from pytest_segmask.findings import Severity

    (tmp_path / FOLDER).mkdir(parents=True)
    (tmp_path / FOLDER / "one.txt").write_bytes(b"x")
    (tmp_path / FOLDER / "zero.txt").write_bytes(b"")
    result = check_transformations(tmp_path, [FOLDER + "one.txt", FOLDER + "zero.txt", FOLDER + "sub/"])
    [finding] = result.findings
    assert (finding.code, finding.severity, finding.message) == (
        "TRANSFORMATIONS-FILES", Severity.ERROR,
        f"1 of 2 transformation file(s) unusable: `{FOLDER}zero.txt` is empty (0 bytes)")
    assert result.notes == [f"2 file(s): {FOLDER}one.txt, {FOLDER}zero.txt"]
    empty = check_transformations(tmp_path, [FOLDER + "sub/"])
    assert [(f.code, f.severity, f.message) for f in empty.findings] == [
        ("TRANSFORMATIONS-EMPTY", Severity.WARNING, f"`{FOLDER}` is present but holds no files")]
    assert empty.notes == []


# --- directory schema --------------------------------------------------------------------------------


M = "derived/segmentation_masks/"


@pytest.mark.parametrize("name, reason", [
    ("cells_objects.xlsx", "is named like an objects table but does not end in `-objects.xlsx` or `-objects.tsv`"),
    ("cells-objects", "is named like an objects table but does not end in `-objects.xlsx` or `-objects.tsv`"),
    ("sub/cells_objects.xlsx", "is named like an objects table but does not end in `-objects.xlsx` or `-objects.tsv`"),
    ("sub/cells-objects.xlsx", "is not directly in `derived/segmentation_masks/`, where an objects table must sit "
                               "(move it to `derived/segmentation_masks/cells-objects.xlsx`)"),
    ("cells-objects.csv", "is a `.csv` file; version 2.7 accepts `.xlsx` or `.tsv` for objects tables "
                          "(save it as `cells-objects.xlsx`)"),
])
def test_table_near_miss_reasons(name, reason):
    from pytest_segmask.dirschema import find_pattern, near_misses

    assert near_misses(find_pattern("objects-table"), "2.7", [M + name]) == [f"`{M}{name}` {reason}"]


@pytest.mark.parametrize("n", [5, 6])
def test_required_near_misses_capped_at_5(tmp_path, n):
    from conftest import make_tree

    from pytest_segmask.dirschema import check_required, choose_version, list_dataset

    names = [f"c{i}_objects.xlsx" for i in range(n)]
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff"]
                     + [M + name for name in names])
    listing = list_dataset(root)
    [finding] = check_required(listing, choose_version(listing, "2.7", [".*"]), "objects-table").findings
    lines = finding.message.split("\n")
    assert [line.strip() for line in lines[1:]] == [
        f"near miss: `{M}{name}` is named like an objects table but does not end in `-objects.xlsx` or "
        "`-objects.tsv`" for name in names[:5]] + (["… (+1 more near misses)"] if n == 6 else [])


def test_one_by_one_matrix_and_a_single_entry(tmp_path):
    adj, structure, _ = run(tmp_path, ",5\n5,0\n")
    assert adj.form == "matrix" and structure.findings == []
    assert structure.notes == [f"{NAME}: matrix, 1 object ids, 0 edge(s)"]
    adj, structure, _ = run(tmp_path, ",1,2\n1,0,3\n2,0,0\n")
    assert messages(structure) == [("ADJ-SYMMETRIC", f"{NAME}: 1 asymmetric entr(ies): 1–2 = 3 but 2–1 = 0")]
    adj, structure, _ = run(tmp_path, ",1,2\n1,0,0\n2,3,0\n")
    assert messages(structure) == [("ADJ-SYMMETRIC", f"{NAME}: 1 asymmetric entr(ies): 2–1 = 3 but 1–2 = 0")]


def test_rows_named_for_the_first_10000_ids(tmp_path):
    edges = [(2 * k + 1, 2 * k + 2) for k in range(5_002)]  # ids 1 … 10,004, in rows 2 … 5,003
    _, _, ids = run(tmp_path, edge_list_csv(edges), channel_ids=np.arange(1, 9_999, dtype=np.int64))
    assert messages(ids) == [("ADJ-IDS", f"{NAME}: 6 of 10004 object id(s) do not exist in mask channel 'cells' "
                              "(which holds 9998 objects): 9999 (row 5001), 10000 (row 5001), 10001, 10002, 10003 "
                              "… (+1 more)")]


# --- glb ---------------------------------------------------------------------------------------------


def test_glb_buffer_of_one_byte(tmp_path):
    from test_checks_glb import doc, glb, messages

    d = doc(buffers=[{"byteLength": 1}], bufferViews=[{"buffer": 0, "byteLength": 1}],
            accessors=[{"bufferView": 0, "componentType": 5121, "count": 1, "type": "SCALAR"}])
    result, found = messages(tmp_path, glb(d, b"\x00" * 4))
    assert found == [] and result.notes == [
        "c.glb: glTF 2.0 binary, 1 mesh(es), 1 primitive(s), 1 accessor(s), BIN chunk 4 bytes"]
    _, found = messages(tmp_path, glb(doc(buffers=[{"byteLength": 0}])))
    assert "c.glb: buffer 0 has byteLength 0, not a positive integer (at /buffers/0/byteLength)" in found


def _csv_error_reader(monkeypatch, message):
    import csv

    class Reader:
        line_num = 0

        def __init__(self, lines, **fmt):
            self.lines = lines

        def __iter__(self):
            return self

        def __next__(self):
            next(self.lines, None)
            raise csv.Error(message)

    reader = Reader

    monkeypatch.setattr(csv, "reader", reader)


def test_any_csv_error_is_a_finding(tmp_path, monkeypatch):
    from pytest_segmask.checks.segmentation_masks_csv import read_rows

    (tmp_path / NAME).write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("Mask name,x\n", encoding="utf-8")
    _csv_error_reader(monkeypatch, "odd " + "y" * 80)
    adj = read_adjacency(tmp_path / NAME, NAME)
    assert adj.form is None and [(f.code, f.message) for f in adj.findings] == [
        ("ADJ-FORM", f"{NAME} is not a readable CSV: it is not comma-separated text "
         f"({adjacency.shorten('odd ' + 'y' * 80, 60)})")]
    assert read_rows(tmp_path / "s.csv").error == (
        f"not a readable CSV: it is not comma-separated text ({adjacency.shorten('odd ' + 'y' * 80, 60)})")
    _csv_error_reader(monkeypatch, "field larger than field limit (131072)")
    adj = read_adjacency(tmp_path / NAME, NAME)
    assert [f.message for f in adj.findings] == [
        f"{NAME}: line 1 holds a field longer than 1,024 characters (limit MAX_CSV_FIELD_CHARS)"]


def test_header_only_edge_list(tmp_path):
    adj, structure, ids = run(tmp_path, "object_1,object_2\n")
    assert structure.findings == [] and structure.notes == [f"{NAME}: edge list, 0 object ids, 0 edge(s)"]
    assert ids.findings == [] and ids.notes == ["all 0 ids exist in channel 'cells'"]
    assert adj.id_rows == {} and adj.ids.dtype == np.int64


# --- segmentation-masks.csv -------------------------------------------------------------------------


@pytest.mark.parametrize("extra, error", [
    (0, None),
    (1, "line 2 is longer than 65,536 characters (limit MAX_CSV_LINE_CHARS); a line this long is not CSV text"),
])
def test_segmentation_masks_csv_line_limit(tmp_path, extra, error):
    from pytest_segmask.checks.segmentation_masks_csv import read_rows

    header = "Channel number,Mask name,Source file\n"
    line = ("1," * 40_000)[: 65_536 + extra] + "\n"  # 65,536 characters and the newline (+1)
    (tmp_path / "s.csv").write_text(header + line, encoding="utf-8")
    assert read_rows(tmp_path / "s.csv").error == error


@pytest.mark.parametrize("n", [10, 11])
def test_not_allowed_paths_listed_up_to_10(tmp_path, n):
    from conftest import make_tree

    from pytest_segmask.dirschema import check_not_allowed, choose_version, list_dataset

    extra = [f"junk{i:02d}.txt" for i in range(n)]
    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff",
                                       M + "c-objects.xlsx"] + extra)
    listing = list_dataset(root)
    [finding] = check_not_allowed(listing, choose_version(listing, "2.7", [".*"]), [".*"]).findings
    lines = finding.message.split("\n")
    assert lines[0] == f"{n} path(s) not allowed by segmentation-mask-v2.7: `junk00.txt`, `junk01.txt`, `junk02.txt` " \
                       f"… (+{n - 3} more)"
    assert [line.strip() for line in lines[1:]] == [f"`{p}`" for p in extra[:10]] + (["… (+1 more)"] if n == 11 else [])


def test_all_allowed_note_and_hashable_patterns(tmp_path):
    from conftest import make_tree

    from pytest_segmask.dirschema import check_not_allowed, choose_version, find_pattern, list_dataset

    root = make_tree(tmp_path / "ds", ["extras/", "derived/extras/", M + "s.segmentations.ome.tiff", M + "c-objects.xlsx"])
    listing = list_dataset(root)
    choice = choose_version(listing, "2.7", [".*"])
    n = len(listing.paths)
    assert check_not_allowed(listing, choice, []).notes == [f"{n} paths, all allowed by segmentation-mask-v2.7"]
    assert check_not_allowed(listing, choice, ["*.tmp", "x/*"]).notes == [
        f"{n} paths, all allowed by segmentation-mask-v2.7 (ignoring *.tmp, x/*)"]
    assert len({find_pattern("mask-image"), find_pattern("objects-table"), find_pattern("mask-image")}) == 2
