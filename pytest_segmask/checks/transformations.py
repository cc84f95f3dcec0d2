"""`derived/segmentation_masks/transformations/`: present files are non-empty readable
regular files; an empty folder is a warning."""

from __future__ import annotations

from pathlib import Path

from ..dirschema import Listing, open_regular
from ..findings import CheckResult, Location, Severity, cut_list, shorten
from ..rules import Authority, define_rule

SCHEMA_ROW = (
    "HuBMAP Segmentation Mask directory schema v2.0–2.7, row "
    "`derived\\/segmentation_masks\\/transformations\\/.*` (\"transformation files that pertain "
    "to a 3D reconstruction from serial sections\")"
)
TRANSFORMATIONS_FILES = define_rule(
    "TRANSFORMATIONS-FILES", Severity.ERROR,
    "Every file under transformations/ is a non-empty, readable regular file.",
    SCHEMA_ROW, authority=Authority.PRACTICE,
    reason="an empty or unreadable transformation file cannot be used to rebuild the 3D map; "
    "the schema describes the folder's purpose but not its files",
)
TRANSFORMATIONS_EMPTY = define_rule(
    "TRANSFORMATIONS-EMPTY", Severity.WARNING,
    "A transformations/ folder that is present holds at least one file.",
    SCHEMA_ROW, authority=Authority.PRACTICE,
    reason="an empty folder is allowed by the pattern but means the transformations were "
    "meant to be there and are missing",
)

FOLDER = "derived/segmentation_masks/transformations/"


def check_transformations(root: Path, listed: list[str], listing: Listing | None = None) -> CheckResult:
    """``listed``: the listing's paths under the folder (files, or 'dir/' for file-less dirs);
    ``listing``: the dataset listing, to open names that are not UTF-8 by their real path."""
    result = CheckResult()
    files = [p for p in listed if not p.endswith("/")]
    if not files:
        result.findings.append(TRANSFORMATIONS_EMPTY.finding(
            f"`{FOLDER}` is present but holds no files", Location(file=FOLDER),
            fix="add the transformation files, or remove the empty folder"))
        return result
    problems = []
    for rel in files:
        path = listing.fs_path(root, rel) if listing is not None else Path(root) / rel
        try:
            with open_regular(path, "rb") as fh:
                head = fh.read(1)  # mutation: equivalent — any positive read size tells an empty file from a non-empty one
                if not head:
                    problems.append(f"`{shorten(rel, 120)}` is empty (0 bytes)")
        except OSError as exc:
            problems.append(f"`{shorten(rel, 120)}` cannot be read: {exc.strerror or type(exc).__name__}")
    if problems:
        result.findings.append(TRANSFORMATIONS_FILES.finding(
            f"{len(problems)} of {len(files)} transformation file(s) unusable: " + cut_list(problems),
            Location(file=FOLDER), fix="replace empty or unreadable files with the real transformations"))
    result.notes.append(f"{len(files)} file(s): {cut_list((shorten(f, 120) for f in files), 10)}")
    return result
