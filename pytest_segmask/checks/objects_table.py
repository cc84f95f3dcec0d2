"""Objects tables `<mask name>-objects.xlsx|.tsv`: HuBMAP's table validation, offline, plus the
schema's rules linking a table to its mask channel.

HuBMAP's ingest (ingest-validation-tests ``segmentation_mask_validator.py``) posts every
``derived/segmentation_masks/*-objects.xlsx`` to CEDAR's spreadsheet validator
(metadatacenter/spreadsheet-validator-api, ``/validate-structured-xlsx``). This module
reproduces that validator's reading (sheet ``MAIN`` or the first; separator rows; schema rows
keyed by their column-A label; the data header; every physical row below it) and its value
rules (missingRequired, notNumberType, invalidValueEncoding, notStandardTerm,
invalidValueFormat, numberOutOfRange, invalidUrl). See docs/tables.md for the source lines.

``read_objects_table`` makes ONE bounded streaming pass (``table_reader``/``table_scan``) and
checks columns in blocks of rows with numpy; each distinct string of a block is decoded and
checked once. It never raises for bad input: problems become findings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..findings import CheckResult, Examples, Finding, Location, Severity, cut_list, shorten
from ..rules import Authority, define_rule
from . import table_scan as ts
from .table_reader import MAX_CELL_CHARS

CEDAR = "CEDAR spreadsheet-validator-api (metadatacenter, feat/virtual-template)"
JAVA_INT_MIN, JAVA_INT_MAX = -2**31, 2**31 - 1  # Java's int: CEDAR's integer bounds saturate there
TEMPLATE = "HuBMAP object-by-feature template v1.0.0 (dataset-metadata-spreadsheet epic/)"
INGEST = "ingest-validation-tests segmentation_mask_validator.py"
EPIC = "EPIC README (dataset-metadata-spreadsheet epic/README.md)"
SCHEMA_TEXT = "Segmentation Mask directory schema"

TABLE_READ = define_rule(
    "TABLE-READ", Severity.ERROR,
    "An objects table opens: an .xlsx is a real, unencrypted, macro-free workbook; a TSV is UTF-8 text.",
    f"{CEDAR}, excel/ExcelParser.java; {INGEST}", authority=Authority.INGEST)
TABLE_LIMIT = define_rule(
    "TABLE-LIMIT", Severity.ERROR,
    "The table stays within bounds: Excel's 1,048,576 rows and 16,384 columns, 32,767 characters per cell, "
    "an inflate ratio of at most 100 (Apache POI's zip-bomb guard), bounded part and row sizes.",
    "ECMA-376 / Excel specifications and limits; Apache POI ZipSecureFile (used by CEDAR's reader)",
    authority=Authority.INGEST)
TABLE_LAYOUT = define_rule(
    "TABLE-LAYOUT", Severity.ERROR,
    "CEDAR can read the table: one separator row (or two, with a properties block) between the schema rows "
    "and the header; no empty or unwritten rows inside the data; formulas carry cached values; at least one "
    "data row.",
    f"{CEDAR}, excel/ExcelReader.java findSeparatorRows, SchemaTableVisitor.java, DataTableVisitor.java",
    authority=Authority.INGEST)
TABLE_LAYOUT_PLAIN = define_rule(
    "TABLE-LAYOUT-PLAIN", Severity.WARNING,
    "A plain TSV table (header row first, no schema rows) lacks the template's Type and Requirement rows.",
    TEMPLATE, authority=Authority.SCHEMA)
TABLE_VOCABULARY = define_rule(
    "TABLE-VOCABULARY", Severity.ERROR,
    "Schema rows use the EPIC vocabulary: Type, Description and Requirement level present and valid "
    "(error); Unit and Feature class within their lists, row labels spelled as CEDAR reads them (warning).",
    EPIC, authority=Authority.SCHEMA)
TABLE_COLUMNS = define_rule(
    "TABLE-COLUMNS", Severity.ERROR,
    "The template's columns are present: Object ID, Source file, Mask name, Mask ID, Protocol for mask "
    "creation (DOI), Annotation tool, X, Y, Z (x, y, z accepted).", TEMPLATE, authority=Authority.SCHEMA)
TABLE_MISSING_REQUIRED = define_rule(
    "TABLE-MISSING-REQUIRED", Severity.ERROR,
    "missingRequired: a cell of a REQUIRED column is empty (N/A is a value).",
    f"{CEDAR}, validator/RequiredFieldValidator.java", authority=Authority.INGEST)
TABLE_NOT_NUMBER = define_rule(
    "TABLE-NOT-NUMBER", Severity.ERROR,
    "notNumberType: a cell of an integer/decimal/float/double column is not a numeric cell (a number stored "
    "as text, N/A, a boolean).", f"{CEDAR}, validator/NumberTypeValidator.java", authority=Authority.INGEST)
TABLE_NOT_PERMISSIBLE = define_rule(
    "TABLE-NOT-PERMISSIBLE", Severity.ERROR,
    "notStandardTerm: a value outside the column's Permissible values (split on |, trimmed, any case).",
    f"{CEDAR}, validator/PermissibleValueValidator.java", authority=Authority.INGEST)
TABLE_FORMAT = define_rule(
    "TABLE-FORMAT", Severity.ERROR,
    "invalidValueFormat: a value does not match its column's Input pattern or its type's pattern "
    "(obo id ^[A-Za-z]+:[0-9]{7}$, doi ^10.\\d{4,9}/… without https://doi.org/, date, email …).",
    f"{CEDAR}, validator/InputPatternValidator.java, excel/model/DefaultBuiltinTypeMap.java",
    authority=Authority.INGEST)
TABLE_ENCODING = define_rule(
    "TABLE-ENCODING", Severity.ERROR,
    "invalidValueEncoding: text-like values (text, obo id, doi, unknown types …) are US-ASCII.",
    f"{CEDAR}, validator/TextEncodingValidator.java", authority=Authority.INGEST)
TABLE_RANGE = define_rule(
    "TABLE-RANGE", Severity.ERROR,
    "numberOutOfRange: a number outside the column's Min value / Max value.",
    f"{CEDAR}, validator/IntegerNumberRangeValidator.java, DecimalNumberRangeValidator.java",
    authority=Authority.INGEST)
TABLE_URL = define_rule(
    "TABLE-URL", Severity.ERROR,
    "invalidUrl: a value of a url column is not a URL (whether it resolves is not checked offline).",
    f"{CEDAR}, validator/UrlValidator.java", authority=Authority.INGEST)
TABLE_INTEGER_FRACTION = define_rule(
    "TABLE-INTEGER-FRACTION", Severity.WARNING,
    "A column typed integer (the template's X, Y, Z) holds fractional numbers.", TEMPLATE,
    authority=Authority.PRACTICE,
    reason="CEDAR does not check whole-numberness (20.5 passes an integer column); a centroid is naturally "
           "fractional, so this only flags a Type row that does not say what the column holds.")
TABLE_IDS = define_rule(
    "TABLE-IDS", Severity.ERROR,
    "Object IDs are positive integers (text '1' accepted) and unique: each is the object's pixel value.",
    f"{SCHEMA_TEXT} (\"a unique integer pixel value starting at 1\"); {TEMPLATE}", authority=Authority.SCHEMA)
TABLE_MASK_AGREEMENT = define_rule(
    "TABLE-MASK-AGREEMENT", Severity.ERROR,
    "Mask name = file prefix = a channel; Source file = the mask image; every Object ID is an object of that "
    "channel (channel objects missing from the table: warning).", f"{TEMPLATE}; {SCHEMA_TEXT}",
    authority=Authority.SCHEMA)
TABLE_CENTROIDS = define_rule(
    "TABLE-CENTROIDS", Severity.ERROR,
    "X, Y (and Z) lie inside the image and within 1 px of the object's bounding box (pixels, or micrometres "
    "converted with PhysicalSize and its unit).", TEMPLATE + " (X/Y/Z: \"the object's centroid\")",
    authority=Authority.SCHEMA)
TABLE_PAIRING = define_rule(
    "TABLE-PAIRING", Severity.ERROR,
    "Every table's prefix names a channel of the mask (error); a channel without a table is a warning.",
    SCHEMA_TEXT + " (\"one file per mask with the name of the mask prepended\")", authority=Authority.SCHEMA)
TABLE_XLSX_PRESENT = define_rule(
    "TABLE-XLSX-PRESENT", Severity.ERROR,
    "At least one derived/segmentation_masks/*-objects.xlsx (HuBMAP's ingest sends only .xlsx tables to CEDAR).",
    INGEST + " (\"No object by feature .XLSX files found.\")", authority=Authority.INGEST)

VALUE_RULES = {  # CEDAR error type -> (rule, CEDAR's message)
    "missingRequired": (TABLE_MISSING_REQUIRED, "Required value is missing"),
    "notNumberType": (TABLE_NOT_NUMBER, "Value is not a number"),
    "notStandardTerm": (TABLE_NOT_PERMISSIBLE, "Value is not among the permissible values"),
    "invalidValueFormat": (TABLE_FORMAT, "Value does not conform to the expected format."),
    "invalidValueEncoding": (TABLE_ENCODING, "The value includes non-US-ASCII characters"),
    "numberOutOfRange": (TABLE_RANGE, "Number is out of range"),
    "invalidUrl": (TABLE_URL, "URL is not valid"),
}

TEMPLATE_COLUMNS = ("Object ID", "Source file", "Mask name", "Mask ID", "Protocol for mask creation (DOI)",
                    "Annotation tool", "X", "Y", "Z")
SCHEMA_LABELS = ("Type", "Unit", "Feature class", "Description", "Protocol used to derive this feature value (DOI)",
                 "Alternative ID", "Permissible values", "Requirement level", "Example", "Min value", "Max value",
                 "Input pattern")
EPIC_TYPES = ("text", "integer", "float", "doi", "boolean", "obo id")
EPIC_UNITS = ("pixel", "intensity", "count", "square micrometer")
EPIC_CLASSES = ("gene", "neighborhood", "mask", "spatial", "morphology", "ontology", "antibody", "IMS")
EPIC_LEVELS = ("REQUIRED", "OPTIONAL")

# CEDAR's DefaultBuiltinTypeMap: name -> (value type, sub type, pattern, example)
BUILTIN_TYPES = {
    "text": ("STRING", "STRING", None, None),
    "decimal": ("NUMBER", "DECIMAL", None, "10.50"),
    "integer": ("NUMBER", "INTEGER", None, "10"),
    "float": ("NUMBER", "DECIMAL", None, "3.14"),
    "double": ("NUMBER", "DECIMAL", None, "3.141592"),
    "date": ("DATE", "DATE", r"^\d{4}-\d{2}-\d{2}$", "2024-01-01"),
    "time": ("TIME", "TIME", r"^\d{2}:\d{2}:\d{2}$", "13:55:00"),
    "datetime": ("DATETIME", "DATETIME", r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?$",
                 "2024-01-01T13:55:00"),
    "boolean": ("BOOLEAN", "BOOLEAN", None, "true"),
    "email": ("STRING", "EMAIL", r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$", "john.smith@email.com"),
    "phone": ("STRING", "PHONE", r"^\+?[0-9. ()-]{10,15}$", "(123) 456-7890"),
    "url": ("URL", "URL", None, "https://www.google.com"),
    "obo id": ("STRING", "IDENTIFIER", r"^[A-Za-z]+:[0-9]{7}$", "CL:0000000"),
    "doi": ("STRING", "IDENTIFIER", r"^10\.\d{4,9}/[-._;()/:a-zA-Z0-9]+$", "10.1038/s41597-023-01993-8"),
    "orcid": ("STRING", "IDENTIFIER", r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$", "0000-0002-2533-6681"),
    "rrid": ("STRING", "IDENTIFIER", r"^RRID:[A-Za-z]+_[0-9]+$", "RRID:SCR_005698"),
    "ror": ("STRING", "IDENTIFIER", r"^ROR:0[a-hj-km-np-tv-z|0-9]{6}[0-9]{2}$", None),
}
REQUIRED_LEVELS = {"REQUIRED": True, "OPTIONAL": False, "RECOMMENDED": False}  # DefaultRequirementLevelMap

HEAD_ROWS = 200  # rows read before the layout is decided (properties + schema + header fit)
HEAD_COLUMNS = 256  # mutation: equivalent — columns assumed for the head; a wider head is read again at its width
BLOCK_CELLS = 1 << 19  # mutation: equivalent — cells per block of data rows: speed and memory only
MAX_EXAMPLES = 5
MAX_DISTINCT = 50  # distinct Mask name / Source file values kept
SUFFIXES = ("-objects.xlsx", "-objects.tsv")
JAVA_TRIM = "".join(chr(i) for i in range(33))  # String.trim(): characters <= U+0020
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_URL = re.compile(r"^(?:https?|ftp|file|jar|mailto):", re.IGNORECASE)


def table_prefix(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def col_letter(index: int) -> str:
    """0-based column index -> Excel letters."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def java_str(value) -> str:
    """CEDAR's String.valueOf of a cell value: whole numbers become Integer ((int) saturates)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value % 1 == 0:
            return str(int(max(JAVA_INT_MIN, min(JAVA_INT_MAX, value))))
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"  # mutation: equivalent — value is ±inf here: > 0, >= 0 and > 1 agree
        text = repr(value)
        if "e" in text:
            mant, _, exp = text.partition("e")
            text = (mant if "." in mant else mant + ".0") + "E" + str(int(exp))
        return text
    return str(value)


@dataclass
class Column:
    """One column CEDAR validates: its schema from the schema rows."""

    name: str
    index: int  # 0-based sheet column the data values come from
    type: str
    value_type: str
    sub_type: str
    required: bool
    permissible: tuple[str, ...] | None
    pattern: re.Pattern | None
    example: str | None
    min: float | None
    max: float | None
    unit: str = ""


@dataclass
class ValueProblems:
    rule_kind: str
    examples: Examples = field(default_factory=lambda: Examples(MAX_EXAMPLES))
    columns: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, rows, values, count: int | None = None) -> None:
        n = len(rows) if count is None else count
        self.examples.count += n - min(n, len(rows))
        for r, v in zip(rows, values):
            self.examples.add(f"row {int(r)}, column '{column}', value '{shorten(v, 60)}'")
        self.columns[column] = self.columns.get(column, 0) + n


@dataclass
class ObjectsTable:
    display: str
    prefix: str
    is_xlsx: bool = True
    read_error: Finding | None = None
    structure: list[Finding] = field(default_factory=list)  # TABLE-LAYOUT / TABLE-LIMIT
    blocking: bool = False  # the layout could not be determined: content checks skip
    truncated: bool = False  # reading stopped at a limit: content checks skip
    layout: str | None = None  # "template" | "template+properties" | "plain"
    sheet: str = ""
    sheets: list[str] = field(default_factory=list)
    header_row: int = 0
    columns: list[str] = field(default_factory=list)
    schema_rows: dict[str, int] = field(default_factory=dict)  # label -> Excel row
    schema: dict[str, dict[int, object]] = field(default_factory=dict)  # label -> column -> value
    validated: list[Column] = field(default_factory=list)
    vocabulary: list[Finding] = field(default_factory=list)
    rows: int = 0  # data rows (physical rows below the header)
    empty_rows: list[list[int]] = field(default_factory=list)  # the last run [first, last] of empty data rows
    empty_count: int = 0
    last_nonempty: int = 0
    values: dict[str, ValueProblems] = field(default_factory=dict)
    fractional: dict[str, Examples] = field(default_factory=dict)
    id_col: int | None = None
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    id_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    xyz: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    bad_ids: Examples = field(default_factory=lambda: Examples(MAX_EXAMPLES))
    mask_names: dict[str, int] = field(default_factory=dict)
    source_files: dict[str, int] = field(default_factory=dict)
    cedar_values: bool = True  # False: CEDAR rejects the layout before it validates values
    units: tuple[str, str, str] = ("", "", "")  # Unit row of X, Y, Z
    types_xyz: tuple[str, str, str] = ("", "", "")

    @property
    def authority(self) -> Authority | None:
        """Findings of ingest rules on a TSV are schema findings: HuBMAP never sees TSV."""
        return None if self.is_xlsx else Authority.SCHEMA

    def column(self, name: str) -> int | None:
        want = name.strip().lower()
        for i, c in enumerate(self.columns):
            if c.strip().lower() == want:
                return i
        return None

    @property
    def unit_xy(self) -> str:
        return self.units[0]


# --- reading -----------------------------------------------------------------------------


def read_objects_table(path: Path, display: str | None = None) -> ObjectsTable:
    """One bounded streaming pass over ``path``; never raises for bad input."""
    import zlib
    import zipfile

    from ..dirschema import NotRegularFile
    from .table_reader import TableLimit, TableUnreadable, open_source

    path = Path(path)
    display = display or path.name
    table = ObjectsTable(display=display, prefix=table_prefix(path.name), is_xlsx=not path.name.endswith(".tsv"))
    loc = Location(file=display)
    auth = table.authority
    source = None
    try:
        source = open_source(path)
        table.sheet, table.sheets = source.sheet_name, source.sheet_names
        _Reader(table, source).run()
    except NotRegularFile as exc:
        table.read_error = TABLE_READ.finding(f"{display} is {exc.strerror.partition(': it is ')[2] or 'not a regular file'}"
                                              ", not a regular file: it is not read", loc,
                                              fix="replace it with the table file itself", authority=auth)
    except TableLimit as exc:
        table.truncated = True
        table.structure.append(TABLE_LIMIT.finding(
            f"{display}: reading stopped: {exc}", loc,
            fix="save the table again from Excel or LibreOffice (a damaged or hostile file exceeds these bounds)",
            authority=auth))
    except TableUnreadable as exc:
        table.read_error = TABLE_READ.finding(f"{display}: {exc}" if not str(exc).startswith(display) else str(exc),
                                              loc, fix=exc.fix, authority=auth)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        what = {zlib.error: "a zip member's compressed data is damaged and does not inflate",
                EOFError: "a zip member ends early (the file is truncated)",
                NotImplementedError: "a zip member uses a compression method that cannot be read"}.get(
            type(exc), f"its zip structure is damaged ({_reason(exc)})")
        table.read_error = TABLE_READ.finding(
            f"{display} is a damaged .xlsx: {what}", loc,
            fix="re-save the table from Excel or LibreOffice as .xlsx", authority=auth)
    except OSError as exc:
        table.read_error = TABLE_READ.finding(f"cannot read {display}: {exc.strerror or _reason(exc)}", loc,
                                              fix="make the file readable", authority=auth)
    finally:
        if source is not None:
            source.close()
    return table


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return shorten(text, 120)


class _SeparatorSearch:
    """CEDAR's ExcelReader.findSeparatorRows over the physical rows, streamed: a row (present and
    empty, or absent) followed by a non-empty row is a separator; two empty rows in a row stop the
    search."""

    def __init__(self) -> None:
        self.prev: int | None = None
        self.prev_empty = False
        self.stopped = False
        self.found: list[int] = []

    def feed(self, rows: np.ndarray, nonempty: np.ndarray) -> None:
        if len(rows) == 0:
            return
        if self.prev is None:
            self.prev, self.prev_empty = int(rows[0]), not bool(nonempty[0])
            rows, nonempty = rows[1:], nonempty[1:]
            if len(rows) == 0:
                return
        if self.stopped:
            self.prev, self.prev_empty = int(rows[-1]), not bool(nonempty[-1])
            return
        prev_rows = np.concatenate([[self.prev], rows[:-1]])
        prev_empty = np.concatenate([[self.prev_empty], ~nonempty[:-1]])
        gaps = rows - prev_rows - 1
        for i in np.flatnonzero(prev_empty | (gaps > 0)):
            e = not bool(nonempty[i])
            gap = int(gaps[i])
            if gap == 0:
                if e:
                    self.stopped = True
                else:
                    self.found.append(int(prev_rows[i]))
            elif prev_empty[i] or gap >= 2 or e:
                self.stopped = True
            else:
                self.found.append(int(prev_rows[i]) + 1)
            if self.stopped or len(self.found) > 4:  # five are enough to say "rows a, b, c, d …"
                break
        self.prev, self.prev_empty = int(rows[-1]), not bool(nonempty[-1])


class _Reader:
    def __init__(self, table: ObjectsTable, source) -> None:
        self.t = table
        self.src = source
        self.search = _SeparatorSearch()
        self.loc = Location(file=table.display)
        self.auth = table.authority
        self.ids: list[np.ndarray] = []
        self.id_rows: list[np.ndarray] = []
        self.xyz: list[np.ndarray] = []
        self.gaps = Examples(MAX_EXAMPLES)
        self.nocache = Examples(MAX_EXAMPLES)
        self.numbad = Examples(MAX_EXAMPLES)
        self.prev_row: int  # the header's row, then each block's last row (set by run)
        self.known_separators: int  # separators found in the head (set by run)

    # helpers -----------------------------------------------------------------------------
    def layout_error(self, message: str, fix: str, row: int | None = None, blocking: bool = True) -> None:
        self.t.structure.append(TABLE_LAYOUT.finding(f"{self.t.display}: {message}",
                                                     Location(file=self.t.display, row=row), fix=fix,
                                                     authority=self.auth))
        if blocking:
            self.t.blocking = True

    def cell_value(self, blk, r: int, c: int):
        """(kind, python value) of one cell, for the few head rows."""
        k = int(blk.kind[r, c])
        if k == ts.K_COMPLEX:
            k, num, text = self.src.complex_value(blk.raw(r, c))
            return k, (num if k == ts.K_NUMBER else text if k == ts.K_TEXT else bool(num) if k == ts.K_BOOL else None)
        if k == ts.K_NUMBER:
            return k, float(blk.num[r, c])
        if k == ts.K_BOOL:
            return k, bool(blk.num[r, c])
        if k == ts.K_SHARED:
            return k, self.src.sst[int(blk.key[r, c])]
        if k == ts.K_TEXT:
            return k, self.src.text(blk.raw(r, c), int(blk.flags[r, c]))
        if k == ts.K_NUMBAD:
            return k, blk.raw(r, c).decode("utf-8", "replace")
        return k, None

    def row_cells(self, blk, r: int) -> dict[int, tuple[int, object]]:
        present = np.flatnonzero(blk.kind[r] != ts.K_ABSENT)
        return {int(c): self.cell_value(blk, r, int(c)) for c in present}

    # the pass ----------------------------------------------------------------------------
    def run(self) -> None:
        t = self.t
        head = self.src.read(HEAD_COLUMNS, HEAD_ROWS, min_rows=HEAD_ROWS)
        wide = self.src.widest > HEAD_COLUMNS  # mutation: equivalent — a head exactly HEAD_COLUMNS wide read again at that width gives the same cells
        if head is not None and wide:  # a wide table: read its head again
            widest = self.src.widest
            self.src.restart()
            head = self.src.read(widest, HEAD_ROWS, min_rows=HEAD_ROWS)
        if head is None:
            self.layout_error("the sheet is empty" if t.is_xlsx else "the file is empty",
                              "fill in the HuBMAP object-by-feature template")
            return
        head_rows = [(int(head.row_num[i]), bool(head.row_nonempty[i])) for i in range(head.n)]
        cells = [self.row_cells(head, i) for i in range(head.n)]
        self.search.feed(head.row_num, head.row_nonempty)
        header_at = self.decide_layout(head_rows, cells)
        if header_at is None:
            return
        self.known_separators = len(self.search.found)
        ncols = max(len(t.columns), 1)  # mutation: equivalent — a one-column header views one or two columns: no rule reads a cell past the header, emptiness is the scanner's
        self.prev_row = head_rows[header_at][0]
        data = head.rows(header_at + 1, head.n)
        if data.n:
            self.block(data.rows(0, data.n), ncols_view=ncols)
        row_cap = max(16, BLOCK_CELLS // max(ncols, 1))  # mutation: equivalent — block size: speed and memory only
        del head, cells
        while True:
            blk = self.src.read(ncols, row_cap)
            if blk is None:
                break
            self.search.feed(blk.row_num, blk.row_nonempty)
            self.block(blk, ncols_view=ncols)
        self.finish()

    def decide_layout(self, head_rows, cells) -> int | None:
        """Separators, properties, schema rows and the header, as CEDAR reads them. Returns the
        head index of the header row (None: the layout is not readable)."""
        t = self.t
        seps = [s for s in self.search.found]
        first_a = _text_of(cells[0].get(0)) if cells else ""
        if not seps:
            if not t.is_xlsx:
                # a plain TSV: header first
                for i, (row, nonempty) in enumerate(head_rows):
                    if nonempty:
                        if _text_of(cells[i].get(0)).strip().lower() == "object id":
                            t.layout = "plain"
                            t.header_row = row
                            t.columns = [_text_of(cells[i].get(c)) for c in range(max(cells[i]) + 1)] if cells[i] else []
                            self.locate_columns()
                            return i
                        break
            header_at = next((i for i, c in enumerate(cells) if _text_of(c.get(0)).strip().lower() == "object id"),
                             None)
            above = _text_of(cells[header_at - 1].get(0)) if header_at else ""
            detail = (f"; row {head_rows[header_at - 1][0]} above the header is labelled '{shorten(above, 50)}' "
                      "(CEDAR's separator is a completely empty row, column A included)") if above else (
                f"; row 1 starts with '{shorten(first_a, 40)}'" if first_a else "")
            self.layout_error(
                "Missing a separator row. CEDAR's validator (which HuBMAP's ingest calls) needs a completely empty "
                "row between the schema rows (Type, Unit, … Requirement level) and the header row" + detail,
                "start from the HuBMAP object-by-feature template: keep its schema rows and the completely empty "
                "row above the header row", row=head_rows[0][0] if head_rows else None, blocking=header_at is None)
            if header_at is None:
                return None
            # CEDAR stops here; the table is still read for the schema's own checks (ids, mask, centroids)
            t.layout = "no separator"
            t.cedar_values = False
            t.header_row = head_rows[header_at][0]
            t.columns = [_text_of(cells[header_at].get(c)) for c in range(max(cells[header_at]) + 1)]
            for i in range(header_at):
                label = _text_of(cells[i].get(0))
                if label:
                    t.schema[label] = {c: v for c, (k, v) in cells[i].items() if c > 0}
            self.locate_columns()
            return header_at
        if len(seps) > 2:
            self.layout_error(
                f"Too many separator rows. CEDAR takes each empty row followed by a non-empty row for a separator: "
                f"rows {', '.join(str(s) for s in seps[:4])}{' …' if len(seps) > 4 else ''}",
                "keep one empty row between the schema rows and the header row (two with a properties block), "
                "and no empty rows between data rows", row=seps[0])
            return None
        index = {row: i for i, (row, _) in enumerate(head_rows)}
        first = head_rows[0][0]
        if len(seps) == 2:
            props = [i for row, i in index.items() if first <= row < seps[0]]
            schema = [i for row, i in index.items() if seps[0] < row < seps[1]]
            labels_props = {_text_of(cells[i].get(0)) for i in props}
            labels_schema = {_text_of(cells[i].get(0)) for i in schema}
            if "Type" in labels_props and "Type" not in labels_schema:
                self.layout_error(
                    f"row {seps[1]} is empty and the row below it holds data: CEDAR takes it for a second "
                    f"separator row, reads the rows above row {seps[0]} as a properties block and rows "
                    f"{seps[0] + 1}–{seps[1] - 1} as the schema, so the table cannot be validated",
                    "delete the empty row between the data rows", row=seps[1])
                return None
            for i in props:
                a, b = cells[i].get(0), cells[i].get(1)
                if not (_is_text(a) and _is_text(b)):
                    self.layout_error(
                        f"row {head_rows[i][0]} of the properties block (above the first separator row "
                        f"{seps[0]}) needs a text key in column A and a text value in column B",
                        "write the properties as key / value pairs, or delete the properties block and its "
                        "separator row", row=head_rows[i][0])
                    return None
            t.layout = "template+properties"
        else:
            schema = [i for row, i in index.items() if first <= row < seps[0]]
            t.layout = "template"
        header_row = seps[-1] + 1
        if header_row not in index:
            self.layout_error(f"no header row within the first {HEAD_ROWS} rows",
                              "keep the schema rows short: properties, schema rows, separator, header")
            return None
        hi = index[header_row]
        t.header_row = header_row
        if not schema:
            self.layout_error(f"there are no schema rows above the separator row {seps[-1]}",
                              "keep the template's rows Type … Requirement level above the empty row",
                              row=seps[-1])
            return None
        if not self.read_header(cells[hi], header_row):
            return None
        if not self.read_schema([(head_rows[i][0], cells[i]) for i in schema], cells[hi], header_row):
            return None
        self.locate_columns()
        return hi

    def read_header(self, header: dict, row: int) -> bool:
        n = len(header)  # POI: getPhysicalNumberOfCells
        names = []
        for c in range(n):
            cell = header.get(c)
            if cell is None:
                self.layout_error(
                    f"the header row {row} has {n} cells but none in column {col_letter(c)}: CEDAR reads the "
                    f"header's first {n} columns and cannot name column {col_letter(c)}",
                    "write a column name in every header cell from column A on, without gaps", row=row)
                return False
            kind, value = cell
            if kind in (ts.K_NUMBER, ts.K_BOOL, ts.K_ERROR, ts.K_NUMBAD, ts.K_NOCACHE):
                self.layout_error(f"header cell {col_letter(c)}{row} is not text ({shorten(java_str(value), 30)})",
                                  "write column names as text", row=row)
                return False
            names.append("" if value is None else str(value))
        self.t.columns = names
        return True

    def read_schema(self, rows: list[tuple[int, dict]], header: dict, header_row: int) -> bool:
        t = self.t
        for row, cells in rows:
            label_cell = cells.get(0)
            if label_cell is None or not _is_text(label_cell):
                self.layout_error(
                    f"schema row {row} has no text label in column A: CEDAR keys each schema row by its "
                    "column-A label (Type, Unit, … Requirement level)",
                    "write the row's label in column A, or delete the row", row=row)
                return False
            label = str(label_cell[1])
            t.schema_rows[label] = row
            t.schema[label] = {c: v for c, (k, v) in cells.items() if c > 0}
            t.schema.setdefault(label, {})
            self._kinds = getattr(self, "_kinds", {})
            self._kinds[label] = {c: k for c, (k, v) in cells.items() if c > 0}
            canon = next((s for s in SCHEMA_LABELS if s.lower() == label.strip().lower()), None)
            if canon is not None and canon != label:
                t.vocabulary.append(TABLE_VOCABULARY.finding(
                    f"{t.display}: schema row {row} is labelled '{shorten(label, 60)}'; CEDAR matches labels "
                    f"exactly and ignores this row (it expects '{canon}')", Location(file=t.display, row=row),
                    fix=f"label the row '{canon}'", severity=Severity.WARNING))
        n1 = len(rows[0][1])  # physical cells of the first schema row: the columns CEDAR validates
        seen: set[str] = set()
        last_index = {}
        for c, name in enumerate(t.columns):
            last_index[name] = c
        for c in range(1, n1):
            if c >= len(t.columns):
                self.layout_error(
                    f"the first schema row ({rows[0][0]}) has cells up to column {col_letter(n1 - 1)} but the "
                    f"header row {header_row} ends at column {col_letter(len(t.columns) - 1)}: CEDAR cannot name "
                    "those columns", "make the header row as wide as the schema rows", row=header_row)
                return False
            name = t.columns[c]
            if name in seen:
                continue
            seen.add(name)
            column = self.column_rule(name, last_index[name], c)
            if column is None:
                return False
            t.validated.append(column)
        return True

    def column_rule(self, name: str, data_index: int, c: int) -> Column | None:
        t = self.t
        kinds = self._kinds

        def get(label, want_text=True):
            value = t.schema.get(label, {}).get(c)
            kind = kinds.get(label, {}).get(c)
            if value is None:
                return None
            if want_text and kind not in (ts.K_SHARED, ts.K_TEXT, ts.K_COMPLEX):
                self.layout_error(
                    f"the {label} of column '{name}' ({col_letter(c)}{t.schema_rows[label]}) is not text: CEDAR "
                    "cannot read it", f"write the {label} as text", row=t.schema_rows[label])
                raise _Stop
            return value

        try:
            type_name = get("Type")
            level = get("Requirement level")
            permissible = get("Permissible values")
            pattern_text = get("Input pattern")
            get("Description")
            unit = t.schema.get("Unit", {}).get(c)
            example = t.schema.get("Example", {}).get(c)
            bounds = []
            for label in ("Min value", "Max value"):
                value = t.schema.get(label, {}).get(c)
                kind = kinds.get(label, {}).get(c)
                if value is not None and kind != ts.K_NUMBER and not t.is_xlsx and _NUMBER_TEXT.match(str(value)):
                    value = float(value)  # a TSV holds only text: a bound that parses is that number
                elif value is not None and kind != ts.K_NUMBER:
                    self.layout_error(
                        f"the {label} of column '{name}' ({col_letter(c)}{t.schema_rows[label]}) is not a number: "
                        "CEDAR cannot read it", f"write the {label} as a number", row=t.schema_rows[label])
                    raise _Stop
                bounds.append(value)
        except _Stop:
            return None
        tname = "text" if type_name is None else type_name
        value_type, sub_type, builtin_pattern, builtin_example = BUILTIN_TYPES.get(tname, BUILTIN_TYPES["text"])
        pattern = None
        source = pattern_text if pattern_text is not None else builtin_pattern
        if source is not None:
            try:
                pattern = re.compile(source)
            except re.error:
                self.layout_error(f"the Input pattern of column '{name}' is not a valid regular expression",
                                  "fix the Input pattern", row=t.schema_rows.get("Input pattern"))
                return None
        allowed = None
        if permissible is not None and str(permissible).strip(JAVA_TRIM):
            parts = str(permissible).split("|")
            while parts and parts[-1] == "":  # Java's split drops trailing empty strings
                parts.pop()
            allowed = tuple(p.strip(JAVA_TRIM) for p in parts)
        return Column(name=name, index=data_index, type=tname, value_type=value_type, sub_type=sub_type,
                      required=REQUIRED_LEVELS.get(level, False) if isinstance(level, str) else False,
                      permissible=allowed, pattern=pattern,
                      example=java_str(example) if example is not None else builtin_example,
                      min=bounds[0], max=bounds[1], unit="" if unit is None else str(unit))

    def locate_columns(self) -> None:
        t = self.t
        t.id_col = t.column("Object ID")
        if t.id_col is None and t.columns:
            t.id_col = 0
        by_index = {c.index: c for c in t.validated}
        units, types = [], []
        for name in ("X", "Y", "Z"):
            c = t.column(name)
            col = by_index.get(c) if c is not None else None
            schema_unit = t.schema.get("Unit", {}).get(c) if c is not None else None
            units.append((str(schema_unit) if schema_unit is not None else "").strip())
            types.append(col.type if col else "")
        t.units = tuple(units)
        t.types_xyz = tuple(types)
        self._vocabulary()

    def _vocabulary(self) -> None:
        """Schema rows against the EPIC README's header-attribute vocabularies (authority schema)."""
        t = self.t
        if not t.validated:  # a plain or separator-less table has no schema rows CEDAR reads
            return
        problems_err, problems_warn = Examples(MAX_EXAMPLES), Examples(MAX_EXAMPLES)
        for col in t.validated:
            c = next((i for i, n in enumerate(t.columns) if n == col.name), col.index)
            # label, its vocabulary, where an empty value goes (None: allowed), where a value outside goes
            for label, allowed, if_empty, sink in (
                    ("Type", EPIC_TYPES, problems_err, problems_err),
                    ("Requirement level", EPIC_LEVELS, problems_err, problems_err),
                    ("Description", None, problems_err, problems_err), ("Unit", EPIC_UNITS, None, problems_warn),
                    ("Feature class", EPIC_CLASSES, problems_warn, problems_warn)):
                value = t.schema.get(label, {}).get(c)
                text = "" if value is None else str(value).strip(JAVA_TRIM)
                if not text:
                    if if_empty is not None:
                        if_empty.add(f"{label} of '{col.name}' is empty")
                elif allowed is not None and text not in allowed:
                    note = " (CEDAR reads it as text)" if label == "Type" else \
                        " (CEDAR reads it as not required)" if label == "Requirement level" else ""
                    sink.add(f"{label} of '{col.name}' is '{shorten(text, 40)}'{note}")
        fix = ("use Type ∈ {" + ", ".join(EPIC_TYPES) + "}, Requirement level ∈ {REQUIRED, OPTIONAL}, "
               "a Description for every column; Unit ∈ {" + ", ".join(EPIC_UNITS) + "}, Feature class ∈ {"
               + ", ".join(EPIC_CLASSES) + "}")
        if problems_err.count:
            t.vocabulary.append(TABLE_VOCABULARY.finding(
                f"{t.display}: {problems_err.count} schema value(s) missing or outside the EPIC vocabulary: "
                f"{problems_err.text()}", self.loc, fix=fix))
        if problems_warn.count:
            t.vocabulary.append(TABLE_VOCABULARY.finding(
                f"{t.display}: {problems_warn.count} Unit / Feature class value(s) outside the EPIC vocabulary: "
                f"{problems_warn.text()}", self.loc, fix=fix, severity=Severity.WARNING))

    # data blocks -------------------------------------------------------------------------
    def block(self, blk, ncols_view: int) -> None:
        t = self.t
        n = blk.n
        if n == 0:
            return
        rows = blk.row_num
        t.rows += n
        # rows never written between the header and this block's rows: CEDAR's getRows gives null
        prev = np.concatenate([[self.prev_row], rows[:-1]])
        gap = np.flatnonzero(rows - prev > 1)
        for i in gap:
            a, b = int(prev[i]) + 1, int(rows[i]) - 1
            self.gaps.add(f"{a}" if a == b else f"{a}–{b}")
        t.rows += int((rows - prev - 1).sum())
        self.prev_row = int(rows[-1])
        nonempty = blk.row_nonempty
        # runs of fully empty rows
        empty_idx = np.flatnonzero(~nonempty)
        for i in empty_idx:
            r = int(rows[i])
            if t.empty_rows and t.empty_rows[-1][1] == r - 1:
                t.empty_rows[-1][1] = r
            else:  # only the last run matters: formatted rows left at the end
                t.empty_rows[:] = [[r, r]]
        t.empty_count += len(empty_idx)
        if nonempty.any():
            t.last_nonempty = int(rows[np.flatnonzero(nonempty)[-1]])
        self.resolve_complex(blk)
        kind = blk.kind
        # formulas without a cached value, number cells that are not numbers: CEDAR's reader fails
        for sink, code in ((self.nocache, ts.K_NOCACHE), (self.numbad, ts.K_NUMBAD)):
            bad = np.argwhere(kind == code)
            for r, c in bad[:MAX_EXAMPLES]:
                sink.add(f"{col_letter(int(c))}{int(rows[r])}")
            sink.count += max(0, len(bad) - MAX_EXAMPLES)
        live = nonempty
        for col in t.validated:
            if col.index < ncols_view:
                self.check_column(blk, col, live)
        self.collect_ids(blk, live)

    def resolve_complex(self, blk) -> None:
        idx = np.argwhere(blk.kind == ts.K_COMPLEX)
        if not len(idx):
            return
        cache: dict[int, tuple] = {}
        if not hasattr(self, "complex_text"):
            self.complex_text: dict[int, str] = {}
        for r, c in idx:
            k = int(blk.key[r, c])
            if k not in cache:
                cache[k] = self.src.complex_value(blk.raw(int(r), int(c)))
            kind, num, text = cache[k]
            blk.kind[r, c] = kind
            blk.num[r, c] = num
            if kind == ts.K_TEXT:
                self.complex_text[k] = text
                blk.flags[r, c] |= 16  # text comes from complex_text
            # the scanner counts a row with a complex cell as non-empty (rich text, comments: rare)

    def texts(self, blk, rows_idx: np.ndarray, c: int) -> tuple[list[str], np.ndarray]:
        """Distinct texts of the string cells ``rows_idx`` of column ``c``, and each cell's index."""
        kinds = blk.kind[rows_idx, c]
        keys = blk.key[rows_idx, c].copy()
        shared = kinds == ts.K_SHARED
        # separate the key spaces: shared-string indices are small, hashes are 63-bit
        keys[shared] = -1 - keys[shared]
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        out = []
        complex_text = getattr(self, "complex_text", {})
        for u, f in zip(uniq.tolist(), first.tolist()):
            if u < 0:
                out.append(self.src.sst[-1 - u])
            else:
                r = int(rows_idx[f])
                if blk.flags[r, c] & 16:
                    out.append(complex_text.get(u, ""))
                else:
                    out.append(self.src.text(blk.raw(r, c), int(blk.flags[r, c])))
        return out, inverse

    def problem(self, kind: str, column: str, rows, values, count=None) -> None:
        self.t.values.setdefault(kind, ValueProblems(kind)).add(column, rows, values, count)

    def check_column(self, blk, col: Column, live: np.ndarray) -> None:
        c = col.index
        kind = blk.kind[:, c]
        rows = blk.row_num
        is_text = (kind == ts.K_SHARED) | (kind == ts.K_TEXT)
        is_num = kind == ts.K_NUMBER
        is_bool = kind == ts.K_BOOL
        tsv = not self.t.is_xlsx
        if tsv and col.value_type == "NUMBER":
            # TSV holds only text: text that parses as a number is the number (checked in bulk)
            numeric_text = is_text & ((blk.flags[:, c] & ts.F_NUMERIC) != 0)
            is_text = is_text & ~numeric_text
            is_num = is_num | numeric_text
        # absent, blank, error (a formula without a cached value is a layout rejection of its own)
        null = ~(is_text | is_num | is_bool | (kind == ts.K_NOCACHE))
        null_text = np.zeros(len(kind), bool)
        text_idx = np.flatnonzero(is_text & live)
        if len(text_idx):
            texts, inverse = self.texts(blk, text_idx, c)
            props = np.array([self.text_props(col, s, tsv) for s in texts], dtype=np.int64).reshape(len(texts), 8)
            cell = props[inverse]
            null_text[text_idx] = cell[:, 0] == 1
            for bit, name in ((1, "invalidValueEncoding"), (2, "notNumberType"), (5, "numberOutOfRange"),
                              (3, "notStandardTerm"), (4, "invalidValueFormat"), (6, "invalidUrl")):
                bad = np.flatnonzero(cell[:, bit] == 1)
                if len(bad):
                    self.problem(name, col.name, rows[text_idx[bad[:MAX_EXAMPLES]]],
                                 [texts[inverse[b]] for b in bad[:MAX_EXAMPLES]], len(bad))
            if tsv and col.sub_type == "INTEGER":
                frac = np.flatnonzero(cell[:, 7] == 1)
                if len(frac):
                    ex = self.t.fractional.setdefault(col.name, Examples(MAX_EXAMPLES))
                    for b in frac[:MAX_EXAMPLES]:
                        ex.add(f"row {int(rows[text_idx[b]])}: {shorten(texts[inverse[b]], 30)}")
                    ex.count += max(0, len(frac) - MAX_EXAMPLES)
        missing = live & (null | null_text)
        if col.required:
            bad = np.flatnonzero(missing)
            if len(bad):
                self.problem("missingRequired", col.name, rows[bad[:MAX_EXAMPLES]],
                             ["" if kind[b] != ts.K_ERROR else "#error (read as no value)" for b in bad[:MAX_EXAMPLES]],
                             len(bad))
        # numbers and booleans
        nb = np.flatnonzero((is_num | is_bool) & live)
        if not len(nb):
            return
        values = blk.num[nb, c]
        if col.value_type == "NUMBER":
            bools = np.flatnonzero(is_bool[nb])
            if len(bools):
                self.problem("notNumberType", col.name, rows[nb[bools[:MAX_EXAMPLES]]],
                             [java_str(bool(values[b])) for b in bools[:MAX_EXAMPLES]], len(bools))
            numbers = np.flatnonzero(is_num[nb])
            v = values[numbers]
            if col.min is not None or col.max is not None:
                if col.sub_type == "INTEGER":
                    iv = np.clip(np.trunc(np.nan_to_num(v)), JAVA_INT_MIN, JAVA_INT_MAX)
                    lo = JAVA_INT_MIN if col.min is None else _java_int(col.min)
                    hi = JAVA_INT_MAX if col.max is None else _java_int(col.max)
                    out = np.flatnonzero((iv < lo) | (iv > hi))
                else:
                    lo = -np.finfo(float).max if col.min is None else float(col.min)
                    hi = np.finfo(float).max if col.max is None else float(col.max)
                    out = np.flatnonzero((v < lo) | (v > hi))
                if len(out):
                    self.problem("numberOutOfRange", col.name, rows[nb[numbers[out[:MAX_EXAMPLES]]]],
                                 [java_str(float(v[o])) for o in out[:MAX_EXAMPLES]], len(out))
            if col.sub_type == "INTEGER":
                frac = np.flatnonzero(v != np.trunc(v))
                if len(frac):
                    ex = self.t.fractional.setdefault(col.name, Examples(MAX_EXAMPLES))
                    for f in frac[:MAX_EXAMPLES]:
                        ex.add(f"row {int(rows[nb[numbers[f]]])}: {java_str(float(v[f]))}")
                    ex.count += max(0, len(frac) - MAX_EXAMPLES)
        if col.permissible is not None or col.pattern is not None or col.value_type in ("STRING", "URL"):
            as_text = np.where(is_bool[nb], np.where(values != 0, -np.inf, np.inf), values)
            uniq, inverse = np.unique(as_text, return_inverse=True)
            texts = [("true" if u == -np.inf else "false") if np.isinf(u) else java_str(float(u)) for u in uniq]
            props = np.array([self.text_props(col, s, numeric=True) for s in texts],
                             dtype=np.int64).reshape(len(texts), 8)
            cell = props[inverse]
            for bit, name in ((1, "invalidValueEncoding"), (3, "notStandardTerm"), (4, "invalidValueFormat"),
                              (6, "invalidUrl")):
                bad = np.flatnonzero(cell[:, bit] == 1)
                if len(bad):
                    self.problem(name, col.name, rows[nb[bad[:MAX_EXAMPLES]]],
                                 [texts[inverse[b]] for b in bad[:MAX_EXAMPLES]], len(bad))

    @staticmethod
    def text_props(col: Column, s: str,
                   tsv: bool = False,  # mutation: equivalent — read only for text (numeric False), and every such call passes it
                   numeric: bool = False) -> tuple:
        """(blank, non-ascii, not-number, not-permissible, bad-format, out-of-range, bad-url, fraction)."""
        if not numeric and not s.strip(JAVA_TRIM):
            return (1, 0, 0, 0, 0, 0, 0, 0)
        ascii_bad = col.value_type == "STRING" and not s.isascii()
        notnum = out = frac = False
        if col.value_type == "NUMBER" and not numeric:
            if tsv and _NUMBER_TEXT.match(s):
                v = float(s)
                frac = col.sub_type == "INTEGER" and math.isfinite(v) and v != math.trunc(v)
                if col.min is not None and v < float(col.min):
                    out = True
                if col.max is not None and v > float(col.max):
                    out = True
            else:
                notnum = True
        perm = col.permissible is not None and s.lower() not in {p.lower() for p in col.permissible}
        fmt = col.pattern is not None and col.pattern.fullmatch(s) is None
        url = col.value_type == "URL" and not _URL.match(s)
        return (0, int(ascii_bad), int(notnum), int(perm), int(fmt), int(out), int(url), int(frac))

    def collect_ids(self, blk, live: np.ndarray) -> None:
        t = self.t
        if t.id_col is None:
            return
        c = t.id_col  # < the block's width: blocks hold every header column
        idx = np.flatnonzero(live)
        if not len(idx):
            return
        kind = blk.kind[idx, c]
        rows = blk.row_num[idx]
        ids = np.full(len(idx), -1, np.int64)
        nums = blk.num[idx, c]
        is_num = (kind == ts.K_NUMBER) | ((kind == ts.K_TEXT) & ((blk.flags[idx, c] & ts.F_NUMERIC) != 0))
        good_num = is_num & (nums == np.trunc(nums)) & (nums >= 1) & (nums < 2**53)
        ids[good_num] = nums[good_num].astype(np.int64)
        texts_idx = np.flatnonzero(((kind == ts.K_SHARED) | (kind == ts.K_TEXT)) & ~is_num)
        if len(texts_idx):
            texts, inverse = self.texts(blk, idx[texts_idx], c)
            parsed = np.array([_id_of(s) for s in texts], np.int64)
            ids[texts_idx] = parsed[inverse]
        bad = np.flatnonzero(ids < 1)
        for b in bad[:MAX_EXAMPLES]:
            value = "" if kind[b] not in (ts.K_NUMBER, ts.K_SHARED, ts.K_TEXT) else (
                java_str(float(nums[b])) if kind[b] == ts.K_NUMBER else None)
            if value is None:
                value = self.texts(blk, idx[b:b + 1], c)[0][0]
            t.bad_ids.add(f"row {int(rows[b])}: '{shorten(value, 40)}'" if value else f"row {int(rows[b])}: empty")
        t.bad_ids.count += max(0, len(bad) - MAX_EXAMPLES)
        ok = ids >= 1
        self.ids.append(ids[ok])
        self.id_rows.append(rows[ok].astype(np.int32))
        xyz = np.full((int(ok.sum()), 3), np.nan)
        for j, name in enumerate(("X", "Y", "Z")):
            cc = t.column(name)
            if cc is None:
                continue
            sel = idx[ok]
            k = blk.kind[sel, cc]
            v = np.where(k == ts.K_NUMBER, blk.num[sel, cc], np.nan)
            tsv_num = (k == ts.K_TEXT) & ((blk.flags[sel, cc] & ts.F_NUMERIC) != 0)
            v = np.where(tsv_num, blk.num[sel, cc], v)
            text_cells = np.flatnonzero(((k == ts.K_SHARED) | (k == ts.K_TEXT)) & ~tsv_num)
            if len(text_cells):
                texts, inverse = self.texts(blk, sel[text_cells], cc)
                parsed = np.array([float(s) if _NUMBER_TEXT.match(s) else np.nan for s in texts])
                v[text_cells] = parsed[inverse]
            xyz[:, j] = v
        self.xyz.append(xyz)
        for name, seen in (("Mask name", t.mask_names), ("Source file", t.source_files)):
            cc = t.column(name)
            if cc is None:
                continue
            k = blk.kind[idx, cc]
            sel = np.flatnonzero((k == ts.K_SHARED) | (k == ts.K_TEXT))
            if not len(sel):
                continue
            texts, inverse = self.texts(blk, idx[sel], cc)
            _, first = np.unique(inverse, return_index=True)
            for u in np.argsort(first).tolist():  # in row order: the first distinct values are kept
                f = int(first[u])
                value = texts[u].strip()
                if value and value not in seen and len(seen) < MAX_DISTINCT:
                    seen[value] = int(rows[sel[f]])

    def finish(self) -> None:
        t = self.t
        t.ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)
        t.id_rows = np.concatenate(self.id_rows) if self.id_rows else np.zeros(0, np.int64)
        t.xyz = np.concatenate(self.xyz) if self.xyz else np.zeros((0, 3))
        fix_rows = "delete the empty row(s) between data rows (Excel: select the rows, Delete Row)"
        if self.gaps.count:
            self.layout_error(
                f"{self.gaps.count} run(s) of rows below the header were never written (rows {self.gaps.text()}), "
                "with data below them: CEDAR's reader has no row there and the validation fails",
                fix_rows, blocking=False)
        extra = [s for s in self.search.found[self.known_separators:]]
        if extra:
            total = len(self.search.found)
            self.layout_error(
                f"row {extra[0]} is empty and the row below it holds data: CEDAR takes an empty row followed by "
                f"a non-empty row for a separator row, so it finds {total} "
                + ("(\"Too many separator rows.\")" if total > 2 else "and misreads the header"),
                fix_rows, row=extra[0], blocking=False)
        if self.nocache.count:
            self.layout_error(
                f"{self.nocache.count} formula cell(s) without a cached value ({self.nocache.text()}): CEDAR reads "
                "cached values only, and a formula never calculated has none (files written by scripts)",
                "open and save the file in Excel or LibreOffice (which stores the results), or paste values",
                blocking=False)
        if self.numbad.count:
            self.layout_error(f"{self.numbad.count} number cell(s) whose stored text is not a number "
                              f"({self.numbad.text()})", "re-save the workbook from Excel or LibreOffice",
                              blocking=False)
        if t.rows == 0 and t.layout != "plain":
            self.layout_error(f"no data rows below the header row {t.header_row}: CEDAR cannot validate a table "
                              "without records", "add one row per object below the header row",
                              row=t.header_row, blocking=False)
        if self.src.sst_long:  # both sources count them (TSV: always 0)
            t.structure.append(TABLE_LIMIT.finding(
                f"{t.display}: {self.src.sst_long} shared string(s) longer than Excel's {MAX_CELL_CHARS:,} characters "
                "per cell (MAX_CELL_CHARS); they were cut", self.loc, fix="shorten the text", authority=self.auth))
        if getattr(self.src, "bad_utf8", 0):
            t.read_error = TABLE_READ.finding(
                f"{t.display} is not UTF-8 text ({self.src.bad_utf8}{'+' if self.src.bad_utf8 >= 1000 else ''} "
                "distinct value(s) hold bytes that are not UTF-8)",
                self.loc, fix="save the table as UTF-8 tab-separated text", authority=Authority.SCHEMA)


class _Stop(Exception):
    pass


def _java_int(value) -> int:
    v = float(value)
    if math.isnan(v):
        return 0
    if not math.isfinite(v):
        return JAVA_INT_MAX if v == math.inf else JAVA_INT_MIN
    return int(max(JAVA_INT_MIN, min(JAVA_INT_MAX, math.trunc(v))))


def _text_of(cell) -> str:
    if cell is None or cell[1] is None:
        return ""
    return str(cell[1])


def _is_text(cell) -> bool:
    return cell is not None and cell[0] in (ts.K_SHARED, ts.K_TEXT, ts.K_BLANK, ts.K_COMPLEX) and (
        cell[1] is None or isinstance(cell[1], str))


def _id_of(text: str) -> int:
    s = text.strip()
    if s.isascii() and s.isdigit() and len(s) <= 18:
        return int(s) if int(s) >= 1 else -1
    return -1


# --- checks --------------------------------------------------------------------------------


def _unreadable(table: ObjectsTable) -> CheckResult | None:
    if table.read_error is not None:
        return CheckResult(skip=f"{table.display} could not be read (see its layout item)")
    if table.truncated:
        return CheckResult(skip=f"{table.display} was not read to the end: it exceeds a limit (see its layout item)")
    if table.blocking or table.layout is None:
        return CheckResult(skip=f"{table.display} has no readable layout (see its layout item)")
    return None


def check_layout(table: ObjectsTable) -> CheckResult:
    """The table opens and CEDAR can read its structure; schema rows use the EPIC vocabulary."""
    if table.read_error is not None:
        return CheckResult(findings=[table.read_error])
    result = CheckResult(findings=list(table.structure) + list(table.vocabulary))
    if table.layout == "plain":
        result.findings.append(TABLE_LAYOUT_PLAIN.finding(
            f"{table.display} starts with its header row; the template's schema rows (Type, Unit, … Requirement "
            "level) and the empty separator row are missing, so values are not type-checked",
            Location(file=table.display, row=table.header_row),
            fix="start from the HuBMAP object-by-feature template (schema rows, an empty row, then the header)"))
    if table.layout is not None:
        result.data["rows"] = table.rows
        sheet = f"sheet {table.sheet!r}, " if table.is_xlsx and table.sheet else ""
        result.notes.append(
            f"{table.display}: {sheet}{table.layout} layout, header at row {table.header_row}, "
            f"{table.rows} data row(s), {len(table.validated)} column(s) with a schema")
    return result


def check_columns(table: ObjectsTable) -> CheckResult:
    if (skip := _unreadable(table)) is not None:
        return skip
    missing = [c for c in TEMPLATE_COLUMNS if table.column(c) is None]
    if missing:
        return CheckResult(findings=[TABLE_COLUMNS.finding(
            f"{table.display}: template column(s) missing from the header (row {table.header_row}): "
            f"{', '.join(repr(m) for m in missing)}", Location(file=table.display, row=table.header_row),
            fix="keep the template's columns with these names (then any feature columns)")])
    return CheckResult(notes=[f"columns: {cut_list(table.columns, 12)}"])


_FIXES = {
    "missingRequired": "fill every cell of a REQUIRED column (N/A counts as a value in text columns)",
    "notNumberType": "store numbers as numbers, not text (Excel: Data → Text to Columns, or VALUE())",
    "notStandardTerm": "use one of the values of the column's Permissible values row",
    "invalidValueFormat": "write the value in the column's format (obo id: PREFIX:0000000 with 7 digits; doi: "
                          "10.xxxx/… without https://doi.org/ or dx.doi.org/)",
    "invalidValueEncoding": "use US-ASCII characters only (replace µ, é, curly quotes …)",
    "numberOutOfRange": "keep numbers within the column's Min value and Max value",
    "invalidUrl": "write a full URL starting with https://",
}


def check_values(table: ObjectsTable) -> CheckResult:
    """CEDAR's value rules, one finding per kind of error, with Excel rows, columns and values."""
    if (skip := _unreadable(table)) is not None:
        return skip
    if not table.cedar_values:
        return CheckResult(skip=f"CEDAR rejects the layout of {table.display} before it validates values "
                                "(see its layout item)")
    result = CheckResult()
    auth = table.authority
    trailing = _trailing_empty(table)
    inner_empty = table.empty_count - (trailing[1] - trailing[0] + 1 if trailing else 0)
    required_cols = [c.name for c in table.validated if c.required]
    for kind, (rule, words) in VALUE_RULES.items():
        problems = table.values.get(kind)
        extra = ""
        count = problems.examples.count if problems else 0
        if kind == "missingRequired" and required_cols and table.empty_count:
            count += table.empty_count * len(required_cols)
            if trailing:
                extra = (f"; rows {trailing[0]}–{trailing[1]} hold only cell formatting (the template's "
                         f"pre-formatted empty rows left under the data): CEDAR reads them as data rows whose "
                         f"{len(required_cols)} REQUIRED cells are missing")
            if inner_empty > 0:
                extra += f"; {inner_empty} empty row(s) inside the data (each misses every REQUIRED cell)"
        if not count:
            continue
        by_col = ", ".join(f"'{c}' ×{n}" for c, n in list((problems.columns if problems else {}).items())[:6])
        shown = problems.examples.text() if problems and problems.examples.first else ""
        fix = _FIXES[kind]
        if kind == "missingRequired" and trailing:
            fix = "delete the empty formatted rows left from the template (select them, Delete Row); " + fix
        if kind == "notNumberType" and problems and any(_NUMBER_TEXT.match(v.rsplit("value '", 1)[-1].rstrip("'"))
                                                        for v in problems.examples.first):
            words += " (a number stored as text)"
        result.findings.append(rule.finding(
            f"{table.display}: {count} × {kind}: {words}"
            + (f" ({by_col})" if by_col else "") + (f": {shown}" if shown else "") + extra,
            Location(file=table.display), fix=fix, authority=auth))
    for name, examples in table.fractional.items():
        result.findings.append(TABLE_INTEGER_FRACTION.finding(
            f"{table.display}: column '{name}' is typed integer but {examples.count} value(s) are fractional: "
            f"{examples.text()} (CEDAR accepts them)", Location(file=table.display, column=name),
            fix="type the column float in the Type row, or round the values"))
    if not result.findings:
        result.notes.append(f"{table.rows} row(s) × {len(table.validated)} column(s) conform to the schema rows")
    return result


def _trailing_empty(table: ObjectsTable) -> tuple[int, int] | None:
    if table.empty_rows and table.empty_rows[-1][0] > table.last_nonempty:
        return table.empty_rows[-1][0], table.empty_rows[-1][1]
    return None


def check_ids(table: ObjectsTable) -> CheckResult:
    if (skip := _unreadable(table)) is not None:
        return skip
    result = CheckResult()
    loc = Location(file=table.display, column="Object ID")
    if table.bad_ids.count:
        result.findings.append(TABLE_IDS.finding(
            f"{table.display}: {table.bad_ids.count} Object ID(s) not positive integers: {table.bad_ids.text()}",
            loc, fix="write each object's integer label value (≥ 1) in Object ID"))
    ids, rows = table.ids, table.id_rows
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
    """Table ids not in the channel: error; channel ids missing from the table: warning (producers
    drop small objects). ``stats``: the channel's statistics, or None when not decoded."""
    if (skip := _unreadable(table)) is not None:
        return skip
    if channel is None:
        return CheckResult(skip=f"prefix {table.prefix!r} names no channel (see {table.display}::channel)")
    result = CheckResult()
    loc = Location(file=table.display, channel=channel)
    wrong_names = {n: r for n, r in table.mask_names.items() if n != table.prefix}
    if wrong_names:
        shown = ", ".join(f"'{shorten(n, 40)}' (first at row {r})" for n, r in list(wrong_names.items())[:MAX_EXAMPLES])
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: Mask name must be {table.prefix!r} (the file's prefix and channel name); found {shown}",
            Location(file=table.display, column="Mask name"), fix=f"write '{table.prefix}' in every Mask name cell"))
    wrong_sources = {n: r for n, r in table.source_files.items() if n not in mask_files}
    if wrong_sources:
        shown = ", ".join(f"'{shorten(n, 60)}' (first at row {r})" for n, r in list(wrong_sources.items())[:MAX_EXAMPLES])
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: Source file names no mask image in derived/segmentation_masks/ "
            f"({cut_list(mask_files)}); found {shown}",
            Location(file=table.display, column="Source file"), fix=f"write '{mask_file}' in every Source file cell"))
    if stats is None:
        result.notes.append("ids not compared: the channel could not be decoded (see its labels item)")
        return result
    ids = np.unique(table.ids)
    mask_ids = np.asarray(stats.ids)
    extra = np.setdiff1d(ids, mask_ids, assume_unique=True)  # mutation: equivalent — speed only: both lists are unique already
    missing = np.setdiff1d(mask_ids, ids, assume_unique=True)  # mutation: equivalent — speed only: both lists are unique already
    if len(extra):
        if len(mask_ids) == 0:
            text = (f"the mask channel {channel!r} holds no objects, but the table lists {len(ids)}"
                    f" (first ids {cut_list(extra[:MAX_EXAMPLES].tolist(), MAX_EXAMPLES)})")
        else:
            text = (f"{len(extra)} Object ID(s) in the table are not objects of mask channel {channel!r} "
                    f"(first {', '.join(map(str, extra[:MAX_EXAMPLES]))}); the table lists {len(ids)}, the channel "
                    f"holds {len(mask_ids)}")
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: {text}", loc,
            fix="regenerate the table from the mask channel it describes (Object ID = the object's pixel value)"))
    if len(missing):
        result.findings.append(TABLE_MASK_AGREEMENT.finding(
            f"{table.display}: {len(missing)} of the {len(mask_ids)} objects of channel {channel!r} are not in the "
            f"table (first {', '.join(map(str, missing[:MAX_EXAMPLES]))})", loc,
            fix="list every object of the channel, or say in the dataset's description which objects were dropped",
            severity=Severity.WARNING))
    if not result.findings:
        result.notes.append(f"{len(ids)} Object ID(s) = the {len(mask_ids)} ids of channel {channel!r}")
    return result


def check_centroids(table: ObjectsTable, channel: str | None, stats, image_size: tuple[int, int, int],
                    physical: tuple[float | None, float | None, float | None] | None) -> CheckResult:
    """X, Y (Z when the stats have z) inside the image and within 1 px of each object's box.

    ``image_size`` = (size_z, height, width); ``physical`` = micrometres per pixel (x, y, z),
    None entries where unknown (the caller converts PhysicalSize*Unit)."""
    from ..units import micrometres_per

    if (skip := _unreadable(table)) is not None:
        return skip
    if channel is None or stats is None:
        return CheckResult(skip="no decoded channel to compare with (see the channel and labels items)")
    if table.column("X") is None or table.column("Y") is None:
        return CheckResult(skip=f"{table.display} has no X/Y columns (see its columns item)")
    if len(image_size) == 2:  # the former (height, width) form
        image_size = (1, *image_size)
    size_z, height, width = image_size
    physical = tuple(physical) if physical else (None, None, None)
    if len(physical) == 2:  # the former (PhysicalSizeY, PhysicalSizeX) form, in µm
        physical = (physical[1], physical[0], None)
    has_z = getattr(stats, "z_range", None) is not None and getattr(stats, "centroid_z", None) is not None
    axes = 3 if has_z and table.column("Z") is not None else 2
    raw = table.xyz[:, :axes]
    scale = np.ones(axes)
    notes = []
    for j in range(axes):
        unit = table.units[j]
        if unit.strip().lower() in ("", "pixel", "pixels", "px"):
            continue
        per_unit = micrometres_per(unit)
        if per_unit is None:
            notes.append(f"unit {unit!r} of {'XYZ'[j]} not understood: read as pixels")
            continue
        if physical[j] is None:
            return CheckResult(skip=f"{'XYZ'[j]} is in {unit} but the mask has no usable PhysicalSize{'XYZ'[j]} "
                                    "(see its physical-size item)")
        scale[j] = per_unit / physical[j]
    ids, rows = table.ids, table.id_rows
    pos = stats.index_of(ids)
    known = pos >= 0
    safe = np.where(known, pos, 0)
    nobj = len(stats.ids)
    bbox = np.asarray(stats.bbox)[safe] if nobj else np.zeros((len(ids), 4))
    zr = np.asarray(stats.z_range)[safe] if axes == 3 and nobj else None
    limits = [width, height, size_z]

    def verdict(factor):
        p = raw * factor
        inside = np.ones(len(ids), bool)
        for j in range(axes):
            inside &= (p[:, j] >= -0.5) & (p[:, j] <= limits[j] - 0.5)
        inbox = (p[:, 0] >= bbox[:, 1] - 1) & (p[:, 0] <= bbox[:, 3] + 1) & (p[:, 1] >= bbox[:, 0] - 1) & (
            p[:, 1] <= bbox[:, 2] + 1)
        if zr is not None:
            inbox &= (p[:, 2] >= zr[:, 0] - 1) & (p[:, 2] <= zr[:, 1] + 1)
        finite = np.isfinite(p).all(axis=1)
        return p, ~inside & finite, known & inside & ~inbox & finite, ~finite

    p, outside, off_box, nan = verdict(scale)
    result = CheckResult()
    loc = Location(file=table.display, channel=channel, column="X, Y" + (", Z" if axes == 3 else ""))
    units = "/".join(u or "pixel" for u in table.units[:axes])
    scaled = bool((scale != 1).any())
    if scaled and (outside.any() or off_box.any()):
        _, o2, b2, _ = verdict(np.ones(axes))
        if not o2.any() and b2.sum() <= max(0, len(ids) // 100):
            result.findings.append(TABLE_CENTROIDS.finding(
                f"{table.display}: the Unit row says {units}, but the values are pixel positions: read as "
                f"{units} (÷ PhysicalSize) {int(outside.sum() + off_box.sum())} centroid(s) fall outside their "
                f"objects, read as pixels all {int(known.sum())} lie inside them", loc,
                fix="write 'pixel' in the Unit row of X and Y (the values are pixel coordinates)"))
            return result
    for mask, what in ((outside, f"outside the {width} × {height}" + (f" × {size_z}" if axes == 3 else "")
                        + " px image"), (off_box, "outside the object's bounding box in the mask")):
        bad = np.flatnonzero(mask)
        if len(bad):
            shown = []
            for i in bad[:MAX_EXAMPLES]:
                coords = ", ".join(f"{v:g}" for v in raw[i])
                text = f"row {rows[i]} id {ids[i]} at ({coords}) {units}"
                if scaled:
                    text += " = (" + ", ".join(f"{v:.1f}" for v in p[i]) + ") px"
                if mask is off_box:
                    text += f" vs box x {bbox[i][1]}–{bbox[i][3]}, y {bbox[i][0]}–{bbox[i][2]}"
                shown.append(text)
            result.findings.append(TABLE_CENTROIDS.finding(
                f"{table.display}: {len(bad)} centroid(s) {what}: {'; '.join(shown)}", loc,
                fix="write each object's centroid (X = column, Y = row; pixels unless the Unit row says a length)"))
    missing_xy = int((nan & known).sum())
    if missing_xy:
        notes.append(f"{missing_xy} row(s) without numeric X/Y not compared")
    if not result.findings:
        result.notes.append(f"{int((known & ~nan).sum())} centroid(s) inside their objects' bounding boxes ({units})")
    result.notes.extend(notes)
    return result


def check_table_channel(table_name: str, display: str, channel_names: list[str]) -> CheckResult:
    """The table's prefix names a channel: an orphan table is an error."""
    prefix = table_prefix(table_name)
    if prefix in channel_names:
        return CheckResult(notes=[f"{display} describes channel {prefix!r}"])
    return CheckResult(findings=[TABLE_PAIRING.finding(
        f"{display}: prefix {shorten(prefix, 60)!r} names no channel of the mask image(s) "
        f"(channels: {cut_list(repr(c) for c in channel_names) or 'none readable'})",
        Location(file=display), fix="name the table `<channel name>-objects.xlsx` after the channel it describes")])


def check_channel_table(channel: str, mask_display: str, tables: list[str], suffixes: tuple[str, ...]) -> CheckResult:
    """A channel without a table is a warning (a whole-region channel may have none); two tables
    for one channel are an error."""
    mine = [t for t in tables if table_prefix(t.rsplit("/", 1)[-1]) == channel]
    loc = Location(file=mask_display, channel=channel)
    expected = " or ".join(f"`derived/segmentation_masks/{channel}{s}`" for s in suffixes)
    if not mine:
        return CheckResult(findings=[TABLE_PAIRING.finding(
            f"channel {channel!r} of {mask_display} has no objects table (expected {expected})", loc,
            fix="write one objects table per channel, named after the channel (a channel masking a whole "
                "region may have none)", severity=Severity.WARNING)])
    if len(mine) > 1:
        return CheckResult(findings=[TABLE_PAIRING.finding(
            f"channel {channel!r} has {len(mine)} objects tables: {cut_list(mine)}", loc,
            fix="keep exactly one table per channel")])
    return CheckResult(notes=[f"objects table: {mine[0]}"])


def check_xlsx_present(table_paths: list[str]) -> CheckResult:
    """HuBMAP's ingest globs derived/segmentation_masks/*-objects.xlsx and fails without one."""
    xlsx = [p for p in table_paths if re.fullmatch(r"derived/segmentation_masks/[^/]*-objects\.xlsx", p)]
    if xlsx:
        return CheckResult(notes=[f"{len(xlsx)} objects .xlsx table(s): {cut_list(xlsx)}"])
    tsv = [p for p in table_paths if p.endswith("-objects.tsv")]
    return CheckResult(findings=[TABLE_XLSX_PRESENT.finding(
        "No object by feature .XLSX files found." + (
            f" The dataset's tables are TSV ({cut_list(tsv)}): the directory schema allows them, but HuBMAP's "
            "ingest validates only .xlsx tables and rejects the upload" if tsv else ""),
        Location(file="derived/segmentation_masks/"),
        fix="save each objects table as `<channel>-objects.xlsx` from the HuBMAP template (a TSV may stay beside it)")])
