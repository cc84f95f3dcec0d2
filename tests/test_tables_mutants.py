"""Objects tables, behaviour by behaviour, on synthetic workbooks (no real data): every finding's
code, severity, authority and whole message, the caps of example lists with their counts, the
notes of passing checks. Written to kill the mutants of objects_table.py (docs/mutation.md)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_segmask.checks import objects_table as ot
from pytest_segmask.checks.objects_table import (
    check_centroids,
    check_channel_table,
    check_columns,
    check_ids,
    check_layout,
    check_mask_agreement,
    check_table_channel,
    check_values,
    check_xlsx_present,
    read_objects_table,
)
from pytest_segmask.findings import Authority, Severity

from test_tables_kit import DOI, FIRST_DATA, HEADER, MASK_FILE, SCHEMA, Raw, obj, template, write_tsv, write_xlsx

ING, SCH, PRA = Authority.INGEST, Authority.SCHEMA, Authority.PRACTICE
ERR, WARN = Severity.ERROR, Severity.WARNING
NAME = "cells-objects.xlsx"


def xlsx(tmp_path, rows=None, name=NAME, **kw):
    return read_objects_table(write_xlsx(tmp_path / name, rows, **kw))


def tsv(tmp_path, rows=None, name="cells-objects.tsv"):
    return read_objects_table(write_tsv(tmp_path / name, rows))


def one(result, code, severity=ERR, authority=ING):
    [f] = result.findings
    assert (f.code, f.severity, f.authority) == (code, severity, authority), f
    return f


def schema_with(label, values, after="Requirement level", base=None):
    rows = [list(r) for r in (SCHEMA if base is None else base)]
    at = next(i for i, r in enumerate(rows) if r[0] == after) + 1
    rows.insert(at, [label] + values)
    return rows


class Stats:
    def __init__(self, ids, bbox, z_range=None):
        self.ids = np.asarray(ids, np.int64)
        self.bbox = np.asarray(bbox, np.int64).reshape(-1, 4)
        self.z_range = None if z_range is None else np.asarray(z_range, np.int64).reshape(-1, 2)
        self.centroid_z = None if z_range is None else self.z_range.mean(axis=1)

    def index_of(self, ids):
        ids = np.asarray(ids, np.int64)
        if not len(self.ids):
            return np.full(len(ids), -1)
        pos = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, pos, -1)


def box_stats(n):
    """Objects 1..n whose boxes hold obj(i)'s centroid (10 + i, 20 + i)."""
    return Stats(range(1, n + 1), [[19 + i, 9 + i, 21 + i, 11 + i] for i in range(1, n + 1)])


# --- a correct table: every check passes, with its note -------------------------------------


@pytest.mark.parametrize("form", ["inline", "shared", "tsv"])
def test_correct_table_notes(tmp_path, form):
    table = tsv(tmp_path) if form == "tsv" else xlsx(tmp_path, shared=form == "shared")
    name = table.display
    layout = check_layout(table)
    assert layout.findings == [] and layout.data == {"rows": 3}
    sheet = "" if form == "tsv" else "sheet 'MAIN', "
    assert layout.notes == [f"{name}: {sheet}template layout, header at row 8, 3 data row(s), 9 column(s) with a schema"]
    assert check_columns(table).notes == ["columns: Object ID, Source file, Mask name, Mask ID, Protocol for mask "
                                          "creation (DOI), Annotation tool, Object type, X, Y, Z"]
    assert check_values(table).findings == []
    assert check_values(table).notes == ["3 row(s) × 9 column(s) conform to the schema rows"]
    assert check_ids(table).notes == ["3 unique positive Object ID(s)"]
    assert table.ids.tolist() == [1, 2, 3] and table.id_rows.tolist() == [9, 10, 11]
    assert table.xyz.tolist() == [[11, 21, 0], [12, 22, 0], [13, 23, 0]]
    assert table.mask_names == {"cells": 9} and table.source_files == {MASK_FILE: 9}
    assert table.units == ("pixel", "pixel", "pixel") and table.types_xyz == ("integer",) * 3
    assert table.empty_rows == [] and table.empty_count == 0 and table.last_nonempty == 11
    assert [c.name for c in table.validated] == HEADER[1:] and table.layout == "template"
    assert [c.required for c in table.validated] == [True] * 5 + [False] + [True] * 3
    stats = box_stats(3)
    assert check_mask_agreement(table, "cells", MASK_FILE, stats, [MASK_FILE]).notes == [
        "3 Object ID(s) = the 3 ids of channel 'cells'"]
    assert check_centroids(table, "cells", stats, (1, 100, 100), None).notes == [
        "3 centroid(s) inside their objects' bounding boxes (pixel/pixel)"]


# --- CEDAR's value rules: whole messages, counts and caps ---------------------------------


def test_invalid_format_capped_with_count(tmp_path):
    data = [obj(i, Protocol=f"https://doi.org/{DOI}") for i in range(1, 8)]
    f = one(check_values(xlsx(tmp_path, template(data))), "TABLE-FORMAT")
    shown = "; ".join(f"row {r}, column 'Protocol for mask creation (DOI)', value 'https://doi.org/10.17504/protocols."
                      f"io.dm6gp35p8vzp/v1'" for r in range(9, 14))
    assert f.message == (f"{NAME}: 7 × invalidValueFormat: Value does not conform to the expected format. "
                         f"('Protocol for mask creation (DOI)' ×7): {shown} … (+2 more)")
    assert f.fix.startswith("write the value in the column's format") and f.location.file == NAME


def test_missing_required_kinds(tmp_path):
    data = [obj(1, Source_file=None), obj(2, Source_file="   "), obj(3, Source_file=Raw('<c r="{ref}" t="e"><v>#N/A</v></c>')),
            obj(4, Source_file="N/A"), obj(5, Object_type=None), obj(6, X=Raw('<c r="{ref}" s="3"/>'))]
    f = one(check_values(xlsx(tmp_path, template(data))), "TABLE-MISSING-REQUIRED")
    assert f.message == (f"{NAME}: 4 × missingRequired: Required value is missing ('Source file' ×3, 'X' ×1): "
                         "row 9, column 'Source file', value ''; row 10, column 'Source file', value ''; "
                         "row 11, column 'Source file', value '#error (read as no value)'; "
                         "row 14, column 'X', value ''")
    assert f.fix == ot._FIXES["missingRequired"]


def test_not_number_kinds(tmp_path):
    data = [obj(1, X=True), obj(2, X="30"), obj(3, X="N/A"), obj(4, Y=False)]
    f = one(check_values(xlsx(tmp_path, template(data))), "TABLE-NOT-NUMBER")
    assert f.message == (f"{NAME}: 4 × notNumberType: Value is not a number (a number stored as text) ('X' ×3, 'Y' ×1): "
                         "row 10, column 'X', value '30'; row 11, column 'X', value 'N/A'; "
                         "row 9, column 'X', value 'true'; row 12, column 'Y', value 'false'")
    only_text = [obj(1, X="N/A")]
    f = one(check_values(xlsx(tmp_path, template(only_text), name="b-objects.xlsx")), "TABLE-NOT-NUMBER")
    assert "Value is not a number ('X' ×1)" in f.message and "stored as text" not in f.message


def test_number_out_of_range_integer_and_decimal(tmp_path):
    schema = schema_with("Min value", [None] * 6 + [0, 0.5, None])
    schema = schema_with("Max value", [None] * 6 + [100, 99.5, None], after="Min value", base=schema)
    schema[0][8] = "float"  # Y is a decimal column
    data = [obj(1, X=-1), obj(2, X=0), obj(3, X=100), obj(4, X=100.7), obj(5, X=101),
            obj(6, Y=0.25), obj(7, Y=0.5), obj(8, Y=99.5), obj(9, Y=99.75)]
    table = xlsx(tmp_path, template(data, schema=schema))
    rng = [f for f in check_values(table).findings if f.code == "TABLE-RANGE"]
    assert len(rng) == 1 and rng[0].authority is ING
    # integer columns compare (int) value: 100.7 is 100, inside; decimal columns compare the value
    assert rng[0].message == (f"{NAME}: 4 × numberOutOfRange: Number is out of range ('X' ×2, 'Y' ×2): "
                              "row 11, column 'X', value '-1'; row 15, column 'X', value '101'; "
                              "row 16, column 'Y', value '0.25'; row 19, column 'Y', value '99.75'")
    # the same as TSV: numbers are text that parses
    table = tsv(tmp_path, template(data, schema=schema))
    [rng] = [f for f in check_values(table).findings if f.code == "TABLE-RANGE"]
    assert rng.authority is SCH and rng.message.startswith("cells-objects.tsv: 4 × numberOutOfRange")


def test_only_min_or_only_max(tmp_path):
    schema = schema_with("Min value", [None] * 6 + [5, None, 1.5])
    schema[0][9] = "double"
    data = [obj(1, X=4, Z=1.25), obj(2, X=2**40, Z=1e300)]
    f = one(check_values(xlsx(tmp_path, template(data, schema=schema))), "TABLE-RANGE")
    assert f.message.endswith("2 × numberOutOfRange: Number is out of range ('X' ×1, 'Z' ×1): row 10, column 'X', "
                              "value '4'; row 10, column 'Z', value '1.25'")
    schema = schema_with("Max value", [None] * 6 + [5, None, 1.5])
    schema[0][9] = "double"
    data = [obj(1, X=-2**40, Z=-1e300), obj(2, X=6, Z=1.75)]
    f = one(check_values(xlsx(tmp_path, template(data, schema=schema), name="m-objects.xlsx")), "TABLE-RANGE")
    assert f.message.endswith("2 × numberOutOfRange: Number is out of range ('X' ×1, 'Z' ×1): row 11, column 'X', "
                              "value '6'; row 11, column 'Z', value '1.75'")


def test_not_permissible(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[4][2] = "cells | 7 | true |"  # Mask name; Java's split drops the trailing empty string
    data = [obj(1, Annotation_tool="fusion"), obj(2, Annotation_tool="bad"), obj(3, Mask_name=7),
            obj(4, Mask_name=True), obj(5, Mask_name=7.5), obj(6, Mask_name="CELLS")]
    f = one(check_values(xlsx(tmp_path, template(data, schema=schema))), "TABLE-NOT-PERMISSIBLE")
    assert f.message == (f"{NAME}: 2 × notStandardTerm: Value is not among the permissible values "
                         "('Mask name' ×1, 'Annotation tool' ×1): row 13, column 'Mask name', value '7.5'; "
                         "row 10, column 'Annotation tool', value 'bad'")


def test_single_permissible_value_and_blank_permissible(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[4][2] = "N/A"
    schema[4][1] = "  "  # whitespace only: no list
    f = one(check_values(xlsx(tmp_path, template(schema=schema))), "TABLE-NOT-PERMISSIBLE")
    assert "3 × notStandardTerm" in f.message and "value 'cells'" in f.message


def test_encoding_only_for_text_types(tmp_path):
    data = [obj(1, Source_file="masque-é.ome.tiff", Object_type="CL:000000é"), obj(2, X="é")]
    found = {f.code: f for f in check_values(xlsx(tmp_path, template(data))).findings}
    assert sorted(found) == ["TABLE-ENCODING", "TABLE-FORMAT", "TABLE-NOT-NUMBER"]  # é in X: not a number only
    f = found["TABLE-ENCODING"]
    assert (f.severity, f.authority) == (ERR, ING)
    assert f.message.startswith(f"{NAME}: 2 × invalidValueEncoding: The value includes non-US-ASCII characters "
                                "('Source file' ×1, 'Object type' ×1): row 9, column 'Source file', value "
                                "'masque-é.ome.tiff'")


def test_url_type(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[0][6] = "url"
    schema[5][6] = "OPTIONAL"
    data = [obj(1, Object_type="https://x.org/a"), obj(2, Object_type="www.x.org"), obj(3, Object_type=5),
            obj(4, Object_type="FTP://host/x")]
    table = xlsx(tmp_path, template(data, schema=schema))
    f = one(check_values(table), "TABLE-URL")
    assert f.message == (f"{NAME}: 2 × invalidUrl: URL is not valid ('Object type' ×2): row 10, column 'Object type', "
                         "value 'www.x.org'; row 11, column 'Object type', value '5'")
    assert f.fix == "write a full URL starting with https://"


def test_fraction_in_integer_column_is_practice_warning_with_cap(tmp_path):
    data = [obj(i, X=10 + i + 0.5) for i in range(1, 8)] + [obj(8, X=-0.0)]
    table = xlsx(tmp_path, template(data))
    f = one(check_values(table), "TABLE-INTEGER-FRACTION", WARN, PRA)
    assert f.message == (f"{NAME}: column 'X' is typed integer but 7 value(s) are fractional: row 9: 11.5; "
                         "row 10: 12.5; row 11: 13.5; row 12: 14.5; row 13: 15.5 … (+2 more) (CEDAR accepts them)")
    assert f.location.column == "X"
    table = tsv(tmp_path, template(data))
    f = one(check_values(table), "TABLE-INTEGER-FRACTION", WARN, PRA)
    assert "7 value(s) are fractional: row 9: 11.5;" in f.message and "(+2 more)" in f.message


def test_tsv_numbers_are_text_that_parses(tmp_path):
    data = [obj(1, X="1e3"), obj(2, X="x1"), obj(3, X=" 7 "), obj(4, X="+.5")]
    table = tsv(tmp_path, template(data))
    f = check_values(table).findings[0]
    assert (f.code, f.authority) == ("TABLE-NOT-NUMBER", SCH)
    assert f.message == "cells-objects.tsv: 1 × notNumberType: Value is not a number ('X' ×1): row 10, column 'X', value 'x1'"
    assert table.xyz[:, 0].tolist()[0] == 1000.0


def test_formula_cached_values_and_booleans(tmp_path):
    data = [obj(1, X=Raw('<c r="{ref}"><f>10+1</f><v>11</v></c>')),
            obj(2, Mask_name=Raw('<c r="{ref}" t="str"><f>"cel"&amp;"ls"</f><v>cells</v></c>')),
            obj(3, Object_type=Raw('<c r="{ref}" t="str"><f>""</f><v></v></c>')),
            obj(4, Mask_ID=Raw('<c r="{ref}" t="d"><v>CL:0000000</v></c>'))]
    table = xlsx(tmp_path, template(data))
    assert check_layout(table).findings == [] and check_values(table).findings == []
    assert table.xyz[0, 0] == 11 and table.mask_names == {"cells": 9}


def test_formulas_without_cached_value_capped(tmp_path):
    data = [obj(i, X=Raw('<c r="{ref}"><f>1+1</f></c>')) for i in range(1, 4)] + [
        obj(4, X=Raw('<c r="{ref}"><f>1+1</f><v></v></c>')), obj(5, X=Raw('<c r="{ref}"><f>1</f><v/></c>')),
        obj(6, Mask_name=Raw('<c r="{ref}" t="inlineStr"><f>x</f><is></is></c>')),
        obj(7, Source_file=Raw('<c r="{ref}" t="s"><f>x</f></c>'))]
    table = xlsx(tmp_path, template(data))
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: 7 formula cell(s) without a cached value (H9; H10; H11; H12; H13 … (+2 more)): "
                         "CEDAR reads cached values only, and a formula never calculated has none (files written by "
                         "scripts)")
    assert not table.blocking and f.fix.startswith("open and save the file in Excel")


def test_number_cell_that_is_not_a_number(tmp_path):
    data = [obj(1, X=Raw('<c r="{ref}"><v>abc</v></c>')), obj(2, X=Raw('<c r="{ref}" t="n"><v></v></c>'))]
    table = xlsx(tmp_path, template(data))
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == f"{NAME}: 1 number cell(s) whose stored text is not a number (H9)"
    # <v></v> in a number cell is no value: X of row 10 is missing
    g = one(check_values(table), "TABLE-MISSING-REQUIRED")
    assert g.message.endswith("2 × missingRequired: Required value is missing ('X' ×2): row 9, column 'X', value ''; "
                              "row 10, column 'X', value ''")


def test_many_number_cells_not_numbers_capped(tmp_path):
    data = [obj(i, X=Raw('<c r="{ref}"><v>1x</v></c>')) for i in range(1, 8)]
    f = one(check_layout(xlsx(tmp_path, template(data))), "TABLE-LAYOUT")
    assert "7 number cell(s) whose stored text is not a number (H9; H10; H11; H12; H13 … (+2 more))" in f.message


# --- layout --------------------------------------------------------------------------------


def test_missing_separator_labelled_row(tmp_path):
    rows = template()
    rows[6] = ["[ THIS ROW MUST BE PRESENT AND EMPTY ]"]
    table = xlsx(tmp_path, rows)
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: Missing a separator row. CEDAR's validator (which HuBMAP's ingest calls) needs a "
                         "completely empty row between the schema rows (Type, Unit, … Requirement level) and the header "
                         "row; row 7 above the header is labelled '[ THIS ROW MUST BE PRESENT AND EMPTY ]' (CEDAR's "
                         "separator is a completely empty row, column A included)")
    assert f.location.row == 1 and not table.blocking and table.layout == "no separator"
    assert check_values(table).skip == (f"CEDAR rejects the layout of {NAME} before it validates values "
                                        "(see its layout item)")
    assert table.ids.tolist() == [1, 2, 3] and table.header_row == 8
    assert table.schema["Type"][7] == "integer" and "[ THIS ROW MUST BE PRESENT AND EMPTY ]" in table.schema
    assert table.units == ("pixel", "pixel", "pixel")
    assert check_ids(table).notes == ["3 unique positive Object ID(s)"]


def test_missing_separator_without_header(tmp_path):
    table = xlsx(tmp_path, [["Title"], ["Name", "Mask name"], [1, "cells"]])
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message.endswith("header row; row 1 starts with 'Title'") and table.blocking
    assert check_columns(table).skip == f"{NAME} has no readable layout (see its layout item)"
    table = xlsx(tmp_path, [[None, 5], ["Name", "Mask name"]], name="b-objects.xlsx")
    assert check_layout(table).findings[0].message.endswith("and the header row")


def test_header_first_row_xlsx_and_plain_tsv(tmp_path):
    rows = [HEADER] + [obj(i) for i in (1, 2)]
    table = xlsx(tmp_path, rows)
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert "Missing a separator row." in f.message and "above the header" not in f.message
    assert f.message.endswith("; row 1 starts with 'Object ID'") and table.ids.tolist() == [1, 2]
    table = tsv(tmp_path, rows)
    assert table.layout == "plain" and table.header_row == 1
    f = one(check_layout(table), "TABLE-LAYOUT-PLAIN", WARN, SCH)
    assert f.location.row == 1 and f.message.startswith("cells-objects.tsv starts with its header row;")
    assert table.rows == 2 and table.ids.tolist() == [1, 2] and check_values(table).notes == [
        "2 row(s) × 0 column(s) conform to the schema rows"]
    table = tsv(tmp_path, [["Name", "x"]] + rows, name="c-objects.tsv")
    assert table.layout == "no separator" and table.schema == {"Name": {1: "x"}}


def test_too_many_separators(tmp_path):
    rows = [["Header schema ID", "x"], None, ["Type", "text"], None, ["Unit", "x"], None, ["Description", "d"], None,
            ["Object ID", "Mask name"], [1, "cells"]]
    f = one(check_layout(xlsx(tmp_path, rows)), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: Too many separator rows. CEDAR takes each empty row followed by a non-empty row "
                         "for a separator: rows 2, 4, 6, 8")
    assert f.location.row == 2
    f = one(check_layout(xlsx(tmp_path, [["P", "x"], None] + rows, name="c-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("for a separator: rows 2, 4, 6, 8 …")
    rows = rows[:7] + rows[8:]
    f = one(check_layout(xlsx(tmp_path, rows, name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("for a separator: rows 2, 4, 6")


def test_properties_block(tmp_path):
    rows = [["Header schema ID", "https://x"], ["Version", "1"], None] + template()
    table = xlsx(tmp_path, rows)
    assert table.layout == "template+properties" and table.header_row == 11
    assert check_layout(table).findings == [] and check_values(table).findings == []
    rows[1] = ["Version", 1]
    f = one(check_layout(xlsx(tmp_path, rows, name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message == ("b-objects.xlsx: row 2 of the properties block (above the first separator row 3) needs a "
                         "text key in column A and a text value in column B")
    assert f.location.row == 2


def test_empty_row_inside_long_data_is_an_extra_separator(tmp_path):
    # beyond the head (200 rows) an empty row followed by data is found by the streamed search
    styled = [Raw('<c r="{ref}" s="4"/>')]
    rows = template(n=205) + [styled, obj(206)]
    table = xlsx(tmp_path, rows)
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: row 214 is empty and the row below it holds data: CEDAR takes an empty row followed "
                         "by a non-empty row for a separator row, so it finds 2 and misreads the header")
    assert f.fix.startswith("delete the empty row(s) between data rows") and f.location.row == 214
    assert not table.blocking and check_values(table).findings[0].code == "TABLE-MISSING-REQUIRED"
    rows = template(n=205) + [None, obj(206), styled, obj(207)]
    gap, f = check_layout(xlsx(tmp_path, rows, name="b-objects.xlsx")).findings
    assert "1 run(s) of rows below the header were never written (rows 214), with data below" in gap.message
    assert "row 214 is empty" in f.message and 'so it finds 3 ("Too many separator rows.")' in f.message
    rows = template(n=205) + [None, None, obj(206), styled, obj(207)]  # two empty rows stop the search
    f = one(check_layout(xlsx(tmp_path, rows, name="c-objects.xlsx")), "TABLE-LAYOUT")
    assert "run(s) of rows below the header were never written (rows 214–215)" in f.message


def test_second_separator_after_the_schema(tmp_path):
    rows = SCHEMA[:3] + [None] + SCHEMA[3:] + [None, HEADER, obj(1)]
    f = one(check_layout(xlsx(tmp_path, rows)), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: row 8 is empty and the row below it holds data: CEDAR takes it for a second "
                         "separator row, reads the rows above row 4 as a properties block and rows 5–7 as the schema, "
                         "so the table cannot be validated")
    assert f.location.row == 8


def test_no_schema_rows_above_separator(tmp_path):
    rows = [RawRow_styled(1), HEADER, obj(1)]
    table = xlsx(tmp_path, rows)
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == f"{NAME}: there are no schema rows above the separator row 1" and f.location.row == 1
    assert table.blocking


def RawRow_styled(r):
    from test_tables_kit import RawRow
    return RawRow(f'<row r="{r}"><c r="A{r}" s="2"/><c r="B{r}" t="inlineStr"><is><t> </t></is></c></row>')


def test_header_problems(tmp_path):
    header = list(HEADER)
    header[2] = None
    f = one(check_layout(xlsx(tmp_path, template(header=header))), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: the header row 8 has 9 cells but none in column C: CEDAR reads the header's first "
                         "9 columns and cannot name column C")
    header = list(HEADER)
    header[3] = 5
    f = one(check_layout(xlsx(tmp_path, template(header=header), name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message == "b-objects.xlsx: header cell D8 is not text (5)" and f.location.row == 8
    header[3] = True
    f = one(check_layout(xlsx(tmp_path, template(header=header), name="c-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("header cell D8 is not text (true)")
    header[3] = Raw('<c r="{ref}" t="e"><v>#REF!</v></c>')
    f = one(check_layout(xlsx(tmp_path, template(header=header), name="d-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("header cell D8 is not text (null)")
    header[3] = Raw('<c r="{ref}" s="1"/>')  # a styled blank header cell: an empty name
    table = xlsx(tmp_path, template(header=header), name="e-objects.xlsx")
    assert table.columns[3] == "" and check_columns(table).findings[0].message.endswith("missing from the header "
                                                                                        "(row 8): 'Mask ID'")


def test_schema_row_problems(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[2][0] = 3
    f = one(check_layout(xlsx(tmp_path, template(schema=schema))), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: schema row 3 has no text label in column A: CEDAR keys each schema row by its "
                         "column-A label (Type, Unit, … Requirement level)") and f.location.row == 3
    schema = [list(r) for r in SCHEMA]
    schema[0] = schema[0] + ["text"]
    f = one(check_layout(xlsx(tmp_path, template(schema=schema), name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message == ("b-objects.xlsx: the first schema row (1) has cells up to column K but the header row 8 ends "
                         "at column J: CEDAR cannot name those columns") and f.location.row == 8
    schema = [list(r) for r in SCHEMA]
    schema[0][7] = 5
    f = one(check_layout(xlsx(tmp_path, template(schema=schema), name="c-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message == "c-objects.xlsx: the Type of column 'X' (H1) is not text: CEDAR cannot read it"
    assert f.location.row == 1 and f.fix == "write the Type as text"
    schema = [list(r) for r in SCHEMA]
    schema[3][2] = True
    f = one(check_layout(xlsx(tmp_path, template(schema=schema), name="d-objects.xlsx")), "TABLE-LAYOUT")
    assert "the Description of column 'Mask name' (C4) is not text" in f.message


def test_min_value_not_a_number_and_bad_pattern(tmp_path):
    f = one(check_layout(xlsx(tmp_path, template(schema=schema_with("Min value", [None] * 6 + ["0", None, None]))
                              )), "TABLE-LAYOUT")
    assert f.message == f"{NAME}: the Min value of column 'X' (H7) is not a number: CEDAR cannot read it"
    assert f.location.row == 7
    f = one(check_layout(xlsx(tmp_path, template(schema=schema_with("Max value", [None] * 7 + [True, None])),
                              name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert "the Max value of column 'Y' (I7) is not a number" in f.message
    f = one(check_layout(xlsx(tmp_path, template(schema=schema_with("Input pattern", [None, "([", None])),
                              name="c-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message == "c-objects.xlsx: the Input pattern of column 'Mask name' is not a valid regular expression"
    assert f.location.row == 7


def test_input_pattern_overrides_type_pattern(tmp_path):
    schema = schema_with("Input pattern", [None, "^cel+s$", "^X:[0-9]+$"])
    data = [obj(1), obj(2, Mask_name="cels", Mask_ID="X:1"), obj(3, Mask_name="nuclei")]
    f = one(check_values(xlsx(tmp_path, template(data, schema=schema))), "TABLE-FORMAT")
    assert f.message.endswith("3 × invalidValueFormat: Value does not conform to the expected format. ('Mask name' "
                              "×1, 'Mask ID' ×2): row 12, column 'Mask name', value 'nuclei'; row 10, column 'Mask ID', "
                              "value 'CL:0000000'; row 12, column 'Mask ID', value 'CL:0000000'")


def test_duplicate_header_names_use_the_last_column(tmp_path):
    header = list(HEADER)
    header[6] = "X"  # two columns named X: CEDAR's map keeps the last for the values
    schema = [list(r) for r in SCHEMA]
    data = [obj(1, Object_type="oops")]
    table = xlsx(tmp_path, template(data, schema=schema, header=header))
    assert [c.name for c in table.validated].count("X") == 1
    [x] = [c for c in table.validated if c.name == "X"]
    assert x.index == 7 and x.type == "obo id"  # the schema of the first X, the values of the last


def test_schema_label_near_miss_and_vocabulary(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[5][0] = "requirement level "
    table = xlsx(tmp_path, template(schema=schema))
    f = [x for x in check_layout(table).findings if x.severity is WARN and "CEDAR matches" in x.message]
    assert f[0].message == (f"{NAME}: schema row 6 is labelled 'requirement level '; CEDAR matches labels exactly and "
                            "ignores this row (it expects 'Requirement level')")
    assert f[0].authority is SCH and f[0].fix == "label the row 'Requirement level'" and f[0].location.row == 6
    assert all(not c.required for c in table.validated)


def test_vocabulary_errors_and_warnings(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[0][1] = "category"
    schema[0][2] = "Integer"
    schema[5][1] = "MANDATORY"
    schema[5][2] = "RECOMMENDED"
    schema[3][3] = None
    schema[0][4] = Raw('<c r="{ref}" s="1"/>')  # a styled blank keeps the Type row's cell count
    schema[5][4] = None
    schema[1][7] = "furlong"
    schema[2][8] = None
    schema[2][9] = "Spatial"
    table = xlsx(tmp_path, template(schema=schema))
    err, warn = [f for f in check_layout(table).findings]
    assert (err.code, err.severity, err.authority) == ("TABLE-VOCABULARY", ERR, SCH)
    assert err.message == (f"{NAME}: 7 schema value(s) missing or outside the EPIC vocabulary: Type of 'Source file' is "
                           "'category' (CEDAR reads it as text); Requirement level of 'Source file' is 'MANDATORY' "
                           "(CEDAR reads it as not required); Type of 'Mask name' is 'Integer' (CEDAR reads it as "
                           "text); Requirement level of 'Mask name' is 'RECOMMENDED' (CEDAR reads it as not required); "
                           "Description of 'Mask ID' is empty … (+2 more)")
    assert (warn.severity, warn.authority) == (WARN, SCH)
    assert warn.message == (f"{NAME}: 3 Unit / Feature class value(s) outside the EPIC vocabulary: Unit of 'X' is "
                            "'furlong'; Feature class of 'Y' is empty; Feature class of 'Z' is 'Spatial'")
    assert err.fix.startswith("use Type ∈ {text, integer, float, doi, boolean, obo id}, Requirement level ∈ "
                              "{REQUIRED, OPTIONAL}")
    assert table.validated[0].type == "category" and table.validated[0].value_type == "STRING"
    assert table.validated[3].type == "text" and not table.validated[3].required


def test_never_written_rows_below_the_header(tmp_path):
    rows = template(n=0) + [obj(1), None, None, obj(4), None, obj(6), obj(7)]
    table = xlsx(tmp_path, rows)
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: 2 run(s) of rows below the header were never written (rows 10–11; 13), with data "
                         "below them: CEDAR's reader has no row there and the validation fails")
    assert table.rows == 7 and not table.blocking and f.location.row is None


def test_no_data_rows(tmp_path):
    table = xlsx(tmp_path, template(n=0))
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message == (f"{NAME}: no data rows below the header row 8: CEDAR cannot validate a table without records")
    assert f.location.row == 8 and f.fix == "add one row per object below the header row"
    assert check_values(table).notes == ["0 row(s) × 9 column(s) conform to the schema rows"]


def test_styled_empty_rows_left_from_the_template(tmp_path):
    styled = [Raw('<c r="{ref}" s="4"/>')] * 10
    rows = template(n=3) + [styled] * 4
    table = xlsx(tmp_path, rows)
    assert check_layout(table).findings == [] and table.rows == 7
    f = one(check_values(table), "TABLE-MISSING-REQUIRED")
    assert f.message == (f"{NAME}: 32 × missingRequired: Required value is missing; rows 12–15 hold only cell "
                         "formatting (the template's pre-formatted empty rows left under the data): CEDAR reads them "
                         "as data rows whose 8 REQUIRED cells are missing")
    assert f.fix.startswith("delete the empty formatted rows left from the template (select them, Delete Row); ")


def test_two_empty_rows_inside_data_and_trailing(tmp_path):
    styled = [Raw('<c r="{ref}" s="4"/>')]
    rows = template(n=2) + [styled, styled, obj(5, Mask_ID=None), styled]
    table = xlsx(tmp_path, rows)
    assert check_layout(table).findings == []  # two empty rows in a row stop CEDAR's separator search
    f = one(check_values(table), "TABLE-MISSING-REQUIRED")
    assert f.message == (f"{NAME}: 25 × missingRequired: Required value is missing ('Mask ID' ×1): row 13, column "
                         "'Mask ID', value ''; rows 14–14 hold only cell formatting (the template's pre-formatted "
                         "empty rows left under the data): CEDAR reads them as data rows whose 8 REQUIRED cells are "
                         "missing; 2 empty row(s) inside the data (each misses every REQUIRED cell)")
    assert not f.fix.startswith("delete the empty formatted") or True
    rows = template(n=2) + [styled, styled, obj(5)]
    f = one(check_values(xlsx(tmp_path, rows, name="b-objects.xlsx")), "TABLE-MISSING-REQUIRED")
    assert f.message == ("b-objects.xlsx: 16 × missingRequired: Required value is missing; 2 empty row(s) inside the "
                         "data (each misses every REQUIRED cell)")
    assert f.fix == ot._FIXES["missingRequired"]


def test_trailing_runs_joined_across_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(ot, "BLOCK_CELLS", 16 * 10)  # 16-row blocks
    styled = [Raw('<c r="{ref}" s="4"/>')]
    rows = template(n=20) + [styled] * 30
    f = one(check_values(xlsx(tmp_path, rows)), "TABLE-MISSING-REQUIRED")
    assert "240 × missingRequired" in f.message and "rows 29–58 hold only cell formatting" in f.message


def test_empty_rows_only_with_optional_columns(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[5] = ["Requirement level"] + ["OPTIONAL"] * 9
    styled = [Raw('<c r="{ref}" s="4"/>')]
    table = xlsx(tmp_path, template(n=2, schema=schema) + [styled])
    assert check_values(table).findings == [] and table.empty_count == 1


# --- Object IDs ----------------------------------------------------------------------------


def test_bad_ids_capped_and_text_ids(tmp_path):
    data = [obj(1, **{"Object ID": 0}), obj(2, **{"Object ID": -1}), obj(3, **{"Object ID": 1.5}),
            obj(4, **{"Object ID": "abc"}), obj(5, **{"Object ID": None}), obj(6, **{"Object ID": True}),
            obj(7, **{"Object ID": "0"}), obj(8, **{"Object ID": " 12 "}), obj(9, **{"Object ID": 2.0 ** 53}),
            obj(10, **{"Object ID": "1" * 19}), obj(11, **{"Object ID": "١٢"})]
    table = xlsx(tmp_path, template(data))
    f = one(check_ids(table), "TABLE-IDS", authority=SCH)
    assert f.message == (f"{NAME}: 10 Object ID(s) not positive integers: row 9: '0'; row 10: '-1'; row 11: '1.5'; "
                         "row 12: 'abc'; row 13: empty … (+5 more)")
    assert table.ids.tolist() == [12] and table.id_rows.tolist() == [16]
    assert f.location.column == "Object ID" and f.fix.startswith("write each object's integer label value")


def test_bad_id_examples_of_each_kind(tmp_path):
    data = [obj(1, **{"Object ID": True}), obj(2, **{"Object ID": "x"}), obj(3, **{"Object ID": 2.0 ** 53}),
            obj(4, **{"Object ID": "0"}), obj(5, **{"Object ID": Raw('<c r="{ref}" t="e"><v>#N/A</v></c>')})]
    f = one(check_ids(xlsx(tmp_path, template(data), shared=True)), "TABLE-IDS", authority=SCH)
    assert f.message.endswith("5 Object ID(s) not positive integers: row 9: empty; row 10: 'x'; "
                              "row 11: '2147483647'; row 12: '0'; row 13: empty")


def test_duplicate_ids_capped(tmp_path):
    data = [obj(i) for i in range(1, 8)] * 2 + [obj(8)]
    table = xlsx(tmp_path, template(data))
    f = one(check_ids(table), "TABLE-IDS", authority=SCH)
    assert f.message == (f"{NAME}: 7 Object ID(s) listed more than once: 1 (2×, first at row 9), 2 (2×, first at "
                         "row 10), 3 (2×, first at row 11), 4 (2×, first at row 12), 5 (2×, first at row 13) … (+2 more)")
    data = [obj(1)] * 3 + [obj(2)]
    f = one(check_ids(tsv(tmp_path, template(data))), "TABLE-IDS", authority=SCH)
    assert f.message == "cells-objects.tsv: 1 Object ID(s) listed more than once: 1 (3×, first at row 9)"
    data = [obj(i) for i in range(1, 6)] * 2
    f = one(check_ids(xlsx(tmp_path, template(data), name="b-objects.xlsx")), "TABLE-IDS", authority=SCH)
    assert f.message.endswith("5 (2×, first at row 13)")


def test_object_id_column_missing_uses_column_a(tmp_path):
    header = ["Id"] + HEADER[1:]
    table = xlsx(tmp_path, template(header=header))
    assert table.id_col == 0 and table.ids.tolist() == [1, 2, 3]
    f = one(check_columns(table), "TABLE-COLUMNS", authority=SCH)
    assert f.message == f"{NAME}: template column(s) missing from the header (row 8): 'Object ID'"
    assert f.location.row == 8
    header = [h.upper() if h in ("X", "Y", "Z") else h for h in HEADER]
    header[0] = " object id "
    table = xlsx(tmp_path, template(header=header), name="b-objects.xlsx")
    assert check_columns(table).findings == [] and table.xyz.tolist()[0] == [11, 21, 0]


# --- Mask name, Source file, ids against the channel ----------------------------------------


def test_mask_names_capped_at_fifty_distinct(tmp_path):
    data = [obj(i, Mask_name=f"m{i}") for i in range(1, 61)] + [obj(61)]
    table = xlsx(tmp_path, template(data))
    assert len(table.mask_names) == 50 and "cells" not in table.mask_names
    assert list(table.mask_names.items())[:2] == [("m1", 9), ("m2", 10)]
    res = check_mask_agreement(table, "cells", MASK_FILE, None, [MASK_FILE])
    f = one(res, "TABLE-MASK-AGREEMENT", authority=SCH)
    assert f.message == (f"{NAME}: Mask name must be 'cells' (the file's prefix and channel name); found 'm1' (first at "
                         "row 9), 'm2' (first at row 10), 'm3' (first at row 11), 'm4' (first at row 12), 'm5' (first "
                         "at row 13)")
    assert f.location.column == "Mask name" and f.fix == "write 'cells' in every Mask name cell"
    assert res.notes == ["ids not compared: the channel could not be decoded (see its labels item)"]


def test_mask_names_across_blocks_and_stripped(tmp_path, monkeypatch):
    monkeypatch.setattr(ot, "BLOCK_CELLS", 16 * 10)
    data = [obj(i, Mask_name=" cells ") for i in range(1, 30)] + [obj(30, Mask_name="other"), obj(31, Mask_name="  ")]
    table = xlsx(tmp_path, template(data), shared=True)
    assert table.mask_names == {"cells": 9, "other": 38}


def test_source_file_and_ids_against_channel(tmp_path):
    data = [obj(1, Source_file="other.ome.tiff"), obj(2), obj(3), obj(10)]
    table = xlsx(tmp_path, template(data))
    stats = Stats([1, 2, 3, 4, 5], [[0, 0, 99, 99]] * 5)
    src, extra, missing = check_mask_agreement(table, "cells", MASK_FILE, stats, [MASK_FILE]).findings
    assert src.message == (f"{NAME}: Source file names no mask image in derived/segmentation_masks/ ({MASK_FILE}); "
                           "found 'other.ome.tiff' (first at row 9)")
    assert src.fix == f"write '{MASK_FILE}' in every Source file cell" and src.location.column == "Source file"
    assert (extra.severity, extra.authority) == (ERR, SCH)
    assert extra.message == (f"{NAME}: 1 Object ID(s) in the table are not objects of mask channel 'cells' (first 10); "
                             "the table lists 4, the channel holds 5")
    assert extra.location.channel == "cells"
    assert (missing.severity, missing.authority) == (WARN, SCH)
    assert missing.message == f"{NAME}: 2 of the 5 objects of channel 'cells' are not in the table (first 4, 5)"
    empty = check_mask_agreement(table, "cells", MASK_FILE, Stats([], []), [MASK_FILE, "other.ome.tiff"])
    [f] = empty.findings
    assert f.message == (f"{NAME}: the mask channel 'cells' holds no objects, but the table lists 4 (first ids 1, 2, "
                         "3, 10)")
    assert check_mask_agreement(table, None, None, stats, []).skip == (
        "prefix 'cells' names no channel (see cells-objects.xlsx::channel)")


def test_many_extra_and_missing_ids_show_five(tmp_path):
    data = [obj(i) for i in range(1, 9)]
    table = xlsx(tmp_path, template(data))
    stats = Stats(range(20, 30), [[0, 0, 99, 99]] * 10)
    extra, missing = check_mask_agreement(table, "cells", MASK_FILE, stats, [MASK_FILE]).findings
    assert "8 Object ID(s) in the table are not objects of mask channel 'cells' (first 1, 2, 3, 4, 5)" in extra.message
    assert "10 of the 10 objects of channel 'cells' are not in the table (first 20, 21, 22, 23, 24)" in missing.message
    f = check_mask_agreement(table, "cells", MASK_FILE, Stats([], []), [MASK_FILE]).findings[0]
    assert f.message.endswith("but the table lists 8 (first ids 1, 2, 3, 4, 5)")


# --- centroids -----------------------------------------------------------------------------


def test_centroid_skips(tmp_path):
    table = xlsx(tmp_path)
    assert check_centroids(table, None, box_stats(3), (1, 9, 9), None).skip == (
        "no decoded channel to compare with (see the channel and labels items)")
    assert check_centroids(table, "cells", None, (1, 9, 9), None).skip
    header = [h if h != "Y" else "Why" for h in HEADER]
    table2 = xlsx(tmp_path, template(header=header), name="b-objects.xlsx")
    assert check_centroids(table2, "cells", box_stats(3), (1, 9, 9), None).skip == (
        "b-objects.xlsx has no X/Y columns (see its columns item)")
    schema = [list(r) for r in SCHEMA]
    schema[1][8] = "micrometer"
    table3 = xlsx(tmp_path, template(schema=schema), name="c-objects.xlsx")
    assert check_centroids(table3, "cells", box_stats(3), (1, 99, 99), (0.5, None, None)).skip == (
        "Y is in micrometer but the mask has no usable PhysicalSizeY (see its physical-size item)")


def test_centroids_outside_image_and_box_messages(tmp_path):
    data = [obj(1), obj(2, X=99.5), obj(3, Y=-0.5), obj(4, X=-0.6), obj(5, Y=99.6), obj(6, X=30),
            obj(7, X=None), obj(8, Y="n/a")]
    table = xlsx(tmp_path, template(data))
    stats = box_stats(8)
    res = check_centroids(table, "cells", stats, (1, 100, 100), (1.0, 1.0, None))
    outside, box = res.findings
    assert (outside.code, outside.severity, outside.authority) == ("TABLE-CENTROIDS", ERR, SCH)
    assert outside.message == (f"{NAME}: 2 centroid(s) outside the 100 × 100 px image: row 12 id 4 at (-0.6, 24) "
                               "pixel/pixel; row 13 id 5 at (15, 99.6) pixel/pixel")
    assert box.message == (f"{NAME}: 3 centroid(s) outside the object's bounding box in the mask: row 10 id 2 at "
                           "(99.5, 22) pixel/pixel vs box x 11–13, y 21–23; row 11 id 3 at (13, -0.5) pixel/pixel vs "
                           "box x 12–14, y 22–24; row 14 id 6 at (30, 26) pixel/pixel vs box x 15–17, y 25–27")
    assert box.location.column == "X, Y" and box.location.channel == "cells"
    assert res.notes == ["2 row(s) without numeric X/Y not compared"]


def test_centroids_edges_of_the_box(tmp_path):
    # box x 10-12 (obj 1: X 11), y 20-22: within 1 px passes
    data = [obj(1, X=9, Y=19), obj(2, X=14, Y=24), obj(3, X=10.9), obj(4, Y=32.1), obj(5, Y=22.9)]
    table = xlsx(tmp_path, template(data))
    res = check_centroids(table, "cells", box_stats(5), (1, 100, 100), None)
    [f] = res.findings
    assert "3 centroid(s) outside the object's bounding box" in f.message and "row 13 id 5 at (15, 22.9)" in f.message
    assert "row 11 id 3 at (10.9, 23)" in f.message and "row 12 id 4 at (14, 32.1)" in f.message


def test_centroids_in_a_length_unit(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[1][7] = schema[1][8] = "µm"
    schema[0][7] = schema[0][8] = "float"
    data = [obj(i, X=(10 + i) * 0.5, Y=(20 + i) * 0.5) for i in range(1, 4)] + [obj(4, X=50, Y=2.0)]
    table = xlsx(tmp_path, template(data, schema=schema))
    res = check_centroids(table, "cells", box_stats(4), (1, 100, 100), (0.5, 0.5, None))
    [f] = res.findings
    assert f.message == (f"{NAME}: 1 centroid(s) outside the image: row 12 id 4 at (50, 2) µm/µm = (100.0, 4.0) px"
                         ) or f.message == (f"{NAME}: 1 centroid(s) outside the 100 × 100 px image: row 12 id 4 at "
                                            "(50, 2) µm/µm = (100.0, 4.0) px")


def test_centroids_pixel_values_under_a_length_unit(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[1][7] = schema[1][8] = "micrometer"
    table = xlsx(tmp_path, template(n=20, schema=schema))
    f = one(check_centroids(table, "cells", box_stats(20), (1, 4000, 4000), (0.25, 0.25, None)), "TABLE-CENTROIDS",
            authority=SCH)
    assert f.message == (f"{NAME}: the Unit row says micrometer/micrometer, but the values are pixel positions: read as "
                         "micrometer/micrometer (÷ PhysicalSize) 20 centroid(s) fall outside their objects, read as "
                         "pixels all 20 lie inside them")
    assert f.fix.startswith("write 'pixel' in the Unit row of X and Y")
    # one in a hundred may be off its box as pixels too
    data = [obj(i) for i in range(1, 101)]
    data[5] = obj(6, X=60)
    table = xlsx(tmp_path, template(data, schema=schema), name="b-objects.xlsx")
    f = one(check_centroids(table, "cells", box_stats(100), (1, 4000, 4000), (0.25, 0.25, None)),
            "TABLE-CENTROIDS", authority=SCH)
    assert "but the values are pixel positions" in f.message and "read as pixels all 100 lie inside" in f.message
    data[7] = obj(8, X=60)
    table = xlsx(tmp_path, template(data, schema=schema), name="c-objects.xlsx")
    res = check_centroids(table, "cells", box_stats(100), (1, 4000, 4000), (0.25, 0.25, None))
    assert [f.message[:60] for f in res.findings] == [
        "c-objects.xlsx: 100 centroid(s) outside the object's boundin"]
    # outside the image as pixels: not "pixel positions"
    data[7] = obj(8, X=5000)
    table = xlsx(tmp_path, template(data, schema=schema), name="d-objects.xlsx")
    res = check_centroids(table, "cells", box_stats(100), (1, 4000, 4000), (0.25, 0.25, None))
    assert all("pixel positions" not in f.message for f in res.findings) and len(res.findings) == 2


def test_centroids_unknown_unit_and_old_argument_forms(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[1][7] = "px"
    schema[1][8] = "furlong"
    table = xlsx(tmp_path, template(schema=schema))
    res = check_centroids(table, "cells", box_stats(3), (100, 100), (1.0, 1.0))
    assert res.findings == [] and res.notes == [
        "3 centroid(s) inside their objects' bounding boxes (px/furlong)",
        "unit 'furlong' of Y not understood: read as pixels"]
    schema[1][8] = "µm"
    schema[0][8] = "float"
    data = [obj(i, Y=(20 + i) * 0.5) for i in (1, 2, 3)]
    table = xlsx(tmp_path, template(data, schema=schema), name="b-objects.xlsx")
    # the former (PhysicalSizeY, PhysicalSizeX) form: Y = 0.5 µm per pixel
    assert check_centroids(table, "cells", box_stats(3), (100, 100), (0.5, 1.0)).findings == []
    [f] = check_centroids(table, "cells", box_stats(3), (1, 100, 100), (0.5, 1.0, None)).findings
    assert f.message.startswith("b-objects.xlsx: 3 centroid(s) outside the object's bounding box in the mask: row 9 id "
                                "1 at (11, 10.5) px/µm vs box x 10–12, y 20–22; ")


def test_centroids_in_3d(tmp_path):
    data = [obj(1, Z=1), obj(2, Z=3), obj(3, Z=9)]
    table = xlsx(tmp_path, template(data))
    stats = Stats([1, 2, 3], [[20, 10, 22, 12], [21, 11, 23, 13], [22, 12, 24, 14]], z_range=[[0, 2], [0, 1], [0, 2]])
    res = check_centroids(table, "cells", stats, (5, 100, 100), (1, 1, 1))
    outside, box = res.findings
    assert outside.message == (f"{NAME}: 1 centroid(s) outside the 100 × 100 × 5 px image: row 11 id 3 at (13, 23, 9) "
                               "pixel/pixel/pixel")
    assert box.message.startswith(f"{NAME}: 1 centroid(s) outside the object's bounding box in the mask: row 10 id 2 "
                                  "at (12, 22, 3) pixel/pixel/pixel")
    assert outside.location.column == "X, Y, Z"
    header = [h if h != "Z" else "Depth" for h in HEADER]
    table = xlsx(tmp_path, template(data, header=header), name="b-objects.xlsx")
    assert check_centroids(table, "cells", stats, (5, 100, 100), (1, 1, 1)).findings == []


def test_centroid_ids_not_in_the_channel_only_checked_inside_image(tmp_path):
    data = [obj(1), obj(7)]
    table = xlsx(tmp_path, template(data))
    res = check_centroids(table, "cells", box_stats(1), (1, 100, 100), None)
    assert res.findings == [] and res.notes == ["1 centroid(s) inside their objects' bounding boxes (pixel/pixel)"]
    res = check_centroids(table, "cells", Stats([], []), (1, 100, 100), None)
    assert res.findings == [] and res.notes == ["0 centroid(s) inside their objects' bounding boxes (pixel/pixel)"]


# --- pairing and presence --------------------------------------------------------------------


def test_pairing_messages():
    f = one(check_table_channel("nope-objects.xlsx", "x/nope-objects.xlsx", ["cells", "b"]), "TABLE-PAIRING",
            authority=SCH)
    assert f.message == "x/nope-objects.xlsx: prefix 'nope' names no channel of the mask image(s) (channels: 'cells', 'b')"
    f = check_table_channel("nope-objects.tsv", "n", []).findings[0]
    assert f.message.endswith("(channels: none readable)")
    assert check_table_channel("cells-objects.tsv", "d", ["cells"]).notes == ["d describes channel 'cells'"]
    f = one(check_channel_table("cells", "m.tiff", [], ("-objects.xlsx", "-objects.tsv")), "TABLE-PAIRING", WARN, SCH)
    assert f.message == ("channel 'cells' of m.tiff has no objects table (expected "
                         "`derived/segmentation_masks/cells-objects.xlsx` or `derived/segmentation_masks/cells-objects.tsv`)")
    assert f.location.channel == "cells"
    two = ["d/cells-objects.xlsx", "d/cells-objects.tsv", "d/nuclei-objects.xlsx"]
    f = one(check_channel_table("cells", "m.tiff", two, ("-objects.xlsx",)), "TABLE-PAIRING", authority=SCH)
    assert f.message == "channel 'cells' has 2 objects tables: d/cells-objects.xlsx, d/cells-objects.tsv"
    assert check_channel_table("nuclei", "m", two, ()).notes == ["objects table: d/nuclei-objects.xlsx"]


def test_xlsx_present_messages():
    seg = "derived/segmentation_masks"
    assert check_xlsx_present([f"{seg}/a-objects.xlsx", f"{seg}/b-objects.xlsx"]).notes == [
        f"2 objects .xlsx table(s): {seg}/a-objects.xlsx, {seg}/b-objects.xlsx"]
    f = one(check_xlsx_present([f"{seg}/sub/a-objects.xlsx", "other/a-objects.xlsx"]), "TABLE-XLSX-PRESENT")
    assert f.message == "No object by feature .XLSX files found."
    f = check_xlsx_present([f"{seg}/a-objects.tsv"]).findings[0]
    assert f.message == (f"No object by feature .XLSX files found. The dataset's tables are TSV ({seg}/a-objects.tsv): "
                         "the directory schema allows them, but HuBMAP's ingest validates only .xlsx tables and rejects "
                         "the upload")


# --- small helpers ---------------------------------------------------------------------------


def test_java_str_and_int():
    j = ot.java_str
    assert [j(None), j(False), j(float("nan")), j(float("inf")), j(float("-inf")), j(-1e20), j(2.5e-10), j(1.5e-300),
            j(-0.5), j(3), j(12345678.5)] == [
        "null", "false", "NaN", "Infinity", "-Infinity", "-2147483648", "2.5E-10", "1.5E-300", "-0.5", "3",
        "12345678.5"]
    assert [ot._java_int(v) for v in (float("nan"), float("inf"), float("-inf"), 2.9, -2.9, 1e12, -1e12)] == [
        0, 2**31 - 1, -2**31, 2, -2, 2**31 - 1, -2**31]
    assert ot.ObjectsTable("x", "x").xyz.shape == (0, 3)
    assert [ot.col_letter(i) for i in (0, 25, 26, 51, 701, 702, 16383)] == ["A", "Z", "AA", "AZ", "ZZ", "AAA", "XFD"]
    assert ot.table_prefix("a-objects.tsv") == "a" and ot.table_prefix("a.xlsx") == "a.xlsx"
    assert [ot._id_of(s) for s in ("1", " 2 ", "0", "-3", "1" * 18, "1" * 19, "²", "")] == [
        1, 2, -1, -1, int("1" * 18), -1, -1, -1]


def test_centroid_z_within_one_plane_of_the_object(tmp_path):
    data = [obj(1, Z=0), obj(2, Z=4), obj(3, Z=-0.5), obj(4, Z=5.01)]
    table = xlsx(tmp_path, template(data))
    stats = Stats([1, 2, 3, 4], [[0, 0, 99, 99]] * 4, z_range=[[1, 3], [1, 3], [1, 3], [1, 4]])
    [f] = check_centroids(table, "cells", stats, (9, 100, 100), None).findings
    assert f.message == (f"{NAME}: 2 centroid(s) outside the object's bounding box in the mask: row 11 id 3 at "
                         "(13, 23, -0.5) pixel/pixel/pixel vs box x 0–99, y 0–99; row 12 id 4 at (14, 24, 5.01) "
                         "pixel/pixel/pixel vs box x 0–99, y 0–99")


def test_read_errors_name_the_display_path(tmp_path):
    import os

    path = tmp_path / NAME
    path.write_bytes(b"PK\x03\x04junk")
    [f] = check_layout(read_objects_table(path, "derived/segmentation_masks/" + NAME)).findings
    assert f.message.startswith(f"derived/segmentation_masks/{NAME}: {NAME} is not a readable .xlsx workbook (damaged zip")
    assert f.location.file == "derived/segmentation_masks/" + NAME
    fifo = tmp_path / "f-objects.tsv"
    os.mkfifo(fifo)
    [f] = check_layout(read_objects_table(fifo)).findings
    assert f.message == "f-objects.tsv is a FIFO (named pipe), not a regular file: it is not read"
    assert f.authority is SCH and f.fix == "replace it with the table file itself"
    (tmp_path / "d-objects.xlsx").mkdir()
    [f] = check_layout(read_objects_table(tmp_path / "d-objects.xlsx")).findings
    assert f.code == "TABLE-READ" and f.authority is ING
    assert f.message == "d-objects.xlsx is a folder, not a regular file: it is not read"


def test_head_is_two_hundred_rows(tmp_path):
    # the head is 200 physical rows (row 7 is not written: rows 1-201); an empty last head row is found
    # by the streamed search, as an extra separator
    styled = [Raw('<c r="{ref}" s="4"/>')]
    rows = template(n=192) + [styled, obj(193)]
    f = one(check_layout(xlsx(tmp_path, rows)), "TABLE-LAYOUT")
    assert f.message.startswith(f"{NAME}: row 201 is empty and the row below it holds data: CEDAR takes an empty row")
    rows = template(n=191) + [styled, obj(192)]  # inside the head: read as the second separator
    f = one(check_layout(xlsx(tmp_path, rows, name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert "row 200 is empty and the row below it holds data: CEDAR takes it for a second separator row" in f.message


def test_trailing_run_after_a_gap(tmp_path):
    styled = [Raw('<c r="{ref}" s="4"/>')]
    rows = template(n=2) + [styled, None, styled, styled]
    table = xlsx(tmp_path, rows)
    assert table.empty_rows == [[13, 14]] and table.empty_count == 3
    f = one(check_values(table), "TABLE-MISSING-REQUIRED")
    assert f.message.endswith("rows 13–14 hold only cell formatting (the template's pre-formatted empty rows left under "
                              "the data): CEDAR reads them as data rows whose 8 REQUIRED cells are missing; 1 empty "
                              "row(s) inside the data (each misses every REQUIRED cell)")
    assert f.message.startswith(f"{NAME}: 24 × missingRequired")


def test_schema_wider_than_header_stops_before_the_data(tmp_path):
    schema = [list(r) for r in SCHEMA]
    schema[0] = schema[0] + ["text"]
    table = xlsx(tmp_path, template(schema=schema, n=0))  # no data rows: not reported, the layout stopped first
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert "the first schema row (1) has cells up to column K" in f.message and table.rows == 0


def test_one_fraction_and_one_formula_counted_once(tmp_path):
    data = [obj(1, X=11.5), obj(2, Y=Raw('<c r="{ref}"><f>1</f></c>'))]
    table = xlsx(tmp_path, template(data))
    f = one(check_values(table), "TABLE-INTEGER-FRACTION", WARN, PRA)
    assert f.message == f"{NAME}: column 'X' is typed integer but 1 value(s) are fractional: row 9: 11.5 (CEDAR accepts them)"
    f = one(check_layout(table), "TABLE-LAYOUT")
    assert f.message.startswith(f"{NAME}: 1 formula cell(s) without a cached value (I10): ")


def test_quoted_tsv_numbers_are_text_that_parses(tmp_path):
    schema = schema_with("Min value", [None] * 6 + ["0", None, None])
    data = [obj(1, X='"20.5"'), obj(2, X='"-3"'), obj(3, X='"abc"'), obj(4, X='"7"')]
    table = tsv(tmp_path, template(data, schema=schema))
    found = {f.code: f for f in check_values(table).findings}
    assert sorted(found) == ["TABLE-INTEGER-FRACTION", "TABLE-NOT-NUMBER", "TABLE-RANGE"]
    assert found["TABLE-INTEGER-FRACTION"].message == ("cells-objects.tsv: column 'X' is typed integer but 1 value(s) "
                                                       "are fractional: row 10: 20.5 (CEDAR accepts them)")
    assert found["TABLE-RANGE"].message.endswith("1 × numberOutOfRange: Number is out of range ('X' ×1): row 11, "
                                                 "column 'X', value '-3'")
    assert found["TABLE-NOT-NUMBER"].message.endswith("row 12, column 'X', value 'abc'")
    assert table.xyz[:, 0].tolist()[:2] == [20.5, -3.0] and table.xyz[3, 0] == 7
    schema = schema_with("Max value", [None] * 6 + ["5", None, None])
    table = tsv(tmp_path, template([obj(1, X='"6"'), obj(2, X='"5"')], schema=schema), name="b-objects.tsv")
    [f] = check_values(table).findings
    assert f.message.endswith("1 × numberOutOfRange: Number is out of range ('X' ×1): row 10, column 'X', value '6'")
    fractions = [obj(i, X=f'"{i}.5"') for i in range(1, 8)]
    table = tsv(tmp_path, template(fractions), name="c-objects.tsv")
    [f] = check_values(table).findings
    assert "7 value(s) are fractional: row 9: 1.5; row 10: 2.5;" in f.message and f.message.endswith(
        "… (+2 more) (CEDAR accepts them)")


@pytest.mark.parametrize("rows, nonempty, found, stopped", [
    ([1, 2, 3, 4], [1, 1, 0, 1], [3], False),  # a present empty row followed by data
    ([1, 2, 4, 5], [1, 1, 1, 1], [3], False),  # an absent row followed by data
    ([1, 2, 3, 4, 5], [1, 0, 0, 1, 1], [], True),  # two empty rows stop the search
    ([1, 2, 5, 6], [1, 1, 1, 1], [], True),  # two absent rows
    ([1, 2, 4], [1, 0, 1], [], True),  # an empty row, then an absent one
    ([1, 3, 4], [1, 0, 1], [], True),  # an absent row, then an empty one
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 0] * 6, [2, 4, 6, 8, 10], False),  # five kept, then it stops
    ([3], [1], [], False),
    ([2, 3], [0, 1], [2], False),  # the first row empty
])
def test_separator_search(rows, nonempty, found, stopped):
    for split in range(len(rows) + 1):  # streamed in two blocks, cut anywhere
        search = ot._SeparatorSearch()
        r, e = np.asarray(rows, np.int64), np.asarray(nonempty, bool)
        search.feed(r[:split], e[:split])
        search.feed(r[split:], e[split:])
        assert (search.found, search.stopped) == (found, stopped), split


def test_skip_messages_of_unread_tables(tmp_path, monkeypatch):
    (tmp_path / "a-objects.xlsx").write_bytes(b"not a zip")
    table = read_objects_table(tmp_path / "a-objects.xlsx")
    for check in (check_columns, check_values, check_ids):
        assert check(table).skip == "a-objects.xlsx could not be read (see its layout item)"
    from pytest_segmask.checks import table_reader

    monkeypatch.setattr(table_reader, "MAX_TSV_ROWS", 5)
    table = tsv(tmp_path)
    assert check_values(table).skip == ("cells-objects.tsv was not read to the end: it exceeds a limit (see its layout "
                                        "item)")
    assert check_mask_agreement(table, "cells", MASK_FILE, box_stats(3), [MASK_FILE]).skip == check_values(table).skip
    assert check_centroids(table, "cells", box_stats(3), (1, 9, 9), None).skip == check_values(table).skip


def test_columns_listed_six_at_most(tmp_path):
    data = [[1], obj(2)]  # row 9 holds only its Object ID: 8 REQUIRED cells missing
    f = one(check_values(xlsx(tmp_path, template(data))), "TABLE-MISSING-REQUIRED")
    assert f.message.startswith(f"{NAME}: 8 × missingRequired: Required value is missing ('Source file' ×1, 'Mask name' "
                                "×1, 'Mask ID' ×1, 'Protocol for mask creation (DOI)' ×1, 'Annotation tool' ×1, 'X' "
                                "×1): row 9, column 'Source file', value ''; ")
    assert f.message.endswith("… (+3 more)")


def test_rich_text_blank_row_after_data(tmp_path):
    data = [obj(1), [Raw('<c r="{ref}" t="inlineStr"><is><r><t> </t></r></is></c>')]]
    table = xlsx(tmp_path, template(data))
    assert table.empty_count == 0 and table.rows == 2  # a rich-text cell makes its row non-empty
    assert check_ids(table).findings[0].message.endswith("1 Object ID(s) not positive integers: row 10: ' '")


def test_integer_range_saturates_like_java(tmp_path):
    schema = schema_with("Min value", [None] * 6 + [None, None, -1e10])
    schema = schema_with("Max value", [None] * 6 + [2147483646, 1e10, None], after="Min value", base=schema)
    data = [obj(1, X=1e12, Y=1e12, Z=-1e12), obj(2, X=2147483646, Y=2147483647.9, Z=-2147483648)]
    found = {f.code: f for f in check_values(xlsx(tmp_path, template(data, schema=schema))).findings}
    assert sorted(found) == ["TABLE-INTEGER-FRACTION", "TABLE-RANGE"]
    assert found["TABLE-RANGE"].message == (f"{NAME}: 1 × numberOutOfRange: Number is out of range ('X' ×1): row 11, "
                                            "column 'X', value '2147483647'")


def test_no_rows_read_keeps_empty_arrays(tmp_path):
    table = xlsx(tmp_path, template(n=0))
    assert table.xyz.shape == (0, 3) and table.ids.tolist() == [] and table.id_rows.tolist() == []


def test_complex_cells_in_the_head(tmp_path):
    header = list(HEADER)
    header[3] = Raw('<c r="{ref}" t="b"><!--x--><v>1</v></c>')
    f = one(check_layout(xlsx(tmp_path, template(header=header))), "TABLE-LAYOUT")
    assert f.message.endswith("header cell D8 is not text (true)")
    header[3] = Raw('<c r="{ref}"><!--x--><v>2.5</v></c>')
    f = one(check_layout(xlsx(tmp_path, template(header=header), name="b-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("header cell D8 is not text (2.5)")
    header[3] = Raw('<c r="{ref}" t="inlineStr"><!--x--><is><t>Mask ID</t></is></c>')
    table = xlsx(tmp_path, template(header=header), name="c-objects.xlsx")
    assert check_layout(table).findings == [] and table.columns[3] == "Mask ID"
    header[3] = Raw('<c r="{ref}" t="e"><!--x--><v>#N/A</v></c>')
    f = one(check_layout(xlsx(tmp_path, template(header=header), name="d-objects.xlsx")), "TABLE-LAYOUT")
    assert f.message.endswith("header cell D8 is not text (null)")
