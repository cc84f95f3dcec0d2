"""Compiled scanners for objects tables: SpreadsheetML sheet XML and TSV bytes to row blocks.

One call scans a byte buffer (a window of the decompressed sheet XML or of the TSV file) and
fills dense per-block arrays, one row of the block per *physical* row of the sheet, one column
per sheet column up to ``ncols``:

* ``kind`` (uint8, see the K_* constants) -- what the cell is, exactly as Excel stored it:
  absent, a styled blank, a number, a shared string, inline/str text, a boolean, an error,
  a formula without a cached value, or a cell the scanner leaves to the slow path (rich text,
  CDATA, comments): ``K_COMPLEX``, whose span is the whole ``<c>…</c>`` element.
* ``num`` (float64) -- the number (numbers, booleans; text that parses as a number in TSV).
* ``key`` (int64) -- shared-string index, or a 64-bit FNV-1a hash of the raw text bytes, so
  that each distinct string is decoded and checked once per block, not once per cell.
* ``sp_s``/``sp_n`` -- where the raw text is in the buffer (inline strings, str results, TSV
  fields, complex cells).

Per row: its 1-based row number and whether it is *non-empty* in the sense of CEDAR's
``isRowEmpty`` (a cell other than a blank or a whitespace-only string).

The scanner stops at the end of the last complete row in the buffer, when the block is full,
or at ``</sheetData>``; it reports how many bytes it consumed, so the caller can slide the
window. Bounds (Excel's 1,048,576 rows and 16,384 columns) are checked here, before anything is
allocated for a cell. With numba the kernels are compiled (nogil); without it the same code
runs as plain Python (correct, slow: tested on small inputs).

Numbers are parsed exactly for up to 15 significant digits and |exponent| <= 22; longer
mantissas (Excel writes 17 digits) are within one unit in the last place of ``float()``.
"""

from __future__ import annotations

import numpy as np

_LAZY: list["_Lazy"] = []  # in definition order: helpers before the kernels that call them


class _Lazy:
    """A function compiled with numba on its first call (importing numba costs ~0.3 s and ~90 MB:
    only a run that reads a table pays it). Compiling rebinds every registered function's module
    name to its compiled form, helpers first, so that kernels call compiled helpers. Without
    numba the plain-Python functions are used."""

    def __init__(self, fn) -> None:
        self.py_func = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        _LAZY.append(self)

    def __call__(self, *args):
        _compile_all()
        return globals()[self.__name__](*args)


def _compile_all() -> None:
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency; the plain path is tested
        njit = None
    module = globals()
    for lazy in _LAZY:
        if isinstance(module.get(lazy.__name__), _Lazy):
            module[lazy.__name__] = lazy.py_func if njit is None else _compiled(njit, lazy.py_func)


def _compiled(njit, fn):
    return njit(cache=True, nogil=True)(fn)  # mutation: equivalent — on-disk cache and GIL release: speed only


def _jit(fn):
    return _Lazy(fn)


# cell kinds
K_ABSENT = 0  # no <c> element for this column (or a TSV row shorter than the header)
K_BLANK = 1  # a cell with no value: only formatting (or an empty TSV field)
K_NUMBER = 2
K_SHARED = 3  # shared string: key = index into sharedStrings.xml
K_TEXT = 4  # inline string, formula string result, ISO date text, TSV field: key = hash of raw bytes
K_BOOL = 5
K_ERROR = 6  # #N/A, #DIV/0! …: CEDAR reads it as no value
K_NOCACHE = 7  # a formula without a cached value
K_COMPLEX = 8  # left to the slow path: span = the whole <c>…</c> element (or a quoted TSV field)
K_NUMBAD = 9  # a number cell whose text is not a number

# cell flags (TSV: text that also parses as a number; any: raw text holds '&' / bytes >= 0x80)
F_NUMERIC = 1
F_AMP = 2
F_HIGH = 4  # TSV only: the xlsx text is always decoded as UTF-8
F_FORMULA = 8

# status codes
S_MORE = 0  # buffer exhausted inside a row: give more bytes
S_FULL = 1  # block full
S_DONE = 2  # </sheetData> seen (xlsx) / end of input (tsv with final=True)
S_ROW_LIMIT = 3  # a row number above max_rows
S_COL_LIMIT = 4  # a column beyond max_cols (the row is complete; scanning may go on)
S_BAD = 5  # malformed: rows out of order, a shared-string index out of range, NUL bytes …
BAD_SHARED = 1  # out[7] with S_BAD: the shared-string reference is bad (else the row number)

MAX_ROWS = 1_048_576  # Excel's limit
MAX_COLUMNS = 16_384  # Excel's limit (column XFD)

# correctly rounded powers of ten, 1e0 … 1e308 (the parser never indexes beyond 308)
_POW10 = np.array([float(f"1e{i}") for i in range(309)])  # mutation: equivalent — a 1e309 entry is never read


@_jit
def _hash(buf, s, e):
    h = np.uint64(0xCBF29CE484222325)
    p = np.uint64(0x100000001B3)
    for i in range(s, e):
        h = (h ^ np.uint64(buf[i])) * p
    return np.int64(h & np.uint64(0x7FFFFFFFFFFFFFFF))


@_jit
def _parse_number(buf, s, e, pow10):
    """(ok, value) for a decimal number with optional sign, fraction and exponent; leading and
    trailing ASCII whitespace allowed (as Python's float())."""
    while s < e and buf[s] <= 32:
        s += 1
    while e > s and buf[e - 1] <= 32:
        e -= 1
    if s >= e:
        return False, 0.0  # mutation: equivalent — the value of a failed parse is never read
    neg = False
    if buf[s] == 45 or buf[s] == 43:  # - +
        neg = buf[s] == 45
        s += 1
    mant = np.uint64(0)
    digits = 0  # significant digits kept in mant
    dropped = 0  # integer digits beyond 19 (scale up)
    exp10 = 0
    seen = False
    i = s
    while i < e and 48 <= buf[i] <= 57:
        seen = True
        if digits < 19:
            if mant != 0 or buf[i] != 48:
                digits += 1
            mant = mant * np.uint64(10) + np.uint64(int(buf[i]) - 48)
        else:
            dropped += 1
        i += 1
    if i < e and buf[i] == 46:  # .
        i += 1
        while i < e and 48 <= buf[i] <= 57:
            seen = True
            if digits < 19:
                if mant != 0 or buf[i] != 48:
                    digits += 1
                mant = mant * np.uint64(10) + np.uint64(int(buf[i]) - 48)
                exp10 -= 1
            i += 1
    if not seen:
        return False, 0.0  # mutation: equivalent — the value of a failed parse is never read
    if i < e and (buf[i] == 101 or buf[i] == 69):  # e E
        i += 1
        eneg = False
        if i < e and (buf[i] == 45 or buf[i] == 43):
            eneg = buf[i] == 45
            i += 1
        if i >= e or not (48 <= buf[i] <= 57):
            return False, 0.0  # mutation: equivalent — the value of a failed parse is never read
        ev = 0
        while i < e and 48 <= buf[i] <= 57:
            if ev < 100000:  # mutation: equivalent — the cap only stops overflow: any number under 100,000 characters parses the same
                ev = ev * 10 + (int(buf[i]) - 48)
            i += 1
        exp10 += -ev if eneg else ev
    if i != e:
        return False, 0.0  # mutation: equivalent — the value of a failed parse is never read
    exp10 += dropped
    value = float(mant)
    if value != 0.0:
        if exp10 > 308:
            value = np.inf
        elif exp10 > (  # mutation: equivalent — '>=' scales by pow10[0] = 1.0 at exp10 == 0: the same value
                0):
            value *= pow10[exp10]
        elif exp10 < 0:  # mutation: equivalent — '<= 0' and '< 1' divide by pow10[0] = 1.0 at exp10 == 0: the same value
            e10 = -exp10
            if e10 > 308:
                value /= pow10[308]
                e10 -= 308
            value = 0.0 if e10 > 308 else value / pow10[e10]
    return True, -value if neg else value


@_jit
def _name_is(buf, s, e, a0, a1, a2, n):
    """The local name (after any 'prefix:') of the tag name buf[s:e] equals the n bytes a0 a1 a2."""
    j = s
    for k in range(s, e):
        if buf[k] == 58:  # ':'
            j = k + 1
    if e - j != n:
        return False
    if n >= 1 and buf[j] != a0:
        return False
    if n >= 2 and buf[j + 1] != a1:
        return False
    if n >= 3 and buf[j + 2] != a2:
        return False
    return True


@_jit
def _local_is_sheetdata(buf, s, e):
    j = s
    for k in range(s, e):
        if buf[k] == 58:
            j = k + 1
    word = (115, 104, 101, 101, 116, 68, 97, 116, 97)  # sheetData
    if e - j != 9:
        return False
    for k in range(9):
        if buf[j + k] != word[k]:
            return False
    return True


@_jit
def scan_xlsx(buf, pos, end, ncols, row_cap, last_row, sst_blank, max_rows, max_cols, pow10,
              row_num, row_nonempty, kind, num, key, sp_s, sp_n, flags, out):
    """Scan sheet XML in buf[pos:end]. ``last_row``: the row number of the previous row (0 at the
    start). Fills rows 0..n-1 of the block arrays. ``out`` (int64[8]) receives: 0 status,
    1 consumed offset (absolute), 2 rows filled, 3 last row number, 4 detail (a row/column
    number or an index), 5 widest column seen (1-based), 6 -, 7 what S_BAD is about (BAD_SHARED or 0)."""
    n = 0
    i = pos
    safe = pos  # everything before `safe` is fully processed
    status = 0  # mutation: equivalent — typed for numba; set at each break before it is read
    detail = 0  # mutation: equivalent — typed for numba; set at each error before it is read
    bad_what = 0
    widest = out[5]  # mutation: equivalent — the head is scanned whole in its last call: earlier calls add nothing
    in_row = False
    in_cell = False
    row_idx = -1  # mutation: equivalent — typed for numba; set at each <row> before it is read
    cur_row = last_row
    col = -1  # mutation: equivalent — typed for numba; set at each <row> before it is read
    c_t = 0  # mutation: equivalent — typed for numba; set at each <c> before it is read (0 n, 1 s, 2 str, 3 inlineStr, 4 b, 5 e, 6 d)
    c_f = False  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_v = False  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_vs = 0  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_ve = 0  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_is = False  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_tn = 0  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_ts = 0  # mutation: equivalent — typed for numba; set at each <t> before it is read
    c_te = 0  # mutation: equivalent — typed for numba; set at each <t> before it is read
    c_complex = False  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_start = 0  # mutation: equivalent — typed for numba; set at each <c> before it is read
    c_keep = False  # mutation: equivalent — typed for numba; set at each <c> before it is read
    while True:
        # next '<'
        while i < end and buf[i] != 60:
            i += 1
        if i >= end:
            status = 0
            break
        lt = i
        if i + 1 >= end:
            status = 0
            break
        b1 = buf[i + 1]
        if b1 == 33 or b1 == 63:  # <! or <?
            # comment, CDATA or processing instruction
            if (b1 == 33 and i
                    + 3  # mutation: equivalent — i + 4 < end differs only for a window ending in '<!--': both wait for more bytes
                    < end and buf[i + 2] == 45 and buf[i + 3] == 45):
                j = i + 4
                found = False
                while j + 2 < end:
                    if buf[j] == 45 and buf[j + 1] == 45 and buf[j + 2] == 62:
                        found = True
                        break
                    j += 1
                if not found:
                    status = 0
                    break
                i = j + 3
            elif b1 == 33 and i + 8 < end and buf[i + 2] == 91:  # <![CDATA[
                j = i + 9
                found = False
                while j + 2 < end:
                    if buf[j] == 93 and buf[j + 1] == 93 and buf[j + 2] == 62:
                        found = True
                        break
                    j += 1
                if not found:
                    status = 0
                    break
                i = j + 3
            else:
                j = i + 2
                while j < end and buf[j] != 62:
                    j += 1
                if j >= end:
                    status = 0
                    break
                i = j + 1
            if in_cell:
                c_complex = True
            if not in_row:
                safe = i
            continue
        closing = b1 == 47
        ns = i + 2 if closing else i + 1
        ne = ns
        while ne < end and buf[ne] > 32 and buf[ne] != 47 and buf[ne] != 62:
            ne += 1
        if ne >= end:
            status = 0
            break
        # attributes (start tags) up to '>' -- quoted values may hold '>'
        j = ne
        selfclose = False
        a_r_s = -1  # mutation: equivalent — any negative start means unset: it is only tested with >= 0, and a set one is >= 6
        a_r_e = -1  # mutation: equivalent — read only when its start is set (>= 0), which sets it too
        a_t_s = -1  # mutation: equivalent — any negative start means unset: it is only tested with >= 0, and a set one is >= 6
        a_t_e = -1  # mutation: equivalent — read only when its start is set (>= 0), which sets it too
        complete = False
        while j < end:
            ch = buf[j]
            if ch == 62:
                complete = True
                break
            if ch == 47 and j + 1 < end and buf[j + 1] == 62:
                selfclose = True
                j += 1
                complete = True
                break
            if ch > 32 and not closing:
                # attribute name
                an_s = j
                while j < end and buf[j] != 61 and buf[j] > 32 and buf[j] != 62:
                    j += 1
                an_e = j
                while j < end and buf[j] != 34 and buf[j] != 39:
                    if buf[j] == 62:
                        break
                    j += 1
                if j >= end:
                    break
                if buf[j] == 62:
                    complete = True
                    break
                q = buf[j]
                vs = j + 1
                j = vs
                while j < end and buf[j] != q:
                    j += 1
                if j >= end:  # mutation: equivalent[compare] — j stops at end: there the tag is incomplete either way (status 0 below)
                    break
                ve = j
                # local attribute name r / t (no prefix for these in SpreadsheetML)
                if an_e - an_s == 1:
                    if buf[an_s] == 114:
                        a_r_s = vs
                        a_r_e = ve
                    elif buf[an_s] == 116:
                        a_t_s = vs
                        a_t_e = ve
                j += 1
                continue
            j += 1
        if not complete:
            status = 0
            break
        after = j + 1  # first byte after '>'
        if not closing:
            if not in_row and _name_is(buf, ns, ne, 114, 111, 119, 3):  # <row>
                rn = cur_row + 1
                if a_r_s >= 0:  # mutation: equivalent — a set value starts >= 6 bytes into the buffer (after '<x r="'): >= 0, > 0, >= 1 agree
                    rn = 0
                    ok = a_r_e > a_r_s  # mutation: equivalent — r="" read as row 0 is out of order too (S_BAD, not a shared string); only the unread detail differs
                    for k in range(a_r_s, a_r_e):
                        d = int(buf[k])
                        if d < 48 or d > 57:
                            ok = False
                            break
                        if rn <= max_rows:
                            rn = rn * 10 + (d - 48)
                    if not ok:
                        status = 5
                        detail = cur_row + 1  # mutation: equivalent — a bad row is named from the last good row; detail is read for shared strings only
                        break
                if rn > max_rows:
                    status = 3
                    detail = rn
                    break
                if rn <= cur_row:
                    status = 5
                    detail = rn  # mutation: equivalent — a bad row is named from the last good row; detail is read for shared strings only
                    break
                if n >= row_cap:
                    status = 1
                    break
                cur_row = rn
                row_idx = n
                n += 1
                row_num[row_idx] = rn
                row_nonempty[row_idx] = False
                for k in range(ncols):
                    kind[row_idx, k] = 0
                    flags[row_idx, k] = 0  # mutation: equivalent — flags are read only for text cells, which set them
                col = -1
                in_row = True
                if selfclose:
                    in_row = False
                    safe = after
                i = after
                continue
            if in_row and not in_cell and _name_is(buf, ns, ne, 99,  # <c>
                                                                0, 0,  # mutation: equivalent — unused: _name_is reads only the first n = 1 name bytes
                                                                1):
                c_start = lt
                if a_r_s >= 0:  # mutation: equivalent — a set value starts >= 6 bytes into the buffer (after '<x r="'): >= 0, > 0, >= 1 agree
                    cc = 0
                    k = a_r_s
                    while k < a_r_e and 65 <= buf[k] <= 90:
                        if cc <= max_cols:
                            cc = cc * 26 + (int(buf[k]) - 64)
                        k += 1
                    if cc == 0:
                        cc = col + 2
                    col = cc - 1
                else:
                    col = col + 1
                if col >= max_cols:
                    status = 4
                    detail = col + 1
                    # finish: treat the rest of the buffer as unusable for this row
                    break
                if col + 1 > widest:  # mutation: equivalent — ">=" assigns the same value
                    widest = col + 1
                c_t = 0
                if a_t_s >= 0:  # mutation: equivalent — a set value starts >= 6 bytes into the buffer (after '<x r="'): >= 0, > 0, >= 1 agree
                    ln = a_t_e - a_t_s
                    f0 = buf[a_t_s]  # t="": the closing quote, matched by nothing below (each needs ln >= 1)
                    if ln == 1 and f0 == 115:
                        c_t = 1
                    elif ln == 3 and f0 == 115:
                        c_t = 2
                    elif ln == 9 and f0 == 105:
                        c_t = 3
                    elif ln == 1 and f0 == 98:
                        c_t = 4
                    elif ln == 1 and f0 == 101:
                        c_t = 5
                    elif ln == 1 and f0 == 100:
                        c_t = 6
                    elif ln == 1 and f0 == 110:
                        c_t = 0
                    else:
                        c_t = 7
                c_f = False
                c_v = False
                c_vs = 0
                c_ve = 0
                c_is = False
                c_tn = 0
                c_complex = c_t == 7
                c_keep = col < ncols
                in_cell = True
                if selfclose:
                    in_cell = False
                    if c_keep:
                        kind[row_idx, col] = 1
                i = after
                continue
            if in_cell:
                if _name_is(buf, ns, ne, 118,  # <v>
                                         0, 0,  # mutation: equivalent — unused: _name_is reads only the first n = 1 name bytes
                                         1):
                    c_v = True
                    if selfclose:
                        c_vs = after
                        c_ve = after
                        i = after
                        continue
                    k = after
                    while k < end and buf[k] != 60:
                        k += 1
                    if k >= end:
                        status = 0
                        break
                    c_vs = after
                    c_ve = k
                    if (k
                            + 1  # mutation: equivalent — k + 2 < end differs only for a tag start in the window's last 2 bytes: the row is unfinished, scanned again
                            < end and buf[k + 1] != 47):
                        c_complex = True
                    i = k
                    continue
                if _name_is(buf, ns, ne, 102,  # <f>
                                         0, 0,  # mutation: equivalent — unused: _name_is reads only the first n = 1 name bytes
                                         1):
                    c_f = True
                    i = after
                    continue
                if _name_is(buf, ns, ne, 105, 115,  # <is>
                                         0,  # mutation: equivalent — unused: _name_is reads only the first n = 2 name bytes
                                         2):
                    c_is = True
                    i = after
                    continue
                if c_is and _name_is(buf, ns, ne, 116,  # <t> directly in <is>
                                                  0, 0,  # mutation: equivalent — unused: _name_is reads only the first n = 1 name bytes
                                                  1):
                    c_tn += 1
                    if selfclose:
                        c_ts = after
                        c_te = after
                        i = after
                        continue
                    k = after
                    while k < end and buf[k] != 60:
                        k += 1
                    if k >= end:
                        status = 0
                        break
                    c_ts = after
                    c_te = k
                    if (k
                            + 1  # mutation: equivalent — k + 2 < end differs only for a tag start in the window's last 2 bytes: the row is unfinished, scanned again
                            < end and buf[k + 1] != 47):
                        c_complex = True
                    i = k
                    continue
                if c_is:  # <r>, <rPh>, <phoneticPr> …: rich text
                    c_complex = True
                i = after
                continue
            i = after
            if not in_row:
                safe = i
                if selfclose and _local_is_sheetdata(buf, ns, ne):  # <sheetData/>: an empty sheet
                    status = 2
                    break
            continue
        # closing tags
        if in_cell and _name_is(buf, ns, ne, 99,  # </c>
                                             0, 0,  # mutation: equivalent — unused: _name_is reads only the first n = 1 name bytes
                                             1):
            in_cell = False
            i = after
            if not c_keep:
                # only emptiness matters beyond the kept columns
                if c_f or c_t == 4 or c_t == 5 or c_complex or c_is:
                    row_nonempty[row_idx] = True
                elif c_v:
                    if c_t == 1:
                        row_nonempty[row_idx] = True  # conservative: a shared string beyond the table
                    elif c_t == 2 or c_t == 6:
                        for k in range(c_vs, c_ve):
                            if buf[k] > 32:
                                row_nonempty[row_idx] = True
                                break
                    else:
                        row_nonempty[row_idx] = True
                continue
            fl = 0
            if c_f:
                fl |= 8
            # t="inlineStr" holding <v> instead of <is>: Apache POI (CEDAR's reader) reads the <v>
            # text, as the slow path does
            if c_complex or c_tn > 1 or (c_t == 3 and c_v and not c_is):
                kind[row_idx, col] = 8
                sp_s[row_idx, col] = c_start
                sp_n[row_idx, col] = after - c_start
                key[row_idx, col] = _hash(buf, c_start, after)
                flags[row_idx, col] = fl
                row_nonempty[row_idx] = True  # settled by the slow path
                continue
            if c_t == 3 or (c_is and c_t != 1):  # inline string
                if c_tn == 0:
                    kind[row_idx, col] = 1 if not c_f else 7
                    flags[row_idx, col] = fl
                    if c_f:  # a formula without a cached value, as everywhere else: not an empty cell
                        row_nonempty[row_idx] = True
                    continue
                s = c_ts
                e = c_te

            elif c_f and (not c_v or (c_ve == c_vs and c_t != 2)):
                kind[row_idx, col] = 7
                flags[row_idx, col] = fl
                row_nonempty[row_idx] = True
                continue
            elif not c_v:
                kind[row_idx, col] = 1
                flags[row_idx, col] = fl
                continue
            else:
                s = c_vs
                e = c_ve
                if c_t == 0:
                    ok, val = _parse_number(buf, s, e, pow10)
                    if ok:
                        kind[row_idx, col] = 2
                        num[row_idx, col] = val
                    elif e == s and not c_f:
                        kind[row_idx, col] = 1  # <v></v>: no value
                        flags[row_idx, col] = fl
                        continue
                    else:
                        kind[row_idx, col] = 9
                        sp_s[row_idx, col] = s
                        sp_n[row_idx, col] = e - s
                    flags[row_idx, col] = fl
                    row_nonempty[row_idx] = True
                    continue
                if c_t == 1:
                    idx = 0
                    good = e > s
                    for k in range(s, e):
                        d = int(buf[k])
                        if d < 48 or d > 57:
                            good = False
                            break
                        if idx < 1 << 40:
                            idx = idx * 10 + (d - 48)
                    if not good or idx >= len(sst_blank):
                        status = 5
                        detail = idx if good else -1
                        bad_what = 1
                        break
                    kind[row_idx, col] = 3
                    key[row_idx, col] = idx
                    flags[row_idx, col] = fl
                    if not sst_blank[idx]:
                        row_nonempty[row_idx] = True
                    continue
                if c_t == 4:
                    ok, val = _parse_number(buf, s, e, pow10)
                    kind[row_idx, col] = 5
                    num[row_idx, col] = 1.0 if ok and val != 0.0 else 0.0
                    flags[row_idx, col] = fl
                    row_nonempty[row_idx] = True
                    continue
                if c_t == 5:
                    kind[row_idx, col] = 6
                    flags[row_idx, col] = fl
                    row_nonempty[row_idx] = True
                    continue
                pass  # str, d: text
            # text span s..e
            kind[row_idx, col] = 4
            sp_s[row_idx, col] = s
            sp_n[row_idx, col] = e - s
            key[row_idx, col] = _hash(buf, s, e)
            blank = True
            for k in range(s, e):
                d = buf[k]
                if d > 32:
                    blank = False
                if d == 38:
                    fl |= 2
            flags[row_idx, col] = fl
            if not blank or c_f:
                row_nonempty[row_idx] = True
            continue
        if in_row and not in_cell and _name_is(buf, ns, ne, 114, 111, 119, 3):  # </row>
            in_row = False
            i = after
            safe = i
            continue
        if not in_row and _local_is_sheetdata(buf, ns, ne):
            i = after
            safe = i
            status = 2
            break
        i = after
        if not in_row:
            safe = i
    if in_row:
        # a row not finished (S_MORE: scanned again from its start next time) or stopped by a column
        # limit or a bad shared string is not returned; a full block (S_FULL), a row number beyond the
        # limit or out of order and the end of the sheet (S_DONE) are all met outside a row
        n -= 1
        cur_row = row_num[n - 1] if n > 0 else last_row
    out[0] = status
    out[1] = safe
    out[2] = n
    out[3] = cur_row
    out[4] = detail
    out[5] = widest
    out[7] = bad_what
    return n


@_jit
def scan_tsv(buf, pos, end, final, ncols, row_cap, first_row, max_cols, max_line, pow10,
             row_num, row_nonempty, kind, num, key, sp_s, sp_n, flags, out):
    """Scan TSV bytes buf[pos:end] (quotes as Python's csv module: a field starting with '"'
    runs to the closing quote, '""' is a quote). ``final``: no more bytes follow. ``out`` as in
    scan_xlsx (3: the last row number; 4: detail)."""
    n = 0
    i = pos
    safe = pos
    status = 0  # mutation: equivalent — typed for numba; set at each break before it is read
    detail = 0  # mutation: equivalent — typed for numba; set at each error before it is read
    widest = out[5]  # mutation: equivalent — the head is scanned whole in its last call: earlier calls add nothing
    rn = first_row
    while True:
        if i >= end:
            status = 2 if final else 0
            break
        if n >= row_cap:
            status = 1
            break
        # find the end of this record (quotes may hold newlines)
        j = i
        inq = False
        at_field_start = True
        while j < end:
            ch = buf[j]
            if ch == 0:
                status = 5
                detail = rn + 1
                break
            if inq:
                if ch == 34:
                    if (j
                            + 1  # mutation: equivalent — j + 2 < end differs only for '""' ending the window: both stop at end
                            < end and buf[j + 1] == 34):
                        j += 2
                        continue
                    inq = False  # a quote ending the window may be half a '""': j reaches end, so the record is scanned again with more bytes
                j += 1
                continue
            if ch == 10:
                break
            if ch == 9:
                at_field_start = True
                j += 1
                continue
            if ch == 34 and at_field_start:
                inq = True
            at_field_start = False
            j += 1
        if status == 5:
            break
        if j >= end and not final:
            if j - i > max_line:
                status = 3
                detail = rn + 1
                break
            status = 0
            break
        if j - i > max_line:
            status = 3
            detail = rn + 1
            break
        rec_end = j  # position of '\n' or end
        line_end = rec_end
        if line_end > i and buf[line_end - 1] == 13:
            line_end -= 1
        rn += 1
        r = n
        n += 1
        row_num[r] = rn
        row_nonempty[r] = False
        for k in range(ncols):
            kind[r, k] = 0
            flags[r, k] = 0  # mutation: equivalent — flags are read only for text cells, which set them
        # fields
        c = 0
        s = i
        over = False
        while True:
            # field s .. next tab (outside quotes)
            e = s
            quoted = e < line_end and buf[e] == 34
            if quoted:
                e += 1
                while e < line_end:
                    if buf[e] == 34:
                        if (e
                                + 1  # mutation: equivalent — e + 2 < line_end differs only for '""' ending the line: both stop at line_end
                                < line_end and buf[e + 1] == 34):
                            e += 2
                            continue
                        e += 1
                        break
                    e += 1
                while e < line_end and buf[e] != 9:
                    e += 1
            else:
                while e < line_end and buf[e] != 9:
                    e += 1
            if c >= max_cols:
                over = True
                break
            if (e > s  # a field with bytes
                    and c + 1 > widest):  # mutation: equivalent — '>=' or 'c + 2 >' only assign the same widest again
                widest = c + 1
            blank = True
            fl = 0
            for k in range(s, e):
                d = buf[k]
                if d > 32:
                    blank = False
                if d >= 128:
                    fl |= 4
            if not blank:
                row_nonempty[r] = True
            if c < ncols:
                if e == s:
                    kind[r, c] = 1
                elif quoted:
                    kind[r, c] = 8
                    sp_s[r, c] = s
                    sp_n[r, c] = e - s
                    key[r, c] = _hash(buf, s, e)
                    flags[r, c] = fl
                else:
                    kind[r, c] = 4
                    sp_s[r, c] = s
                    sp_n[r, c] = e - s
                    key[r, c] = _hash(buf, s, e)
                    ok, val = _parse_number(buf, s, e, pow10)
                    if ok:
                        fl |= 1
                        num[r, c] = val
                    flags[r, c] = fl
            c += 1
            if e >= line_end:
                break
            s = e + 1
        if over:
            status = 4
            detail = max_cols + 1
            n -= 1  # mutation: equivalent — the column limit raises: the block's rows are not used
            rn -= 1
            break
        i = rec_end + 1 if rec_end < end else end
        safe = i
    out[0] = status
    out[1] = safe
    out[2] = n
    out[3] = rn
    out[4] = detail
    out[5] = widest
    return n


def new_block(rows: int, ncols: int) -> dict:
    return {
        "row_num": np.zeros(rows, np.int64),
        "row_nonempty": np.zeros(rows, np.bool_),
        "kind": np.zeros((rows, ncols), np.uint8),
        "num": np.zeros((rows, ncols), np.float64),
        "key": np.zeros((rows, ncols), np.int64),
        "sp_s": np.zeros((rows, ncols), np.int64),
        "sp_n": np.zeros((rows, ncols), np.int64),
        "flags": np.zeros((rows, ncols), np.uint8),
    }


def pow10() -> np.ndarray:
    return _POW10
