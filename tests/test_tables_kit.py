"""Build small objects tables byte by byte (no real data, no openpyxl): a synthetic copy of
HuBMAP's object-by-feature template whose every cell kind is chosen by the test.

Rows are lists (index = row number - 1); ``None`` or ``[]`` writes no ``<row>`` element. A cell
is a ``str`` (inline string, or a shared string with ``shared=True``), an ``int``/``float``
(number), a ``bool`` (``t="b"``), ``None`` (no cell) or ``Raw('<c r="{ref}" …>…</c>')``.
A row may also be ``RawRow('<row …>…</row>')``.
"""

from __future__ import annotations

import zipfile
from xml.sax.saxutils import escape

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


class Raw(str):
    """A literal <c> element; ``{ref}`` becomes the cell reference."""


class RawRow(str):
    """A literal <row> element."""


HEADER = ["Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)", "Annotation tool",
          "Object type", "X", "Y", "Z"]
TOOLS = "Azimuth | STELLAR | FUSION | In-house | Manual | Not applicable"
SCHEMA = [
    ["Type", "text", "text", "obo id", "doi", "text", "obo id", "integer", "integer", "integer"],
    ["Unit", None, None, None, None, None, None, "pixel", "pixel", "pixel"],
    ["Feature class", "mask", "mask", "mask", "mask", "mask", "ontology", "spatial", "spatial", "spatial"],
    ["Description", "file", "name", "id", "protocol", "tool", "type", "x", "y", "z"],
    ["Permissible values", None, None, None, None, TOOLS, None, None, None, None],
    ["Requirement level", "REQUIRED", "REQUIRED", "REQUIRED", "REQUIRED", "REQUIRED", "OPTIONAL", "REQUIRED",
     "REQUIRED", "REQUIRED"],
]
HEADER_ROW = len(SCHEMA) + 2  # 8: schema rows 1-6, separator 7
FIRST_DATA = HEADER_ROW + 1  # 9
MASK_FILE = "mask.segmentations.ome.tiff"
DOI = "10.17504/protocols.io.dm6gp35p8vzp/v1"


def obj(i, **changes):
    """One correct data row for object ``i`` (X = 10 + i, Y = 20 + i, Z = 0)."""
    row = [i, MASK_FILE, "cells", "CL:0000000", DOI, "FUSION", "CL:0000000", 10 + i, 20 + i, 0]
    for name, value in changes.items():
        row[HEADER.index(name) if name in HEADER else {"Source_file": 1, "Mask_name": 2, "Mask_ID": 3,
                                                       "Protocol": 4, "Annotation_tool": 5, "Object_type": 6}[name]] = value
    return row


def template(data=None, n=3, schema=None, header=None):
    """Schema rows, the empty separator row, the header and ``data`` (default: ``n`` objects)."""
    rows = [list(r) for r in (SCHEMA if schema is None else schema)]
    return rows + [None, list(HEADER if header is None else header)] + (
        [obj(i) for i in range(1, n + 1)] if data is None else list(data))


def col(index):
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def sheet_xml(rows, shared=None, prefix=""):
    p = f"{prefix}:" if prefix else ""
    out = []
    for r, row in enumerate(rows, 1):
        if isinstance(row, RawRow):
            out.append(row)
            continue
        if not row:
            continue
        cells = []
        for c, v in enumerate(row):
            ref = f"{col(c)}{r}"
            if v is None:
                continue
            if isinstance(v, Raw):
                cells.append(v.format(ref=ref))
            elif isinstance(v, bool):
                cells.append(f'<{p}c r="{ref}" t="b"><{p}v>{int(v)}</{p}v></{p}c>')
            elif isinstance(v, (int, float)):
                cells.append(f'<{p}c r="{ref}"><{p}v>{v!r}</{p}v></{p}c>')
            elif shared is not None:
                if v not in shared:
                    shared[v] = len(shared)
                cells.append(f'<{p}c r="{ref}" t="s"><{p}v>{shared[v]}</{p}v></{p}c>')
            else:
                cells.append(f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}t>{escape(v)}</{p}t></{p}is></{p}c>')
        out.append(f'<{p}row r="{r}">' + "".join(cells) + f"</{p}row>")
    ns = NS.replace("xmlns=", f"xmlns:{prefix}=") if prefix else NS
    return f'<?xml version="1.0"?><{p}worksheet {ns}><{p}sheetData>{"".join(out)}</{p}sheetData></{p}worksheet>'


def workbook_xml(sheets=(("MAIN", "rId1"),)):
    items = "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="{rid}"/>' for i, (n, rid) in enumerate(sheets))
    return f'<?xml version="1.0"?><workbook {NS} xmlns:r="{REL_NS}"><sheets>{items}</sheets></workbook>'


def rels_xml(targets=(("rId1", "worksheet", "worksheets/sheet1.xml"),
                      ("rId2", "sharedStrings", "sharedStrings.xml"))):
    items = "".join(f'<Relationship Id="{i}" Type="{REL_NS}/{t}" Target="{target}"/>' for i, t, target in targets)
    return ('<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + items + "</Relationships>")


def sst_xml(strings):
    return f'<sst {NS}>' + "".join(f"<si><t>{escape(s)}</t></si>" for s in strings) + "</sst>"


def write_xlsx(path, rows=None, shared=False, sheet=None, members=None, workbook=None, rels=None,
               compress=zipfile.ZIP_DEFLATED, prefix=""):
    """A workbook with one sheet (``xl/worksheets/sheet1.xml``). ``members`` adds or replaces
    zip members (a value of None leaves the member out)."""
    table = {} if shared else None
    parts = {
        "xl/workbook.xml": workbook_xml() if workbook is None else workbook,
        "xl/_rels/workbook.xml.rels": rels_xml() if rels is None else rels,
        "xl/worksheets/sheet1.xml": sheet if sheet is not None else sheet_xml(
            template() if rows is None else rows, table, prefix),
    }
    if table is not None:
        parts["xl/sharedStrings.xml"] = sst_xml(list(table))
    parts.update(members or {})
    with zipfile.ZipFile(path, "w", compress) as zf:
        for name, data in parts.items():
            if data is not None:
                zf.writestr(name, data)
    return path


def tsv_text(rows):
    lines = []
    for row in rows:
        row = row or []
        lines.append("\t".join("" if v is None else ("true" if v is True else "false" if v is False else str(v))
                               for v in row))
    return "\n".join(lines) + "\n"


def write_tsv(path, rows=None):
    path.write_text(tsv_text(template() if rows is None else rows), encoding="utf-8")
    return path
