"""`derived/segmentation_masks/transformations/` (SPEC §6): present files are non-empty and
readable; an empty folder is a warning."""

from __future__ import annotations

from pathlib import Path

from ..findings import CheckResult, Location, Severity, cut_list
from ..rules import Authority, define_rule

TRANSFORMATIONS_FILES = define_rule(
    "TRANSFORMATIONS-FILES", Severity.ERROR,
    "Every file under transformations/ is non-empty and readable.",
    "SPEC §6; HuBMAP segmentation-mask schema (3D reconstructions from serial sections)", authority=Authority.PRACTICE,
)
TRANSFORMATIONS_EMPTY = define_rule(
    "TRANSFORMATIONS-EMPTY", Severity.WARNING,
    "A transformations/ folder that is present holds at least one file.",
    "SPEC §6", authority=Authority.PRACTICE,
)

FOLDER = "derived/segmentation_masks/transformations/"


def check_transformations(root: Path, listed: list[str]) -> CheckResult:
    """``listed``: the listing's paths under the folder (files, or 'dir/' for file-less dirs)."""
    result = CheckResult()
    files = [p for p in listed if not p.endswith("/")]
    if not files:
        result.findings.append(TRANSFORMATIONS_EMPTY.finding(
            f"`{FOLDER}` is present but holds no files", Location(file=FOLDER),
            fix="add the transformation files, or remove the empty folder"))
        return result
    problems = []
    for rel in files:
        try:
            with open(root / rel, "rb") as fh:
                if not fh.read(1):
                    problems.append(f"`{rel}` is empty (0 bytes)")
        except OSError as exc:
            problems.append(f"`{rel}` cannot be read: {exc.strerror or exc}")
    if problems:
        result.findings.append(TRANSFORMATIONS_FILES.finding(
            f"{len(problems)} of {len(files)} transformation file(s) unusable: " + cut_list(problems),
            Location(file=FOLDER), fix="replace empty or unreadable files with the real transformations"))
    result.notes.append(f"{len(files)} file(s): {cut_list(files, 10)}")
    return result
