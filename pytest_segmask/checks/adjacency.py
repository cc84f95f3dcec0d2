"""`<mask>-centroid-adjacency.csv` / `<mask>-linkage-adjacency.csv` (SPEC §6).

Two forms are recognised: an edge list (header row, two id columns, optional numeric
columns) and a square matrix (first row and first column are object ids). One streaming
pass keeps edges in compact numpy arrays (16 bytes per edge), never Python objects per row.
"""

from __future__ import annotations

import csv
import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..findings import CheckResult, Examples, Finding, Location, Severity, cut_list
from ..rules import Authority, define_rule

ADJ_FORM = define_rule(
    "ADJ-FORM", Severity.ERROR,
    "An adjacency CSV is an edge list (header, two id columns, optional numeric columns) or a "
    "square matrix whose first row and column are object ids.",
    "SPEC §6; HuBMAP segmentation-mask schema (adjacency files)", authority=Authority.PRACTICE,
)
ADJ_IDS = define_rule(
    "ADJ-IDS", Severity.ERROR,
    "Every object id in an adjacency CSV exists in its mask channel (objects are required to "
    "be in the same mask).",
    "SPEC §6; HuBMAP segmentation-mask schema", authority=Authority.SCHEMA,
)
ADJ_SELF_LOOP = define_rule(
    "ADJ-SELF-LOOP", Severity.ERROR, "No object is adjacent to itself.", "SPEC §6", authority=Authority.PRACTICE,
)
ADJ_DUPLICATE = define_rule(
    "ADJ-DUPLICATE", Severity.ERROR,
    "No edge is listed twice (the same ordered pair of ids).", "SPEC §6", authority=Authority.PRACTICE,
)
ADJ_SYMMETRIC = define_rule(
    "ADJ-SYMMETRIC", Severity.ERROR,
    "An adjacency matrix is symmetric, with the same ids in its first row and column.", "SPEC §6", authority=Authority.PRACTICE,
)
ADJ_WEIGHTS = define_rule(
    "ADJ-WEIGHTS", Severity.ERROR,
    "Weights and distances are finite, non-negative numbers.", "SPEC §6", authority=Authority.PRACTICE,
)
COMPANION_CHANNEL = define_rule(
    "COMPANION-CHANNEL", Severity.ERROR,
    "The prefix of an adjacency CSV or mesh names a channel of the mask image.",
    "SPEC §6; HuBMAP segmentation-mask schema", authority=Authority.SCHEMA,
)

MAX_EXAMPLES = 5
ENCODING_FIX = "save the file as UTF-8 CSV (comma-separated) text"


@dataclass
class Adjacency:
    display: str
    form: str | None = None  # "edge list" | "matrix" | None when unrecognised
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    id_rows: dict[int, int] = field(default_factory=dict)  # first sheet row of each id (capped)
    n_edges: int = 0
    findings: list[Finding] = field(default_factory=list)


def _int_id(text: str) -> int | None:
    text = text.strip()
    if text.endswith(".0"):
        text = text[:-2]
    if text.isdigit():
        value = int(text)
        return value if value >= 1 else None
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_adjacency(path: Path, display: str | None = None) -> Adjacency:
    adj = Adjacency(display or path.name)
    loc = Location(file=adj.display)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                adj.findings.append(ADJ_FORM.finding(f"{adj.display} is empty", loc,
                                                     fix="write a header row and one edge per row"))
                return adj
            header = [c.strip() for c in header]
            if len(header) >= 2 and not header[0] or (
                len(header) > 3 and all(_int_id(c) is not None for c in header[1:])
            ):
                _read_matrix(adj, header, reader)
            elif len(header) >= 2 and all(_int_id(c) is not None for c in header[:2]):
                adj.findings.append(ADJ_FORM.finding(
                    f"{adj.display}: the first row `{','.join(header)}` holds ids, not column "
                    "names: an edge list needs a header row", Location(file=adj.display, row=1),
                    fix="add a header row such as `object_1,object_2,distance`",
                ))
            elif len(header) >= 2:
                _read_edge_list(adj, header, reader)
            else:
                adj.findings.append(ADJ_FORM.finding(
                    f"{adj.display}: the header `{','.join(header)}` has {len(header)} column; "
                    "an edge list needs two id columns", Location(file=adj.display, row=1),
                    fix="write two id columns (and optional numeric columns), comma-separated",
                ))
    except UnicodeDecodeError as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display} is not UTF-8 text (byte {exc.start}: {exc.reason})", loc, fix=ENCODING_FIX))
    except csv.Error as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display} is not a readable CSV: {exc}", loc, fix=ENCODING_FIX))
    except OSError as exc:
        adj.form = None
        adj.findings.append(ADJ_FORM.finding(
            f"cannot read {adj.display}: {exc.strerror or exc}", loc, fix="make the file readable"))
    return adj


def _read_edge_list(adj: Adjacency, header: list[str], reader) -> None:
    adj.form = "edge list"
    first, second, rows = array("q"), array("q"), array("q")
    bad_rows, bad_weights, loops = Examples(), Examples(), Examples()
    for index, row in enumerate(reader):
        line = index + 2  # 1-based, after the header
        if not row or all(not c.strip() for c in row):
            continue
        a = _int_id(row[0]) if len(row) > 0 else None
        b = _int_id(row[1]) if len(row) > 1 else None
        if a is None or b is None:
            bad_rows.add(f"row {line}: `{','.join(row)[:60]}`")
            continue
        first.append(a)
        second.append(b)
        rows.append(line)
        if a == b:
            loops.add(f"row {line}: {a}–{b}")
        for col, cell in enumerate(row[2:], start=2):
            value = _number(cell)
            name = header[col] if col < len(header) else f"column {col + 1}"
            if value is None or not math.isfinite(value) or value < 0:
                bad_weights.add(f"row {line} {name} = `{cell}`")
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
        adj.id_rows = {int(i): int(line_of[p // 2]) for i, p in zip(ids[:10_000], first_pos[:10_000])}


def _read_matrix(adj: Adjacency, header: list[str], reader) -> None:
    adj.form = "matrix"
    loc = Location(file=adj.display)
    col_ids = [_int_id(c) for c in header[1:]]
    if any(c is None for c in col_ids):
        bad = [f"`{c}`" for c, v in zip(header[1:], col_ids) if v is None]
        adj.findings.append(ADJ_FORM.finding(
            f"{adj.display}: the first row of the matrix must hold object ids; found {cut_list(bad)}",
            Location(file=adj.display, row=1), fix="write positive integer object ids in the first row"))
        return
    n = len(col_ids)
    row_ids: list[int] = []
    nz_i, nz_j, nz_v = array("q"), array("q"), array("d")
    bad_weights, bad_shape, loops = Examples(), Examples(), Examples()
    for index, row in enumerate(reader):
        line = index + 2
        if not row or all(not c.strip() for c in row):
            continue
        rid = _int_id(row[0])
        if rid is None or len(row) != n + 1:
            bad_shape.add(f"row {line} has {len(row)} cells" if rid is not None
                          else f"row {line} starts with `{row[0][:20]}`, not an id")
            continue
        i = len(row_ids)
        row_ids.append(rid)
        for j, cell in enumerate(row[1:]):
            value = _number(cell) if cell.strip() else 0.0
            if value is None or not math.isfinite(value) or value < 0:
                bad_weights.add(f"row {line} column {col_ids[j]} = `{cell}`")
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
        found = sorted_keys[pos] == transposed if len(keys) else np.zeros(0, bool)
        mirror = np.where(found, sorted_values[pos] if len(keys) else 0.0, 0.0)
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
    adj.id_rows = {rid: k + 2 for k, rid in enumerate(row_ids[:10_000])}


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
