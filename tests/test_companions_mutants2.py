"""Companion checks, second round of mutant-killing tests (docs/mutation.md): exact messages at
caps that only large inputs reach."""

from __future__ import annotations

import numpy as np

from test_companions_mutants import NAME, messages, run


def test_matrix_rows_named_for_the_first_10000_ids(tmp_path):
    # a one-column matrix with 10,002 rows: ids 1 … 10,002 in lines 2 … 10,003; only the first
    # 10,000 rows are remembered for naming unknown ids
    text = ",1\n" + "".join(f"{k},0\n" for k in range(1, 10_003))
    adj, _, ids = run(tmp_path, text, channel_ids=np.arange(1, 9_999, dtype=np.int64))
    assert adj.form == "matrix" and len(adj.id_rows) == 10_000
    assert messages(ids) == [("ADJ-IDS", f"{NAME}: 4 of 10002 object id(s) do not exist in mask channel 'cells' "
                              "(which holds 9998 objects): 9999 (row 10000), 10000 (row 10001), 10001, 10002")]


def test_matrix_entry_of_one_without_its_mirror(tmp_path):
    ids = np.array([1, 2], dtype=np.int64)
    _, structure, _ = run(tmp_path, ",1,2\n1,0,1\n2,0,0\n", ids)
    assert messages(structure) == [("ADJ-SYMMETRIC", f"{NAME}: 1 asymmetric entr(ies): 1–2 = 1 but 2–1 = 0")]
    adj, structure, _ = run(tmp_path, ",1,2\n1,0,0\n2,0,0\n", ids)  # no stored entry at all
    assert structure.findings == [] and adj.n_edges == 0
    assert structure.notes == [f"{NAME}: matrix, 2 object ids, 0 edge(s)"]


def test_three_id_cells_in_the_first_row_are_an_edge_list_without_header(tmp_path):
    adj, structure, _ = run(tmp_path, "1,2,3\n2,3,4\n", np.array([1, 2, 3], dtype=np.int64))
    assert adj.form is None
    assert messages(structure) == [("ADJ-FORM", f"{NAME}: the first row `1,2,3` holds ids, not column names: an edge "
                                    "list needs a header row")]


def test_two_id_cells_then_a_name_in_the_first_row(tmp_path):
    adj, structure, _ = run(tmp_path, "1,2,distance\n2,3,4\n", np.array([1, 2, 3], dtype=np.int64))
    assert adj.form is None
    assert messages(structure) == [("ADJ-FORM", f"{NAME}: the first row `1,2,distance` holds ids, not column names: "
                                    "an edge list needs a header row")]
    [f] = structure.findings
    assert f.location.row == 1 and f.fix == "add a header row such as `object_1,object_2,distance`"
