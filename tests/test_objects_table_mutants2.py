"""Objects tables, second round of mutant-killing tests (docs/mutation.md): whole messages and the
exact values read, at the boundaries the first round left open."""

from __future__ import annotations

from pytest_segmask.checks.objects_table import check_columns, check_layout, check_values, read_objects_table

from test_tables_kit import HEADER, SCHEMA, obj, template, write_tsv, write_xlsx

NAME = "cells-objects.xlsx"


def xlsx(tmp_path, rows=None, name=NAME, **kw):
    return read_objects_table(write_xlsx(tmp_path / name, rows, **kw))


def tsv(tmp_path, rows=None, name="cells-objects.tsv"):
    return read_objects_table(write_tsv(tmp_path / name, rows))


def schema_with(label, values, after="Requirement level", base=None):
    rows = [list(r) for r in (SCHEMA if base is None else base)]
    at = next(i for i, r in enumerate(rows) if r[0] == after) + 1
    rows.insert(at, [label] + values)
    return rows


def test_no_separator_header_is_exactly_as_wide_as_its_cells(tmp_path):
    rows = template()
    rows[6] = ["[ THIS ROW MUST BE PRESENT AND EMPTY ]"]
    table = xlsx(tmp_path, rows)
    assert table.layout == "no separator" and table.columns == HEADER
    assert check_columns(table).notes == [f"columns: {', '.join(HEADER)}"]
    table = tsv(tmp_path, [HEADER] + [obj(1)])  # a plain TSV, header first
    assert table.layout == "plain" and table.columns == HEADER


def test_quoted_tsv_number_exactly_at_min_value_is_in_range(tmp_path):
    # quoted numbers are text that parses (the per-text path, not the bulk numeric one)
    schema = schema_with("Min value", [None] * 6 + ["0", None, None])
    table = tsv(tmp_path, template([obj(1, X='"0"'), obj(2, X='"-1"'), obj(3, X='"1"')], schema=schema))
    [f] = check_values(table).findings
    assert f.code == "TABLE-RANGE"
    assert f.message == ("cells-objects.tsv: 1 × numberOutOfRange: Number is out of range ('X' ×1): row 11, "
                         "column 'X', value '-1'")
