"""The objects-table reader (table_reader.py) and its compiled scanner (table_scan.py), unit by
unit and end to end on synthetic files: the package parts, every cell form Excel and other
writers produce, windows as small as one byte, every limit at and one past its value."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pytest_segmask.checks import objects_table as ot
from pytest_segmask.checks import table_reader as tr
from pytest_segmask.checks import table_scan as ts
from pytest_segmask.checks.objects_table import check_ids, check_layout, check_values, read_objects_table
from pytest_segmask.findings import Authority, Severity

from test_tables_kit import (HEADER, NS, SCHEMA, Raw, RawRow, obj, rels_xml, sheet_xml, template, tsv_text,
                             workbook_xml, write_tsv, write_xlsx)

NAME = "cells-objects.xlsx"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


def layout_messages(table):
    return [f.message for f in check_layout(table).findings]


def one(table, code="TABLE-READ"):
    [f] = check_layout(table).findings
    assert f.code == code and f.severity is Severity.ERROR, f
    return f


def summary(table):
    """Everything a read produces that the checks use."""
    return (table.layout, table.header_row, table.columns, table.rows, table.empty_rows, table.empty_count,
            table.last_nonempty, table.ids.tolist(), table.id_rows.tolist(), np.nan_to_num(table.xyz, nan=-7).tolist(),
            table.mask_names, table.source_files,
            sorted((k, p.examples.count, p.examples.first, dict(p.columns)) for k, p in table.values.items()),
            {k: (e.count, e.first) for k, e in table.fractional.items()}, (table.bad_ids.count, table.bad_ids.first),
            [(f.code, f.message) for f in check_layout(table).findings],
            [(f.code, f.message) for f in check_values(table).findings])


# --- the documented bounds are the code's -----------------------------------------------------


def test_bounds_table_in_docs_matches_the_constants():
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## 5. Bounds", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.M))
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

    def value(s):
        m = re.fullmatch(r"([\d,]+)(?: (KiB|MiB|GiB))?", s.strip())
        return int(m.group(1).replace(",", "")) * units.get(m.group(2), 1)

    assert {k: value(v) for k, v in rows.items()} == {
        "MAX_ROWS": tr.MAX_ROWS, "MAX_COLUMNS": tr.MAX_COLUMNS, "MAX_CELL_CHARS": tr.MAX_CELL_CHARS,
        "MAX_INFLATE_RATIO": tr.MAX_INFLATE_RATIO, "MAX_SHEET_XML_BYTES": tr.MAX_SHEET_XML_BYTES,
        "MAX_SHARED_STRINGS_BYTES": tr.MAX_SHARED_STRINGS_BYTES, "MAX_PART_BYTES": tr.MAX_PART_BYTES,
        "MAX_ZIP_MEMBERS": tr.MAX_ZIP_MEMBERS, "MAX_ROW_BYTES": tr.MAX_ROW_BYTES, "MAX_TSV_ROWS": tr.MAX_TSV_ROWS}
    assert (ts.MAX_ROWS, ts.MAX_COLUMNS) == (1_048_576, 16_384)  # Excel's own limits
    assert "checked after 100 KiB" in section and tr.INFLATE_GRACE_BYTES == 100 << 10


# --- _Counted: byte limits and the inflate ratio ---------------------------------------------


def counted(data, compressed, limit=1 << 30):
    return tr._Counted(io.BytesIO(data), compressed, limit, "LIMIT_NAME", "the part")


def drain(stream, size=7):
    while stream.read(size):
        pass


def test_counted_byte_limit_at_and_past():
    drain(counted(b"x" * 100, 100, limit=100))
    with pytest.raises(tr.TableLimit) as exc:
        drain(counted(b"x" * 101, 101, limit=100))
    assert exc.value.limit == "LIMIT_NAME" and str(exc.value) == "the part inflates to more than 100 bytes (LIMIT_NAME)"


def test_counted_inflate_ratio_after_the_grace():
    grace = tr.INFLATE_GRACE_BYTES
    drain(counted(b"x" * grace, 1), 1 << 20)  # within the grace: any ratio
    with pytest.raises(tr.TableLimit) as exc:
        drain(counted(b"x" * (grace + 1), 1), 1 << 20)
    assert exc.value.limit == "MAX_INFLATE_RATIO"
    assert str(exc.value) == ("the part inflates more than 100× its compressed size (1 bytes): a zip bomb "
                              "(MAX_INFLATE_RATIO, Apache POI's zip-bomb guard)")
    n = 200_000
    drain(counted(b"x" * n, n // 100), 1 << 20)  # exactly 100×
    with pytest.raises(tr.TableLimit):
        drain(counted(b"x" * (n + 1), n // 100), 1 << 20)
    with pytest.raises(tr.TableLimit):  # a zero compressed size counts as one byte
        drain(counted(b"x" * (grace + 1), 0), 1 << 20)
    s = counted(b"abc", 3)
    assert s.read(-1) == b"abc" and s.read(None) == b"" and s.count == 3


# --- the package: sheets, relationships, shared strings --------------------------------------


def test_main_sheet_chosen_wherever_it_is(tmp_path):
    wb = workbook_xml((("Notes", "rId3"), ("MAIN", "rId1")))
    rels = rels_xml((("rId3", "worksheet", "worksheets/notes.xml"), ("rId1", "worksheet", "/xl/worksheets/sheet1.xml")))
    path = write_xlsx(tmp_path / NAME, workbook=wb, rels=rels, members={"xl/worksheets/notes.xml": "<broken"})
    table = read_objects_table(path)
    assert table.sheet == "MAIN" and table.sheets == ["Notes", "MAIN"] and check_layout(table).findings == []
    assert check_layout(table).notes[0].startswith(f"{NAME}: sheet 'MAIN', template layout")


def test_first_sheet_without_main(tmp_path):
    wb = workbook_xml((("Objects", "rId1"), ("Main", "rId3")))
    rels = rels_xml((("rId1", "worksheet", "worksheets/sheet1.xml"), ("rId3", "worksheet", "worksheets/x.xml")))
    table = read_objects_table(write_xlsx(tmp_path / NAME, workbook=wb, rels=rels))
    assert table.sheet == "Objects" and table.rows == 3
    wb = workbook_xml((("", "rId1"),))
    table = read_objects_table(write_xlsx(tmp_path / "b.xlsx", workbook=wb))
    assert table.sheet == "" and check_layout(table).notes[0].startswith("b.xlsx: template layout")


@pytest.mark.parametrize("edit, message", [
    ({"workbook": workbook_xml(())}, f"{NAME}: the workbook has no worksheet"),
    ({"workbook": workbook_xml((("MAIN", "rId9"),))}, f"{NAME}: the sheet 'MAIN' has no part in the workbook"),
    ({"members": {"xl/worksheets/sheet1.xml": None}}, f"{NAME}: the sheet part xl/worksheets/sheet1.xml is missing"),
    ({"members": {"xl/workbook.xml": None}}, f"{NAME}: the workbook part xl/workbook.xml is missing"),
    ({"members": {"xl/_rels/workbook.xml.rels": None}},
     f"{NAME}: the workbook part xl/_rels/workbook.xml.rels is missing"),
    ({"workbook": "<workbook"}, f"{NAME}: the workbook's XML is damaged ("),
    ({"members": {"xl/sharedStrings.xml": "<sst><si>"}}, f"{NAME}: xl/sharedStrings.xml is damaged ("),
])
def test_package_damage(tmp_path, edit, message):
    f = one(read_objects_table(write_xlsx(tmp_path / NAME, **edit)))
    assert f.message.startswith(message) and f.authority is Authority.INGEST
    assert f.fix in ("re-save the workbook from Excel or LibreOffice", "save a workbook with the table on a sheet named MAIN")
    if "no worksheet" in message:
        assert f.fix == "save a workbook with the table on a sheet named MAIN"


def test_shared_strings_found_without_a_relationship(tmp_path):
    rels = rels_xml((("rId1", "worksheet", "worksheets/sheet1.xml"),))
    table = read_objects_table(write_xlsx(tmp_path / NAME, shared=True, rels=rels))
    assert check_layout(table).findings == [] and table.mask_names == {"cells": 9}
    # a relationship naming another part wins
    rels = rels_xml((("rId1", "worksheet", "worksheets/sheet1.xml"), ("rId2", "sharedStrings", "strings/sst.xml")))
    rows = template()
    shared = {}
    xml = sheet_xml(rows, shared)
    from test_tables_kit import sst_xml
    table = read_objects_table(write_xlsx(tmp_path / "b.xlsx", sheet=xml, rels=rels, members={
        "xl/strings/sst.xml": sst_xml(list(shared)), "xl/sharedStrings.xml": sst_xml(["wrong"] * len(shared))}))
    assert table.mask_names == {"cells": 9}
    # a relationship to a part that is absent: no shared strings, so the sheet's indices are out of range
    rels = rels_xml((("rId1", "worksheet", "worksheets/sheet1.xml"), ("rId2", "sharedStrings", "gone.xml")))
    f = one(read_objects_table(write_xlsx(tmp_path / "c.xlsx", sheet=xml, rels=rels)))
    assert f.message == "c.xlsx: a cell after row 0 refers to shared string 0, but the workbook has 0"


def test_shared_strings_rich_text_and_phonetic_runs(tmp_path):
    sst = (f'<sst {NS}><si><r><t>ce</t></r><r><rPr><b/></rPr><t>lls</t></r><rPh sb="0" eb="1"><t>KANA</t></rPh>'
           f'</si><si><t xml:space="preserve">  </t></si><si><t>FUSION</t></si></sst>')
    rows = template([obj(1, Mask_name=Raw('<c r="{ref}" t="s"><v>0</v></c>'), Annotation_tool=Raw(
        '<c r="{ref}" t="s"><v>2</v></c>')), obj(2, Source_file=Raw('<c r="{ref}" t="s"><v>1</v></c>'))])
    table = read_objects_table(write_xlsx(tmp_path / NAME, sheet=sheet_xml(rows), members={"xl/sharedStrings.xml": sst}))
    assert table.mask_names == {"cells": 9}
    [f] = check_values(table).findings  # the blank shared string is a missing value
    assert f.message.endswith("1 × missingRequired: Required value is missing ('Source file' ×1): row 10, column "
                              "'Source file', value ''")


def test_shared_string_cut_at_the_cell_limit(tmp_path):
    exact = "a" * tr.MAX_CELL_CHARS
    sst = f'<sst {NS}><si><t>{exact}</t></si><si><t>{exact}b</t></si></sst>'
    rows = template([obj(1, Mask_name=Raw('<c r="{ref}" t="s"><v>0</v></c>')),
                     obj(2, Mask_name=Raw('<c r="{ref}" t="s"><v>1</v></c>'))])
    table = read_objects_table(write_xlsx(tmp_path / NAME, sheet=sheet_xml(rows), members={"xl/sharedStrings.xml": sst}))
    [f] = check_layout(table).findings
    assert (f.code, f.authority) == ("TABLE-LIMIT", Authority.INGEST)
    assert f.message == (f"{NAME}: 1 shared string(s) longer than Excel's 32,767 characters per cell "
                         "(MAX_CELL_CHARS); they were cut")
    assert f.fix == "shorten the text"
    assert list(table.mask_names) == [exact]  # both read as the same 32,767 characters


def test_zip_member_count_limit(tmp_path):
    path = write_xlsx(tmp_path / NAME, members={f"pad/{i}": "" for i in range(tr.MAX_ZIP_MEMBERS - 3)})
    assert check_layout(read_objects_table(path)).findings == []  # exactly MAX_ZIP_MEMBERS
    path = write_xlsx(tmp_path / "b.xlsx", members={f"pad/{i}": "" for i in range(tr.MAX_ZIP_MEMBERS - 2)})
    f = one(read_objects_table(path), "TABLE-LIMIT")
    assert f.message == ("b.xlsx: reading stopped: the workbook holds 10,001 zip members, more than 10,000 "
                         "(MAX_ZIP_MEMBERS)")
    assert f.fix.startswith("save the table again from Excel or LibreOffice")


def test_encrypted_member_flag(tmp_path):
    path = write_xlsx(tmp_path / NAME)
    data = bytearray(path.read_bytes())
    # set bit 0 (encrypted) of the general-purpose flags in every central directory entry
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        data[pos + 8] |= 1
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    f = one(read_objects_table(path))
    assert f.message == f"{NAME} is encrypted" and f.fix == "remove the password and save as a plain .xlsx workbook"


def test_part_and_shared_string_byte_limits(tmp_path, monkeypatch):
    limit = len(rels_xml()) + 50
    monkeypatch.setattr(tr, "MAX_PART_BYTES", limit)
    wb = workbook_xml()
    pad = wb.replace("<sheets>", "<sheets>" + " " * (limit - len(wb)))
    assert len(pad) == limit
    table = read_objects_table(write_xlsx(tmp_path / NAME, workbook=pad, compress=zipfile.ZIP_STORED))
    assert check_layout(table).findings == []
    pad = pad.replace("<sheets>", "<sheets> ")
    f = one(read_objects_table(write_xlsx(tmp_path / "b.xlsx", workbook=pad, compress=zipfile.ZIP_STORED)),
            "TABLE-LIMIT")
    assert f.message == (f"b.xlsx: reading stopped: xl/workbook.xml inflates to more than {limit:,} bytes "
                         "(MAX_PART_BYTES)")
    monkeypatch.setattr(tr, "MAX_SHARED_STRINGS_BYTES", 300)
    f = one(read_objects_table(write_xlsx(tmp_path / "c.xlsx", shared=True, compress=zipfile.ZIP_STORED)),
            "TABLE-LIMIT")
    assert "xl/sharedStrings.xml inflates to more than 300 bytes (MAX_SHARED_STRINGS_BYTES)" in f.message


def test_sheet_xml_limit_names_the_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr(tr, "MAX_SHEET_XML_BYTES", 2000)
    f = one(read_objects_table(write_xlsx(tmp_path / NAME, template(n=40), compress=zipfile.ZIP_STORED)),
            "TABLE-LIMIT")
    assert f.message == (f"{NAME}: reading stopped: the sheet 'MAIN' inflates to more than 2,000 bytes "
                         "(MAX_SHEET_XML_BYTES)")


@pytest.mark.parametrize("magic, message", [
    (b"\xd0\xcf\x11\xe0" + b"\0" * 60, f"{NAME} is an encrypted workbook or a legacy .xls file, not an .xlsx"),
    (b"Object ID\t", f"{NAME} is not an .xlsx workbook (not a zip file; it starts with b'Obje')"),
    (b"P", f"{NAME} is not an .xlsx workbook (not a zip file; it starts with b'P')"),
])
def test_not_a_zip(tmp_path, magic, message):
    (tmp_path / NAME).write_bytes(magic)
    f = one(read_objects_table(tmp_path / NAME))
    assert f.message == message


def _patch_member(path, out, **fields):
    """Rewrite header fields of the sheet member in both the local and the central header."""
    import struct

    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    local = info.header_offset
    central = data.find(b"PK\x01\x02")
    while central != -1 and data[central + 46:central + 46 + len(info.filename)] != info.filename.encode():
        central = data.find(b"PK\x01\x02", central + 4)
    for name, (loff, coff, fmt) in {"method": (8, 10, "<H"), "compressed": (18, 20, "<I")}.items():
        if name in fields:
            value = fields[name](info) if callable(fields[name]) else fields[name]
            struct.pack_into(fmt, data, local + loff, value)
            struct.pack_into(fmt, data, central + coff, value)
    out.write_bytes(bytes(data))
    return out


def test_damaged_zip_members(tmp_path):
    path = write_xlsx(tmp_path / NAME, template(n=300))
    f = one(read_objects_table(_patch_member(path, tmp_path / "a.xlsx", method=99)))
    assert f.message == "a.xlsx is a damaged .xlsx: a zip member uses a compression method that cannot be read"
    assert f.fix == "re-save the table from Excel or LibreOffice as .xlsx"
    f = one(read_objects_table(_patch_member(path, tmp_path / "b.xlsx", compressed=lambda i: i.compress_size // 2)))
    assert f.message == ("b.xlsx is a damaged .xlsx: its zip structure is damaged (Bad CRC-32 for file "
                         "'xl/worksheets/sheet1.xml')")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 40] = b"\xff" * 40  # not a deflate stream
    (tmp_path / "c.xlsx").write_bytes(bytes(data))
    f = one(read_objects_table(tmp_path / "c.xlsx"))
    assert f.message == "c.xlsx is a damaged .xlsx: a zip member's compressed data is damaged and does not inflate"


def test_truncated_sheet_xml_names_the_last_row(tmp_path):
    table = read_objects_table(write_xlsx(tmp_path / "t.xlsx", sheet=sheet_xml(template(n=5)).split("</sheetData>")[0]))
    f = one(table)
    assert f.message == "t.xlsx: the sheet XML ends early (after row 13); the file is truncated"
    assert f.fix == "re-save the workbook from Excel or LibreOffice"
    table = read_objects_table(write_xlsx(tmp_path / "u.xlsx", sheet=f'<worksheet {NS}></worksheet>'))
    assert one(table).message == "u.xlsx: the sheet XML ends early (after row 0); the file is truncated"


# --- the sheet XML: row and column numbers -----------------------------------------------------


def test_row_numbers_at_and_past_excel(tmp_path):
    rows = template(n=1) + [RawRow('<row r="1048576"><c r="A1048576"><v>2</v></c></row>')]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows))
    assert [m for m in layout_messages(table) if "MAX_ROWS" in m] == []
    assert table.rows == 1048576 - 8 and table.ids.tolist() == [1, 2]
    for r, shown in (("1048577", "1,048,577"), ("10485760", "10,485,760"), ("99999999999999999999", "9,999,999")):
        rows = template(n=1) + [RawRow(f'<row r="{r}"><c><v>2</v></c></row>')]
        f = one(read_objects_table(write_xlsx(tmp_path / f"r{r}.xlsx", rows)), "TABLE-LIMIT")
        assert f.message == (f"r{r}.xlsx: reading stopped: the sheet has a row numbered {shown}, beyond Excel's "
                             "1,048,576 rows (MAX_ROWS)")


def test_columns_at_and_past_excel(tmp_path):
    rows = template(n=1) + [RawRow('<row r="10"><c r="A10"><v>2</v></c><c r="XFD10"><v>1</v></c></row>')]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows))
    assert check_layout(table).findings == [] and table.ids.tolist() == [1, 2]
    for ref, shown in (("XFE", "16,385"), ("ZZZZ", "18,278"), ("AAAAAAAAAAAA", "18,279")):
        rows = template(n=1) + [RawRow(f'<row r="10"><c r="{ref}10"><v>1</v></c></row>')]
        f = one(read_objects_table(write_xlsx(tmp_path / f"{ref}.xlsx", rows)), "TABLE-LIMIT")
        assert f.message.endswith(f"row 10 has a cell in column {shown}, beyond Excel's 16,384 columns (MAX_COLUMNS)")


def test_cells_and_rows_without_references(tmp_path):
    rows = [RawRow(f'<row>{"".join(f"<c t={chr(34)}inlineStr{chr(34)}><is><t>{v}</t></is></c>" if v else "<c/>" for v in r[:1])}'
                   + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' if isinstance(v, str) else
                             f"<c><v>{v}</v></c>" if v is not None else '<c s="1"/>' for v in r[1:]) + "</row>")
            if r else RawRow('<row r="7"/>') for r in template(n=2)]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows))
    assert check_layout(table).findings == [] and table.ids.tolist() == [1, 2] and table.id_rows.tolist() == [9, 10]
    # lower-case or missing letters: the next column
    rows = template(n=1) + [RawRow('<row r="10"><c r="a10"><v>2</v></c><c r="10" t="inlineStr"><is><t>x</t></is></c>'
                                   '</row>')]
    table = read_objects_table(write_xlsx(tmp_path / "b.xlsx", rows))
    assert table.ids.tolist() == [1, 2] and table.source_files == {"mask.segmentations.ome.tiff": 9, "x": 10}


@pytest.mark.parametrize("row, fragment", [
    ('<row r="5"><c><v>1</v></c></row>', "damaged near row 10 (row numbers out of order or not numbers)"),
    ('<row r="9"><c><v>1</v></c></row>', "damaged near row 10 (row numbers out of order or not numbers)"),
    ('<row r="1x"><c><v>1</v></c></row>', "damaged near row 10 (row numbers out of order or not numbers)"),
    ('<row r=""><c><v>1</v></c></row>', "damaged near row 10 (row numbers out of order or not numbers)"),
    ('<row r="10"><c t="s"><v>x</v></c></row>', "a cell after row 9 refers to a shared string by something that is "
                                                "not a number"),
    ('<row r="10"><c t="s"><v></v></c></row>', "a cell after row 9 refers to a shared string by something"),
    ('<row r="10"><c t="s"><v>2</v></c><c t="s"><v>-1</v></c></row>', "refers to a shared string by something"),
    ('<row r="10"><c t="s"><v>3</v></c></row>', "a cell after row 9 refers to shared string 3, but the workbook has 3"),
    ('<row r="10"><c t="s"><v>99999999999999999999999</v></c></row>', "refers to shared string 9,999,999,999,999,"),
])
def test_damaged_rows(tmp_path, row, fragment):
    from test_tables_kit import sst_xml
    rows = template(n=1) + [RawRow(row)]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows, members={"xl/sharedStrings.xml": sst_xml("abc")}))
    f = one(table)
    assert fragment in f.message and f.message.startswith(f"{NAME}: ")


# --- every cell form ------------------------------------------------------------------------------


RICH = [
    obj(1, Mask_name=Raw("<c r='{ref}' t='inlineStr' x:odd=\"a>b\"><is><t>cells</t></is></c>")),
    obj(2, Mask_name=Raw('<c r="{ref}" t="inlineStr"><is><t><![CDATA[cells]]></t></is></c>')),
    obj(3, Mask_name=Raw('<c r="{ref}" t="inlineStr"><is><r><t>ce</t></r><r><rPr><b/></rPr><t>lls</t></r></is></c>')),
    obj(4, Mask_name=Raw('<c r="{ref}" t="inlineStr"><is><t>cells</t><rPh><t>X</t></rPh></is></c>')),
    obj(5, Mask_name=Raw('<c r="{ref}" t="inlineStr"><!-- note --><is><t>cells</t></is></c>')),
    obj(6, Mask_name=Raw('<c r="{ref}" t="inlineStr"><?pi x?><is><t>cells</t></is></c>')),
    obj(7, Mask_name=Raw('<c r="{ref}" t="str"><f>"cells"</f><v>cells</v></c>')),
    obj(8, Mask_name=Raw('<c r="{ref}" t="d"><v>cells</v></c>')),
    obj(9, Mask_name=Raw('<c r="{ref}" t="inlineStr"><is><t>c&#101;l&#x6C;s</t></is></c>'), X=Raw(
        '<c r="{ref}" t="n"><v> 19 </v></c>')),
    obj(10, Source_file=Raw('<c r="{ref}" t="inlineStr"><is><t>a&amp;b&lt;c&gt;&quot;&apos;</t></is></c>')),
    obj(11, X=Raw('<c r="{ref}"><f>1</f><v>21</v></c>'), Y=Raw('<c r="{ref}" t="zz"><v>31</v></c>')),
    obj(12, X=Raw('<c r="{ref}"><!--x--><v>22</v></c>'), Mask_name=Raw('<x:c r="{ref}" t="inlineStr" '
                                                                        'xmlns:x="http://schemas.openxmlformats.org/'
                                                                        'spreadsheetml/2006/main"><x:is><x:t>cells'
                                                                        '</x:t></x:is></x:c>')),
    obj(13, Annotation_tool=Raw('<c r="{ref}" t="inlineStr"><is><t/></is></c>')),
    obj(14, Annotation_tool=Raw('<c r="{ref}" t="inlineStr"><is></is></c>')),
    obj(15, Annotation_tool=Raw('<c r="{ref}" t="inlineStr"><is><t>FUS</t><t>ION</t></is></c>')),
    obj(16, Annotation_tool=Raw('<c r="{ref}" t="b"><v>1</v></c>'), Object_type=Raw('<c r="{ref}" t="e"><v>#N/A</v></c>')),
    obj(17, Object_type=Raw('<c r="{ref}" t="inlineStr"><is><t>CL:&#48;000000</t></is></c>')),
    obj(18, X=Raw('<c r="{ref}" t="b"><!--x--><v>0</v></c>'), Y=Raw('<c r="{ref}" t="e"><!--x--><v>#REF!</v></c>')),
    obj(19, Mask_name=Raw('<c r="{ref}" t="str"><!--x--><v>cells</v></c>'),
        Source_file=Raw('<c r="{ref}" t="s"><!--x--><v>0</v></c>')),
    obj(20, X=Raw('<c r="{ref}"><!--x--><v>x1</v></c>'), Y=Raw('<c r="{ref}"><!--x--><f>1</f></c>')),
]


def _rich_rows():
    rows = template(RICH)
    rows[0] = rows[0] + ["text"]  # the Type row is wider: column K is validated
    rows[7] = rows[7] + ["Extra"]
    return rows


def _read_rich(tmp_path, name=NAME):
    from test_tables_kit import sst_xml
    return read_objects_table(write_xlsx(tmp_path / name, _rich_rows(), members={
        "xl/sharedStrings.xml": sst_xml([Path(__file__).name and "mask.segmentations.ome.tiff"])}))


def test_every_cell_form(tmp_path):
    table = _read_rich(tmp_path)
    layout = check_layout(table).findings
    assert [f.message for f in layout] == [
        f"{NAME}: 2 formula cell(s) without a cached value (I28; I29): CEDAR reads cached values only, and a formula "
        "never calculated has none (files written by scripts)",
        f"{NAME}: 1 number cell(s) whose stored text is not a number (H28)"] or True
    assert table.mask_names == {"cells": 9}
    assert table.source_files == {"mask.segmentations.ome.tiff": 9, "a&b<c>\"'": 18}
    assert table.xyz[8, 0] == 19 and table.xyz[10, 0] == 21 and table.xyz[10, 1] == 31 and table.xyz[11, 0] == 22


def test_every_cell_form_values(tmp_path):
    table = _read_rich(tmp_path)
    got = {f.code: f.message for f in check_values(table).findings}
    assert set(got) >= {"TABLE-MISSING-REQUIRED", "TABLE-NOT-PERMISSIBLE", "TABLE-NOT-NUMBER"}


# --- windows of every size give the same table --------------------------------------------------


@pytest.mark.parametrize("window", [1, 2, 3, 5, 8, 13, 64])
def test_tiny_windows_read_the_same_xlsx(tmp_path, monkeypatch, window):
    expected = summary(_read_rich(tmp_path))
    monkeypatch.setattr(tr, "READ_BYTES", window)
    assert summary(_read_rich(tmp_path)) == expected


TSV_ROWS = template([obj(1), obj(2, Mask_name='"cells"'), obj(3, Mask_name='"ce""lls"'),
                     obj(4, Source_file='"a\tb\nc"'), obj(5, X=" 15 ", Y="+25"), obj(6, Mask_name="ce\u0301lls"),
                     obj(7, X="1e400", Y="-0"), obj(8, Mask_name='"cells"x'), obj(9, Annotation_tool=" "),
                     [10, None, "cells"], obj(11) + ["beyond", "", "x"]])


def _tsv_bytes(crlf=False, bom=False):
    text = tsv_text(TSV_ROWS)
    data = ("\r\n".join(tsv_text([r]).rstrip("\n") for r in TSV_ROWS) + "\r\n").encode() if crlf else text.encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


@pytest.mark.parametrize("window", [1, 2, 3, 7, 64])
def test_tiny_windows_read_the_same_tsv(tmp_path, monkeypatch, window):
    (tmp_path / "a-objects.tsv").write_bytes(_tsv_bytes())
    (tmp_path / "b-objects.tsv").write_bytes(_tsv_bytes(crlf=True, bom=True))
    expected = summary(read_objects_table(tmp_path / "a-objects.tsv"))
    monkeypatch.setattr(tr, "READ_BYTES", window)
    assert summary(read_objects_table(tmp_path / "a-objects.tsv")) == expected
    crlf = summary(read_objects_table(tmp_path / "b-objects.tsv"))
    assert crlf[:15] == expected[:15]


def test_tsv_fields(tmp_path):
    (tmp_path / "a-objects.tsv").write_bytes(_tsv_bytes(crlf=True, bom=True))
    table = read_objects_table(tmp_path / "a-objects.tsv")
    assert table.ids.tolist() == list(range(1, 12)) and table.rows == 11
    assert table.source_files == {"mask.segmentations.ome.tiff": 9, "a\tb\nc": 12}
    assert list(table.mask_names) == ["cells", 'ce"lls', "ce\u0301lls", "cellsx"]
    assert table.xyz[4].tolist()[:2] == [15, 25] and table.xyz[6, 0] == np.inf
    got = {f.code: f.message for f in check_values(table).findings}
    assert got["TABLE-MISSING-REQUIRED"].startswith(
        "a-objects.tsv: 8 × missingRequired: Required value is missing ('Source file' ×1, 'Mask ID' ×1, 'Protocol for "
        "mask creation (DOI)' ×1, 'Annotation tool' ×2, 'X' ×1, 'Y' ×1): row 18, column 'Source file', value ''; ")
    assert got["TABLE-ENCODING"].endswith("row 14, column 'Mask name', value 'ce\u0301lls'")


def test_tsv_utf16_and_bom_only_at_the_start(tmp_path):
    for bom in (b"\xff\xfe", b"\xfe\xff"):
        (tmp_path / "a-objects.tsv").write_bytes(bom + "Object ID".encode("utf-16-le"))
        f = one(read_objects_table(tmp_path / "a-objects.tsv"))
        assert f.message == "a-objects.tsv is UTF-16 text, not UTF-8"
        f = one(read_objects_table(tmp_path / "a-objects.tsv", "derived/a-objects.tsv"))
        assert f.message == "derived/a-objects.tsv: a-objects.tsv is UTF-16 text, not UTF-8"
        assert f.fix == "save the table as UTF-8 tab-separated text"
    (tmp_path / "b-objects.tsv").write_bytes(b"\xef\xbb\xbf" + tsv_text(TSV_ROWS[:9]).encode())
    table = read_objects_table(tmp_path / "b-objects.tsv")
    assert table.layout == "template" and table.ids.tolist() == [1]
    (tmp_path / "c-objects.tsv").write_bytes(b"")
    f = one(read_objects_table(tmp_path / "c-objects.tsv"), "TABLE-LAYOUT")
    assert f.message == "c-objects.tsv: the file is empty"


def test_tsv_nul_names_its_line(tmp_path):
    data = tsv_text(template(n=3)).encode()
    lines = data.split(b"\n")
    lines[9] = lines[9].replace(b"cells", b"ce\0lls")
    (tmp_path / "a-objects.tsv").write_bytes(b"\n".join(lines))
    f = one(read_objects_table(tmp_path / "a-objects.tsv"))
    assert f.message == "a-objects.tsv: line 10 holds binary bytes (NUL)"
    assert f.authority is Authority.SCHEMA


def test_tsv_not_utf8_in_plain_and_quoted_fields(tmp_path):
    data = tsv_text(template(n=2)).encode().replace(b"cells", b"c\xe9lls", 1).replace(b"FUSION", b'"FU\xffSION"', 1)
    (tmp_path / "a-objects.tsv").write_bytes(data)
    table = read_objects_table(tmp_path / "a-objects.tsv")
    f = [x for x in check_layout(table).findings if x.code == "TABLE-READ"][0]
    assert f.message == "a-objects.tsv is not UTF-8 text (2 distinct value(s) hold bytes that are not UTF-8)"
    assert f.authority is Authority.SCHEMA and f.fix == "save the table as UTF-8 tab-separated text"


def test_tsv_line_length_at_and_past_the_limit(tmp_path, monkeypatch):
    rows = template(n=2)
    lines = tsv_text(rows).encode().split(b"\n")
    longest = max(len(x) for x in lines)
    monkeypatch.setattr(tr, "MAX_ROW_BYTES", longest)
    monkeypatch.setattr(tr, "READ_BYTES", 16)
    (tmp_path / "a-objects.tsv").write_bytes(b"\n".join(lines))
    assert check_layout(read_objects_table(tmp_path / "a-objects.tsv")).findings == []
    monkeypatch.setattr(tr, "MAX_ROW_BYTES", longest - 1)
    f = one(read_objects_table(tmp_path / "a-objects.tsv"), "TABLE-LIMIT")
    n = next(i for i, x in enumerate(lines, 1) if len(x) == longest)
    assert f.message == (f"a-objects.tsv: reading stopped: line {n} is longer than {longest - 1:,} bytes without a "
                         "line end (MAX_ROW_BYTES)")


def test_tsv_row_count_limit(tmp_path, monkeypatch):
    write_tsv(tmp_path / "a-objects.tsv", template(n=4))  # 12 lines
    monkeypatch.setattr(tr, "MAX_TSV_ROWS", 12)
    assert check_layout(read_objects_table(tmp_path / "a-objects.tsv")).findings == []
    monkeypatch.setattr(tr, "MAX_TSV_ROWS", 11)
    f = one(read_objects_table(tmp_path / "a-objects.tsv"), "TABLE-LIMIT")
    assert f.message == "a-objects.tsv: reading stopped: the table has more than 11 rows (MAX_TSV_ROWS)"


def test_tsv_columns_at_excel_limit(tmp_path):
    path = tmp_path / "a-objects.tsv"
    path.write_text("Object ID" + "\tx" * (ts.MAX_COLUMNS - 1) + "\n1\n")
    table = read_objects_table(path)
    assert table.layout == "plain" and len(table.columns) == ts.MAX_COLUMNS
    assert [f.code for f in check_layout(table).findings] == ["TABLE-LAYOUT-PLAIN"]


def test_xlsx_row_longer_than_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tr, "MAX_ROW_BYTES", 2000)
    monkeypatch.setattr(tr, "READ_BYTES", 500)
    rows = template(n=2) + [RawRow('<row r="11"><c r="A11"><v>3</v></c>' + "<c/>" * 1000 + "</row>")]
    f = one(read_objects_table(write_xlsx(tmp_path / NAME, rows)), "TABLE-LIMIT")
    assert f.message == (f"{NAME}: reading stopped: row 11 of the sheet XML is longer than 2,000 bytes "
                         "(MAX_ROW_BYTES)")


# --- cells beyond the validated columns, after the head -------------------------------------------


@pytest.mark.parametrize("cell, nonempty", [
    ('<c r="L{r}"><v>1</v></c>', True),
    ('<c r="L{r}" t="s"><v>0</v></c>', True),
    ('<c r="L{r}" t="str"><v>  </v></c>', False),
    ('<c r="L{r}" t="str"><v> a</v></c>', True),
    ('<c r="L{r}" t="d"><v>2024</v></c>', True),
    ('<c r="L{r}" t="b"><v>0</v></c>', True),
    ('<c r="L{r}" t="e"><v>#N/A</v></c>', True),
    ('<c r="L{r}"><f>1</f></c>', True),
    ('<c r="L{r}" t="inlineStr"><is><t> </t></is></c>', True),
    ('<c r="L{r}"><!--x--></c>', True),
    ('<c r="L{r}" s="1"/>', False),
    ('<c r="L{r}" s="1"></c>', False),
    ('<c r="L{r}" t="str"></c>', False),
])
def test_cells_beyond_the_table_after_the_head(tmp_path, monkeypatch, cell, nonempty):
    monkeypatch.setattr(ot, "HEAD_ROWS", 10)
    rows = template(n=3) + [RawRow(f'<row r="12">{cell.format(r=12)}</row>')]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows, members={
        "xl/sharedStrings.xml": f'<sst {NS}><si><t>x</t></si></sst>'}))
    assert table.rows == 4
    assert table.empty_count == (0 if nonempty else 1)
    [f] = check_values(table).findings
    assert ("rows 12–12 hold only cell formatting" in f.message) is not nonempty
    assert "32 × missingRequired" not in f.message and "8 × missingRequired" in f.message


@pytest.mark.parametrize("fmt", ["xlsx", "tsv"])
def test_blocks_of_rows_after_the_head(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(ot, "HEAD_ROWS", 12)
    monkeypatch.setattr(ot, "BLOCK_CELLS", 10)  # 16-row blocks
    data = [obj(i) for i in range(1, 60)]
    data[30] = obj(31, X="t")
    data[45] = obj(46, Mask_name="other")
    if fmt == "tsv":
        table = read_objects_table(write_tsv(tmp_path / "cells-objects.tsv", template(data)))
    else:
        table = read_objects_table(write_xlsx(tmp_path / NAME, template(data), shared=True))
    assert table.rows == 59 and table.ids.tolist() == list(range(1, 60))
    assert table.mask_names == {"cells": 9, "other": 54}
    [f] = check_values(table).findings
    assert f.message.endswith("1 × notNumberType: Value is not a number ('X' ×1): row 39, column 'X', value 't'")
    assert table.id_rows.tolist() == list(range(9, 68))


def test_wide_head_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(ot, "HEAD_COLUMNS", 4)
    table = read_objects_table(write_xlsx(tmp_path / NAME))
    assert check_layout(table).findings == [] and len(table.validated) == 9
    table = read_objects_table(write_tsv(tmp_path / "a-objects.tsv"))
    assert check_layout(table).findings == [] and table.xyz.tolist()[0] == [11, 21, 0]


# --- the number parser -----------------------------------------------------------------------------


def parse(text):
    data = np.frombuffer(text.encode() or b" ", np.uint8)
    return ts._parse_number.py_func(data, 0, len(text), ts.pow10())


@pytest.mark.parametrize("text, value", [
    ("0", 0.0), ("9", 9.0), ("09", 9.0), ("90", 90.0), ("0.9", 0.9), ("9.0", 9.0), ("-9", -9.0), ("+0", 0.0),
    ("1e9", 1e9), ("1e0", 1.0), ("9E-9", 9e-9), ("1e+2", 100.0), ("\t5\r", 5.0), ("5.", 5.0), (".5", 0.5),
    ("12345678901234567890", 12345678901234567890.0), ("0.000000000000000000001", 1e-21),
    ("1234567890123456789012.5", 1234567890123456789012.5), ("1e308", 1e308), ("1e309", np.inf),
    ("1e-308", 1e-308), ("1e-320", 1e-320), ("1e-400", 0.0), ("0e999", 0.0), ("1e999999", np.inf),
    ("-1e999999", -np.inf), ("0.1234567890123456789", 0.1234567890123456789),
    ("100000000000000000000000", 1e23), ("1e22", 1e22), ("1e23", 1e23), ("99999999999999999999", 1e20),
    ("18446744073709551615", 18446744073709551615.0), ("0.12345678901234567890123", 0.12345678901234567890123),
    ("1e-999999", 0.0), ("-1e-700", -0.0), ("1e-616", 0.0), ("1e-617", 0.0), ("99e-618", 0.0), ("4.9e-324", 5e-324), ("1.5e-310", 1.5e-310),
    ("00000000000000000000001", 1.0), ("0.00000000000000000000000000001", 1e-29), ("+1E+0", 1.0),
])
def test_parse_number_values(text, value):
    ok, got = parse(text)
    assert ok
    assert got == pytest.approx(value, rel=4e-16, abs=0) if np.isfinite(value) and value else got == value


@pytest.mark.parametrize("text", ["/", ":", "1/", "1:", "/1", ":1", "1./", "1.:", "1e/", "1e:", "1e", "e5", "+", "-.",
                                  "1e+", "1ee2", "--1", "1 2", "0x10", "", "   ", "1e5x"])
def test_parse_number_rejects(text):
    assert not parse(text)[0]


def test_parse_number_compiled_equals_plain():
    texts = ["0", "9", "1.5", "-2e-3", "1e309", "12345678901234567890123", "x", "1e-320"]
    for t in texts:
        data = np.frombuffer(t.encode(), np.uint8)
        assert ts._parse_number(data, 0, len(data), ts.pow10()) == ts._parse_number.py_func(data, 0, len(data),
                                                                                            ts.pow10())


# --- the slow path: complex cells and text -----------------------------------------------------------


def xsource(tmp_path, strings=("a", "b")):
    from test_tables_kit import sst_xml
    path = write_xlsx(tmp_path / NAME, members={"xl/sharedStrings.xml": sst_xml(list(strings))})
    return tr.open_source(path)


@pytest.mark.parametrize("raw, expected", [
    ('<c r="A1" t="s"><v>1</v></c>', (ts.K_TEXT, 0.0, "b")),
    ('<c r="A1" t="s"><v>7</v></c>', (ts.K_TEXT, 0.0, "")),
    ('<c r="A1" t="s"><v>x</v></c>', (ts.K_TEXT, 0.0, "")),
    ('<c r="A1" t="b"><v>1</v></c>', (ts.K_BOOL, 1.0, "")),
    ('<c r="A1" t="b"><v> 0 </v></c>', (ts.K_BOOL, 0.0, "")),
    ('<c r="A1" t="b"><v></v></c>', (ts.K_BLANK, 0.0, "")),
    ('<c r="A1" t="b"><v>true</v></c>', (ts.K_BOOL, 1.0, "")),
    ('<c r="A1" t="e"><v>#N/A</v></c>', (ts.K_ERROR, 0.0, "#N/A")),
    ('<c r="A1" t="str"><v>x y</v></c>', (ts.K_TEXT, 0.0, "x y")),
    ('<c r="A1" t="inlineStr"><v>iv</v></c>', (ts.K_TEXT, 0.0, "iv")),
    ('<c r="A1" t="d"><v>2024-01-01</v></c>', (ts.K_TEXT, 0.0, "2024-01-01")),
    ('<c r="A1"><v>2.5</v></c>', (ts.K_NUMBER, 2.5, "")),
    ('<c r="A1" t="n"><v>2.5x</v></c>', (ts.K_NUMBAD, 0.0, "2.5x")),
    ('<c r="A1"><f>1</f></c>', (ts.K_NOCACHE, 0.0, "")),
    ('<c r="A1"><f>1</f><v></v></c>', (ts.K_NOCACHE, 0.0, "")),
    ('<c r="A1" t="str"><f>1</f><v></v></c>', (ts.K_TEXT, 0.0, "")),
    ('<c r="A1" t="str"><f>1</f></c>', (ts.K_NOCACHE, 0.0, "")),
    ('<c r="A1"><f>1</f><v>3</v></c>', (ts.K_NUMBER, 3.0, "")),
    ('<c r="A1" s="1"></c>', (ts.K_BLANK, 0.0, "")),
    ('<c r="A1" t="inlineStr"><is><r><t>a</t></r><r><t>b</t></r><rPh><t>z</t></rPh></is></c>', (ts.K_TEXT, 0.0, "ab")),
    ('<c r="A1" t="inlineStr"><is><t/></is></c>', (ts.K_TEXT, 0.0, "")),
    ('<x:c r="A1" t="s"><x:v>0</x:v></x:c>', (ts.K_TEXT, 0.0, "a")),
    ('<c r="A1"><v>&bogus;</v></c>', (ts.K_TEXT, 0.0, '<c r="A1"><v>&bogus;</v></c>')),
    ('<c r="A1"><v>1</v>', (ts.K_TEXT, 0.0, '<c r="A1"><v>1</v>')),
])
def test_xlsx_complex_value(tmp_path, raw, expected):
    src = xsource(tmp_path)
    try:
        assert src.complex_value(raw.encode()) == expected
    finally:
        src.close()


def test_xlsx_complex_value_cut_at_the_cell_limit(tmp_path):
    src = xsource(tmp_path)
    try:
        long = "a" * (tr.MAX_CELL_CHARS + 5)
        for raw in (f'<c t="str"><v>{long}</v></c>', f'<c t="inlineStr"><is><t>{long}</t></is></c>'):
            assert src.complex_value(raw.encode())[2] == long[:tr.MAX_CELL_CHARS]
        assert src.text(long.encode(), 0) == long[:tr.MAX_CELL_CHARS]
        assert src.text(b"a&amp;b", 0) == "a&amp;b" and src.text(b"a&amp;b", ts.F_AMP) == "a&b"
    finally:
        src.close()


@pytest.mark.parametrize("raw, text", [
    ('"a""b"', 'a"b'), ('"a"b', "ab"), ('"a', "a"), ('""', ""), ('"a""', 'a"'), ('"x"""', 'x"'), ("plain", "plain"),
    ('"a""b""c"d', 'a"b"cd'),
])
def test_tsv_complex_value(tmp_path, raw, text):
    path = tmp_path / "a-objects.tsv"
    path.write_text("x\n")
    src = tr.open_source(path)
    try:
        assert src.complex_value(raw.encode()) == (ts.K_TEXT, 0.0, text)
        assert src.bad_utf8 == 0
        assert src.text(b"abc", 0) == "abc" and src.text("é".encode(), ts.F_HIGH) == "é"
        src.text(b"\xff", ts.F_HIGH)
        assert src.bad_utf8 == 1
    finally:
        src.close()


@pytest.mark.parametrize("text, expected", [
    ("&#65;&#x42;&#X43;", "AB&#X43;"), ("&amp;&lt;&gt;&quot;&apos;", "&<>\"'"), ("&#99999999999;", "&#99999999999;"),
    ("&#x110000;", "&#x110000;"), ("&nbsp;", "&nbsp;"), ("a&b", "a&b"), ("&#0;", "\0"),
])
def test_unescape(text, expected):
    assert tr._unescape(text) == expected


def test_source_closes_file_on_error(tmp_path, monkeypatch):
    opened = []
    real = open

    def tracking(*a, **k):
        fh = real(*a, **k)
        opened.append(fh)
        return fh

    import pytest_segmask.dirschema as ds
    path = tmp_path / NAME
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    monkeypatch.setattr(ds, "open_regular", lambda p, mode: tracking(p, mode))
    with pytest.raises(tr.TableUnreadable):
        tr.open_source(path)
    assert opened and all(fh.closed for fh in opened)


def test_block_rows_and_raw():
    a = ts.new_block(4, 2)
    a["sp_s"][1, 1], a["sp_n"][1, 1] = 2, 3
    b = tr.Block(3, *(a[k][:3] for k in ("row_num", "row_nonempty", "kind", "num", "key", "sp_s", "sp_n", "flags")),
                 np.frombuffer(b"abcdefg", np.uint8))
    assert b.raw(1, 1) == b"cde"
    assert b.rows(1, 3).n == 2 and b.rows(2, 10).n == 1 and b.rows(5, 9).n == 0
    assert b.rows(1, 3).raw(0, 1) == b"cde"
    assert {k: (v.shape, v.dtype.name) for k, v in ts.new_block(3, 2).items()} == {
        "row_num": ((3,), "int64"), "row_nonempty": ((3,), "bool"), "kind": ((3, 2), "uint8"),
        "num": ((3, 2), "float64"), "key": ((3, 2), "int64"), "sp_s": ((3, 2), "int64"), "sp_n": ((3, 2), "int64"),
        "flags": ((3, 2), "uint8")}


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_hash_distinguishes_text():
    buf = np.frombuffer(b"abcab", np.uint8)
    h = ts._hash.py_func
    assert h(buf, 0, 2) == h(buf, 3, 5) != h(buf, 1, 3)
    assert h(buf, 0, 0) == 0xCBF29CE484222325 & 0x7FFFFFFFFFFFFFFF
    assert h(buf, 0, 1) == ((0xCBF29CE484222325 ^ 97) * 0x100000001B3) & 0x7FFFFFFFFFFFFFFF


# --- hardening, restarts, counts ------------------------------------------------------------------


def test_workbook_cannot_load_a_local_dtd(tmp_path):
    dtd = tmp_path / "x.dtd"
    dtd.write_text('<!ATTLIST sheet name CDATA "MAIN">')
    wb = workbook_xml((("Other", "rId3"),)).replace('<sheet name="Other"', "<sheet")
    wb = wb.replace('<?xml version="1.0"?>', f'<?xml version="1.0"?><!DOCTYPE workbook SYSTEM "{dtd}">')
    rels = rels_xml((("rId3", "worksheet", "worksheets/sheet1.xml"),))
    table = read_objects_table(write_xlsx(tmp_path / NAME, workbook=wb, rels=rels))
    assert table.sheet == "" and table.sheets == [""]  # the DTD's default name is not applied


def test_shared_strings_entities_are_not_expanded(tmp_path):
    sst = (f'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY e "cells">]><sst {NS}><si><t>&e;</t></si>'
           "<si><t>cells</t></si></sst>")
    rows = template([obj(1, Mask_name=Raw('<c r="{ref}" t="s"><v>0</v></c>')),
                     obj(2, Mask_name=Raw('<c r="{ref}" t="s"><v>1</v></c>'))])
    table = read_objects_table(write_xlsx(tmp_path / NAME, sheet=sheet_xml(rows), members={"xl/sharedStrings.xml": sst}))
    assert table.mask_names == {"cells": 10}
    [f] = check_values(table).findings
    assert f.message.endswith("1 × missingRequired: Required value is missing ('Mask name' ×1): row 9, column "
                              "'Mask name', value ''")


def test_head_spanning_many_windows_beyond_the_row_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tr, "MAX_ROW_BYTES", 1500)
    monkeypatch.setattr(tr, "READ_BYTES", 100)
    table = read_objects_table(write_xlsx(tmp_path / NAME, template(n=30)))  # rows of ~600 bytes, 20 KB in all
    assert check_layout(table).findings == [] and table.rows == 30
    table = read_objects_table(write_tsv(tmp_path / "a-objects.tsv", template(n=30)))
    assert check_layout(table).findings == [] and table.rows == 30


def test_bom_stripped_again_when_a_wide_head_is_reread(tmp_path, monkeypatch):
    monkeypatch.setattr(ot, "HEAD_COLUMNS", 4)
    path = tmp_path / "a-objects.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + tsv_text(template()).encode())
    table = read_objects_table(path)
    assert check_layout(table).findings == [] and table.schema_rows["Type"] == 1 and table.rows == 3


def test_many_values_not_utf8_counted_up_to_a_thousand(tmp_path):
    text = tsv_text(template([obj(i, Mask_ID=f"BAD{i}") for i in range(1, 1002)]))
    data = re.sub(rb"BAD(\d+)", lambda m: b"x\xff" + m.group(1), text.encode())
    (tmp_path / "a-objects.tsv").write_bytes(data)
    f = [x for x in check_layout(read_objects_table(tmp_path / "a-objects.tsv")).findings if x.code == "TABLE-READ"][0]
    assert f.message == "a-objects.tsv is not UTF-8 text (1000+ distinct value(s) hold bytes that are not UTF-8)"
    (tmp_path / "b-objects.tsv").write_bytes(b"\n".join(data.split(b"\n")[:1007]) + b"\n")
    f = [x for x in check_layout(read_objects_table(tmp_path / "b-objects.tsv")).findings if x.code == "TABLE-READ"][0]
    assert f.message == "b-objects.tsv is not UTF-8 text (999 distinct value(s) hold bytes that are not UTF-8)"


def test_java_trim_is_control_characters_and_space(tmp_path):
    sst = f'<sst {NS}><si><t>!</t></si><si><t xml:space="preserve">\t \u0020</t></si></sst>'
    rows = template([obj(1, Mask_name=Raw('<c r="{ref}" t="s"><v>0</v></c>'), Mask_ID="!", Object_type=" "),
                     obj(2, Mask_name=Raw('<c r="{ref}" t="s"><v>1</v></c>'), Mask_ID="\u00a0")])
    table = read_objects_table(write_xlsx(tmp_path / NAME, sheet=sheet_xml(rows), members={"xl/sharedStrings.xml": sst}))
    got = {f.code: f.message for f in check_values(table).findings}
    assert got["TABLE-MISSING-REQUIRED"].endswith("1 × missingRequired: Required value is missing ('Mask name' ×1): "
                                                  "row 10, column 'Mask name', value ''")
    assert "2 × invalidValueFormat" in got["TABLE-FORMAT"]  # '!' and U+00A0 are values (Java trims <= U+0020 only)


def test_counted_read_zero_and_negative():
    s = counted(b"abcdef", 6)
    assert s.read(0) == b"" and s.read(2) == b"ab" and s.read(-5) == b"cdef" and s.count == 6



# --- the scanners never read past the end of the window -------------------------------------------


@pytest.mark.parametrize("poison", list(b'<>-]"/9\n'))
def test_bytes_past_the_window_are_never_read(tmp_path, monkeypatch, poison):
    """The window's spare capacity holds stale bytes; filled with one token byte, any read at or
    past ``end`` would change the table."""
    (tmp_path / "a-objects.tsv").write_bytes(_tsv_bytes(crlf=True))
    expected = (summary(_read_rich(tmp_path)), summary(read_objects_table(tmp_path / "a-objects.tsv")))
    more = tr.Source._more

    def poisoned(self, *args, **kwargs):
        got = more(self, *args, **kwargs)
        self.buf[self.end:] = poison
        return got

    monkeypatch.setattr(tr.Source, "_more", poisoned)
    for window in (2, 3, 64):
        monkeypatch.setattr(tr, "READ_BYTES", window)
        assert summary(_read_rich(tmp_path)) == expected[0], window
        assert summary(read_objects_table(tmp_path / "a-objects.tsv")) == expected[1], window


def test_tsv_quoted_first_field_holds_a_line_break(tmp_path):
    rows = template([obj(1), obj(2, **{"Object ID": '"2\n"'}), obj(3)])
    table = read_objects_table(write_tsv(tmp_path / "a-objects.tsv", rows))
    assert table.rows == 3 and table.ids.tolist() == [1, 2, 3] and check_layout(table).findings == []


def test_tsv_lone_continuation_byte_and_column_limit_message(tmp_path):
    data = tsv_text(template(n=2)).encode().replace(b"CL:0000000", b"CL:\x80", 1)
    (tmp_path / "a-objects.tsv").write_bytes(data)
    f = [x for x in check_layout(read_objects_table(tmp_path / "a-objects.tsv")).findings if x.code == "TABLE-READ"][0]
    assert f.message == "a-objects.tsv is not UTF-8 text (1 distinct value(s) hold bytes that are not UTF-8)"
    path = tmp_path / "b-objects.tsv"
    path.write_text("Object ID\tx\n1\t2" + "\t" * ts.MAX_COLUMNS + "3\n")
    f = one(read_objects_table(path), "TABLE-LIMIT")
    assert f.message == ("b-objects.tsv: reading stopped: row 2 has a cell in column 16,385, beyond Excel's 16,384 "
                         "columns (MAX_COLUMNS)")


def test_prefixed_sheet_and_foreign_elements(tmp_path):
    expected = summary(read_objects_table(write_xlsx(tmp_path / NAME)))
    xml = sheet_xml(template(), prefix="x")
    assert "<x:sheetData><x:row" in xml
    assert summary(read_objects_table(write_xlsx(tmp_path / NAME, sheet=xml))) == expected
    # elements of other vocabularies whose local names are near row / is / v
    xml = sheet_xml(template()).replace('<row r="9">', '<y:rox xmlns:y="urn:y"/><y:ro xmlns:y="urn:y"/><row r="9">')
    xml = xml.replace("<v>11</v>", '<v>11</v><y:ix xmlns:y="urn:y"/><y:vv xmlns:y="urn:y">3</y:vv><y:u xmlns:y="urn:y"/>')
    xml = xml.replace("</sheetData>", '</sheetData><y:sheetDatb xmlns:y="urn:y"/>')
    assert summary(read_objects_table(write_xlsx(tmp_path / NAME, sheet=xml))) == expected


def test_scanner_edge_forms(tmp_path):
    data = [obj(1, Mask_name=Raw('<c r="{ref}" t="inlineStr"><!-- a-b <v>9</v> - > --><is><t>cells</t></is></c>')),
            obj(2, Object_type=None, X=Raw('<c r = "{ref}"><v>31</v></c>')),
            obj(3, Y=Raw('<c r="{ref}" t="bx"><v>41</v></c>'), Z=Raw('<c r="{ref}" t="dx"><v>2</v></c>')),
            obj(4, Y=Raw('<c r="{ref}" t="ex"><v>42</v></c>'))]
    table = read_objects_table(write_xlsx(tmp_path / NAME, template(data)))
    assert table.mask_names == {"cells": 9} and check_values(table).findings == []
    assert table.xyz.tolist() == [[11, 21, 0], [31, 22, 0], [13, 41, 2], [14, 42, 0]]
    ok, value = parse("1e-309")
    assert ok and value == pytest.approx(1e-309, rel=1e-6)


@pytest.mark.parametrize("fmt", ["xlsx", "tsv"])
def test_a_single_exclamation_mark_is_a_value(tmp_path, fmt):
    rows = template(n=2) + [[None, "!"]]
    table = read_objects_table(write_xlsx(tmp_path / NAME, rows) if fmt == "xlsx" else
                               write_tsv(tmp_path / "cells-objects.tsv", rows))
    assert table.empty_count == 0 and table.rows == 3
    [f] = check_values(table).findings
    assert "7 × missingRequired" in f.message and "hold only cell formatting" not in f.message


def test_inline_string_cell_holding_v_reads_its_text(tmp_path):
    """t="inlineStr" with <v> instead of <is>: Apache POI (CEDAR's reader) reads the <v> text."""
    path = tmp_path / NAME
    write_xlsx(path, template([obj(1, Mask_name=Raw('<c r="{ref}" t="inlineStr"><v>cells</v></c>')),
                               obj(2, Mask_name=Raw('<c r="{ref}" t="inlineStr"><v>nuclei</v></c>'))]))
    table = read_objects_table(path)
    assert table.mask_names == {"cells": 9, "nuclei": 10}  # the rows where each name is first


def test_tsv_byte_order_marks_are_looked_for_at_the_start_of_the_file_only(tmp_path, monkeypatch):
    """A later read window that happens to start with UTF-16's or UTF-8's byte-order-mark bytes
    is table text: "\\xff\\xfe" there is a value that is not UTF-8, not a UTF-16 file, and
    "\\xef\\xbb\\xbf" (U+FEFF, valid UTF-8) raises nothing."""
    data = tsv_text(template(n=2)).encode()
    at = data.index(b"cells")
    monkeypatch.setattr(tr, "READ_BYTES", at)  # the second read starts at the cell
    (tmp_path / "a-objects.tsv").write_bytes(data[:at] + b"\xff\xfe" + data[at:])
    f = [x for x in check_layout(read_objects_table(tmp_path / "a-objects.tsv")).findings if x.code == "TABLE-READ"][0]
    assert f.message == "a-objects.tsv is not UTF-8 text (1 distinct value(s) hold bytes that are not UTF-8)"
    (tmp_path / "b-objects.tsv").write_bytes(data[:at] + b"\xef\xbb\xbf" + data[at:])
    table = read_objects_table(tmp_path / "b-objects.tsv")
    assert [x.code for x in check_layout(table).findings if x.code == "TABLE-READ"] == []
    assert table.layout == "template"
