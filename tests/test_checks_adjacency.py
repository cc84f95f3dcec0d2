"""Adjacency CSVs: both forms pass when right; each defect fails its rule with row and ids."""

from __future__ import annotations

import numpy as np
import pytest

from fixtures_generator.companions import edge_list_csv, matrix_csv, neighbour_edges
from pytest_segmask.checks.adjacency import (
    check_adjacency_ids,
    check_adjacency_structure,
    check_companion_channel,
    read_adjacency,
)

IDS = np.array([1, 2, 3, 5, 8], dtype=np.int64)
NAME = "derived/segmentation_masks/cells-centroid-adjacency.csv"


def run(tmp_path, text, channel_ids=IDS, raw: bytes | None = None):
    path = tmp_path / "cells-centroid-adjacency.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    adj = read_adjacency(path, NAME)
    return adj, check_adjacency_structure(adj), check_adjacency_ids(adj, "cells", channel_ids)


def codes(result):
    return [f.code for f in result.findings]


def symmetric(ids):
    n = len(ids)
    m = np.zeros((n, n))
    for k in range(n - 1):
        m[k, k + 1] = m[k + 1, k] = 1.5
    return m


@pytest.mark.parametrize(
    "text, form",
    [
        (edge_list_csv(neighbour_edges(IDS)), "edge list"),
        (edge_list_csv(neighbour_edges(IDS), weights=[1.0, 2.5, 0.0, 3.0]), "edge list"),
        (matrix_csv(IDS, symmetric(IDS)), "matrix"),
    ],
)
def test_valid_forms_pass(tmp_path, text, form):
    adj, structure, ids = run(tmp_path, text)
    assert adj.form == form
    assert structure.findings == [] and ids.findings == []
    assert f"{form}, 5 object ids" in structure.notes[0]


def test_unknown_ids_named_with_rows(tmp_path):
    text = edge_list_csv([(1, 2), (2, 40), (3, 41)])
    _, structure, ids = run(tmp_path, text)
    assert structure.findings == []
    [f] = ids.findings
    assert f.code == "ADJ-IDS"
    assert "2 of 5 object id(s) do not exist in mask channel 'cells'" in f.message
    assert "40 (row 3), 41 (row 4)" in f.message
    assert "same mask" in f.fix


def test_self_loop_and_duplicate(tmp_path):
    _, structure, _ = run(tmp_path, edge_list_csv([(1, 2), (3, 3), (1, 2)]))
    assert codes(structure) == ["ADJ-SELF-LOOP", "ADJ-DUPLICATE"]
    assert "row 3: 3–3" in structure.findings[0].message
    assert "1–2 (first at row 2, 2×)" in structure.findings[1].message


@pytest.mark.parametrize("weight", [-1.0, float("inf"), float("nan")])
def test_bad_weights(tmp_path, weight):
    _, structure, _ = run(tmp_path, edge_list_csv([(1, 2), (2, 3)], weights=[1.0, weight]))
    assert codes(structure) == ["ADJ-WEIGHTS"]
    assert "row 3 distance" in structure.findings[0].message


def test_asymmetric_matrix(tmp_path):
    m = symmetric(IDS)
    m[0, 1] = 7
    _, structure, _ = run(tmp_path, matrix_csv(IDS, m))
    assert codes(structure) == ["ADJ-SYMMETRIC"]
    assert "1–2 = 7 but 2–1 = 1.5" in structure.findings[0].message


def test_matrix_diagonal_is_self_loop(tmp_path):
    m = symmetric(IDS)
    m[2, 2] = 1
    _, structure, _ = run(tmp_path, matrix_csv(IDS, m))
    assert codes(structure) == ["ADJ-SELF-LOOP"]


def test_matrix_row_ids_differ(tmp_path):
    text = matrix_csv(IDS, symmetric(IDS)).replace("\n8,", "\n9,")
    _, structure, ids = run(tmp_path, text)
    assert codes(structure) == ["ADJ-SYMMETRIC"]
    assert codes(ids) == ["ADJ-IDS"]  # 9 is not in the channel


@pytest.mark.parametrize(
    "text, raw, fragment",
    [
        ("", None, "is empty"),
        ("1,2\n2,3\n", None, "holds ids, not column names"),
        ("only\n1\n", None, "an edge list needs two id columns"),
        ("a,b\n1,x\n", None, "without two positive integer ids: row 2"),
        (None, b"a,b\n1,2\n\xff\xfe\x00\x01", "is not UTF-8 text"),
        (None, b"a,b\n1,\x002\n", "without two positive integer ids: row 2"),
    ],
)
def test_malformed_files_are_findings(tmp_path, text, raw, fragment):
    _, structure, ids = run(tmp_path, text, raw=raw)
    assert codes(structure) == ["ADJ-FORM"], structure.findings
    assert fragment in structure.findings[0].message
    assert structure.findings[0].message.startswith(NAME)


def test_companion_channel():
    assert check_companion_channel("x/cells-mesh.glb", "cells", ["cells", "nuclei"]).findings == []
    [f] = check_companion_channel("x/cellz-mesh.glb", "cellz", ["cells", "nuclei"]).findings
    assert f.code == "COMPANION-CHANNEL"
    assert "prefix 'cellz' names no channel of the mask image (channels: 'cells', 'nuclei')" in f.message


def test_large_edge_list_streams(tmp_path):
    n = 200_000
    ids = np.arange(1, n + 2, dtype=np.int64)
    path = tmp_path / "big.csv"
    with open(path, "w") as fh:
        fh.write("a,b,w\n")
        fh.writelines(f"{i},{i + 1},1.0\n" for i in range(1, n + 1))
    adj = read_adjacency(path)
    assert adj.n_edges == n and check_adjacency_structure(adj).findings == []
    assert check_adjacency_ids(adj, "cells", ids).findings == []


# --- survivors of the mutation sweep (issue 16): matrices, caps, whole messages --------------


def one(result, code, severity="error", authority="practice"):
    [finding] = result.findings
    assert (finding.code, finding.severity.value, finding.authority.value) == (code, severity, authority)
    return finding


@pytest.mark.parametrize(
    "cell, shown",
    [("-1", "-1"), ("nan", "nan"), ("inf", "inf"), ("x", "x"), ("1e999", "1e999")],
)
def test_matrix_bad_weight(tmp_path, cell, shown):
    text = ",1,2,3\n1,0,1,0\n2,1,0," + cell + "\n3,0," + cell + ",0\n"
    _, structure, _ = run(tmp_path, text)
    finding = one(structure, "ADJ-WEIGHTS")
    assert finding.message == (
        f"{NAME}: 2 value(s) not finite and non-negative: row 3 column 3 = `{shown}`; "
        f"row 4 column 2 = `{shown}`")
    assert finding.fix == "write finite numbers ≥ 0 (0 = not adjacent)"


def test_matrix_empty_cells_are_zero(tmp_path):
    adj, structure, _ = run(tmp_path, ",1,2,3\n1,,1,\n2,1,,\n3,,,\n")
    assert structure.findings == [] and adj.n_edges == 2 and adj.form == "matrix"
    assert structure.notes == [f"{NAME}: matrix, 3 object ids, 2 edge(s)"]


def test_matrix_malformed_rows(tmp_path):
    text = ",1,2,3\n1,0,1,0\n2,1,0\nx,0,0,0\n3,0,0,0,0\n"
    _, structure, _ = run(tmp_path, text)
    finding = structure.findings[0]
    assert (finding.code, finding.severity.value, finding.authority.value) == ("ADJ-FORM", "error", "practice")
    assert finding.message == (
        f"{NAME}: a 3-column matrix needs an id and 3 values per row: row 3 has 3 cells; "
        "row 4 starts with `x`, which is not a whole number; row 5 has 5 cells")
    assert finding.fix == "write one row per object: its id, then one value per column"
    # rows 3 and 5 were skipped, so the first column holds 1 only
    assert [f.code for f in structure.findings] == ["ADJ-FORM", "ADJ-SYMMETRIC"]
    assert structure.findings[1].message == (
        f"{NAME}: the first column ids (1) differ from the first row ids (1, 2, 3)")


def test_matrix_asymmetric_cap_counts_the_rest(tmp_path):
    n = 8
    ids = list(range(1, n + 1))
    m = np.zeros((n, n))
    m[0, 1:] = 2.0  # row 1 links to all, no one links back: 7 asymmetric entries
    _, structure, _ = run(tmp_path, matrix_csv(ids, m), channel_ids=np.array(ids))
    finding = one(structure, "ADJ-SYMMETRIC")
    assert finding.message == (
        f"{NAME}: 7 asymmetric entr(ies): 1–2 = 2 but 2–1 = 0; 1–3 = 2 but 3–1 = 0; "
        "1–4 = 2 but 4–1 = 0; 1–5 = 2 but 5–1 = 0; 1–6 = 2 but 6–1 = 0 … (+2 more)")


def test_matrix_ids_and_rows(tmp_path):
    text = ",1,2,40\n\n1,0,1,0\n2,1,0,1\n40,0,1,0\n"
    adj, structure, ids = run(tmp_path, text)
    assert structure.findings == []
    assert adj.id_rows == {1: 3, 2: 4, 40: 5}  # file lines, the blank line counted
    finding = one(ids, "ADJ-IDS", authority="schema")
    assert finding.message == (
        f"{NAME}: 1 of 3 object id(s) do not exist in mask channel 'cells' (which holds 5 objects): 40 (row 5)")


def test_three_column_header_of_ids_is_not_a_matrix(tmp_path):
    # a first row `,1,2` has an empty first cell: a matrix; `a,1,2,3` (4 cells, ids after the first) too
    adj, structure, _ = run(tmp_path, "a,1,2,3\n1,0,1,0\n2,1,0,0\n3,0,0,0\n")
    assert adj.form == "matrix" and structure.findings == []


def test_edge_list_caps_count_the_rest(tmp_path):
    text = "a,b,w\n" + "".join(f"{i},x,1\n" for i in range(1, 9)) + "1,2,-1\n" * 7 + "".join(f"{i},{i},0\n" for i in (1, 2, 3, 5, 8, 1, 2))
    _, structure, _ = run(tmp_path, text)
    assert [f.code for f in structure.findings] == ["ADJ-FORM", "ADJ-WEIGHTS", "ADJ-SELF-LOOP", "ADJ-DUPLICATE"]
    form, weights, loops, dups = structure.findings
    assert form.message == (
        f"{NAME}: 8 row(s) without two positive integer ids: row 2: `x` is not a whole number; "
        "row 3: `x` is not a whole number; row 4: `x` is not a whole number; row 5: `x` is not a whole number; "
        "row 6: `x` is not a whole number … (+3 more)")
    assert weights.message == (
        f"{NAME}: 7 weight(s) not finite and non-negative: row 10 w = `-1`; row 11 w = `-1`; "
        "row 12 w = `-1`; row 13 w = `-1`; row 14 w = `-1` … (+2 more)")
    assert loops.message == (
        f"{NAME}: 7 self-loop(s): row 17: 1–1; row 18: 2–2; row 19: 3–3; row 20: 5–5; row 21: 8–8 … (+2 more)")
    assert dups.message == (
        f"{NAME}: 3 edge(s) listed more than once: 1–1 (first at row 17, 2×), 1–2 (first at row 10, 7×), "
        "2–2 (first at row 18, 2×)")
    assert (loops.severity.value, dups.severity.value, weights.severity.value) == ("error",) * 3
    assert {f.authority.value for f in structure.findings} == {"practice"}


def test_duplicate_cap_counts_the_rest(tmp_path):
    edges = [(1, 2), (2, 3), (3, 5), (5, 8), (1, 3), (1, 5), (2, 5)] * 2
    _, structure, _ = run(tmp_path, edge_list_csv(edges))
    finding = one(structure, "ADJ-DUPLICATE")
    assert finding.message.startswith(f"{NAME}: 7 edge(s) listed more than once: 1–2 (first at row 2, 2×)")
    assert finding.message.endswith(" … (+2 more)")


def test_unknown_ids_cap_counts_the_rest(tmp_path):
    edges = [(1, 100 + i) for i in range(8)]
    _, _, ids = run(tmp_path, edge_list_csv(edges))
    finding = one(ids, "ADJ-IDS", authority="schema")
    assert finding.message == (
        f"{NAME}: 8 of 9 object id(s) do not exist in mask channel 'cells' (which holds 5 objects): "
        "100 (row 2), 101 (row 3), 102 (row 4), 103 (row 5), 104 (row 6) … (+3 more)")


def test_ids_item_skips_an_unreadable_file(tmp_path):
    adj, _, ids = run(tmp_path, "", raw=b"\xff\xfe")
    assert adj.form is None
    assert ids.skip == f"{NAME} could not be read as an adjacency table (see its structure item)"


def test_valid_ids_note(tmp_path):
    _, structure, ids = run(tmp_path, edge_list_csv(neighbour_edges(IDS)))
    assert ids.notes == ["all 5 ids exist in channel 'cells'"]
    assert structure.notes == [f"{NAME}: edge list, 5 object ids, 4 edge(s)"]


def test_header_messages_whole(tmp_path):
    _, structure, _ = run(tmp_path, "1,2\n2,3\n")
    assert one(structure, "ADJ-FORM").message == (
        f"{NAME}: the first row `1,2` holds ids, not column names: an edge list needs a header row")
    _, structure, _ = run(tmp_path, "only\n1\n")
    assert one(structure, "ADJ-FORM").message == (
        f"{NAME}: the header `only` has 1 column; an edge list needs two id columns")
    _, structure, _ = run(tmp_path, "a,b\n1\n")
    assert one(structure, "ADJ-FORM").message == (
        f"{NAME}: 1 row(s) without two positive integer ids: row 2: `1` has one cell, not two ids")


def test_companion_channel_rule_and_prefix():
    from pytest_segmask.checks.adjacency import companion_prefix

    assert companion_prefix("cells-mesh.glb", "-mesh.glb") == "cells"
    assert companion_prefix("cells.glb", "-mesh.glb") == "cells.glb"
    finding = one(check_companion_channel("x/cellz-mesh.glb", "cellz", []), "COMPANION-CHANNEL", authority="schema")
    assert finding.message == "x/cellz-mesh.glb: prefix 'cellz' names no channel of the mask image (channels: none readable)"
    assert finding.fix == "name the file after the mask channel its objects belong to, e.g. `<channel>-…`"
    assert check_companion_channel("c-mesh.glb", "cells", ["cells"]).notes == ["c-mesh.glb belongs to channel 'cells'"]


def test_header_with_numeric_column_names_is_an_edge_list(tmp_path):
    # only a first row whose cells after the first are all ids makes a matrix
    adj, structure, _ = run(tmp_path, "x,y,2,3\n1,2,0.5,1\n")
    assert adj.form == "edge list" and structure.findings == []
