"""`<mask>-centroid-adjacency.csv` / `<mask>-linkage-adjacency.csv`.

Two forms are recognised: an edge list (header row, two id columns, optional numeric
columns) and a square matrix (first row and first column are object ids). One streaming
pass keeps edges in compact numpy arrays (16 bytes per edge), never Python objects per row.
Lines and fields are bounded (``MAX_CSV_LINE_CHARS``, ``MAX_CSV_FIELD_CHARS``) before they
are held in memory, and only regular files are opened.
"""

from __future__ import annotations

import csv
import math
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dirschema import display_path, open_regular
from ..findings import CheckResult, Examples, Finding, Location, Severity, cut_list, shorten
from ..rules import Authority, define_rule

SCHEMA_ROWS = (
    "HuBMAP Segmentation Mask directory schema v2.0–2.7, rows `[^\\/]+-centroid-adjacency\\.csv` "
    "and `[^\\/]+-linkage-adjacency\\.csv`"
)
ADJ_FORM = define_rule(
    "ADJ-FORM", Severity.ERROR,
    "An adjacency CSV is an edge list (header, two id columns, optional numeric columns) or a "
    "square matrix whose first row and column are object ids.",
    f"RFC 4180 (CSV); {SCHEMA_ROWS} (the schema names the files, not their columns)",
    authority=Authority.PRACTICE,
    reason="the schema gives no columns; these are the two forms adjacency tables take in "
    "practice, and a reader needs one of them to find the object ids",
)
ADJ_IDS = define_rule(
    "ADJ-IDS", Severity.ERROR,
    "Every object id in an adjacency CSV exists in its mask channel (objects are required to "
    "be in the same mask).",
    f"{SCHEMA_ROWS}: \"Objects are required to be in the same mask.\"", authority=Authority.SCHEMA,
)
ADJ_SELF_LOOP = define_rule(
    "ADJ-SELF-LOOP", Severity.ERROR, "No object is adjacent to itself.", SCHEMA_ROWS,
    authority=Authority.PRACTICE,
    reason="adjacency relates two different objects; an object next to itself is a producer bug",
)
ADJ_DUPLICATE = define_rule(
    "ADJ-DUPLICATE", Severity.ERROR,
    "No edge is listed twice (the same ordered pair of ids).", SCHEMA_ROWS,
    authority=Authority.PRACTICE,
    reason="a repeated edge double-counts neighbours in any graph built from the file",
)
ADJ_SYMMETRIC = define_rule(
    "ADJ-SYMMETRIC", Severity.ERROR,
    "An adjacency matrix is symmetric, with the same ids in its first row and column.", SCHEMA_ROWS,
    authority=Authority.PRACTICE,
    reason="centroid and linkage adjacency are symmetric relations; an asymmetric matrix "
    "or different row and column ids mean a mis-written matrix",
)
ADJ_WEIGHTS = define_rule(
    "ADJ-WEIGHTS", Severity.ERROR,
    "Weights and distances are finite, non-negative numbers.", SCHEMA_ROWS,
    authority=Authority.PRACTICE,
    reason="distances and linkage weights are finite and ≥ 0; NaN, infinity or negative "
    "values break every downstream graph tool",
)
COMPANION_CHANNEL = define_rule(
    "COMPANION-CHANNEL", Severity.ERROR,
    "The prefix of an adjacency CSV or mesh names a channel of the mask image.",
    f"{SCHEMA_ROWS} and `[^\\/]+-mesh\\.glb`: \"A separate … file can be included per mask\" "
    "(one file per mask, named after it)",
    authority=Authority.SCHEMA,
)

MAX_EXAMPLES = 5
MAX_CSV_LINE_CHARS = 8 * 1024 * 1024  # a matrix row of ~1M objects; more is not a CSV line
MAX_CSV_FIELD_CHARS = 1024  # an object id, a weight or a column name is a few characters
MAX_ID = 2**63 - 1  # ids are kept as int64
ENCODING_FIX = "save the file as UTF-8 CSV (comma-separated) text"


class CsvLimitError(ValueError):
    """A CSV line or field over its bound; the message says which and where."""


class BoundedLines:
    """Lines of a text file, each at most ``max_line`` characters, counted as they go.

    ``readline(limit)`` never holds more than the limit, so a file that never ends a line
    (a symlink to /dev/zero, a binary file) costs ``max_line`` characters, not memory."""

    def __init__(self, fh, max_line: int, limit_name: str = "MAX_CSV_LINE_CHARS"):
        self.fh = fh
        self.max_line = max_line
        self.limit_name = limit_name
        self.line_no = 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.fh.readline(self.max_line + 1)
        if not line:
            raise StopIteration
        self.line_no += 1
        if len(line) > self.max_line and line[-1] not in "\r\n":
            raise CsvLimitError(
                f"line {self.line_no} is longer than {self.max_line:,} characters "
                f"(limit {self.limit_name}); a line this long is not CSV text")
        return line


def csv_rows(fh, max_line: int | None = None, max_field: int | None = None,
             limit_names: tuple[str, str] = ("MAX_CSV_LINE_CHARS", "MAX_CSV_FIELD_CHARS"), **fmt):
    """(line number, cells) for each CSV record, lines and fields bounded (by default this
    module's limits); over a bound, a ``CsvLimitError`` naming the limit. ``fmt``: csv.reader
    format parameters."""
    max_line = MAX_CSV_LINE_CHARS if max_line is None else max_line
    max_field = MAX_CSV_FIELD_CHARS if max_field is None else max_field
    lines = BoundedLines(fh, max_line, limit_names[0])
    reader = csv.reader(lines, **fmt)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise CsvLimitError(
                    f"line {lines.line_no} holds a field longer than {max_field:,} characters "
                    f"(limit {limit_names[1]})") from None
            raise
        for cell in row:
            if len(cell) > max_field:
                raise CsvLimitError(
                    f"line {reader.line_num} holds a field of {len(cell):,} characters, longer "
                    f"than {max_field:,} (limit {limit_names[1]})")
        yield reader.line_num, row


def csv_error_text(exc: csv.Error) -> str:
    """What one of csv's own errors means, in words (the bounds above catch the usual ones)."""
    return "it is not comma-separated text (" + shorten(str(exc), 60) + ")"


@dataclass
class Adjacency:
    display: str
    form: str | None = None  # "edge list" | "matrix" | None when unrecognised
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    id_rows: dict[int, int] = field(default_factory=dict)  # first sheet row of each id (capped)
    n_edges: int = 0
    findings: list[Finding] = field(default_factory=list)


_ID_TEXT = re.compile(r"[0-9]+(?:\.0)?")  # ASCII digits only: str.isdigit() accepts '²'


def _id_problem(text: str) -> str | None:
    """Why a cell is not an object id, in words; None when it is one."""
    text = text.strip()
    if not _ID_TEXT.fullmatch(text):
        return "not a whole number"
    digits = text.partition(".")[0].lstrip("0")
    if not digits:
        return "0 is the background, not an object"
    if len(digits) > 19 or int(digits) > MAX_ID:  # mutation: equivalent[constant] — the length guard only spares int() long strings: 20 digits exceed MAX_ID either way
        return f"larger than {MAX_ID} (2^63 - 1)"
    return None


def _int_id(text: str) -> int | None:
    """A positive integer object id (`12` or `12.0`), or None."""
    if _id_problem(text) is not None:
        return None
    return int(text.strip().partition(".")[0])


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_adjacency(path: Path, display: str | None = None) -> Adjacency:
    adj = Adjacency(display or display_path(path.name))
    loc = Location(file=adj.display)
    try:
        with open_regular(path, "r", encoding="utf-8", newline="") as fh:
            reader = csv_rows(fh)
            first = next(reader, None)
            if first is None:
                adj.findings.append(ADJ_FORM.finding(f"{adj.display} is empty", loc,
                                                     fix="write a header row and one edge per row"))
                return adj
            header = [c.strip() for c in first[1]]
            shown = shorten(",".join(header), 60)
            if len(header) >= 2 and not header[0] or (
                len(header) > 3 and all(_int_id(c) is not None for c in header[1:])
            ):
                _read_matrix(adj, header, reader)
            elif len(header) >= 2 and all(_int_id(c) is not None for c in header[:2]):
                adj.findings.append(ADJ_FORM.finding(
                    f"{adj.display}: the first row `{shown}` holds ids, not column "
                    "names: an edge list needs a header row", Location(file=adj.display, row=1),
                    fix="add a header row such as `object_1,object_2,distance`",
                ))
            elif len(header) >= 2:
                _read_edge_list(adj, header, reader)
            else:
                adj.findings.append(ADJ_FORM.finding(
                    f"{adj.display}: the header `{shown}` has {len(header)} column; "
                    "an edge list needs two id columns", Location(file=adj.display, row=1),
                    fix="write two id columns (and optional numeric columns), comma-separated",
                ))
    except UnicodeDecodeError as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display} is not UTF-8 text (a byte sequence that is not UTF-8: {exc.reason})",
            loc, fix=ENCODING_FIX))
    except CsvLimitError as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display}: {exc}", loc, fix=ENCODING_FIX + ", one record per line"))
    except csv.Error as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display} is not a readable CSV: {csv_error_text(exc)}", loc, fix=ENCODING_FIX))
    except OSError as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"cannot read {adj.display}: {exc.strerror or type(exc).__name__}", loc,
            fix="make it a readable regular file"))
    return adj


def _read_edge_list(adj: Adjacency, header: list[str], reader) -> None:
    adj.form = "edge list"
    first, second, rows = array("q"), array("q"), array("q")
    bad_rows, bad_weights, loops = Examples(), Examples(), Examples()
    for line, row in reader:  # line: 1-based line of the file
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < 2:
            bad_rows.add(f"row {line}: `{shorten(','.join(row), 60)}` has one cell, not two ids")
            continue
        problems = [f"`{shorten(c.strip(), 30)}` is {why}" for c in row[:2] if (why := _id_problem(c))]
        if problems:
            bad_rows.add(f"row {line}: " + ", ".join(problems))
            continue
        a, b = _int_id(row[0]), _int_id(row[1])
        first.append(a)
        second.append(b)
        rows.append(line)
        if a == b:
            loops.add(f"row {line}: {a}–{b}")
        for col, cell in enumerate(row[2:], start=2):
            value = _number(cell)
            name = header[col] if col < len(header) else f"column {col + 1}"
            if value is None or not math.isfinite(value) or value < 0:
                bad_weights.add(f"row {line} {shorten(name, 30)} = `{shorten(cell, 30)}`")
    loc = Location(file=adj.display)
    if bad_rows.count:
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display}: {bad_rows.count} row(s) without two positive integer ids: "
            f"{bad_rows.text()}", loc, fix="write two positive integer object ids per row"))
    if bad_weights.count:
        adj.findings.append(ADJ_WEIGHTS.finding(
            f"{adj.display}: {bad_weights.count} weight(s) not finite and non-negative: "
            f"{bad_weights.text()}", loc, fix="write finite numbers ≥ 0 in weight/distance columns"))
    if loops.count:
        adj.findings.append(ADJ_SELF_LOOP.finding(
            f"{adj.display}: {loops.count} self-loop(s): {loops.text()}", loc,
            fix="remove edges from an object to itself"))
    edges = np.stack([np.frombuffer(first, np.int64), np.frombuffer(second, np.int64)], axis=1)
    adj.n_edges = len(edges)
    if len(edges):
        _, first_index, counts = np.unique(edges, axis=0, return_index=True, return_counts=True)
        dup = np.flatnonzero(counts > 1)
        if len(dup):
            line_of = np.frombuffer(rows, np.int64)
            shown = [f"{edges[first_index[d]][0]}–{edges[first_index[d]][1]} "
                     f"(first at row {line_of[first_index[d]]}, {counts[d]}×)" for d in dup[:MAX_EXAMPLES]]
            adj.findings.append(ADJ_DUPLICATE.finding(
                f"{adj.display}: {len(dup)} edge(s) listed more than once: " + cut_list(shown, MAX_EXAMPLES)
                + (f" … (+{len(dup) - MAX_EXAMPLES} more)" if len(dup) > MAX_EXAMPLES else ""),
                loc, fix="list each edge once"))
        flat = edges.ravel()
        ids, first_pos = np.unique(flat, return_index=True)
        adj.ids = ids
        line_of = np.frombuffer(rows, np.int64)
        adj.id_rows = {int(i): int(line_of[p // 2]) for i, p in zip(ids[:10_000], first_pos)}


def _read_matrix(adj: Adjacency, header: list[str], reader) -> None:
    adj.form = "matrix"
    loc = Location(file=adj.display)
    col_ids = [_int_id(c) for c in header[1:]]
    if any(c is None for c in col_ids):
        bad = [f"`{shorten(c, 30)}` ({_id_problem(c)})" for c, v in zip(header[1:], col_ids) if v is None]
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display}: the first row of the matrix must hold object ids; found {cut_list(bad)}",
            Location(file=adj.display, row=1), fix="write positive integer object ids in the first row"))
        return
    n = len(col_ids)
    row_ids: list[int] = []
    row_lines: list[int] = []
    nz_i, nz_j, nz_v = array("q"), array("q"), array("d")
    bad_weights, bad_shape, loops = Examples(), Examples(), Examples()
    for line, row in reader:
        if not row or all(not c.strip() for c in row):
            continue
        rid = _int_id(row[0])
        if rid is None:
            bad_shape.add(f"row {line} starts with `{shorten(row[0], 20)}`, which is {_id_problem(row[0])}")
            continue
        if len(row) != n + 1:
            bad_shape.add(f"row {line} has {len(row)} cells")
            continue
        i = len(row_ids)
        row_ids.append(rid)
        row_lines.append(line)
        for j, cell in enumerate(row[1:]):
            value = _number(cell) if cell.strip() else 0.0
            if value is None or not math.isfinite(value) or value < 0:
                bad_weights.add(f"row {line} column {col_ids[j]} = `{shorten(cell, 30)}`")
                continue
            if value != 0:
                nz_i.append(i)
                nz_j.append(j)
                nz_v.append(value)
                if i == j:
                    loops.add(f"row {line}: {rid}–{rid} = {cell}")
    if bad_shape.count:
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display}: a {n}-column matrix needs an id and {n} values per row: {bad_shape.text()}",
            loc, fix="write one row per object: its id, then one value per column"))
    if bad_weights.count:
        adj.findings.append(ADJ_WEIGHTS.finding(
            f"{adj.display}: {bad_weights.count} value(s) not finite and non-negative: {bad_weights.text()}",
            loc, fix="write finite numbers ≥ 0 (0 = not adjacent)"))
    if loops.count:
        adj.findings.append(ADJ_SELF_LOOP.finding(
            f"{adj.display}: {loops.count} non-zero diagonal value(s): {loops.text()}",
            loc, fix="set the diagonal to 0"))
    if row_ids != col_ids:
        adj.findings.append(ADJ_SYMMETRIC.finding(
            f"{adj.display}: the first column ids ({cut_list(row_ids)}) differ from the first row ids "
            f"({cut_list(col_ids)})", loc, fix="use the same ids in the same order for rows and columns"))
    else:
        i_arr = np.frombuffer(nz_i, np.int64)
        j_arr = np.frombuffer(nz_j, np.int64)
        v_arr = np.frombuffer(nz_v, np.float64)
        # value at (j, i) for every stored (i, j), by sorted-key lookup: no per-entry objects
        keys = i_arr * n + j_arr
        order = np.argsort(keys)
        sorted_keys, sorted_values = keys[order], v_arr[order]
        transposed = j_arr * n + i_arr
        pos = np.minimum(np.searchsorted(sorted_keys, transposed), max(len(keys) - 1, 0))
        found = sorted_keys[pos] == transposed  # no stored entry: every array here is empty
        mirror = np.where(found, sorted_values[pos], 0.0)
        bad = np.flatnonzero(mirror != v_arr)
        if len(bad):
            shown = [
                f"{row_ids[i_arr[k]]}–{col_ids[j_arr[k]]} = {v_arr[k]:g} but "
                f"{col_ids[j_arr[k]]}–{row_ids[i_arr[k]]} = {mirror[k]:g}"
                for k in bad[:MAX_EXAMPLES]
            ]
            adj.findings.append(ADJ_SYMMETRIC.finding(
                f"{adj.display}: {len(bad)} asymmetric entr(ies): {'; '.join(shown)}"
                + (f" … (+{len(bad) - MAX_EXAMPLES} more)" if len(bad) > MAX_EXAMPLES else ""),
                loc, fix="make the matrix symmetric"))
    ids = np.array(sorted(set(col_ids) | set(row_ids)), dtype=np.int64)
    adj.ids = ids
    adj.n_edges = len(nz_i)
    adj.id_rows = dict(zip(row_ids[:10_000], row_lines))  # zip stops at the capped ids


def check_adjacency_structure(adj: Adjacency) -> CheckResult:
    result = CheckResult(findings=list(adj.findings))
    if adj.form and not result.findings:
        result.notes.append(f"{adj.display}: {adj.form}, {len(adj.ids)} object ids, {adj.n_edges} edge(s)")
    return result


def check_adjacency_ids(adj: Adjacency, channel: str, channel_ids: np.ndarray) -> CheckResult:
    """Every id in the file exists in the channel the prefix names."""
    result = CheckResult()
    if adj.form is None:
        result.skip = f"{adj.display} could not be read as an adjacency table (see its structure item)"
        return result
    unknown = adj.ids[~np.isin(adj.ids, channel_ids)]
    if len(unknown):
        shown = [f"{i} (row {adj.id_rows[int(i)]})" if int(i) in adj.id_rows else str(i)
                 for i in unknown[:MAX_EXAMPLES]]
        result.findings.append(ADJ_IDS.finding(
            f"{adj.display}: {len(unknown)} of {len(adj.ids)} object id(s) do not exist in mask "
            f"channel {channel!r} (which holds {len(channel_ids)} objects): "
            + ", ".join(shown) + (f" … (+{len(unknown) - MAX_EXAMPLES} more)" if len(unknown) > MAX_EXAMPLES else ""),
            Location(file=adj.display, channel=channel),
            fix=f"objects are required to be in the same mask: use ids of channel {channel!r} only",
        ))
    else:
        result.notes.append(f"all {len(adj.ids)} ids exist in channel {channel!r}")
    return result


def companion_prefix(file_name: str, suffix: str) -> str:
    return file_name[: -len(suffix)] if file_name.endswith(suffix) else file_name


def check_companion_channel(display: str, prefix: str, channel_names: list[str]) -> CheckResult:
    """The file's prefix names a channel of the mask image."""
    if prefix in channel_names:
        return CheckResult(notes=[f"{display} belongs to channel {prefix!r}"])
    return CheckResult(findings=[COMPANION_CHANNEL.finding(
        f"{display}: prefix {prefix!r} names no channel of the mask image "
        f"(channels: {cut_list(repr(c) for c in channel_names) or 'none readable'})",
        Location(file=display),
        fix="name the file after the mask channel its objects belong to, e.g. "
        + (f"`{channel_names[0]}-…`" if channel_names else "`<channel>-…`"),
    )])
