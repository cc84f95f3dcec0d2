"""Objects tables, second round of mutant-killing tests (docs/mutation.md): whole messages and the
exact values read, at the boundaries the first round left open."""

from __future__ import annotations

from pytest_segmask.checks.objects_table import (
    check_centroids, check_columns, check_layout, check_values, read_objects_table,
)
from pytest_segmask.findings import Authority, Severity

from test_tables_kit import HEADER, SCHEMA, Raw, obj, template, write_tsv, write_xlsx
from test_tables_mutants import Stats, schema_with

NAME = "cells-objects.xlsx"


def xlsx(tmp_path, rows=None, name=NAME, **kw):
    return read_objects_table(write_xlsx(tmp_path / name, rows, **kw))


def tsv(tmp_path, rows=None, name="cells-objects.tsv"):
    return read_objects_table(write_tsv(tmp_path / name, rows))


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


def test_centroids_at_and_just_past_every_edge_of_the_box(tmp_path):
    # every object's box: x 50–60, y 100–110, z 3–5; within 1 px of it passes, 1.5 px off fails
    at = {1: (49, 105, 4), 2: (48.5, 105, 4), 3: (61, 105, 4), 4: (61.5, 105, 4), 5: (55, 99, 4), 6: (55, 98.5, 4),
          7: (55, 111, 4), 8: (55, 111.5, 4), 9: (55, 105, 2), 10: (55, 105, 1.5), 11: (55, 105, 6),
          12: (55, 105, 6.5)}
    data = [obj(i, X=x, Y=y, Z=z) for i, (x, y, z) in at.items()]
    table = xlsx(tmp_path, template(data))
    stats = Stats(range(1, 13), [[100, 50, 110, 60]] * 12, z_range=[[3, 5]] * 12)
    [f] = check_centroids(table, "cells", stats, (10, 200, 200), None).findings
    assert (f.code, f.severity, f.authority) == ("TABLE-CENTROIDS", Severity.ERROR, Authority.SCHEMA)
    box = " pixel/pixel/pixel vs box x 50–60, y 100–110"
    assert f.message == (f"{NAME}: 6 centroid(s) outside the object's bounding box in the mask: "
                         f"row 10 id 2 at (48.5, 105, 4){box}; row 12 id 4 at (61.5, 105, 4){box}; "
                         f"row 14 id 6 at (55, 98.5, 4){box}; row 16 id 8 at (55, 111.5, 4){box}; "
                         f"row 18 id 10 at (55, 105, 1.5){box}")


def test_object_id_column_found_anywhere_in_the_header(tmp_path):
    # Object ID as the second column: the ids are read from it, not from column A
    swap = [1, 0] + list(range(2, len(HEADER)))

    def moved(row):
        return [row[i] if i < len(row) else None for i in swap]

    schema = [[r[0], None] + r[2:] for r in SCHEMA]  # column A holds the labels; Object ID has no rule
    rows = schema + [None, moved(HEADER)] + [moved(obj(i)) for i in (4, 5, 6)]
    table = xlsx(tmp_path, rows)
    assert table.columns[:2] == ["Source file", "Object ID"] and table.id_col == 1
    assert table.ids.tolist() == [4, 5, 6]


def test_input_pattern_applies_to_number_cells(tmp_path):
    # a number cell is matched as its text (11 -> "11"); no permissible values, not a text column
    schema = schema_with("Input pattern", [None] * 6 + [r"^1[12]$", None, None])
    table = xlsx(tmp_path, template(schema=schema))
    [f] = check_values(table).findings
    assert (f.code, f.severity, f.authority) == ("TABLE-FORMAT", Severity.ERROR, Authority.INGEST)
    assert f.message == (f"{NAME}: 1 × invalidValueFormat: Value does not conform to the expected format. ('X' ×1): "
                         "row 12, column 'X', value '13'")


def test_unreadable_schema_cell_stops_the_read(tmp_path):
    # CEDAR stops at a schema cell it cannot read: no column rule after it, no data row read
    schema = [list(r) for r in SCHEMA]
    schema[0][8] = 5  # the Type of column 'Y' is a number
    table = xlsx(tmp_path, template(schema=schema))
    assert table.blocking and [c.name for c in table.validated] == HEADER[1:8]
    assert table.rows == 0 and table.ids.tolist() == []


def test_missing_file_is_named_by_its_os_error(tmp_path):
    table = read_objects_table(tmp_path / "gone-objects.xlsx")
    f = table.read_error
    assert (f.code, f.severity, f.authority) == ("TABLE-READ", Severity.ERROR, Authority.INGEST)
    assert f.message == "cannot read gone-objects.xlsx: No such file or directory" and f.fix == "make the file readable"


def test_infinite_bounds_saturate_like_java_int(tmp_path):
    # a bound of ±1e999 (infinite) on an integer column is Integer.MAX/MIN_VALUE: huge values clip to it
    inf = Raw('<c r="{ref}"><v>1e999</v></c>')
    minus_inf = Raw('<c r="{ref}"><v>-1e999</v></c>')
    schema = schema_with("Min value", [None] * 6 + [minus_inf, None, None])
    schema = schema_with("Max value", [None] * 6 + [inf, None, None], after="Min value", base=schema)
    table = xlsx(tmp_path, template([obj(1, X=1e10), obj(2, X=-1e10), obj(3, X=2147483647)], schema=schema))
    assert [c.max for c in table.validated if c.name == "X"] == [float("inf")]
    assert check_values(table).findings == []


def test_one_sided_integer_bounds_keep_java_int_range_on_the_other_side(tmp_path):
    # only a Min value: the Max is Integer.MAX_VALUE, and a huge value clips to it (in range); and the mirror
    schema = schema_with("Min value", [None] * 6 + [0, None, None])
    schema = schema_with("Max value", [None] * 6 + [None, 100, None], after="Min value", base=schema)
    table = xlsx(tmp_path, template([obj(1, X=1e10, Y=-1e10), obj(2, X=2147483647, Y=-2147483648)], schema=schema))
    assert check_values(table).findings == []


def test_permissible_values_apply_to_number_cells(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[4][7] = "11|12"  # Permissible values of the integer column X
    table = xlsx(tmp_path, template(schema=schema))
    [f] = check_values(table).findings
    assert (f.code, f.severity, f.authority) == ("TABLE-NOT-PERMISSIBLE", Severity.ERROR, Authority.INGEST)
    assert f.message.endswith("('X' ×1): row 11, column 'X', value '13'")



def test_numeric_text_is_a_number_only_in_a_tsv(tmp_path):
    """TSV holds only text, so text that parses as a number is the number; an xlsx text cell
    '12' in the integer column X is text, which HuBMAP's validator rejects as not a number."""
    assert check_values(tsv(tmp_path, template([obj(1), obj(2, X="12")]))).findings == []
    [f] = check_values(xlsx(tmp_path, template([obj(1), obj(2, X="12")]))).findings
    assert "notNumberType" in f.message and f.message.endswith("row 10, column 'X', value '12'"), f.message
