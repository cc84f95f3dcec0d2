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
