"""table_scan.py's two kernels called directly, at exact byte boundaries: every construct
(comment, CDATA, processing instruction, ``<is>``/``<t>``/``<v>``/``<f>``, near-miss element
names, index caps, TSV quotes at line and window ends) is checked with its exact block output,
with windows ending at every byte, with windows of every size slid as the reader slides them,
and with the plain-Python kernel on buffers exactly as long as the window (so that a read at or
past ``end`` raises instead of reading stale bytes)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_segmask.checks import table_scan as ts

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SST_BLANK = np.array([False, True, False, False, False], np.bool_)  # shared string 1 is blank
POISONS = (b'"' * 12, b"-->]]>\"\t\n<>" * 2, b"<row r=\"9\">", b">" * 12, b"\n" * 12)
FIELDS = ("row_num", "row_nonempty", "kind", "num", "key", "sp_s", "sp_n", "flags")


def fnv(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF


def _cells(a, buf, n, ncols):
    rows = []
    for r in range(n):
        cells = []
        for c in range(ncols):
            k = int(a["kind"][r, c])
            fl = int(a["flags"][r, c])
            if k in (ts.K_NUMBER, ts.K_BOOL):
                cells.append((k, float(a["num"][r, c]), fl))
            elif k == ts.K_SHARED:
                cells.append((k, int(a["key"][r, c]), fl))
            elif k in (ts.K_TEXT, ts.K_COMPLEX, ts.K_NUMBAD):
                s, m = int(a["sp_s"][r, c]), int(a["sp_n"][r, c])
                raw = bytes(buf[s:s + m])
                if k != ts.K_NUMBAD:
                    assert int(a["key"][r, c]) == fnv(raw), (r, c, raw)
                num = float(a["num"][r, c]) if fl & ts.F_NUMERIC else None
                cells.append((k, raw, fl) if num is None else (k, raw, fl, num))
            else:
                cells.append((k, fl) if fl else k)
        rows.append((int(a["row_num"][r]), bool(a["row_nonempty"][r]), tuple(cells)))
    return rows


def _buffer(data: bytes, pad: bytes) -> np.ndarray:
    return np.frombuffer(data + pad, np.uint8).copy() if data + pad else np.zeros(0, np.uint8)


def xscan(data: bytes, pos=0, end=None, ncols=4, row_cap=8, last_row=0, sst=SST_BLANK, max_rows=ts.MAX_ROWS,
          max_cols=ts.MAX_COLUMNS, pad=b"", py=False):
    """(status, consumed, rows filled, last row, detail, widest, S_BAD what, rows) of one scan_xlsx call."""
    buf = _buffer(data, pad)
    end = len(data) if end is None else end
    a = ts.new_block(row_cap, ncols)
    out = np.zeros(8, np.int64)
    fn = ts.scan_xlsx.py_func if py else ts.scan_xlsx
    n = fn(buf, pos, end, ncols, row_cap, last_row, sst, max_rows, max_cols, ts.pow10(), *(a[k] for k in FIELDS), out)
    assert n == out[2]
    return (int(out[0]), int(out[1]), int(out[2]), int(out[3]), int(out[4]), int(out[5]), int(out[7]),
            _cells(a, buf, int(n), ncols))


def tscan(data: bytes, pos=0, end=None, final=True, ncols=4, row_cap=8, first_row=0, max_cols=ts.MAX_COLUMNS,
          max_line=1 << 20, pad=b"", py=False):
    buf = _buffer(data, pad)
    end = len(data) if end is None else end
    a = ts.new_block(row_cap, ncols)
    out = np.zeros(8, np.int64)
    fn = ts.scan_tsv.py_func if py else ts.scan_tsv
    n = fn(buf, pos, end, final, ncols, row_cap, first_row, max_cols, max_line, ts.pow10(), *(a[k] for k in FIELDS), out)
    assert n == out[2]
    return (int(out[0]), int(out[1]), int(out[2]), int(out[3]), int(out[4]), int(out[5]), _cells(a, buf, int(n), ncols))


def sheet(rows: str, prefix="") -> bytes:
    p = f"{prefix}:" if prefix else ""
    return f'<?xml version="1.0"?><{p}worksheet {NS}><{p}sheetData>{rows}</{p}sheetData></{p}worksheet>'.encode()


def one_cell(cell: str, **kw):
    """The whole result of a sheet with one row holding ``cell``."""
    return xscan(sheet(f'<row r="1">{cell}</row>'), **kw)


def cell_of(cell: str, col=0):
    got = one_cell(cell)
    assert got[0] == ts.S_DONE and got[2] == 1, got
    return got[7][0][2][col], got[7][0][1]


def windowed(scan, data: bytes, window: int, pad: bytes, py=False, **kw):
    """The reader's loop (table_reader.Source.read/_more) over ``data`` given ``window`` bytes at a
    time: every block's rows (raw bytes resolved in the window of the block), then the last
    status and detail."""
    rows = []
    buf = b""
    pos = 0
    fed = 0
    last = 0
    widest = 0
    while True:
        final = fed >= len(data)
        if scan is tscan:
            got = tscan(buf, pos, len(buf), final, first_row=last, pad=b"" if py else pad, py=py, **kw)
        else:
            got = xscan(buf, pos, len(buf), last_row=last, pad=b"" if py else pad, py=py, **kw)
        status, consumed, n = got[:3]
        rows += got[-1]
        widest = max(widest, got[5])
        pos = consumed
        if n:
            last = got[3]
        if status in (ts.S_DONE, ts.S_ROW_LIMIT, ts.S_COL_LIMIT, ts.S_BAD):
            return rows, status, got[4], last, widest
        if n:
            continue
        if final:
            return rows, "truncated", 0, last, widest
        buf = buf[pos:] + data[fed:fed + window]
        fed += window
        pos = 0


def whole(scan, data: bytes, **kw):
    got = scan(data, row_cap=64, **kw)
    return got[-1], got[0], got[4], got[3], got[5]


# --- _name_is: the local name and exactly n bytes ---------------------------------------------


@pytest.mark.parametrize("name, a, n, expected", [
    (b"is", (105, 115, 0), 2, True), (b"x:is", (105, 115, 0), 2, True), (b"ix", (105, 115, 0), 2, False),
    (b"js", (105, 115, 0), 2, False), (b"i", (105, 115, 0), 2, False), (b"isx", (105, 115, 0), 2, False),
    (b"is:i", (105, 115, 0), 2, False), (b"ab:c:is", (105, 115, 0), 2, True), (b"row", (114, 111, 119), 3, True),
    (b"rox", (114, 111, 119), 3, False), (b"rpw", (114, 111, 119), 3, False), (b"sow", (114, 111, 119), 3, False),
    (b"ro", (114, 111, 119), 3, False), (b"v", (118, 0, 0), 1, True), (b"w", (118, 0, 0), 1, False),
    (b"", (118, 0, 0), 1, False), (b"", (0, 0, 0), 0, True), (b"x:", (0, 0, 0), 0, True), (b"vv", (118, 0, 0), 1, False),
])
def test_name_is(name, a, n, expected):
    buf = np.frombuffer(b"<" + name + b">", np.uint8)
    for fn in (ts._name_is, ts._name_is.py_func):
        assert fn(buf, 1, 1 + len(name), *a, n) is expected


@pytest.mark.parametrize("name, expected", [(b"sheetData", True), (b"x:sheetData", True), (b"sheetDatb", False),
                                            (b"sheetDat", False), (b"sheetDataa", False), (b"SheetData", False)])
def test_local_is_sheetdata(name, expected):
    buf = np.frombuffer(b"<" + name + b">", np.uint8)
    assert ts._local_is_sheetdata(buf, 1, 1 + len(name)) is expected


# --- sheet XML: exact cells --------------------------------------------------------------------


def test_elements_near_is_in_a_number_cell_change_nothing():
    for extra in ("<ix/>", "<x:ix/>", "<js/>", "<it/>", "<isx/>", "<i/>", "<iss></iss>"):
        assert cell_of(f'<c r="A1"><v>5</v>{extra}</c>') == ((ts.K_NUMBER, 5.0, 0), True), extra
        assert cell_of(f'<c r="A1">{extra}<v>6</v></c>') == ((ts.K_NUMBER, 6.0, 0), True), extra
    # a real <is> makes the cell an inline string: without <t> it is blank
    assert cell_of('<c r="A1"><is/><v>5</v></c>') == (ts.K_BLANK, False)
    assert cell_of('<c r="A1"><is></is></c>') == (ts.K_BLANK, False)
    assert cell_of('<c r="A1"><f>1</f><is></is></c>') == ((ts.K_NOCACHE, ts.F_FORMULA), True)
    assert cell_of('<c r="A1" t="s"><is><t>a</t></is><v>0</v></c>') == ((ts.K_SHARED, 0, 0), True)


def test_text_elements_outside_is_are_ignored():
    assert cell_of('<c r="A1"><t>9</t><v>5</v></c>') == ((ts.K_NUMBER, 5.0, 0), True)
    assert cell_of('<c r="A1" t="inlineStr"><ix><t>x</t></ix><is><t>ab</t></is></c>') == ((ts.K_TEXT, b"ab", 0), True)
    # <r>, <rPh> … inside <is>: rich text, left whole to the slow path
    raw = '<c r="A1" t="inlineStr"><is><r><t>a</t></r></is></c>'
    assert cell_of(raw) == ((ts.K_COMPLEX, raw.encode(), 0), True)
    raw = '<c r="A1" t="inlineStr"><is><t>a</t><t>b</t></is></c>'
    assert cell_of(raw) == ((ts.K_COMPLEX, raw.encode(), 0), True)
    assert cell_of('<c r="A1" t="inlineStr"><is><t/></is></c>') == ((ts.K_TEXT, b"", 0), False)
    assert cell_of('<c r="A1" t="inlineStr"><is><t> &amp; </t></is></c>') == ((ts.K_TEXT, b" &amp; ", ts.F_AMP), True)


@pytest.mark.parametrize("inner", ["<![CDATA[]]>", "<![CDATA[a]]>", "<![CDATA[]>]]>", "<![CDATA[]]]>", "<!---->",
                                   "<!--a-->", "<!-- -- > -->", "<!--->-->", "<?p?>", "<?p a='>'?>", "<!x>"])
def test_comment_cdata_pi_in_a_cell_make_it_complex(inner):
    raw = f'<c r="B1" t="inlineStr"><is><t>{inner}</t></is></c>'
    got = one_cell(raw + '<c r="C1"><v>3</v></c>')
    assert got[:7] == (ts.S_DONE, len(sheet(f'<row r="1">{raw}<c r="C1"><v>3</v></c></row>')) - len("</worksheet>"),
                       1, 1, 0, 3, 0)
    assert got[7] == [(1, True, (0, (ts.K_COMPLEX, raw.encode(), 0), (ts.K_NUMBER, 3.0, 0), 0))]


@pytest.mark.parametrize("inner", ["<![CDATA[]]>", "<![CDATA[<row r='5'>]]>", "<!---->", "<!-- <row r='5'> -->",
                                   "<?pi <row r='5'>?>", "<!-- > <row r='5'> -->", "<!--a > <row r='5'> -->",
                                   "<!---->-->", "<![CDATA[ > <row r='5'> ]]>",
                                   "<![CDATA[]> <row r='5'> ]]>", "<!-- -> <row r='5'> -->", "<!-- --> "])
def test_comment_cdata_pi_between_rows_are_skipped(inner):
    data = sheet(f'<row r="1"><c><v>1</v></c></row>{inner}<row r="2"><c><v>2</v></c></row>{inner}')
    got = xscan(data)
    assert got[0] == ts.S_DONE and got[7] == [(1, True, ((ts.K_NUMBER, 1.0, 0), 0, 0, 0)),
                                              (2, True, ((ts.K_NUMBER, 2.0, 0), 0, 0, 0))]


def test_comment_opening_near_misses():
    # '<!-x' is not a comment: it ends at the first '>'
    got = one_cell('<c r="A1"><!-x><v>5</v> --></c>')
    assert got[7][0][2][0][0] == ts.K_COMPLEX
    data = sheet('<row r="1"><c><v>1</v></c></row><!x- > <row r="2"><c><v>2</v></c></row> -->')
    assert [r[0] for r in xscan(data)[7]] == [1, 2]
    data = sheet('<row r="1"><c><v>1</v></c></row><!-x > <row r="2"><c><v>2</v></c></row> -->')
    assert [r[0] for r in xscan(data)[7]] == [1, 2]
    data = sheet('<row r="1"><c><v>1</v></c></row><!--x > <row r="2"><c><v>2</v></c></row> -->')
    assert [r[0] for r in xscan(data)[7]] == [1]


def test_shared_string_index_cap_is_two_to_the_forty():
    cap = 1 << 40
    for text, detail in ((str(cap), cap), (str(cap) + "7", cap), (str(cap - 1) + "7", (cap - 1) * 10 + 7),
                         ("15000000000000", 1_500_000_000_000), ("2199023255552" + "1", 2199023255552),
                         ("99999999999999999999999", 9_999_999_999_999), ("5", 5), ("05", 5)):
        got = one_cell(f'<c r="A1" t="s"><v>{text}</v></c>')
        assert got[:7] == (ts.S_BAD, len(sheet("")) - len("</sheetData></worksheet>"), 0, 0, detail, 1,
                           ts.BAD_SHARED), text
    for text in ("", "x", "-1", "1x", " 1"):
        got = one_cell(f'<c r="A1" t="s"><v>{text}</v></c>')
        assert (got[0], got[4], got[6]) == (ts.S_BAD, -1, ts.BAD_SHARED), text
    assert cell_of('<c r="A1" t="s"><v>4</v></c>') == ((ts.K_SHARED, 4, 0), True)
    assert cell_of('<c r="A1" t="s"><v>1</v></c>') == ((ts.K_SHARED, 1, 0), False)  # the blank shared string
    assert cell_of('<c r="A1" t="s"><v>00001</v></c>') == ((ts.K_SHARED, 1, 0), False)


@pytest.mark.parametrize("ref, detail", [("1048576", None), ("1048577", 1048577), ("10485760", 10485760),
                                         ("10485769", 10485769), ("104857699", 10485769), ("1048577999", 1048577),
                                         ("99999999999", 9999999)])
def test_row_number_cap(ref, detail):
    got = xscan(sheet(f'<row r="{ref}"><c><v>1</v></c></row>'))
    if detail is None:
        assert got[0] == ts.S_DONE and got[7][0][0] == 1048576
    else:
        assert (got[0], got[2], got[4]) == (ts.S_ROW_LIMIT, 0, detail)


@pytest.mark.parametrize("ref, detail", [("XFD", None), ("XFE", 16385), ("AAAA", 18279), ("ZZZZZ", 18278),
                                         ("AXFE", 16385 + 26 ** 3), ("XFDA", 16384 * 26 + 1)])
def test_column_cap(ref, detail):
    got = xscan(sheet(f'<row r="1"><c r="{ref}1"><v>1</v></c></row>'), ncols=2)
    if detail is None:
        assert got[0] == ts.S_DONE and got[5] == 16384
    else:
        assert (got[0], got[2], got[4]) == (ts.S_COL_LIMIT, 0, detail)


# --- a rich sheet: the whole buffer, windows ending at every byte, windows of every size -------

RICH_ROWS = (
    '<row r="1" spans="1:4"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="s"><v>0</v></c>'
    '<c r="C1" t="s"><v>1</v></c><c r="D1" s="3"/></row>'
    '<!---->'
    '<row r="2"><c r="A2"><v>1.5e2</v></c><c r="B2" t="b"><v>1</v></c><c r="C2" t="e"><v>#N/A</v></c>'
    '<c r="D2"><f>A2*2</f><v>300</v></c><c r="E2" t="str"><v>x</v></c></row>'
    '<row r="4"><c r="A4" t="inlineStr"><is><t><![CDATA[]]></t></is></c><c r="B4" t="inlineStr"><ix/>'
    '<is><t xml:space="preserve"> a&amp;b </t></is></c><c r="C4"><v>12x</v></c><c r="D4"><f>1</f></c></row>'
    '<?pi ?><row r="5" ht="2"/>'
    '<row r="6"><c r="A6" t="str"><f>B6</f><v></v></c><c r="B6"><v></v></c><c r="C6" t="d"><v>2024-01-02</v></c>'
    '<c r="D6" t="inlineStr"><is><t>one</t><t>two</t></is></c></row>'
    '<row r="7"><c r="A7" t="inlineStr"><!--x--><is><t>c</t></is></c><c t="b"><v>0</v></c><c/><c><v> 7 </v></c></row>'
    '<row r="8"><c r="AA8"><v>1</v></c></row>'
    "<row r='9'><c r='A9' t='inlineStr' x:a=\"a>b\"><is><t>q</t></is></c><c r='B9' t=\"s\"><v>3</v></c></row>"
    '<![CDATA[x]]><row r="10"><c r="A10" t="inlineStr"><is><t>  </t></is></c><c r="B10" t="str"><v> </v></c></row>'
    '<row r="11"><c r="A11" t="zz"><v>1</v></c><c r="B11" t="s"><!--c--><v>1</v></c>'
    '<c r="C11" t="inlineStr"><is><t><![CDATA[a]]]]><![CDATA[>]]></t></is></c></row>'
)

RICH_EXPECTED = [
    (1, True, ((ts.K_TEXT, b"id", 0), (ts.K_SHARED, 0, 0), (ts.K_SHARED, 1, 0), ts.K_BLANK)),
    (2, True, ((ts.K_NUMBER, 150.0, 0), (ts.K_BOOL, 1.0, 0), ts.K_ERROR, (ts.K_NUMBER, 300.0, ts.F_FORMULA))),
    (4, True, ((ts.K_COMPLEX, b'<c r="A4" t="inlineStr"><is><t><![CDATA[]]></t></is></c>', 0),
               (ts.K_TEXT, b" a&amp;b ", ts.F_AMP), (ts.K_NUMBAD, b"12x", 0), (ts.K_NOCACHE, ts.F_FORMULA))),
    (5, False, (0, 0, 0, 0)),
    (6, True, (((ts.K_TEXT, b"", ts.F_FORMULA)), ts.K_BLANK, (ts.K_TEXT, b"2024-01-02", 0),
               (ts.K_COMPLEX, b'<c r="D6" t="inlineStr"><is><t>one</t><t>two</t></is></c>', 0))),
    (7, True, ((ts.K_COMPLEX, b'<c r="A7" t="inlineStr"><!--x--><is><t>c</t></is></c>', 0), (ts.K_BOOL, 0.0, 0),
               ts.K_BLANK, (ts.K_NUMBER, 7.0, 0))),
    (8, True, (0, 0, 0, 0)),
    (9, True, ((ts.K_TEXT, b"q", 0), (ts.K_SHARED, 3, 0), 0, 0)),
    (10, False, ((ts.K_TEXT, b"  ", 0), (ts.K_TEXT, b" ", 0), 0, 0)),
    (11, True, ((ts.K_COMPLEX, b'<c r="A11" t="zz"><v>1</v></c>', 0),
                (ts.K_COMPLEX, b'<c r="B11" t="s"><!--c--><v>1</v></c>', 0),
                (ts.K_COMPLEX, b'<c r="C11" t="inlineStr"><is><t><![CDATA[a]]]]><![CDATA[>]]></t></is></c>', 0), 0)),
]

RICH = sheet(RICH_ROWS)


def _safe_points(data: bytes):
    """Where a scan may stop outside a row: after each markup construct outside the rows and
    after each row (an independent tokenizer: RICH has no '<' inside comments or PIs outside rows)."""
    import re

    points = [0]
    pos = 0
    for m in re.finditer(rb"<row\b[^>]*/>|<row\b.*?</row>|<[^<]*?>", data):
        assert m.start() == pos  # nothing but markup outside the rows
        points.append(m.end())
        pos = m.end()
        if m.group().startswith(b"</sheetData"):
            break
    return points


RICH_SAFE = _safe_points(RICH)
RICH_X = sheet(RICH_ROWS.replace("<", "<x:").replace("<x:/", "</x:").replace("<x:!", "<!").replace("<x:?", "<?"),
               prefix="x")


def test_rich_sheet_whole():
    rows, status, detail, last, widest = whole(xscan, RICH)
    assert (status, detail, last, widest) == (ts.S_DONE, 0, 11, 27)
    assert rows == RICH_EXPECTED
    got = xscan(RICH)
    assert got[:3] == (ts.S_FULL, RICH.index(b'<row r="10"'), 8)  # a full block stops before its ninth row


def test_rich_sheet_with_prefixes():
    rows, status, _, last, _ = whole(xscan, RICH_X)
    assert status == ts.S_DONE and last == 11
    assert [r[:2] for r in rows] == [r[:2] for r in RICH_EXPECTED]
    assert [[c[0] if isinstance(c, tuple) else c for c in r[2]] for r in rows] == \
        [[c[0] if isinstance(c, tuple) else c for c in r[2]] for r in RICH_EXPECTED]


@pytest.mark.parametrize("data", [RICH, RICH_X], ids=["plain", "prefixed"])
def test_rich_sheet_every_window_size(data):
    expected = whole(xscan, data)
    for window in list(range(1, 41)) + [97, 256, len(data)]:
        for pad in POISONS:
            assert windowed(xscan, data, window, pad) == expected, (window, pad)


def test_rich_sheet_plain_python_with_exact_windows():
    expected = whole(xscan, RICH)
    with np.errstate(over="ignore"):
        for window in (1, 2, 3, 4, 5, 7, 9, 11, 13, 64):
            assert windowed(xscan, RICH, window, b"", py=True) == expected, window


def test_rich_sheet_every_end():
    """A scan of RICH[:end] stops at the last row complete in it (S_MORE) with exactly those rows,
    whatever bytes follow, and the plain-Python kernel on a buffer of exactly ``end`` bytes agrees."""
    starts = [RICH.index(b"<row r=\"%d\"" % r) if r != 9 else RICH.index(b"<row r='9'") for r, _, _ in RICH_EXPECTED]
    ends = [RICH.index(b"</row>", s) + 6 if RICH[RICH.index(b">", s) - 1:RICH.index(b">", s)] != b"/" else
            RICH.index(b">", s) + 1 for s in starts]
    with np.errstate(over="ignore"):
        for end in range(0, len(RICH) - len("</sheetData></worksheet>")):
            done = [i for i, e in enumerate(ends) if e <= end]
            pending = [i for i, s in enumerate(starts) if s < end and i not in done]
            consumed = max(p for p in RICH_SAFE if p <= end)
            for pad in POISONS:
                got = xscan(RICH[:end], row_cap=64, pad=pad)
                assert got[0] == ts.S_MORE and got[7] == [RICH_EXPECTED[i] for i in done], (end, pad)
                assert got[1] == consumed, (end, pad)
                assert got[3] == (RICH_EXPECTED[done[-1]][0] if done else 0), (end, pad)
                if pending:
                    assert consumed == starts[pending[0]], end
            # plain Python on exactly RICH[:end], from where the scan stopped: nothing more is taken
            last = RICH_EXPECTED[done[-1]][0] if done else 0
            assert xscan(RICH[:end], pos=consumed, last_row=last, py=True)[:4] == (ts.S_MORE, consumed, 0, last), end
            if end % 16 == 0:
                assert xscan(RICH[:end], row_cap=64, py=True) == xscan(RICH[:end], row_cap=64, pad=POISONS[1]), end


def test_unfinished_first_row_keeps_the_last_row_number():
    pos = RICH.index(b'<row r="4"')
    for end in range(pos, RICH.index(b"</row>", pos) + 6):
        got = xscan(RICH[:end], pos=pos, last_row=2)
        assert got[:4] == (ts.S_MORE, pos, 0, 2), end
    got = xscan(RICH[:RICH.index(b"</row>", pos) + 7], pos=pos, last_row=2)
    assert got[:4] == (ts.S_MORE, RICH.index(b"</row>", pos) + 6, 1, 4)
    got = xscan(sheet('<row r="7"><c r="A7" t="s"><v>99</v></c></row>'), last_row=6)
    assert got[:4] == (ts.S_BAD, len(sheet("")) - 24, 0, 6)
    got = xscan(sheet('<row r="7"><c r="XFE7"/></row>'), last_row=6)
    assert got[:4] == (ts.S_COL_LIMIT, len(sheet("")) - 24, 0, 6)
    got = tscan(b"a\nb\tc\td\n", first_row=6, max_cols=2)
    assert got[:5] == (ts.S_COL_LIMIT, 2, 1, 7, 3)


def test_rich_sheet_from_every_row_start():
    """A window starting at a row's first byte, with ``last_row`` the row before."""
    with np.errstate(over="ignore"):
        for i, (r, _, _) in enumerate(RICH_EXPECTED):
            pos = RICH.index(b"<row r=\"%d\"" % r) if r != 9 else RICH.index(b"<row r='9'")
            last = RICH_EXPECTED[i - 1][0] if i else 0
            got = xscan(RICH, pos=pos, last_row=last, row_cap=64, pad=b'"')
            assert got[0] == ts.S_DONE and got[7] == RICH_EXPECTED[i:]


# --- TSV -------------------------------------------------------------------------------------


def test_tsv_quoted_field_at_the_end_of_the_input():
    # a final line without a line end whose last field is quoted: the closing quote is the last byte
    for pad in POISONS:
        got = tscan(b'a\t"b"', pad=pad)
        assert got[:6] == (ts.S_DONE, 5, 1, 1, 0, 2)
        assert got[6] == [(1, True, ((ts.K_TEXT, b"a", 0), (ts.K_COMPLEX, b'"b"', 0), 0, 0))]
        got = tscan(b'"a""b"', pad=pad)
        assert got[6] == [(1, True, ((ts.K_COMPLEX, b'"a""b"', 0), 0, 0, 0))]
        got = tscan(b'"a"""', pad=pad)
        assert got[6] == [(1, True, ((ts.K_COMPLEX, b'"a"""', 0), 0, 0, 0))]
        got = tscan(b'""', pad=pad)
        assert got[6] == [(1, True, ((ts.K_COMPLEX, b'""', 0), 0, 0, 0))]  # settled by the slow path
    assert tscan(b'a\t"b"', py=True)[6] == [(1, True, ((ts.K_TEXT, b"a", 0), (ts.K_COMPLEX, b'"b"', 0), 0, 0))]
    assert tscan(b'"a"""', py=True)[6] == [(1, True, ((ts.K_COMPLEX, b'"a"""', 0), 0, 0, 0))]


def test_tsv_unclosed_quote_runs_to_the_end():
    for pad in POISONS + (b"",):
        py = pad == b""
        got = tscan(b'x\n"ab\r', pad=pad, py=py)
        assert got[6] == [(1, True, ((ts.K_TEXT, b"x", 0), 0, 0, 0)), (2, True, ((ts.K_COMPLEX, b'"ab', 0), 0, 0, 0))]
        got = tscan(b'"a\tb\nc', pad=pad, py=py)
        assert got[:3] == (ts.S_DONE, 6, 1)
        assert got[6] == [(1, True, ((ts.K_COMPLEX, b'"a\tb\nc', 0), 0, 0, 0))]
        got = tscan(b'"a"\r\n"b""\r\n', pad=pad, py=py)
        assert got[6] == [(1, True, ((ts.K_COMPLEX, b'"a"', 0), 0, 0, 0)),
                          (2, True, ((ts.K_COMPLEX, b'"b""\r\n', 0), 0, 0, 0))]


def test_tsv_quote_pair_at_the_window_end():
    # not final: a quote as the last byte needs the next byte to decide
    for data, status, n in ((b'"a"', ts.S_MORE, 0), (b'"a""', ts.S_MORE, 0), (b'"a"\n', ts.S_MORE, 1),
                            (b'"a""\n', ts.S_MORE, 0), (b'"a"""\n', ts.S_MORE, 1), (b'1\n"a"""', ts.S_MORE, 1)):
        for pad in POISONS:
            got = tscan(data, final=False, pad=pad)
            assert (got[0], got[2]) == (status, n), (data, pad)
        got = tscan(data, final=False, py=True)
        assert (got[0], got[2]) == (status, n), data


TSV = (b'id\tname\tx\ty\n1\t"a""b"\t 15 \t+2\r\n2\t"q\tr\ns"\t1e400\t-0\n3\t""\t\t\n\n4\t"x"y\t"\t"\n'
       b'5\t \t"""\t"\r\n6\tc\xc3\xa9\t1.5\tz\tbeyond\t"q"\n7\t"a"""\t"b"""\t"c""\r\n8')
TSV_EXPECTED = [
    (1, True, ((ts.K_TEXT, b"id", 0), (ts.K_TEXT, b"name", 0), (ts.K_TEXT, b"x", 0), (ts.K_TEXT, b"y", 0))),
    (2, True, ((ts.K_TEXT, b"1", 1, 1.0), (ts.K_COMPLEX, b'"a""b"', 0), (ts.K_TEXT, b" 15 ", 1, 15.0),
               (ts.K_TEXT, b"+2", 1, 2.0))),
    (3, True, ((ts.K_TEXT, b"2", 1, 2.0), (ts.K_COMPLEX, b'"q\tr\ns"', 0), (ts.K_TEXT, b"1e400", 1, np.inf),
               (ts.K_TEXT, b"-0", 1, -0.0))),
    (4, True, ((ts.K_TEXT, b"3", 1, 3.0), (ts.K_COMPLEX, b'""', 0), ts.K_BLANK, ts.K_BLANK)),
    (5, False, (ts.K_BLANK, 0, 0, 0)),
    (6, True, ((ts.K_TEXT, b"4", 1, 4.0), (ts.K_COMPLEX, b'"x"y', 0), (ts.K_COMPLEX, b'"\t"', 0), 0)),
    (7, True, ((ts.K_TEXT, b"5", 1, 5.0), (ts.K_TEXT, b" ", 0), (ts.K_COMPLEX, b'"""\t"', 0), 0)),
    (8, True, ((ts.K_TEXT, b"6", 1, 6.0), (ts.K_TEXT, b"c\xc3\xa9", ts.F_HIGH), (ts.K_TEXT, b"1.5", 1, 1.5),
               (ts.K_TEXT, b"z", 0))),
    (9, True, ((ts.K_TEXT, b"7", 1, 7.0), (ts.K_COMPLEX, b'"a"""', 0), (ts.K_COMPLEX, b'"b"""', 0),
               (ts.K_COMPLEX, b'"c""\r\n8', 0))),
]


def test_tsv_whole():
    rows, status, detail, last, widest = whole(tscan, TSV)
    assert (status, detail, last, widest) == (ts.S_DONE, 0, 9, 6)
    assert rows == TSV_EXPECTED


def test_tsv_every_window_size():
    expected = whole(tscan, TSV)
    for window in list(range(1, 30)) + [64, len(TSV)]:
        for pad in POISONS:
            assert windowed(tscan, TSV, window, pad) == expected, (window, pad)
    with np.errstate(over="ignore"):
        for window in (1, 2, 3, 5, 8):
            assert windowed(tscan, TSV, window, b"", py=True) == expected, window


def test_tsv_every_end():
    with np.errstate(over="ignore"):
        for end in range(len(TSV) + 1):
            for final in (False, True):
                ref = tscan(TSV[:end], final=final, row_cap=64, pad=POISONS[0])
                for pad in POISONS[1:]:
                    assert tscan(TSV[:end], final=final, row_cap=64, pad=pad) == ref, (end, final, pad)
                assert tscan(TSV[:end], final=final, row_cap=64, py=True) == ref, (end, final)
                done = [e for e in TSV_LINE_ENDS if e < end]
                if not final:
                    assert ref[:4] == (ts.S_MORE, done[-1] + 1 if done else 0, len(done), len(done)), end
                    assert ref[6] == TSV_EXPECTED[:len(done)]
                else:
                    rest = end > (done[-1] + 1 if done else 0)
                    assert ref[:4] == (ts.S_DONE, end, len(done) + rest, len(done) + rest), end


def _line_ends(data: bytes):
    """Offsets of the line feeds that end records (Python's csv rules: a quote opens only at the
    start of a field; inside, '""' is a quote and '"' closes)."""
    ends = []
    inq = False
    start = True
    k = 0
    while k < len(data):
        ch = data[k]
        if inq:
            if ch == 34:
                if data[k + 1:k + 2] == b'"':
                    k += 2
                    continue
                inq = False
        elif ch == 10:
            ends.append(k)
            start = True
        elif ch == 9:
            start = True
        else:
            inq = ch == 34 and start
            start = False
        k += 1
    return ends


TSV_LINE_ENDS = _line_ends(TSV)


def test_tsv_window_ending_just_after_a_closing_quote_keeps_the_row(tmp_path, monkeypatch):
    """A window whose last byte closes a quoted field (not the end of the file): the record is
    unfinished, scanned again with the next bytes (it was cut there into two rows)."""
    from pytest_segmask.checks import table_reader as tr
    from pytest_segmask.checks.objects_table import check_layout, check_values, read_objects_table

    from test_tables_kit import obj, template, tsv_text

    rows = template([obj(i) for i in range(1, 300)] + [obj(300, Mask_name='"cells"'), obj(301)])
    data = tsv_text(rows).encode()
    path = tmp_path / "cells-objects.tsv"
    path.write_bytes(data)
    monkeypatch.setattr(tr, "READ_BYTES", data.index(b'"cells"') + len(b'"cells"'))
    table = read_objects_table(path)
    assert table.rows == 301 and table.ids.tolist() == list(range(1, 302))
    assert check_layout(table).findings == [] and check_values(table).findings == []
    assert table.mask_names == {"cells": 9}


def test_formula_in_an_inline_string_without_text_is_not_empty():
    # as every other formula without a cached value, in a kept column and beyond
    assert cell_of('<c r="A1" t="inlineStr"><f>1</f><is></is></c>') == ((ts.K_NOCACHE, ts.F_FORMULA), True)
    got = xscan(sheet('<row r="1"><c r="A1" t="inlineStr"><f>1</f><is></is></c></row>'), ncols=0)
    assert got[7] == [(1, True, ())]
    got = xscan(sheet('<row r="1"><c r="A1" t="inlineStr"><f>1</f><is><t></t></is></c></row>'))
    assert got[7] == [(1, True, ((ts.K_TEXT, b"", ts.F_FORMULA), 0, 0, 0))]


@pytest.mark.parametrize("tail", [b"", b" ", b"<", b"</", b"<row", b'<row r="1"/', b"<!--", b"<![CDATA[", b"<?x"])
def test_self_closing_sheetdata_and_row_at_the_window_end(tail):
    head = b'<?xml version="1.0"?><worksheet>'
    for pad in POISONS:
        data = head + b"<x:sheetData/>"
        assert xscan(data, pad=pad)[:3] == (ts.S_DONE, len(data), 0)
        data = head + b'<sheetData><row r="3"/>'
        got = xscan(data + tail, pad=pad)
        assert got[:4] == (ts.S_MORE, len(data), 1, 3) and got[7] == [(3, False, (0, 0, 0, 0))], pad
        got = xscan(data + b'<row r="4"><c r="B4" t="b"/>', pad=pad)
        assert got[:4] == (ts.S_MORE, len(data), 1, 3), pad
        got = xscan(data + b'<row r="4"><c r="B4"/></row>', pad=pad)
        assert got[:4] == (ts.S_MORE, len(data) + 28, 2, 4), pad
        assert got[7][1] == (4, False, (0, ts.K_BLANK, 0, 0))


@pytest.mark.parametrize("k", range(12))
def test_markup_declaration_that_is_no_cdata_at_the_window_end(k):
    """'<![' is taken as CDATA once nine bytes are in the window; before that, up to its '>'."""
    head = b'<?xml version="1.0"?><worksheet><sheetData><row r="1"/>'
    data = head + (b"<![x>abcdefghijk")[:5 + k]
    for pad in POISONS:
        got = xscan(data, pad=pad)
        assert got[:3] == (ts.S_MORE, len(head) if 5 + k >= 9 else len(head) + 5, 1), (k, pad)
    data = head + b"<![CDATA[x]]>"[:9 + k]
    for pad in POISONS:
        got = xscan(data, pad=pad)
        assert got[:3] == (ts.S_MORE, len(head) + 13 if 9 + k >= 13 else len(head), 1), (k, pad)


@pytest.mark.parametrize("cell, expected", [
    ('<c r="A1" t="n"><v>2</v></c>', ((ts.K_NUMBER, 2.0, 0), True)),
    ('<c r="A1" t=""><v>2</v></c>', ((ts.K_COMPLEX, b'<c r="A1" t=""><v>2</v></c>', 0), True)),
    ('<c r="A1" t="x"><v>2</v></c>', ((ts.K_COMPLEX, b'<c r="A1" t="x"><v>2</v></c>', 0), True)),
    ('<c r="A1" t="st"><v>2</v></c>', ((ts.K_COMPLEX, b'<c r="A1" t="st"><v>2</v></c>', 0), True)),
    ('<c r="A1" t="sx"><v>2</v></c>', ((ts.K_COMPLEX, b'<c r="A1" t="sx"><v>2</v></c>', 0), True)),
    ('<c r="A1" t="str"><v>2</v></c>', ((ts.K_TEXT, b"2", 0), True)),
    ('<c r="A1" t="s"><v>2</v></c>', ((ts.K_SHARED, 2, 0), True)),
    ('<c r="A1" t="jnlineStr"><v>2</v></c>', ((ts.K_COMPLEX, b'<c r="A1" t="jnlineStr"><v>2</v></c>', 0), True)),
    ('<c r="A1" t="b"><v>2</v></c>', ((ts.K_BOOL, 1.0, 0), True)),
    ('<c r="A1" t="b"><v>0.0</v></c>', ((ts.K_BOOL, 0.0, 0), True)),
    ('<c r="A1" t="b"><v>x</v></c>', ((ts.K_BOOL, 0.0, 0), True)),
    ('<c r="A1" t="e"><v>#DIV/0!</v></c>', (ts.K_ERROR, True)),
    ('<c r="A1" t="d"><v> </v></c>', ((ts.K_TEXT, b" ", 0), False)),
    ('<c r="A1" t="str"><f>1</f><v> </v></c>', ((ts.K_TEXT, b" ", ts.F_FORMULA), True)),
    ('<c r="A1" t="str"><f>1</f><v/></c>', ((ts.K_TEXT, b"", ts.F_FORMULA), True)),
    ('<c r="A1"><f>1</f><v/></c>', ((ts.K_NOCACHE, ts.F_FORMULA), True)),
    ('<c r="A1" t="b"><f>1</f><v></v></c>', ((ts.K_NOCACHE, ts.F_FORMULA), True)),
    ('<c r="A1"><f>1</f><v>x</v></c>', ((ts.K_NUMBAD, b"x", ts.F_FORMULA), True)),
    ('<c r="A1"><v></v></c>', (ts.K_BLANK, False)),
    ('<c r="A1"><v/></c>', (ts.K_BLANK, False)),
    ('<c r="A1" t="str"><v></v></c>', ((ts.K_TEXT, b"", 0), False)),
    ('<c r="A1"><v>1<x/></v></c>', ((ts.K_COMPLEX, b'<c r="A1"><v>1<x/></v></c>', 0), True)),
    ('<c r="A1" t="inlineStr"><is><t>a<x/></t></is></c>',
     ((ts.K_COMPLEX, b'<c r="A1" t="inlineStr"><is><t>a<x/></t></is></c>', 0), True)),
    ('<c r="A1" t="inlineStr"><is><t/><t/></is></c>',
     ((ts.K_COMPLEX, b'<c r="A1" t="inlineStr"><is><t/><t/></is></c>', 0), True)),
    ('<c r="A1" s="2" t="s"/>', (ts.K_BLANK, False)),
    ('<c r="A1"><is><t>ab</t></is></c>', ((ts.K_TEXT, b"ab", 0), True)),
    ('<c r="A1" t="str"><is><t>ab</t></is></c>', ((ts.K_TEXT, b"ab", 0), True)),
    ('<c r="A1" t="b"><is><t>1</t></is></c>', ((ts.K_TEXT, b"1", 0), True)),
    ('<c r="A1" t="e"><is><t> </t></is></c>', ((ts.K_TEXT, b" ", 0), False)),
    ('<c r="A1" t="inlineStr"><f>1</f><is><t>a</t></is></c>', ((ts.K_TEXT, b"a", ts.F_FORMULA), True)),
    ('<c r="A1" t="inlineStr"><is><t>a</t></is><v>3</v></c>', ((ts.K_TEXT, b"a", 0), True)),
    ('<c r="A1"></c>', (ts.K_BLANK, False)),
])
def test_cell_forms_exactly(cell, expected):
    assert cell_of(cell) == expected


def test_cells_beyond_the_kept_columns_only_count_for_emptiness():
    for cell, nonempty in (('<c r="C1"><v>1</v></c>', True), ('<c r="C1"><v></v></c>', True),
                           ('<c r="C1"/>', False), ('<c r="C1"></c>', False), ('<c r="C1" t="s"><v>1</v></c>', True),
                           ('<c r="C1" t="str"><v> </v></c>', False), ('<c r="C1" t="d"><v>x</v></c>', True),
                           ('<c r="C1" t="str"><v> ! </v></c>', True), ('<c r="C1" t="d"><v>\t \r</v></c>', False),
                           ('<c r="C1" t="str"></c>', False), ('<c r="C1" t="b"><v>0</v></c>', True),
                           ('<c r="C1" t="e"><v>#N/A</v></c>', True), ('<c r="C1"><f>1</f></c>', True),
                           ('<c r="C1" t="zz"></c>', True), ('<c r="C1" t="inlineStr"><is/></c>', True),
                           ('<c r="C1"><!--x--></c>', True), ('<c r="C1" t="n"><v></v></c>', True)):
        got = one_cell('<c r="A1"><v></v></c>' + cell, ncols=2)
        assert got[0] == ts.S_DONE and got[7] == [(1, nonempty, (ts.K_BLANK, 0))], cell
        assert got[5] == 3
        with np.errstate(over="ignore"):  # plain Python: a write to a column >= ncols would raise
            assert one_cell('<c r="A1"><v></v></c>' + cell, ncols=2, py=True) == got


def test_cell_columns_without_references_and_widest():
    got = one_cell('<c><v>1</v></c><c r="C1"><v>3</v></c><c><v>4</v></c><c r="1"><v>5</v></c><c r="b1"><v>6</v></c>',
                   ncols=8)
    assert got[7][0][2] == ((2, 1.0, 0), 0, (2, 3.0, 0), (2, 4.0, 0), (2, 5.0, 0), (2, 6.0, 0), 0, 0)
    assert got[5] == 6
    got = xscan(sheet('<row><c r="B1"><v>1</v></c></row><row/><row r="5"/><row><c/></row>'), ncols=2)
    assert [r[0] for r in got[7]] == [1, 2, 5, 6] and got[5] == 2 and got[3] == 6
    got = xscan(sheet('<row r="3"><c r="D3"/></row>'), ncols=2, last_row=2)
    assert (got[0], got[3], got[5]) == (ts.S_DONE, 3, 4)
    got = xscan(sheet('<row r="3"><c r="D3"/></row>'), ncols=2, last_row=3)
    assert (got[0], got[2], got[6]) == (ts.S_BAD, 0, 0)  # about the row, not a shared string
    got = xscan(sheet('<row r="1"/><row r="x"/>'))
    assert (got[0], got[2], got[3], got[6]) == (ts.S_BAD, 1, 1, 0)
    got = xscan(sheet('<row r="1"/><row r="2"><c t="s"><v>9</v></c></row>'))
    assert (got[0], got[1], got[2], got[3], got[4], got[6]) == (ts.S_BAD, len(sheet('<row r="1"/>')) - 24, 1, 1, 9,
                                                                ts.BAD_SHARED)


@pytest.mark.parametrize("tail", [b"<>", b"< >", b"</>", b"<?>", b"<!>", b"<a>", b"<a/>", b"</a>", b"<a b='>'>"])
def test_odd_markup_between_rows_is_skipped_at_the_window_end(tail):
    head = b'<?xml version="1.0"?><worksheet><sheetData><row r="1"/>'
    for pad in POISONS:
        got = xscan(head + tail, pad=pad)
        assert got[:3] == (ts.S_MORE, len(head + tail), 1), (tail, pad)
        got = xscan(head + tail[:-1], pad=pad)
        assert got[:3] == (ts.S_MORE, len(head), 1), (tail, pad)
    assert xscan(head + tail, py=True)[:3] == (ts.S_MORE, len(head + tail), 1)
    assert xscan(head + tail[:-1], py=True)[:3] == (ts.S_MORE, len(head), 1)


def test_xlsx_limits_exactly():
    data = sheet('<row r="5"><c r="C5"><v>1</v></c></row>')
    assert xscan(data, max_rows=5)[0] == ts.S_DONE
    assert xscan(data, max_rows=4)[:5] == (ts.S_ROW_LIMIT, len(sheet("")) - 24, 0, 0, 5)
    assert xscan(data, max_cols=3)[0] == ts.S_DONE
    assert xscan(data, max_cols=2)[:5] == (ts.S_COL_LIMIT, len(sheet("")) - 24, 0, 0, 3)
    data = sheet('<row r="1"><c><v>1</v></c></row><row r="2"><c/><c/><c/></row>')
    got = xscan(data, max_cols=2)
    assert got[:5] == (ts.S_COL_LIMIT, data.index(b'<row r="2"'), 1, 1, 3)
    got = xscan(data, row_cap=1)
    assert got[:4] == (ts.S_FULL, data.index(b'<row r="2"'), 1, 1)
    got = xscan(data, row_cap=1, pos=data.index(b'<row r="2"'), last_row=1)
    assert got[:4] == (ts.S_DONE, len(data) - len("</worksheet>"), 1, 2)
    got = xscan(data + b"<row r='1'/>", pos=len(data))  # after </sheetData> a scan starts fresh
    assert got[0] == ts.S_MORE


def test_tsv_limits_exactly():
    assert tscan(b"a\nb\nc\n", row_cap=2)[:4] == (ts.S_FULL, 4, 2, 2)
    assert tscan(b"a\nb\nc\n", row_cap=3)[:4] == (ts.S_DONE, 6, 3, 3)
    assert tscan(b"a\nb\nc\n", row_cap=3, final=False)[:4] == (ts.S_MORE, 6, 3, 3)
    assert tscan(b"ab\nabc\n", max_line=3)[:4] == (ts.S_DONE, 7, 2, 2)
    assert tscan(b"ab\nabcd\n", max_line=3)[:5] == (ts.S_ROW_LIMIT, 3, 1, 1, 2)
    assert tscan(b"ab\nabcd", max_line=3, final=False)[:5] == (ts.S_ROW_LIMIT, 3, 1, 1, 2)
    assert tscan(b"ab\nabc", max_line=3, final=False)[:5] == (ts.S_MORE, 3, 1, 1, 0)
    assert tscan(b"ab\nabcd", max_line=3, final=True)[:5] == (ts.S_ROW_LIMIT, 3, 1, 1, 2)
    assert tscan(b"a\tb\tc\n1\n", max_cols=3, ncols=2)[:6] == (ts.S_DONE, 8, 2, 2, 0, 3)
    assert tscan(b"1\na\tb\tc\td\n1\n", max_cols=3, ncols=2)[:6] == (ts.S_COL_LIMIT, 2, 1, 1, 4, 3)
    assert tscan(b"a\x00b\n", first_row=4)[:5] == (ts.S_BAD, 0, 0, 4, 5)
    assert tscan(b'"a\x00b"\n')[:5] == (ts.S_BAD, 0, 0, 0, 1)
    got = tscan(b"a\t\t\n\t\t\t\n\r\n \t\r\n", ncols=3)
    assert got[:6] == (ts.S_DONE, 14, 4, 4, 0, 1)
    assert got[6] == [(1, True, ((4, b"a", 0), 1, 1)), (2, False, (1, 1, 1)), (3, False, (1, 0, 0)),
                      (4, False, ((4, b" ", 0), 1, 0))]
    got = tscan(b"\r", ncols=1)
    assert got[6] == [(1, False, (1,))]
    got = tscan(b"x\r\r\n", ncols=1)
    assert got[6] == [(1, True, ((4, b"x\r", 0),))]
    got = tscan(b"\xff\t\x80x\t7\n", ncols=3)
    assert got[6] == [(1, True, ((4, b"\xff", ts.F_HIGH), (4, b"\x80x", ts.F_HIGH), (4, b"7", 1, 7.0)))]
    got = tscan(b'"\xff"\n', ncols=1)
    assert got[6] == [(1, True, ((8, b'"\xff"', ts.F_HIGH),))]


def test_attribute_without_a_value_ends_the_attributes():
    """A name without '="…"' (not XML, written by hand) before the tag's '>' ends the tag there."""
    assert cell_of('<c r="B1" x><v>1</v></c>', col=1) == ((ts.K_NUMBER, 1.0, 0), True)
    # a bare name takes the next quoted value as its own: r is lost, t is read
    assert cell_of('<c x r="C1" t="s"><v>1</v></c>') == ((ts.K_SHARED, 1, 0), False)
    got = xscan(sheet('<row spans><c><v>2</v></c></row><row r="3" x></row>'))
    assert got[0] == ts.S_DONE and [r[0] for r in got[7]] == [1, 3]
    for pad in POISONS:
        data = sheet('<row r="1"/>')[:-len("</sheetData></worksheet>")] + b"<x y>"
        assert xscan(data, pad=pad)[:3] == (ts.S_MORE, len(data), 1)
        assert xscan(data[:-1], pad=pad)[:3] == (ts.S_MORE, len(data) - 5, 1)


def test_column_letters_are_a_to_z_only():
    # '@' (before 'A') and '[' (after 'Z') are not letters: a reference without letters takes the
    # next column, and the letters stop at the first that is not one
    got = one_cell('<c r="B1"><v>1</v></c><c r="[1"><v>2</v></c><c r="@1"><v>3</v></c><c r="Z1"><v>4</v></c>'
                   '<c r="A[1"><v>5</v></c><c r="BZ@1"><v>6</v></c>', ncols=60)
    cells = got[7][0][2]
    assert {i: c[1] for i, c in enumerate(cells) if c} == {0: 5.0, 1: 1.0, 2: 2.0, 3: 3.0, 25: 4.0}
    assert got[5] == 78  # BZ (beyond the 60 kept columns: counted only)


@pytest.mark.parametrize("text", ["1:", ":", "/1", "1/"])
def test_digits_are_0_to_9_only(text):
    # ':' follows '9' and '/' precedes '0': neither is a digit of a row number or a shared-string index
    got = xscan(sheet(f'<row r="{text}"><c><v>1</v></c></row>'))
    assert (got[0], got[2], got[6]) == (ts.S_BAD, 0, 0)
    got = one_cell(f'<c r="A1" t="s"><v>{text}</v></c>', sst=np.zeros(100, np.bool_))
    assert (got[0], got[4], got[6]) == (ts.S_BAD, -1, ts.BAD_SHARED)


def test_only_bytes_up_to_space_are_whitespace():
    got = tscan(b"!5\t5!\t \t!\t\x205\t5\x20\n", ncols=6)
    assert got[6] == [(1, True, ((ts.K_TEXT, b"!5", 0), (ts.K_TEXT, b"5!", 0), (ts.K_TEXT, b" ", 0),
                                 (ts.K_TEXT, b"!", 0), (ts.K_TEXT, b" 5", 1, 5.0), (ts.K_TEXT, b"5 ", 1, 5.0)))]
    assert cell_of('<c r="A1" t="str"><v>!</v></c>') == ((ts.K_TEXT, b"!", 0), True)
    assert cell_of('<c r="A1"><v>!1</v></c>') == ((ts.K_NUMBAD, b"!1", 0), True)


@pytest.mark.parametrize("text, value", [("9999999999999999999.9", 1e19), ("99999999999999999999.5", 1e20),
                                         ("0.99999999999999999999", 1.0), ("18446744073709551615.9", 1.8446744073709552e19)])
def test_numbers_keep_nineteen_significant_digits(text, value):
    # a 20th digit (in the fraction too) would overflow the 64-bit mantissa
    (kind, num, fl), nonempty = cell_of(f'<c r="A1"><v>{text}</v></c>')
    assert (kind, fl, nonempty) == (ts.K_NUMBER, 0, True) and num == pytest.approx(value, rel=1e-15)
    got = tscan(text.encode(), ncols=1)
    assert got[6][0][2][0][3] == pytest.approx(value, rel=1e-15)


def test_kernels_write_the_named_constants():
    """The kernels write literal codes; the named constants are what the reader compares them with."""
    got = one_cell('<c r="B1"><v>1</v></c>')
    assert got[7][0][2][0] == ts.K_ABSENT == 0 and got[0] == ts.S_DONE == 2
    assert tscan(b"a\tb\n", ncols=3)[6][0][2][2] == ts.K_ABSENT
    assert (ts.K_BLANK, ts.K_NUMBER, ts.K_SHARED, ts.K_TEXT, ts.K_BOOL, ts.K_ERROR, ts.K_NOCACHE, ts.K_COMPLEX,
            ts.K_NUMBAD) == (1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert (ts.S_MORE, ts.S_FULL, ts.S_DONE, ts.S_ROW_LIMIT, ts.S_COL_LIMIT, ts.S_BAD, ts.BAD_SHARED) == (0, 1, 2, 3, 4, 5, 1)
    assert (ts.F_NUMERIC, ts.F_AMP, ts.F_HIGH, ts.F_FORMULA) == (1, 2, 4, 8)



def test_inline_string_cell_holding_v_goes_to_the_slow_path():
    """t="inlineStr" with <v> instead of <is>: Apache POI (CEDAR's reader) reads the <v> text;
    the scanner leaves such a cell to the slow path (which does the same); <is> wins over <v>."""
    assert cell_of('<c r="A1" t="inlineStr"><v>cells</v></c>')[0][0] == ts.K_COMPLEX
    assert cell_of('<c r="A1" t="inlineStr"><is><t>x</t></is><v>cells</v></c>')[0][0] == ts.K_TEXT
