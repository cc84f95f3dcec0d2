"""Objects tables `<mask name>-objects.xlsx|.tsv` (SPEC §5): template layout, columns, values,
ids, agreement with the mask channel, centroids, and pairing with channels.

``read_objects_table`` makes ONE streaming pass (openpyxl read-only / csv) and keeps only
compact accumulators: ids and centroids in arrays, the first few problems per rule.
"""

from __future__ import annotations

import csv
import math
import re
import zipfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..findings import CheckResult, Examples, Finding, Location, Severity, cut_list
from ..rules import Authority, define_rule

SRC = "SPEC §5; HuBMAP object-by-feature template"
TABLE_READ = define_rule("TABLE-READ", Severity.ERROR, "An objects table opens: xlsx is a real, unencrypted, macro-free workbook; TSV is UTF-8 text.", SRC, authority=Authority.INGEST)
TABLE_LAYOUT = define_rule("TABLE-LAYOUT", Severity.ERROR, "The table follows the object-by-feature template: metadata rows (older or newer generation), the blank row, then the header row starting with `Object ID`.", SRC, authority=Authority.INGEST)
TABLE_LAYOUT_PLAIN = define_rule("TABLE-LAYOUT-PLAIN", Severity.WARNING, "A plain table (header row first, no metadata rows) lacks the template's Type and Requirement rows.", SRC, authority=Authority.SCHEMA)
TABLE_COLUMNS = define_rule("TABLE-COLUMNS", Severity.ERROR, "Required columns are present: Object ID, Source file, Mask name, Mask ID, Protocol for mask creation (DOI), Annotation tool, X, Y, Z.", SRC, authority=Authority.SCHEMA)
TABLE_VALUES = define_rule("TABLE-VALUES", Severity.ERROR, "Values match the Type row (integer, float, boolean, DOI, OBO id), REQUIRED cells are filled, permissible values are respected, no formulas.", SRC, authority=Authority.INGEST)
TABLE_VOCABULARY = define_rule("TABLE-VOCABULARY", Severity.WARNING, "Type and Requirement level rows use the template's vocabulary.", SRC, authority=Authority.SCHEMA)
TABLE_IDS = define_rule("TABLE-IDS", Severity.ERROR, "Object IDs are positive integers (text '1' accepted) and unique.", SRC, authority=Authority.SCHEMA)
TABLE_MASK_AGREEMENT = define_rule("TABLE-MASK-AGREEMENT", Severity.ERROR, "Mask name = file prefix = a channel; Source file = the mask image; the set of Object IDs equals the set of ids in that channel.", SRC + "; SPEC §3", authority=Authority.SCHEMA)
TABLE_CENTROIDS = define_rule("TABLE-CENTROIDS", Severity.ERROR, "X, Y lie inside the image and inside the object's bounding box (pixel units, or micrometers via PhysicalSizeX/Y).", SRC, authority=Authority.SCHEMA)
TABLE_PAIRING = define_rule("TABLE-PAIRING", Severity.ERROR, "Every mask channel has exactly one objects table named `<channel>-objects.xlsx|.tsv`, and every table's prefix names a channel.", SRC + " (\"one file per mask with the name of the mask prepended\")", authority=Authority.SCHEMA)

REQUIRED = ("Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)",
            "Annotation tool", "X", "Y", "Z")
OLDER = ("type", "unit", "feature class", "description", "protocol used to derive this feature value (doi)",
         "permissible values", "requirement level")
NEWER = ("type", "unit", "feature class", "description", "protocol used to derive this feature value (doi)",
         "alternative id", "permissible values", "requirement level")
BLANK_LABEL = "[ this row must be present and empty ]"
TYPES = {"text", "integer", "float", "doi", "boolean", "obo id"}
LEVELS = {"required", "optional"}
NOT_GIVEN = {"", "n/a", "na"}
DOI = re.compile(r"^(?:https?://)?(?:dx\.)?(?:doi\.org/)?10\.\d{4,9}/\S+$", re.IGNORECASE)
OBO = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:\d+$")
MAX_EXAMPLES = 5
MAX_EMPTY_RUN = 1000  # consecutive empty rows after which the rest of a sheet is ignored
SUFFIXES = ("-objects.xlsx", "-objects.tsv")


@dataclass
class ObjectsTable:
    display: str
    prefix: str
    read_error: Finding | None = None
    layout: str | None = None  # "older" | "newer" | "plain"
    layout_problem: str | None = None
    header_row: int = 0
    columns: list[str] = field(default_factory=list)
    meta: dict[str, list[str]] = field(default_factory=dict)  # row label -> per column
    rows: int = 0
    ids: array = field(default_factory=lambda: array("q"))
    id_rows: array = field(default_factory=lambda: array("q"))
    xs: array = field(default_factory=lambda: array("d"))
    ys: array = field(default_factory=lambda: array("d"))
    bad_ids: Examples = field(default_factory=Examples)
    values: dict[str, Examples] = field(default_factory=dict)  # problem kind -> examples
    vocabulary: Examples = field(default_factory=Examples)
    mask_names: dict[str, int] = field(default_factory=dict)
    source_files: dict[str, int] = field(default_factory=dict)
    trailing_ignored: bool = False

    def column(self, name: str) -> int | None:
        lowered = [c.strip().lower() for c in self.columns]
        return lowered.index(name.lower()) if name.lower() in lowered else None

    @property
    def unit_xy(self) -> str:
        units = self.meta.get("unit", [])
        index = self.column("X")
        return (units[index] if index is not None and index < len(units) else "").strip().lower()


def table_prefix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


# --- reading -----------------------------------------------------------------------------


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _xml_parser():
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _first_sheet(zf: zipfile.ZipFile) -> str:
    """Path of the workbook's first worksheet, via workbook.xml and its relationships."""
    from lxml import etree

    workbook = etree.fromstring(zf.read("xl/workbook.xml"), _xml_parser())
    first = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    if first is None:
        raise _ReadProblem("the workbook has no worksheet", "save a workbook with the table on its first sheet")
    rid = first.get(f"{_REL}id")
    rels = etree.fromstring(zf.read("xl/_rels/workbook.xml.rels"), _xml_parser())
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        if rel.get("Id") == rid:
            target = rel.get("Target").lstrip("/")
            return target if target.startswith("xl/") else "xl/" + target
    raise _ReadProblem("the first sheet's part is missing", "re-save the workbook from Excel or LibreOffice")


def _shared_strings(zf: zipfile.ZipFile) -> list[str]:
    from lxml import etree

    if "xl/sharedStrings.xml" not in zf.namelist():
        return []
    out = []
    with zf.open("xl/sharedStrings.xml") as fh:
        for _, si in etree.iterparse(fh, tag=f"{_MAIN}si", **_ITERPARSE):
            out.append("".join(t.text or "" for t in si.iter(f"{_MAIN}t")))
            si.clear()
    return out


_ITERPARSE = dict(resolve_entities=False, no_network=True, huge_tree=True)
_LETTERS = re.compile(r"[A-Z]+")


_COLUMNS: dict[str, int] = {}


def _column_index(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    index = _COLUMNS.get(letters)
    if index is None:
        index = 0
        for ch in letters:
            index = index * 26 + (ord(ch) - 64)
        index = _COLUMNS[letters] = index - 1
    return index


_V, _F, _IS, _T = f"{_MAIN}v", f"{_MAIN}f", f"{_MAIN}is", f"{_MAIN}t"


def _cell_value(cell, shared: list[str]):
    text = None
    for child in cell:  # one pass over <f>, <v>, <is> (usually a single <v>)
        tag = child.tag
        if tag == _V:
            text = child.text
        elif tag == _F:
            return "=" + (child.text or "")  # flagged by the values check
        elif tag == _IS:
            return "".join(t.text or "" for t in child.iter(_T))
    if text is None:
        return None
    kind = cell.get("t")
    if kind == "s":
        return shared[int(text)]
    if kind == "b":
        return text == "1"
    if kind in ("str", "e", "inlineStr"):
        return text
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "E" not in text.upper() else number


def _xlsx_rows(path: Path):
    """Rows of the first sheet, parsed straight from the sheet XML with lxml (the same XML
    openpyxl reads, several times faster for million-row tables); gaps become empty rows."""
    from lxml import etree

    with zipfile.ZipFile(path) as zf:
        if "xl/vbaProject.bin" in zf.namelist():
            raise _ReadProblem("the workbook contains macros (xl/vbaProject.bin)",
                               "save it as a plain .xlsx workbook without macros")
        sheet = _first_sheet(zf)
        shared = _shared_strings(zf)
        expected = 1
        with zf.open(sheet) as fh:
            for _, row in etree.iterparse(fh, tag=f"{_MAIN}row", **_ITERPARSE):
                number = int(row.get("r") or expected)
                while expected < number:  # rows absent from the XML are empty
                    yield ()
                    expected += 1
                values: list = []
                for position, cell in enumerate(row.iterchildren(f"{_MAIN}c")):
                    ref = cell.get("r")
                    col = _column_index(ref) if ref else position
                    if col >= len(values):
                        values.extend([None] * (col + 1 - len(values)))
                    values[col] = _cell_value(cell, shared)
                yield values
                expected = number + 1
                row.clear()
                while row.getprevious() is not None:
                    del row.getparent()[0]


def _tsv_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as fh:
        for line_no, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if any("\x00" in cell for cell in row):
                raise _ReadProblem(f"row {line_no} holds binary bytes (NUL)", "save the table as UTF-8 tab-separated text")
            yield row


class _ReadProblem(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_objects_table(path: Path, display: str | None = None) -> ObjectsTable:
    display = display or path.name
    table = ObjectsTable(display=display, prefix=table_prefix(path.name))
    loc = Location(file=display)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except OSError as exc:
        table.read_error = TABLE_READ.finding(f"cannot read {display}: {exc.strerror or exc}", loc, fix="make the file readable")
        return table
    is_xlsx = path.name.endswith(".xlsx")
    if is_xlsx and magic.startswith(b"\xd0\xcf\x11\xe0"):
        table.read_error = TABLE_READ.finding(
            f"{display} is an encrypted workbook or a legacy .xls file, not an .xlsx", loc,
            fix="remove the password and save as an Excel .xlsx workbook")
        return table
    if is_xlsx and not magic.startswith(b"PK"):
        table.read_error = TABLE_READ.finding(
            f"{display} is not an .xlsx workbook (not a zip file; starts with {magic[:4]!r})", loc,
            fix="save the table as an Excel .xlsx workbook (or as TSV where the schema version allows)")
        return table
    try:
        rows = _xlsx_rows(path) if is_xlsx else _tsv_rows(path)
        _consume(table, rows)
    except _ReadProblem as exc:
        table.read_error = TABLE_READ.finding(f"{display}: {exc}", loc, fix=exc.fix)
    except UnicodeDecodeError as exc:
        table.read_error = TABLE_READ.finding(
            f"{display} is not UTF-8 text (byte {exc.start}: {exc.reason})", loc,
            fix="save the table as UTF-8 tab-separated text")
    except Exception as exc:  # noqa: BLE001 - a damaged workbook is a finding, not a crash
        table.read_error = TABLE_READ.finding(
            f"{display} cannot be read as a workbook: {type(exc).__name__}: {exc}", loc,
            fix="re-save the table from Excel or LibreOffice as .xlsx")
    return table


def _consume(table: ObjectsTable, rows) -> None:
    """Find the layout in the first rows, then stream the data rows."""
    head: list[list[str]] = []
    for row in rows:
        head.append([_text(v) for v in row])
        if head[-1] and head[-1][0].lower() == "object id":
            break
        if len(head) >= 20:
            break
    if not head or all(not any(r) for r in head):
        table.layout_problem = "the sheet is empty"
        return
    header_index = len(head) - 1
    if not head[-1] or head[-1][0].lower() != "object id":
        table.layout_problem = (
            f"no header row starting with `Object ID` in the first {len(head)} row(s); "
            f"row 1 starts with `{head[0][0] if head[0] else ''}`")
        return
    labels = tuple(r[0].lower() if r else "" for r in head[:header_index])
    table.header_row = header_index + 1
    table.columns = head[-1]
    if not labels:
        table.layout = "plain"
    elif labels[:-1] == OLDER and labels[-1] == "" and not any(head[header_index - 1][1:]):
        table.layout = "older"
    elif labels[:-1] == NEWER and labels[-1] == BLANK_LABEL:
        table.layout = "newer"
    else:
        got = [r[0] if r else "" for r in head[:header_index]]
        table.layout_problem = (
            f"the metadata rows above the header are {cut_list(repr(g) for g in got)}; expected the "
            f"template rows {', '.join(repr(w) for w in ('Type', 'Unit', 'Feature class', 'Description', 'Protocol…', '(Alternative ID)', 'Permissible values', 'Requirement level', 'blank row'))}")
    for r in head[:header_index]:
        if r and r[0]:
            table.meta[r[0].lower()] = r[1:]
    _check_vocabulary(table)
    _stream_data(table, rows)


def _check_vocabulary(table: ObjectsTable) -> None:
    for label, allowed in (("type", TYPES), ("requirement level", LEVELS)):
        for col, value in enumerate(table.meta.get(label, []), start=2):
            v = value.strip().lower()
            if v and v not in allowed and v not in NOT_GIVEN:
                table.vocabulary.add(f"{label.capitalize()} row, column {_col_name(table, col)}: `{value}`")


def _col_name(table: ObjectsTable, col: int) -> str:
    """1-based sheet column -> its header name."""
    return table.columns[col - 1] if 0 < col <= len(table.columns) else f"#{col}"


def _problem(table: ObjectsTable, kind: str, text: str) -> None:
    table.values.setdefault(kind, Examples()).add(text)


def _stream_data(table: ObjectsTable, rows) -> None:
    columns = table.columns
    id_col = 0
    x_col, y_col = table.column("X"), table.column("Y")
    mask_col, source_col = table.column("Mask name"), table.column("Source file")
    types = [""] + [t.strip().lower() for t in table.meta.get("type", [])]
    levels = [""] + [t.strip().lower() for t in table.meta.get("requirement level", [])]
    permissible = [""] + table.meta.get("permissible values", [])
    allowed = [
        {p.strip().lower() for p in text.split("|")} if "|" in text else None for text in permissible
    ]
    empty_run = 0
    sheet_row = table.header_row
    for raw in rows:
        sheet_row += 1
        cells = [_text(v) for v in raw]
        if not any(cells):
            empty_run += 1
            if empty_run >= MAX_EMPTY_RUN:
                table.trailing_ignored = True
                break
            continue
        empty_run = 0
        table.rows += 1
        for col, value in enumerate(cells):
            name = columns[col] if col < len(columns) else f"column {col + 1}"
            if value.startswith("="):
                _problem(table, "formula", f"row {sheet_row} {name} = `{value[:30]}`")
                continue
            kind = types[col] if col < len(types) else ""
            level = levels[col] if col < len(levels) else ""
            if value.lower() in NOT_GIVEN:
                if level == "required" and col != id_col:
                    _problem(table, "required", f"row {sheet_row} {name} is empty")
                continue
            if col == id_col:
                continue
            if not _type_ok(kind, value):
                _problem(table, "type", f"row {sheet_row} {name} = `{value[:40]}` is not {kind}")
            if col < len(allowed) and allowed[col] is not None and value.lower() not in allowed[col]:
                _problem(table, "permissible", f"row {sheet_row} {name} = `{value[:40]}` is not one of "
                                               f"{permissible[col]}")
        ident = cells[id_col] if cells else ""
        oid = int(ident) if ident.isdigit() else None
        if oid is None or oid < 1:
            table.bad_ids.add(f"row {sheet_row}: `{ident}`")
        else:
            table.ids.append(oid)
            table.id_rows.append(sheet_row)
            table.xs.append(_float(cells, x_col))
            table.ys.append(_float(cells, y_col))
        for col, seen in ((mask_col, table.mask_names), (source_col, table.source_files)):
            if col is not None and col < len(cells) and cells[col] and len(seen) < 50:
                seen[cells[col]] = seen.get(cells[col], sheet_row)


def _float(cells: list[str], col: int | None) -> float:
    if col is None or col >= len(cells):
        return math.nan
    try:
        return float(cells[col])
    except ValueError:
        return math.nan


def _type_ok(kind: str, value: str) -> bool:
    if kind == "integer":
        try:
            return float(value).is_integer()
        except ValueError:
            return False
    if kind == "float":
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    if kind == "boolean":
        return value.upper() in ("TRUE", "FALSE")
    if kind == "doi":
        return bool(DOI.match(value))
    if kind == "obo id":
        return bool(OBO.match(value))
    return True


# --- checks --------------------------------------------------------------------------------


def _unreadable(table: ObjectsTable) -> CheckResult | None:
    if table.read_error is not None:
        return CheckResult(skip=f"{table.display} could not be read (see its layout item)")
    if table.layout is None:
        return CheckResult(skip=f"{table.display} has no recognisable layout (see its layout item)")
    return None


def check_layout(table: ObjectsTable) -> CheckResult:
    loc = Location(file=table.display)
    if table.read_error is not None:
        return CheckResult(findings=[table.read_error])
    result = CheckResult()
    fix = ("use the HuBMAP object-by-feature template: metadata rows Type … Requirement level, "
           "the blank row, then the header row starting with `Object ID`")
    if table.layout_problem:
        result.findings.append(TABLE_LAYOUT.finding(f"{table.display}: {table.layout_problem}", loc, fix=fix))
        return result
    if table.layout == "plain":
        result.findings.append(TABLE_LAYOUT_PLAIN.finding(
            f"{table.display} starts with its header row; the template's metadata rows (Type, Unit, "
            "Requirement level …) are missing", Location(file=table.display, row=1), fix=fix))
    if table.vocabulary.count:
        result.findings.append(TABLE_VOCABULARY.finding(
            f"{table.display}: {table.vocabulary.count} metadata value(s) outside the template vocabulary: "
            f"{table.vocabulary.text()}", loc,
            fix=f"use Type ∈ {{{', '.join(sorted(TYPES))}}} and Requirement level ∈ {{REQUIRED, OPTIONAL}}"))
    result.data["rows"] = table.rows
    result.notes.append(
        f"{table.display}: {table.layout} template, header at row {table.header_row}, {table.rows} object row(s)"
        + (", trailing empty rows ignored" if table.trailing_ignored else ""))
    return result


def check_columns(table: ObjectsTable) -> CheckResult:
    if (skip := _unreadable(table)) is not None:
        return skip
    missing = [c for c in REQUIRED if table.column(c) is None]
    if missing:
        return CheckResult(findings=[TABLE_COLUMNS.finding(
            f"{table.display}: required column(s) missing from the header (row {table.header_row}): "
            f"{', '.join(repr(m) for m in missing)}", Location(file=table.display, row=table.header_row),
            fix="add the missing columns with these exact names")])
    return CheckResult(notes=[f"columns: {cut_list(table.columns, 12)}"])


def check_values(table: ObjectsTable) -> CheckResult:
    if (skip := _unreadable(table)) is not None:
        return skip
    result = CheckResult()
    words = {"required": "REQUIRED cell(s) empty", "type": "value(s) not of their column's Type",
             "permissible": "value(s) outside the Permissible values", "formula": "formula(s) instead of values"}
    fixes = {"required": "fill every REQUIRED cell (N/A is for OPTIONAL columns)",
             "type": "write values of the Type given in the Type row",
             "permissible": "use one of the values listed in the Permissible values row",
             "formula": "paste values instead of formulas (Paste Special → Values)"}
    for kind, examples in table.values.items():
        result.findings.append(TABLE_VALUES.finding(
            f"{table.display}: {examples.count} {words[kind]}: {examples.text()}",
            Location(file=table.display), fix=fixes[kind]))
    if not result.findings:
        result.notes.append(f"{table.rows} row(s): types, required cells and permissible values conform")
    return result


def check_ids(table: ObjectsTable) -> CheckResult:
    if (skip := _unreadable(table)) is not None:
        return skip
    result = CheckResult()
    loc = Location(file=table.display, column="Object ID")
    if table.bad_ids.count:
        result.findings.append(TABLE_IDS.finding(
            f"{table.display}: {table.bad_ids.count} Object ID(s) not positive integers: {table.bad_ids.text()}",
            loc, fix="write each object's integer label value (≥ 1) in Object ID"))
    ids = np.frombuffer(table.ids, dtype=np.int64)
    rows = np.frombuffer(table.id_rows, dtype=np.int64)
    if len(ids):
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        dup = np.flatnonzero(counts > 1)
        if len(dup):
            shown = [f"{uniq[d]} ({counts[d]}×, first at row {rows[first[d]]})" for d in dup[:MAX_EXAMPLES]]
            result.findings.append(TABLE_IDS.finding(
                f"{table.display}: {len(dup)} Object ID(s) listed more than once: {', '.join(shown)}"
                + (f" … (+{len(dup) - MAX_EXAMPLES} more)" if len(dup) > MAX_EXAMPLES else ""),
                loc, fix="list each object once"))
    if not result.findings:
        result.notes.append(f"{len(ids)} unique positive Object ID(s)")
    return result


def check_mask_agreement(table: ObjectsTable, channel: str | None, mask_file: str | None,
                         stats, mask_files: list[str]) -> CheckResult:
    """``stats``: the channel's ChannelStats (or None when the channel could not be decoded)."""
    if (skip := _unreadable(table)) is not None:
        return skip
    result = CheckResult()
    loc = Location(file=table.display, channel=channel)
    if channel is None:
        return CheckResult(skip=f"prefix {table.prefix!r} names no channel (see {table.display}::channel)")
    wrong_names = {n: r for n, r in table.mask_names.items() if n != table.prefix}
    if wrong_names:
        shown = ", ".join(f"`{n}` (first at row {r})" for n, r in list(wrong_names.items())[:MAX_EXAMPLES])
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: Mask name must be {table.prefix!r} (the file's prefix and channel name); found {shown}",
            Location(file=table.display, column="Mask name"), fix=f"write `{table.prefix}` in every Mask name cell"))
    wrong_sources = {n: r for n, r in table.source_files.items() if n not in mask_files}
    if wrong_sources:
        shown = ", ".join(f"`{n}` (first at row {r})" for n, r in list(wrong_sources.items())[:MAX_EXAMPLES])
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: Source file names no mask image in derived/segmentation_masks/ "
            f"({cut_list(mask_files)}); found {shown}",
            Location(file=table.display, column="Source file"), fix=f"write `{mask_file}` in every Source file cell"))
    if stats is None:
        result.skip = None
        result.notes.append("ids not compared: the channel could not be decoded (see its labels item)")
        return result
    ids = np.unique(np.frombuffer(table.ids, dtype=np.int64))
    mask_ids = stats.ids
    missing = np.setdiff1d(mask_ids, ids, assume_unique=True)
    extra = np.setdiff1d(ids, mask_ids, assume_unique=True)
    if len(missing) or len(extra):
        if len(mask_ids) == 0:
            text = (f"the mask channel {channel!r} holds no objects, but the table lists {len(ids)}"
                    f" (first ids {cut_list(extra[:MAX_EXAMPLES].tolist(), MAX_EXAMPLES)})")
        else:
            parts = []
            if len(missing):
                parts.append(f"{len(missing)} id(s) in the mask but not in the table "
                             f"(first {', '.join(map(str, missing[:MAX_EXAMPLES]))})")
            if len(extra):
                parts.append(f"{len(extra)} id(s) in the table but not in the mask "
                             f"(first {', '.join(map(str, extra[:MAX_EXAMPLES]))})")
            text = (f"Object IDs do not match mask channel {channel!r}: the table lists {len(ids)}, "
                    f"the mask holds {len(mask_ids)}; " + "; ".join(parts))
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: {text}", loc,
            fix="regenerate the table from the mask channel it describes (one row per object id)"))
    if not result.findings:
        result.notes.append(f"{len(ids)} Object ID(s) = the {len(mask_ids)} ids of channel {channel!r}")
    return result


MICROMETER = {"micrometer", "micrometers", "micron", "microns", "µm", "um"}


def check_centroids(table: ObjectsTable, channel: str | None, stats, image_size: tuple[int, int],
                    physical_size: tuple[float, float] | None) -> CheckResult:
    """X, Y inside the image and within 1 px of the object's bounding box."""
    if (skip := _unreadable(table)) is not None:
        return skip
    if channel is None or stats is None:
        return CheckResult(skip="no decoded channel to compare with (see the channel and labels items)")
    if table.column("X") is None or table.column("Y") is None:
        return CheckResult(skip=f"{table.display} has no X/Y columns (see its columns item)")
    unit = table.unit_xy
    xs = np.frombuffer(table.xs, dtype=np.float64)
    ys = np.frombuffer(table.ys, dtype=np.float64)
    if unit in MICROMETER:
        if not physical_size:
            return CheckResult(skip="X/Y are in micrometers but the mask has no PhysicalSizeX/Y (see its physical-size item)")
        xs, ys = xs / physical_size[1], ys / physical_size[0]
    ids = np.frombuffer(table.ids, dtype=np.int64)
    rows = np.frombuffer(table.id_rows, dtype=np.int64)
    height, width = image_size
    outside = ~((xs >= -0.5) & (xs <= width - 0.5) & (ys >= -0.5) & (ys <= height - 0.5))
    pos = stats.index_of(ids)
    known = pos >= 0
    bbox = stats.bbox[np.where(known, pos, 0)] if len(stats.ids) else np.zeros((len(ids), 4))
    off_box = known & ~outside & ~(
        (xs >= bbox[:, 1] - 1) & (xs <= bbox[:, 3] + 1) & (ys >= bbox[:, 0] - 1) & (ys <= bbox[:, 2] + 1))
    result = CheckResult()
    loc = Location(file=table.display, channel=channel, column="X, Y")
    unit_text = f" ({unit})" if unit else ""
    for mask, what in ((outside, f"outside the {width} × {height} px image"),
                       (off_box, "outside the object's bounding box in the mask")):
        bad = np.flatnonzero(mask)
        if len(bad):
            shown = ", ".join(
                f"row {rows[i]} id {ids[i]} at ({table.xs[i]:g}, {table.ys[i]:g}){unit_text}"
                + (f" vs box x {bbox[i][1]}–{bbox[i][3]}, y {bbox[i][0]}–{bbox[i][2]}" if mask is off_box else "")
                for i in bad[:MAX_EXAMPLES])
            result.findings.append(TABLE_CENTROIDS.finding(
                f"{table.display}: {len(bad)} centroid(s) {what}: {shown}", loc,
                fix="write each object's centroid (column X, row Y; pixel units unless the Unit row says micrometer)"))
    if not result.findings:
        result.notes.append(f"{int(known.sum())} centroid(s) inside their objects' bounding boxes{unit_text}")
    return result


def check_table_channel(table_name: str, display: str, channel_names: list[str]) -> CheckResult:
    """The table's prefix names a channel (an orphan table fails)."""
    prefix = table_prefix(table_name)
    if prefix in channel_names:
        return CheckResult(notes=[f"{display} describes channel {prefix!r}"])
    return CheckResult(findings=[TABLE_PAIRING.finding(
        f"{display}: prefix {prefix!r} names no channel of the mask image(s) "
        f"(channels: {cut_list(repr(c) for c in channel_names) or 'none readable'})",
        Location(file=display), fix="name the table `<channel name>-objects.xlsx` after the channel it describes")])


def check_channel_table(channel: str, mask_display: str, tables: list[str], suffixes: tuple[str, ...]) -> CheckResult:
    """Exactly one objects table for this channel."""
    mine = [t for t in tables if table_prefix(t.rsplit("/", 1)[-1]) == channel]
    loc = Location(file=mask_display, channel=channel)
    expected = " or ".join(f"`derived/segmentation_masks/{channel}{s}`" for s in suffixes)
    if not mine:
        return CheckResult(findings=[TABLE_PAIRING.finding(
            f"channel {channel!r} of {mask_display} has no objects table: expected {expected}", loc,
            fix="write one objects table per channel, named after the channel")])
    if len(mine) > 1:
        return CheckResult(findings=[TABLE_PAIRING.finding(
            f"channel {channel!r} has {len(mine)} objects tables: {cut_list(mine)}", loc,
            fix="keep exactly one table per channel")])
    return CheckResult(notes=[f"objects table: {mine[0]}"])
