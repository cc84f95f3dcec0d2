"""Objects tables: bad input ends as a finding that names the limit, fast and in bounded memory;
the compiled scanner equals its plain-Python form."""

from __future__ import annotations

import os
import time
import zipfile

import numpy as np
import pytest

from pytest_segmask.checks import table_reader, table_scan
from pytest_segmask.checks.objects_table import check_layout, check_values, read_objects_table

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
WORKBOOK = ('<?xml version="1.0"?><workbook ' + NS + ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships"><sheets><sheet name="MAIN" sheetId="1" r:id="rId1"/></sheets></workbook>')
RELS = ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
        ' Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
HEAD_ROWS = [["Type", "text", "integer"], ["Feature class", "mask", "spatial"], ["Description", "name", "x"],
             ["Requirement level", "REQUIRED", "REQUIRED"], [], ["Object ID", "Mask name", "X"]]
# the first data row is row 7


def _cell(ref, value):
    if isinstance(value, str):
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_rows(rows):
    out = []
    for r, row in enumerate(rows, 1):
        if row:
            out.append(f'<row r="{r}">' + "".join(_cell(f"{chr(65 + c)}{r}", v) for c, v in enumerate(row)) + "</row>")
    return "".join(out)


def workbook(path, sheet_xml, shared=None, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compress) as zf:
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", RELS)
        if shared is not None:
            zf.writestr("xl/sharedStrings.xml", shared)
        if isinstance(sheet_xml, (bytes, str)):
            zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        else:
            with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
                for part in sheet_xml:
                    fh.write(part)
    return path


def wrap(body):
    return f'<?xml version="1.0"?><worksheet {NS}><sheetData>{body}</sheetData></worksheet>'


def one_finding(table):
    [finding] = check_layout(table).findings
    assert check_values(table).skip
    return finding


def test_valid_minimal_workbook(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", wrap(sheet_rows(HEAD_ROWS + [[1, "cells", 3]])))
    table = read_objects_table(path)
    assert check_layout(table).findings == [] and table.rows == 1 and table.ids.tolist() == [1]


def test_zip_bomb_stops_at_the_inflate_ratio(tmp_path):
    def parts():
        yield wrap(sheet_rows(HEAD_ROWS)).rsplit("</sheetData>", 1)[0].encode()
        block = (b'<row><c t="inlineStr"><is><t>x</t></is></c>' + b" " * 450 + b"</row>") * 2_000
        for _ in range(400):  # ~400 MB inflated from about a megabyte
            yield block
        yield b"</sheetData></worksheet>"

    path = workbook(tmp_path / "cells-objects.xlsx", parts())
    assert path.stat().st_size < 3_000_000
    start = time.process_time()
    finding = one_finding(read_objects_table(path))
    assert time.process_time() - start < 5
    assert finding.code == "TABLE-LIMIT" and "MAX_INFLATE_RATIO" in finding.message


def test_sheet_xml_byte_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(table_reader, "MAX_SHEET_XML_BYTES", 1 << 20)
    rows = HEAD_ROWS + [[i, "cells", i] for i in range(1, 40_000)]
    path = workbook(tmp_path / "cells-objects.xlsx", wrap(sheet_rows(rows)), compress=zipfile.ZIP_STORED)
    finding = one_finding(read_objects_table(path))
    assert finding.code == "TABLE-LIMIT" and "MAX_SHEET_XML_BYTES" in finding.message


def test_cell_reference_far_to_the_right(tmp_path):
    body = sheet_rows(HEAD_ROWS) + '<row r="12"><c r="AAAAAAA12"><v>1</v></c></row>'
    start = time.process_time()
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body))))
    assert time.process_time() - start < 2
    assert finding.code == "TABLE-LIMIT" and "MAX_COLUMNS" in finding.message and "16,384" in finding.message


def test_column_just_beyond_excel(tmp_path):
    body = sheet_rows(HEAD_ROWS) + '<row r="7"><c r="XFE7"><v>1</v></c></row>'
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body))))
    assert "MAX_COLUMNS" in finding.message and "16,385" in finding.message


def test_row_beyond_excel(tmp_path):
    body = sheet_rows(HEAD_ROWS + [[1, "cells", 3]]) + '<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body))))
    assert finding.code == "TABLE-LIMIT" and "MAX_ROWS" in finding.message and "1,048,576" in finding.message


def test_far_styled_row_is_an_unwritten_gap_not_a_hang(tmp_path):
    body = sheet_rows(HEAD_ROWS + [[1, "cells", 3]]) + '<row r="1000000"><c r="A1000000" s="1"/></row>'
    start = time.process_time()
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body)))
    assert time.process_time() - start < 2
    messages = [f.message for f in check_layout(table).findings]
    assert any("rows 8–999999" in m and "never written" in m for m in messages)


def _random_text(n):
    rng = np.random.default_rng(0)
    return rng.integers(97, 123, n, dtype=np.uint8).tobytes().decode()


def test_giant_shared_string(tmp_path):
    shared = f'<sst {NS}><si><t>{_random_text(12_000_000)}</t></si></sst>'
    body = sheet_rows(HEAD_ROWS) + '<row r="7"><c r="A7"><v>1</v></c><c r="B7" t="s"><v>0</v></c></row>'
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body), shared=shared))
    finding = one_finding(table)
    assert finding.code == "TABLE-LIMIT" and "MAX_CELL_CHARS" in finding.message
    assert len(finding.message) < 400


def test_long_shared_string_is_cut_and_quoted_short(tmp_path):
    long = _random_text(40_000)
    shared = f'<sst {NS}><si><t>{long}</t></si></sst>'
    body = sheet_rows(HEAD_ROWS) + '<row r="7"><c r="A7"><v>1</v></c><c r="B7" t="inlineStr"><is><t>c</t></is></c><c r="C7" t="s"><v>0</v></c></row>'
    table = read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body), shared=shared))
    layout = [f.message for f in check_layout(table).findings]
    assert any("MAX_CELL_CHARS" in m for m in layout)
    [value] = check_values(table).findings  # the text in an integer column
    assert value.code == "TABLE-NOT-NUMBER" and len(value.message) < 500 and "(32767 characters)" in value.message


def test_tsv_line_that_never_ends(tmp_path):
    path = tmp_path / "cells-objects.tsv"
    with open(path, "wb") as fh:
        chunk = b"a" * (1 << 20)
        for _ in range(table_reader.MAX_ROW_BYTES // len(chunk) + 2):
            fh.write(chunk)
    start = time.process_time()
    finding = one_finding(read_objects_table(path))
    assert time.process_time() - start < 10
    assert finding.code == "TABLE-LIMIT" and "MAX_ROW_BYTES" in finding.message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_symlink_to_dev_zero(tmp_path):
    path = tmp_path / "cells-objects.tsv"
    path.symlink_to("/dev/zero")
    [finding] = check_layout(read_objects_table(path)).findings
    assert finding.code == "TABLE-READ" and "not a regular file" in finding.message


def test_tsv_too_many_columns(tmp_path):
    path = tmp_path / "cells-objects.tsv"
    path.write_text("Object ID" + "\tx" * 16_384 + "\n1\n")
    finding = one_finding(read_objects_table(path))
    assert finding.code == "TABLE-LIMIT" and "MAX_COLUMNS" in finding.message


@pytest.mark.parametrize("data, fragment", [(b"Object ID\tX\n\xe9t\xe9\t1\n", "is not UTF-8 text"),
                                            (b"Object ID\tX\n1\t\x002\n", "binary bytes (NUL)"),
                                            (b"\xff\xfeO\x00b\x00", "UTF-16")])
def test_tsv_bad_bytes(tmp_path, data, fragment):
    path = tmp_path / "cells-objects.tsv"
    path.write_bytes(data)
    findings = check_layout(read_objects_table(path)).findings
    assert any(f.code == "TABLE-READ" and fragment in f.message for f in findings), findings


@pytest.mark.parametrize("content, fragment", [
    (b"this is text", "is not an .xlsx workbook (not a zip file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "is an encrypted workbook or a legacy .xls file"),
    (b"PK\x03\x04garbage", "damaged zip"),
])
def test_not_a_workbook(tmp_path, content, fragment):
    path = tmp_path / "cells-objects.xlsx"
    path.write_bytes(content)
    finding = one_finding(read_objects_table(path))
    assert finding.code == "TABLE-READ" and fragment in finding.message


def test_truncated_and_corrupt_workbooks(tmp_path):
    good = workbook(tmp_path / "good.xlsx", wrap(sheet_rows(HEAD_ROWS + [[i, "cells", i] for i in range(1, 2000)])))
    data = good.read_bytes()
    for name, mutated in (("cut", data[: len(data) // 2]), ("flipped", data[:300] + bytes(b ^ 0x55 for b in data[300:900])
                                                              + data[900:])):
        path = tmp_path / f"{name}-objects.xlsx"
        path.write_bytes(mutated)
        finding = one_finding(read_objects_table(path))
        assert finding.code in ("TABLE-READ", "TABLE-LIMIT"), finding


def test_macros(tmp_path):
    path = workbook(tmp_path / "cells-objects.xlsx", wrap(sheet_rows(HEAD_ROWS + [[1, "cells", 3]])))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("xl/vbaProject.bin", b"macro")
    finding = one_finding(read_objects_table(path))
    assert "contains macros" in finding.message


def test_shared_string_index_out_of_range(tmp_path):
    body = sheet_rows(HEAD_ROWS) + '<row r="7"><c r="A7"><v>1</v></c><c r="B7" t="s"><v>7</v></c></row>'
    shared = f'<sst {NS}><si><t>a</t></si></sst>'
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", wrap(body), shared=shared)))
    assert finding.code == "TABLE-READ" and "shared string 7" in finding.message


# --- the scanner -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0", "1", "-2.5", "1e3", "31847.449999999997", "0.1", "123456789012345678901234",
                                  "1.7976931348623157e308", "5e-324", "2.2250738585072014e-308", " 7 ", "+.5",
                                  "12345.678901234567", "0.30000000000000004", "1E-7"])
def test_number_parser_matches_float(text):
    ok, value = table_scan._parse_number.py_func(np.frombuffer(text.encode(), np.uint8), 0, len(text),
                                                 table_scan.pow10())
    assert ok
    digits = len(text.strip().lstrip("+-").split("e")[0].split("E")[0].replace(".", "").lstrip("0"))
    if digits <= 15 and abs(float(text)) < 1e22 and (float(text) == 0 or abs(float(text)) > 1e-22):
        assert value == float(text)  # exact: the fast path
    else:
        assert value == pytest.approx(float(text), rel=5e-16, abs=0)  # within ~2 units in the last place


@pytest.mark.parametrize("text", ["", "-", "1.2.3", "1e", "abc", "1 2", "."])
def test_number_parser_rejects(text):
    ok, _ = table_scan._parse_number.py_func(np.frombuffer(text.encode() or b" ", np.uint8), 0, len(text),
                                             table_scan.pow10())
    assert not ok


def test_plain_python_scanner_equals_compiled(tmp_path, monkeypatch):
    rows = HEAD_ROWS + [[i, "cells" if i % 3 else " ", i * 1.5] for i in range(1, 300)]
    xlsx = workbook(tmp_path / "cells-objects.xlsx", wrap(sheet_rows(rows)))
    tsv = tmp_path / "cells-objects.tsv"
    tsv.write_text("\n".join("\t".join("" if v is None else str(v) for v in r) for r in rows) + '\n1\t"a""b\tc"\t2\n')

    def summary(path):
        t = read_objects_table(path)
        return (t.rows, t.ids.tolist(), np.nan_to_num(t.xyz, nan=-1).tolist(), sorted((k, p.examples.count) for k, p in t.values.items()),
                [f.message for f in check_layout(t).findings])

    compiled = [summary(xlsx), summary(tsv)]
    for name in ("scan_xlsx", "scan_tsv"):
        monkeypatch.setattr(table_scan, name, getattr(table_scan, name).py_func)
    with np.errstate(over="ignore"):
        assert [summary(xlsx), summary(tsv)] == compiled


@pytest.mark.parametrize("ext", ["xlsx", "tsv"])
def test_table_wider_than_the_assumed_head(tmp_path, ext):
    width = 300  # > HEAD_COLUMNS: the head is read again at its full width
    rows = [["Type"] + ["integer"] * width, ["Feature class"] + ["mask"] * width, ["Description"] + ["d"] * width,
            ["Requirement level"] + ["REQUIRED"] * width, [], ["Object ID"] + [f"f{i}" for i in range(width)],
            [1] + [7] * (width - 1) + ["text"]]
    path = tmp_path / f"cells-objects.{ext}"
    if ext == "tsv":
        path.write_text("\n".join("\t".join(str(v) for v in r) for r in rows) + "\n")
    else:
        from openpyxl import Workbook

        wb = Workbook()
        for r in rows:
            wb.active.append(r)
        wb.save(path)
    table = read_objects_table(path)
    assert len(table.columns) == width + 1 and len(table.validated) == width
    [finding] = check_values(table).findings
    assert finding.code == "TABLE-NOT-NUMBER" and f"column 'f{width - 1}', value 'text'" in finding.message


# --- damaged bytes never crash the reader -----------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SHEET = wrap(sheet_rows(HEAD_ROWS + [[i, "cells", i * 0.5] for i in range(1, 40)])).encode()
_TSV = "\n".join("\t".join(str(v) for v in r) for r in HEAD_ROWS + [[i, "cells", i] for i in range(1, 40)]).encode()


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, pos, value in edits:
        pos %= max(len(out), 1)
        if kind == 0:
            out[pos:pos + 1] = bytes([value])
        elif kind == 1:
            del out[pos:pos + value % 40]
        else:
            out[pos:pos] = bytes([value]) * (value % 7 + 1) + b'<c r="A1"/><row r="3">"\t\n&#'[value % 20:]
    return bytes(out)


_EDITS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_EDITS)
def test_damaged_sheet_xml_is_a_finding(tmp_path, edits):
    path = workbook(tmp_path / "cells-objects.xlsx", _mutate(_SHEET, edits))
    table = read_objects_table(path)
    for check in (check_layout, check_values):
        check(table)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_EDITS)
def test_damaged_tsv_is_a_finding(tmp_path, edits):
    path = tmp_path / "cells-objects.tsv"
    path.write_bytes(_mutate(_TSV, edits))
    table = read_objects_table(path)
    for check in (check_layout, check_values):
        check(table)


@pytest.mark.parametrize("body", ["<sheetData/>", "<sheetData></sheetData>"])
def test_empty_sheet(tmp_path, body):
    xml = f'<?xml version="1.0"?><worksheet {NS}>{body}</worksheet>'
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", xml)))
    assert finding.code == "TABLE-LAYOUT" and "the sheet is empty" in finding.message


def test_truncated_sheet_xml(tmp_path):
    xml = wrap(sheet_rows(HEAD_ROWS + [[1, "cells", 3]])).split("</sheetData>")[0]
    finding = one_finding(read_objects_table(workbook(tmp_path / "cells-objects.xlsx", xml)))
    assert finding.code == "TABLE-READ" and "truncated" in finding.message
