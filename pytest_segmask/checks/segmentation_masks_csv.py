"""`derived/segmentation_masks/segmentation-masks.csv` (SPEC §4): one row per channel, in
order, naming the channel, its mask image and its object count."""

from __future__ import annotations

import csv
from pathlib import Path

from ..findings import CheckResult, Location, Severity, cut_list
from ..rules import Authority, define_rule

SRC = "SPEC §4; HuBMAP segmentation-mask schema"
CSV_PRESENT = define_rule("CSV-PRESENT", Severity.WARNING, "`segmentation-masks.csv` documents the class of objects in each mask.", SRC, authority=Authority.SCHEMA)
CSV_ROWS = define_rule("CSV-ROWS", Severity.ERROR, "segmentation-masks.csv is UTF-8 CSV with the real header, one row per channel, Channel number 0-based in order, Mask name = OME channel name, Source file = an existing mask image, required cells filled.", SRC, authority=Authority.SCHEMA)
CSV_NUM_OBJECTS = define_rule("CSV-NUM-OBJECTS", Severity.ERROR, "`Num objects` equals the number of distinct ids in the channel.", SRC, authority=Authority.PRACTICE)

NAME = "segmentation-masks.csv"
HEADER = ["Channel number", "Mask name", "Source file", "Ontology abbreviation", "Ontology ID",
          "Protocol", "Is entire image masked", "Num objects"]
REQUIRED = ("Channel number", "Mask name", "Source file", "Num objects")


def read_rows(path: Path) -> tuple[list[dict[str, str]], str | None]:
    """(rows with their 1-based line numbers under key '#'), or an error message."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = []
            for line, row in enumerate(reader, start=2):
                if any("\x00" in (v or "") for v in row.values() if isinstance(v, str)):
                    return [], f"line {line} holds binary bytes (NUL)"
                row["#"] = str(line)
                rows.append(row)
                if len(rows) > 10_000:
                    return [], "more than 10,000 rows: this is not a per-channel table"
            header = reader.fieldnames or []
    except UnicodeDecodeError as exc:
        return [], f"not UTF-8 text (byte {exc.start}: {exc.reason})"
    except (csv.Error, OSError) as exc:
        return [], str(exc)
    missing = [h for h in HEADER if h not in header]
    if missing:
        return [], f"header lacks {', '.join(repr(m) for m in missing)} (found {cut_list(header, 8)})"
    return rows, None


def check_present(display: str) -> CheckResult:
    return CheckResult(findings=[CSV_PRESENT.finding(
        f"`{display}` is absent; it documents the class of objects in each mask channel",
        Location(file=display), fix=f"add {NAME} with the header {','.join(HEADER)}")])


def check_rows(parsed: tuple[list[dict[str, str]], str | None], display: str,
               channels: dict[str, list[str]], mask_files: list[str]) -> CheckResult:
    """``parsed``: read_rows() of the file; ``channels``: mask file name -> channel names, in order."""
    loc = Location(file=display)
    rows, error = parsed
    if error:
        return CheckResult(findings=[CSV_ROWS.finding(f"{display}: {error}", loc,
                                                      fix="save it as UTF-8 CSV with the real header")])
    problems = []
    for row in rows:
        empty = [c for c in REQUIRED if not (row.get(c) or "").strip()]
        if empty:
            problems.append(f"line {row['#']}: {', '.join(empty)} empty")
        source = (row.get("Source file") or "").strip()
        if source and source not in mask_files:
            problems.append(f"line {row['#']}: Source file `{source}` is not a mask image here")
    for mask, names in channels.items():
        mine = [r for r in rows if (r.get("Source file") or "").strip() == mask]
        if len(mine) != len(names):
            problems.append(f"{len(mine)} row(s) for `{mask}`, which has {len(names)} channel(s)")
        for index, (row, name) in enumerate(zip(mine, names)):
            number = (row.get("Channel number") or "").strip()
            if number != str(index):
                problems.append(f"line {row['#']}: Channel number `{number}`, expected {index} (0-based, in order)")
            if (row.get("Mask name") or "").strip() != name:
                problems.append(f"line {row['#']}: Mask name `{row.get('Mask name')}` but channel {index} is named {name!r}")
    if problems:
        return CheckResult(findings=[CSV_ROWS.finding(
            f"{display}: {len(problems)} problem(s): {cut_list(problems, 5)}", loc,
            fix="write one row per channel of each mask, Channel number 0, 1, … in channel order, "
                "Mask name = the OME channel name")])
    return CheckResult(notes=[f"{len(rows)} row(s), one per channel"])


def check_num_objects(parsed: tuple[list[dict[str, str]], str | None], display: str,
                      counts: dict[tuple[str, str], int]) -> CheckResult:
    """``counts``: (mask file, channel name) -> distinct ids decoded from the channel."""
    rows, error = parsed
    if error:
        return CheckResult(skip=f"{display} cannot be read (see its rows item)")
    problems = []
    for row in rows:
        key = ((row.get("Source file") or "").strip(), (row.get("Mask name") or "").strip())
        if key in counts and (row.get("Num objects") or "").strip() != str(counts[key]):
            problems.append(f"line {row['#']} ({key[1]!r}): Num objects `{row.get('Num objects')}`, "
                            f"the channel holds {counts[key]}")
    if problems:
        return CheckResult(findings=[CSV_NUM_OBJECTS.finding(
            f"{display}: {cut_list(problems, 5)}", Location(file=display),
            fix="write the number of distinct object ids of each channel")])
    return CheckResult(notes=[f"object counts match {len(counts)} decoded channel(s)"])
