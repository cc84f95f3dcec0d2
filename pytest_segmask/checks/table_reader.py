"""Bounded, streaming access to an objects table's cells: the .xlsx package and the .tsv text.

``open_source(path, display)`` returns a ``Source`` whose ``read(ncols, row_cap)`` yields
blocks of physical rows (see ``table_scan``). Everything a hostile or damaged file could make
unbounded has a named limit, checked before memory is spent; exceeding one raises
``TableLimit`` naming it. Other damage raises ``TableUnreadable`` with a sentence for people.

Sheet choice follows CEDAR's spreadsheet validator (metadatacenter/spreadsheet-validator-api,
``DataTableVisitor``/``SchemaTableVisitor``: ``workbook.getSheet("MAIN").orElse(getFirstSheet())``).
"""

from __future__ import annotations

import posixpath
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..findings import shorten
from . import table_scan as ts

# --- limits (each exceeding one is a TABLE-LIMIT finding naming it) -----------------------
MAX_ROWS = ts.MAX_ROWS  # Excel: 1,048,576 rows per sheet
MAX_COLUMNS = ts.MAX_COLUMNS  # Excel: 16,384 columns (XFD)
MAX_TSV_ROWS = 10_000_000  # a TSV may exceed Excel's rows (schema 2.7); ~40 bytes kept per row
MAX_CELL_CHARS = 32_767  # Excel's limit on the text of one cell
MAX_SHEET_XML_BYTES = 4 << 30  # inflated sheet XML (a full 1,048,576-row sheet of 30 columns ~ 2 GB)
MAX_INFLATE_RATIO = 100  # inflated / compressed bytes, as Apache POI's zip-bomb guard (ratio 0.01)
INFLATE_GRACE_BYTES = 100 << 10  # POI's grace: the ratio is checked once this much has inflated
MAX_SHARED_STRINGS_BYTES = 512 << 20  # inflated xl/sharedStrings.xml
MAX_PART_BYTES = 16 << 20  # workbook.xml, relationships: small parts
MAX_ZIP_MEMBERS = 10_000
MAX_ROW_BYTES = 64 << 20  # one row of sheet XML, or one line of TSV
READ_BYTES = 4 << 20  # mutation: equivalent — bytes inflated / read per step: speed and memory only
PART_CHUNK_BYTES = 1 << 20  # mutation: equivalent — chunk size of the small parts: speed only

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_M = "{%s}" % MAIN_NS
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


class TableUnreadable(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class TableLimit(Exception):
    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


@dataclass
class Block:
    """``n`` physical rows: numbers, emptiness, and per cell kind/num/key/span/flags."""

    n: int
    row_num: np.ndarray
    row_nonempty: np.ndarray
    kind: np.ndarray
    num: np.ndarray
    key: np.ndarray
    sp_s: np.ndarray
    sp_n: np.ndarray
    flags: np.ndarray
    buf: np.ndarray  # the bytes the spans point into (valid until the next read)

    def raw(self, r: int, c: int) -> bytes:
        s = int(self.sp_s[r, c])
        return self.buf[s: s + int(self.sp_n[r, c])].tobytes()

    def rows(self, start: int, stop: int) -> "Block":
        sl = slice(start, stop)
        return Block(max(0, min(stop, self.n) - start), self.row_num[sl], self.row_nonempty[sl], self.kind[sl],
                     self.num[sl], self.key[sl], self.sp_s[sl], self.sp_n[sl], self.flags[sl], self.buf)


class _Counted:
    """A zip member stream that stops at a byte limit and at POI's inflate-ratio limit."""

    def __init__(self, fh, compressed: int, limit: int, limit_name: str, what: str) -> None:
        self.fh, self.compressed, self.limit, self.limit_name, self.what = fh, max(compressed, 1), limit, limit_name, what
        self.count = 0

    def read(self, size: int = -1) -> bytes:  # mutation: equivalent — any negative default reads a window
        data = self.fh.read(READ_BYTES if size is None or size < 0 else size)
        self.count += len(data)
        if self.count > self.limit:
            raise TableLimit(self.limit_name, f"{self.what} inflates to more than {self.limit:,} bytes "
                                              f"({self.limit_name})")
        if self.count > INFLATE_GRACE_BYTES and self.count > MAX_INFLATE_RATIO * self.compressed:
            raise TableLimit("MAX_INFLATE_RATIO", f"{self.what} inflates more than {MAX_INFLATE_RATIO}× its "
                                                  f"compressed size ({self.compressed:,} bytes): a zip bomb "
                                                  f"(MAX_INFLATE_RATIO, Apache POI's zip-bomb guard)")
        return data


def _parser():
    from lxml import etree

    # no huge_tree: libxml2 keeps its limits (text nodes <= 10 MB, depth <= 256)
    return etree.XMLParser(
        resolve_entities=False,  # mutation: equivalent — parts are read by attribute (expanded anyway); cells have no DTD
        no_network=True,  # mutation: equivalent — with load_dtd=False and entities unresolved nothing is fetched
        load_dtd=False)


class Source:
    """Common window logic: ``_fill()`` appends bytes; ``read`` scans blocks out of the window."""

    is_xlsx = True

    def __init__(self) -> None:
        self._reset()
        self.sheet_name = ""
        self.sheet_names: list[str] = []
        self._arrays: dict[tuple[int, int], dict] = {}

    def _reset(self) -> None:
        self.buf = np.zeros(0, np.uint8)  # mutation: equivalent — the first read replaces any smaller buffer
        self.pos = 0
        self.end = 0
        self.eof = False
        self.done = False
        self.last_row = 0
        self.out = np.zeros(8, np.int64)  # mutation: equivalent — a longer result array has unused slots

    def restart(self) -> None:
        """Scan again from the first row (the head is re-read when it is wider than assumed)."""
        self._reset()
        self._rewind()

    # the window ------------------------------------------------------------------------
    def _more(self, row_start: int | None = None) -> bool:
        """Slide the window: keep the unscanned tail, append the next bytes (one buffer, reused).
        ``row_start``: where the unfinished row begins when the tail also holds complete rows."""
        if self.eof:
            return False
        tail = self.end - self.pos
        if row_start is None and tail > MAX_ROW_BYTES:
            raise TableLimit("MAX_ROW_BYTES", self._row_too_long())
        if row_start is not None and self.end - row_start > MAX_ROW_BYTES:
            raise TableLimit("MAX_ROW_BYTES", self._row_too_long(int(self.out[3]) + 1))
        data = self._fill()
        if not data:
            self.eof = True
            return False  # mutation: equivalent — eof is set first, so a caller that scans again on True gets False from the next call: the same bytes, the same end
        need = tail + len(data)
        if need > len(self.buf):  # mutation: equivalent — ">=" reallocates a buffer that was just big enough
            grown = np.empty(max(need, 2 * READ_BYTES), np.uint8)  # mutation: equivalent — spare room only
            grown[:tail] = self.buf[self.pos:self.end]
            self.buf = grown
        elif tail:
            self.buf[:tail] = self.buf[self.pos:self.end].copy()
        self.buf[tail:need] = np.frombuffer(data, np.uint8)
        self.pos, self.end = 0, need
        return True

    @property
    def widest(self) -> int:
        return int(self.out[5])

    def read(self, ncols: int, row_cap: int, min_rows: int = 1) -> Block | None:  # mutation: equivalent — a larger minimum only reads ahead: same rows, other block boundaries
        """The next block of up to ``row_cap`` rows (cells of columns >= ncols are only counted).
        The block holds at least ``min_rows`` rows unless the sheet ends first (the head: its rows
        may span many windows)."""
        if self.done:
            return None
        arrays = self._arrays.get((ncols, row_cap))
        if arrays is None:  # one set of block arrays per shape, reused: the caller is done with a block
            self._arrays.clear()  # before it reads the next
            arrays = self._arrays[(ncols, row_cap)] = ts.new_block(row_cap, ncols)
        while True:
            with warnings.catch_warnings():  # numba's compile-time warnings are not the user's
                warnings.simplefilter("ignore")
                self._scan(arrays, ncols, row_cap)
            status, n = int(self.out[0]), int(self.out[2])
            if n and n < min_rows and status == ts.S_MORE and not self.eof:
                # too few rows for the caller: scan the same rows again with more bytes
                self._more(row_start=int(self.out[1]))
                continue
            self.pos = int(self.out[1])
            if n:
                self.last_row = int(self.out[3])
            if status == ts.S_ROW_LIMIT:
                raise TableLimit(*self._row_limit(int(self.out[4])))
            if status == ts.S_COL_LIMIT:
                raise TableLimit("MAX_COLUMNS", f"row {self.last_row + 1} has a cell in column "
                                                f"{int(self.out[4]):,}, beyond Excel's {MAX_COLUMNS:,} columns "
                                                f"(MAX_COLUMNS)")
            if status == ts.S_BAD:
                raise TableUnreadable(*self._bad(int(self.out[4])))
            if status == ts.S_DONE:
                self.done = True
            if n:
                return Block(n, *(arrays[k][:n] for k in ("row_num", "row_nonempty", "kind", "num", "key",
                                                          "sp_s", "sp_n", "flags")), self.buf)
            if self.done:
                return None
            if not self._more() and self.is_xlsx:  # the sheet XML ends before </sheetData>
                raise TableUnreadable(f"{self.display}: the sheet XML ends early (after row {self.last_row}); the "
                                      "file is truncated", "re-save the workbook from Excel or LibreOffice")

class XlsxSource(Source):
    def __init__(self, fh, display: str) -> None:
        super().__init__()
        self.display = display
        self.fh = fh
        self.stream = None
        try:
            self.zf = zipfile.ZipFile(fh)
        except zipfile.BadZipFile as exc:
            raise TableUnreadable(f"{display} is not a readable .xlsx workbook (damaged zip: {shorten(str(exc), 80)})",
                                  "re-save the table from Excel or LibreOffice as .xlsx") from None
        infos = self.zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise TableLimit("MAX_ZIP_MEMBERS", f"the workbook holds {len(infos):,} zip members, more than "
                                                f"{MAX_ZIP_MEMBERS:,} (MAX_ZIP_MEMBERS)")
        self.members = {i.filename: i for i in infos}
        if any(i.flag_bits & 0x1 for i in infos):
            raise TableUnreadable(f"{display} is encrypted", "remove the password and save as a plain .xlsx workbook")
        if "xl/vbaProject.bin" in self.members:
            raise TableUnreadable(f"{display} contains macros (xl/vbaProject.bin)",
                                  "save it as a plain .xlsx workbook without macros")
        sheet_part, shared_part = self._parts()
        self.sst: list[str] = []
        self.sst_long = 0  # shared strings longer than MAX_CELL_CHARS (cut)
        self.sst_blank = np.zeros(0, np.bool_)
        if shared_part:
            self._shared_strings(shared_part)
        self.sheet_info = self.members.get(sheet_part)
        if self.sheet_info is None:
            raise TableUnreadable(f"{display}: the sheet part {sheet_part} is missing",
                                  "re-save the workbook from Excel or LibreOffice")
        self._rewind()

    def _rewind(self) -> None:
        info = self.sheet_info
        if self.stream is not None:
            self.stream.fh.close()
        self.stream = _Counted(self.zf.open(info), info.compress_size, MAX_SHEET_XML_BYTES,
                               "MAX_SHEET_XML_BYTES", f"the sheet {self.sheet_name!r}")

    def close(self) -> None:
        self.stream.fh.close()  # set by __init__ (a source that failed to open is never closed here)
        self.zf.close()
        self.fh.close()

    def _part(self, name: str) -> bytes:
        info = self.members.get(name)
        if info is None:
            raise TableUnreadable(f"{self.display}: the workbook part {name} is missing",
                                  "re-save the workbook from Excel or LibreOffice")
        with self.zf.open(info) as fh:
            stream = _Counted(fh, info.compress_size, MAX_PART_BYTES, "MAX_PART_BYTES", name)
            chunks = []
            while data := stream.read(PART_CHUNK_BYTES):
                chunks.append(data)
        return b"".join(chunks)

    def _parts(self) -> tuple[str, str | None]:
        from lxml import etree

        try:
            workbook = etree.fromstring(self._part("xl/workbook.xml"), _parser())
            rels = etree.fromstring(self._part("xl/_rels/workbook.xml.rels"), _parser())
        except etree.XMLSyntaxError as exc:
            raise TableUnreadable(f"{self.display}: the workbook's XML is damaged ({shorten(str(exc), 100)})",
                                  "re-save the workbook from Excel or LibreOffice") from None
        targets = {}
        shared = None
        for rel in rels.iter(f"{_PKG_REL}Relationship"):
            target = rel.get("Target") or ""
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            targets[rel.get("Id")] = path
            if (rel.get("Type") or "").endswith("/sharedStrings"):
                shared = path
        sheets = [(s.get("name") or "", s.get(f"{_REL}id")) for s in workbook.iter(f"{_M}sheet")]
        if not sheets:
            raise TableUnreadable(f"{self.display}: the workbook has no worksheet",
                                  "save a workbook with the table on a sheet named MAIN")
        self.sheet_names = [name for name, _ in sheets]
        chosen = next((s for s in sheets if s[0] == "MAIN"), sheets[0])
        self.sheet_name = chosen[0]
        part = targets.get(chosen[1])
        if part is None:
            raise TableUnreadable(f"{self.display}: the sheet {chosen[0]!r} has no part in the workbook",
                                  "re-save the workbook from Excel or LibreOffice")
        if shared is None and "xl/sharedStrings.xml" in self.members:
            shared = "xl/sharedStrings.xml"
        return part, shared

    def _shared_strings(self, name: str) -> None:
        from lxml import etree

        info = self.members.get(name)
        if info is None:
            return
        strings = self.sst
        with self.zf.open(info) as fh:
            stream = _Counted(fh, info.compress_size, MAX_SHARED_STRINGS_BYTES, "MAX_SHARED_STRINGS_BYTES",
                              "xl/sharedStrings.xml")
            try:
                for _, si in etree.iterparse(
                        stream, tag=f"{_M}si", resolve_entities=False,
                        no_network=True,  # mutation: equivalent — with load_dtd=False and entities unresolved nothing is fetched
                        load_dtd=False):  # mutation: equivalent — an external DTD could only declare entities, left unresolved
                    text = "".join(t.text or "" for t in si.iter(f"{_M}t") if t.getparent().tag != f"{_M}rPh")
                    if len(text) > MAX_CELL_CHARS:
                        self.sst_long += 1
                        text = text[:MAX_CELL_CHARS]
                    strings.append(text)
                    si.clear()
                    while si.getprevious() is not None:
                        del si.getparent()[0]
            except etree.XMLSyntaxError as exc:
                if "huge" in str(exc).lower():
                    raise TableLimit("MAX_CELL_CHARS", "a shared string is longer than libxml2's 10 MB text "
                                                       f"limit, far beyond Excel's {MAX_CELL_CHARS:,} characters "
                                                       "per cell (MAX_CELL_CHARS)") from None
                raise TableUnreadable(f"{self.display}: xl/sharedStrings.xml is damaged "
                                      f"({shorten(str(exc), 100)})",
                                      "re-save the workbook from Excel or LibreOffice") from None
        jtrim = _JAVA_TRIM
        self.sst_blank = np.fromiter((not s.strip(jtrim) for s in strings), np.bool_, len(strings))

    def _fill(self) -> bytes:
        return self.stream.read(READ_BYTES)

    def _scan(self, a, ncols, row_cap) -> None:
        ts.scan_xlsx(self.buf, self.pos, self.end, ncols, row_cap, self.last_row, self.sst_blank,
                     MAX_ROWS, MAX_COLUMNS, ts.pow10(), a["row_num"], a["row_nonempty"], a["kind"], a["num"],
                     a["key"], a["sp_s"], a["sp_n"], a["flags"], self.out)

    def _row_too_long(self, row: int | None = None) -> str:
        return (f"row {self.last_row + 1 if row is None else row} of the sheet XML is longer than {MAX_ROW_BYTES:,} "
                "bytes (MAX_ROW_BYTES)")

    def _row_limit(self, row: int) -> tuple[str, str]:
        return "MAX_ROWS", (f"the sheet has a row numbered {row:,}, beyond Excel's {MAX_ROWS:,} rows (MAX_ROWS)")

    def _bad(self, detail: int) -> tuple[str, str]:
        fix = "re-save the workbook from Excel or LibreOffice"
        if int(self.out[7]) == ts.BAD_SHARED:
            if detail >= 0:
                return (f"{self.display}: a cell after row {self.last_row} refers to shared string {detail:,}, "
                        f"but the workbook has {len(self.sst_blank):,}", fix)
            return (f"{self.display}: a cell after row {self.last_row} refers to a shared string by something "
                    "that is not a number", fix)
        return (f"{self.display}: the sheet XML is damaged near row {self.last_row + 1} (row numbers out of order "
                "or not numbers)", fix)

    # cells the scanner left to the slow path --------------------------------------------
    def complex_value(self, raw: bytes):
        """(kind, number, text) of a <c> element the scanner did not resolve."""
        from lxml import etree

        m = re.match(rb"<\s*(?:([A-Za-z_][\w.-]*):)?c\b", raw)
        prefix = m.group(1) if m and m.group(1) else None
        decl = (b' xmlns:' + prefix if prefix else b' xmlns') + b'="' + MAIN_NS.encode() + b'"'
        try:
            cell = etree.fromstring(b"<w" + decl + b">" + raw + b"</w>", _parser())[0]
        except (etree.XMLSyntaxError, IndexError):
            return ts.K_TEXT, 0.0, raw.decode("utf-8", "replace")
        t = cell.get("t") or "n"
        f = cell.find(f"{_M}f")
        v = cell.find(f"{_M}v")
        is_ = cell.find(f"{_M}is")
        if is_ is not None:
            text = "".join(x.text or "" for x in is_.iter(f"{_M}t") if x.getparent().tag != f"{_M}rPh")
            return ts.K_TEXT, 0.0, text[:MAX_CELL_CHARS]
        vtext = (v.text or "") if v is not None else None  # lxml: <v></v> has no text
        if f is not None and (vtext is None or (vtext == "" and t != "str")):
            return ts.K_NOCACHE, 0.0, ""
        if vtext is None or (vtext == "" and t != "str"):
            return ts.K_BLANK, 0.0, ""
        if t == "s":
            try:
                return ts.K_TEXT, 0.0, self.sst[int(vtext)]
            except (ValueError, IndexError):
                return ts.K_TEXT, 0.0, ""
        if t == "b":
            return ts.K_BOOL, 1.0 if vtext.strip() not in ("0", "") else 0.0, ""
        if t == "e":
            return ts.K_ERROR, 0.0, vtext
        if t in ("str", "inlineStr", "d"):
            return ts.K_TEXT, 0.0, vtext[:MAX_CELL_CHARS]
        try:
            return ts.K_NUMBER, float(vtext), ""
        except ValueError:
            return ts.K_NUMBAD, 0.0, vtext

    def text(self, raw: bytes, flags: int) -> str:
        text = raw.decode("utf-8", "replace")
        if flags & ts.F_AMP:
            text = _unescape(text)
        return text[:MAX_CELL_CHARS]


class TsvSource(Source):
    is_xlsx = False

    def __init__(self, fh, display: str) -> None:
        super().__init__()
        self.display = display
        self.fh = fh
        self.first = True
        self.sst: list[str] = []
        self.sst_long = 0
        self.bad_utf8 = 0  # distinct values that are not UTF-8 (counted up to 1,000)
        self._bad_texts: set[str] = set()

    def close(self) -> None:
        self.fh.close()

    def _rewind(self) -> None:
        self.fh.seek(0)
        self.first = True

    def _fill(self) -> bytes:
        data = self.fh.read(READ_BYTES)
        if self.first:
            self.first = False
            while _short(data) and (more := self.fh.read(READ_BYTES)):
                data += more
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:] or self.fh.read(READ_BYTES)
            elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise TableUnreadable(f"{self.display} is UTF-16 text, not UTF-8",
                                      "save the table as UTF-8 tab-separated text")
        return data

    def _scan(self, a, ncols, row_cap) -> None:
        ts.scan_tsv(self.buf, self.pos, self.end, self.eof, ncols, row_cap, self.last_row, MAX_COLUMNS,
                    MAX_ROW_BYTES, ts.pow10(), a["row_num"], a["row_nonempty"], a["kind"], a["num"], a["key"],
                    a["sp_s"], a["sp_n"], a["flags"], self.out)
        if int(self.out[3]) > MAX_TSV_ROWS:
            raise TableLimit("MAX_TSV_ROWS", f"the table has more than {MAX_TSV_ROWS:,} rows (MAX_TSV_ROWS)")

    def _row_too_long(self, row: int | None = None) -> str:
        return (f"line {self.last_row + 1 if row is None else row} is longer than {MAX_ROW_BYTES:,} bytes without a "
                "line end (MAX_ROW_BYTES)")

    def _row_limit(self, row: int) -> tuple[str, str]:
        return "MAX_ROW_BYTES", self._row_too_long()

    def _bad(self, detail: int) -> tuple[str, str]:
        return (f"{self.display}: line {detail} holds binary bytes (NUL)",
                "save the table as UTF-8 tab-separated text")

    def complex_value(self, raw: bytes):
        text = raw.decode("utf-8", "surrogateescape")
        if text.startswith('"'):
            close = text.find('"', 1)
            while close != -1 and close + 1 < len(text) and text[close + 1] == '"':
                close = text.find('"', close + 2)
            inner = text[1:close] if close != -1 else text[1:]
            text = inner.replace('""', '"') + (text[close + 1:] if close != -1 else "")
        return ts.K_TEXT, 0.0, self._checked(text)

    def text(self, raw: bytes, flags: int) -> str:
        if flags & ts.F_HIGH:
            return self._checked(raw.decode("utf-8", "surrogateescape"))
        return raw.decode("ascii")

    def _checked(self, text: str) -> str:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            if len(self._bad_texts) < 1000:  # a value is decoded once in the head and once as data
                self._bad_texts.add(text)
                self.bad_utf8 = len(self._bad_texts)
        return text[:MAX_CELL_CHARS]


def _short(data: bytes) -> bool:
    """Too short to tell a byte-order mark (3 bytes)."""
    return len(data) < 3  # mutation: equivalent — a longer first read only reads ahead


_JAVA_TRIM = "".join(chr(i) for i in range(33))  # Java's String.trim(): characters <= U+0020
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _unescape(text: str) -> str:
    def one(m):
        name = m.group(1)
        if name[0] == "#":
            try:
                code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
                return chr(code)
            except (ValueError, OverflowError):
                return m.group(0)
        return _NAMED[name]

    return _ENTITY.sub(one, text)


def open_source(path: Path) -> Source:
    """Open ``path`` (a regular file only) as an xlsx or tsv source."""
    from ..dirschema import open_regular

    display = path.name
    fh = open_regular(path, "rb")
    try:
        if path.name.endswith(".xlsx"):
            magic = fh.read(4)  # mutation: equivalent — any read of 4 or more bytes holds the magic
            if magic.startswith(b"\xd0\xcf\x11\xe0"):
                raise TableUnreadable(f"{display} is an encrypted workbook or a legacy .xls file, not an .xlsx",
                                      "remove the password and save as an Excel .xlsx workbook")
            if not magic.startswith(b"PK"):
                raise TableUnreadable(
                    f"{display} is not an .xlsx workbook (not a zip file; it starts with {magic!r})",
                    "save the table as an Excel .xlsx workbook (or as TSV where the schema version allows)")
            return XlsxSource(fh, display)
        return TsvSource(fh, display)
    except BaseException:
        fh.close()
        raise
