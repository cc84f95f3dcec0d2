"""`derived/segmentation_masks/segmentation-masks.csv`: one row per channel, in order, naming
the channel, its mask image and its object count.

No HuBMAP template defines this file: that its rows correspond to the mask's channels is the
schema's ("the class of objects contained in the mask is documented in the
segmentation-masks.csv file"); the exact header, the other columns and `Num objects` follow
the real producer's file (practice). Lines, fields and rows are bounded before they are held.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..dirschema import open_regular
from ..findings import CheckResult, Examples, Location, Severity, cut_list, shorten
from ..rules import Authority, define_rule
from .adjacency import CsvLimitError, csv_error_text, csv_rows

SCHEMA_TEXT = (
    "HuBMAP Segmentation Mask directory schema v2.0–2.7, mask-image row: \"The class of objects "
    "contained in the mask is documented in the segmentation-masks.csv file\""
)
REAL_FILE = ("the producer's real segmentation-masks.csv (HuBMAP dataset HBM787.DVDV.435, "
             "ingest-validation-tests test data)")
CSV_PRESENT = define_rule(
    "CSV-PRESENT", Severity.WARNING,
    "`segmentation-masks.csv` documents the class of objects in each mask.",
    SCHEMA_TEXT, authority=Authority.SCHEMA,
)
CSV_ROWS = define_rule(
    "CSV-ROWS", Severity.ERROR,
    "segmentation-masks.csv is readable CSV with one row per channel of each mask image: "
    "Channel number 0-based in order, Mask name = the OME channel name, Source file = an "
    "existing mask image.",
    SCHEMA_TEXT, authority=Authority.SCHEMA,
)
CSV_HEADER = define_rule(
    "CSV-HEADER", Severity.ERROR,
    "segmentation-masks.csv has exactly the real header (`Channel number,Mask name,Source file,"
    "Ontology abbreviation,Ontology ID,Protocol,Is entire image masked,Num objects`), one cell "
    "per column, and its descriptive cells filled.",
    f"RFC 4180 (CSV); {REAL_FILE}", authority=Authority.PRACTICE,
    reason="no HuBMAP template defines the file; the real producer's header is the only "
    "layout readers can rely on",
)
CSV_NUM_OBJECTS = define_rule(
    "CSV-NUM-OBJECTS", Severity.ERROR,
    "`Num objects` equals the number of distinct ids in the channel or its maximum id.",
    REAL_FILE, authority=Authority.PRACTICE,
    reason="the real producer writes the maximum label (np.max), which equals the object count "
    "only for contiguous ids; either agrees with the mask, anything else does not",
)

NAME = "segmentation-masks.csv"
HEADER = ["Channel number", "Mask name", "Source file", "Ontology abbreviation", "Ontology ID",
          "Protocol", "Is entire image masked", "Num objects"]
CORRESPONDENCE = ("Channel number", "Mask name", "Source file")  # CSV-ROWS (schema)
DESCRIPTIVE = ("Ontology abbreviation", "Ontology ID", "Protocol", "Is entire image masked")
MAX_ROWS = 10_000  # a per-channel table; real masks have a handful of channels
MAX_CSV_LINE_CHARS = 64 * 1024
MAX_CSV_FIELD_CHARS = 4096
MAX_EXAMPLES = 5
_WHOLE = re.compile(r"[0-9]{1,19}")


@dataclass
class ParsedCsv:
    """segmentation-masks.csv as read once for its items. Unpacks as ``rows, error``."""

    rows: list[dict[str, str]] = field(default_factory=list)  # line number under key '#'
    header: list[str] = field(default_factory=list)
    error: str | None = None
    width: dict[int, int] = field(default_factory=dict)  # line -> cell count, when != header

    def __iter__(self):
        return iter((self.rows, self.error))


def read_rows(path: Path) -> ParsedCsv:
    """The rows as dicts (1-based line number under '#'), or an error in words."""
    try:
        with open_regular(path, "r", encoding="utf-8-sig", newline="") as fh:
            reader = csv_rows(fh, MAX_CSV_LINE_CHARS, MAX_CSV_FIELD_CHARS,
                              ("MAX_CSV_LINE_CHARS", "MAX_CSV_FIELD_CHARS"))
            first = next(reader, None)
            if first is None:
                return ParsedCsv(error="the file is empty")
            header = [c.strip() for c in first[1]]
            parsed = ParsedCsv(header=header)
            for line, cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                if any("\x00" in c for c in cells):
                    return ParsedCsv(header=header, error=f"line {line} holds binary bytes (NUL)")
                if len(parsed.rows) >= MAX_ROWS:
                    return ParsedCsv(header=header, error=(
                        f"more than {MAX_ROWS:,} rows (limit MAX_ROWS): this is not a per-channel table"))
                row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header)}
                row["#"] = str(line)
                if len(cells) != len(header):
                    parsed.width[line] = len(cells)
                parsed.rows.append(row)
    except UnicodeDecodeError as exc:
        return ParsedCsv(error=f"not UTF-8 text (a byte sequence that is not UTF-8: {exc.reason})")
    except CsvLimitError as exc:
        return ParsedCsv(error=str(exc))
    except csv.Error as exc:
        return ParsedCsv(error=f"not a readable CSV: {csv_error_text(exc)}")
    except OSError as exc:
        return ParsedCsv(error=f"cannot be read: {exc.strerror or type(exc).__name__}")
    missing = [h for h in CORRESPONDENCE if h not in parsed.header]
    if missing:
        parsed.error = (f"header lacks {', '.join(repr(m) for m in missing)} (found "
                        f"{cut_list((shorten(h, 40) for h in parsed.header), 8)})")
    return parsed


def check_present(display: str) -> CheckResult:
    return CheckResult(findings=[CSV_PRESENT.finding(
        f"`{display}` is absent; it documents the class of objects in each mask channel",
        Location(file=display), fix=f"add {NAME} with the header {','.join(HEADER)}")])


def _cell(row: dict[str, str], column: str) -> str:
    return (row.get(column) or "").strip()


def check_rows(parsed: ParsedCsv, display: str, channels: dict[str, list[str]],
               mask_files: list[str]) -> CheckResult:
    """``parsed``: read_rows() of the file; ``channels``: mask file name -> channel names, in
    order; ``mask_files``: names of the mask images. Correspondence problems are CSV-ROWS,
    layout problems CSV-HEADER."""
    loc = Location(file=display)
    rows, error = parsed
    if error:
        return CheckResult(findings=[CSV_ROWS.finding(
            f"{display}: {error}", loc, fix=f"save it as UTF-8 CSV with the header {','.join(HEADER)}")])
    result = CheckResult()
    problems = Examples(MAX_EXAMPLES)
    for row in rows:
        empty = [c for c in CORRESPONDENCE if not _cell(row, c)]
        if empty:
            problems.add(f"line {row['#']}: {', '.join(empty)} empty")
        source = _cell(row, "Source file")
        if source and source not in mask_files:
            problems.add(f"line {row['#']}: Source file `{shorten(source, 60)}` is not a mask image here")
    for mask, names in channels.items():
        mine = [r for r in rows if _cell(r, "Source file") == mask]
        if len(mine) != len(names):
            problems.add(f"{len(mine)} row(s) for `{mask}`, which has {len(names)} channel(s)")
        for index, (row, name) in enumerate(zip(mine, names)):
            number = _cell(row, "Channel number")
            if number != str(index):
                problems.add(f"line {row['#']}: Channel number `{shorten(number, 20)}`, expected {index} "
                             "(0-based, in order)")
            if _cell(row, "Mask name") != name:
                problems.add(f"line {row['#']}: Mask name `{shorten(row.get('Mask name'), 60)}` but "
                             f"channel {index} is named {shorten(repr(name), 60)}")
    if problems.count:
        result.findings.append(CSV_ROWS.finding(
            f"{display}: {problems.count} problem(s): {problems.text()}", loc,
            fix="write one row per channel of each mask, Channel number 0, 1, … in channel order, "
                "Mask name = the OME channel name"))
    layout = Examples(MAX_EXAMPLES)
    if parsed.header != HEADER:
        layout.add(f"the header is `{shorten(','.join(parsed.header), 120)}`, not `{','.join(HEADER)}`")
    for line, width in parsed.width.items():
        layout.add(f"line {line} has {width} cell(s) for {len(parsed.header)} columns")
    for row in rows:
        empty = [c for c in DESCRIPTIVE if c in parsed.header and not _cell(row, c)]
        if empty:
            layout.add(f"line {row['#']}: {', '.join(empty)} empty")
    if layout.count:
        result.findings.append(CSV_HEADER.finding(
            f"{display}: {layout.count} layout problem(s): {layout.text()}", loc,
            fix=f"use the header {','.join(HEADER)} and fill every cell"))
    if not result.findings:
        result.notes.append(f"{len(rows)} row(s), one per channel")
    return result


def _counts(value) -> tuple[int, int | None]:
    """(distinct ids, max id) of a channel; a bare int is the distinct count alone."""
    if isinstance(value, tuple):
        return int(value[0]), (None if value[1] is None else int(value[1]))
    return int(value), None


def check_num_objects(parsed: ParsedCsv, display: str,
                      counts: dict[tuple[str, str], tuple[int, int]]) -> CheckResult:
    """``counts``: (mask file, channel name) -> (distinct ids, maximum id) decoded from the
    channel. `Num objects` passes when it equals either; the notes say which one holds."""
    rows, error = parsed
    if error:
        return CheckResult(skip=f"{display} cannot be read (see its rows item)")
    if "Num objects" not in parsed.header:
        return CheckResult(skip=f"{display} has no `Num objects` column (see its rows item)")
    problems = Examples(MAX_EXAMPLES)
    holds: dict[str, list[str]] = {"distinct": [], "max": [], "both": []}
    for row in rows:
        key = (_cell(row, "Source file"), _cell(row, "Mask name"))
        if key not in counts:
            continue
        distinct, max_id = _counts(counts[key])
        text = _cell(row, "Num objects")
        where = f"line {row['#']} ({shorten(repr(key[1]), 60)})"
        if not _WHOLE.fullmatch(text):
            problems.add(f"{where}: Num objects `{shorten(text, 30)}` is not a whole number"
                         if text else f"{where}: Num objects is empty")
            continue
        value = int(text)
        if value == distinct and value == max_id:
            holds["both"].append(key[1])
        elif value == distinct:
            holds["distinct"].append(key[1])
        elif max_id is not None and value == max_id:
            holds["max"].append(key[1])
        else:
            problems.add(f"{where}: Num objects `{value}`, the channel holds {distinct} distinct "
                         f"id(s)" + (f" with maximum id {max_id}" if max_id is not None else ""))
    if problems.count:
        return CheckResult(findings=[CSV_NUM_OBJECTS.finding(
            f"{display}: {problems.count} wrong count(s): {problems.text()}", Location(file=display),
            fix="write the number of distinct object ids of each channel (or its maximum id)")])
    notes = []
    for kind, label in (("both", "the distinct id count, which is also the maximum id"),
                        ("distinct", "the distinct id count"), ("max", "the maximum id (ids are not contiguous)")):
        if holds[kind]:
            notes.append(f"Num objects = {label} for {len(holds[kind])} channel(s): "
                         + cut_list(repr(n) for n in holds[kind]))
    return CheckResult(notes=notes or [f"no decoded channel to compare ({len(counts)} given)"])
