"""Directory schema: the segmentation-mask layouts of versions 2.0–2.7, as data.

Listing and matching follow HuBMAP's reference validator (ingest-validation-tools):
full match on dataset-relative POSIX paths, file-less directories listed as ``dir/``,
symlinks to directories neither listed nor followed (SPEC §2).
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .findings import CheckResult, Location, Severity, cut_list
from .rules import Authority, define_rule

DIR_REQUIRED = define_rule(
    "DIR-REQUIRED", Severity.ERROR,
    "Every required directory-schema pattern matches at least one path.",
    "SPEC §2; HuBMAP directory schema segmentation-mask-v2.x", authority=Authority.INGEST,
)
DIR_NOT_ALLOWED = define_rule(
    "DIR-NOT-ALLOWED", Severity.ERROR,
    "Every path matches a pattern of the schema version or an ignore glob.",
    "SPEC §2.2; ingest-validation-tools directory validator", authority=Authority.INGEST,
)
DIR_UNREADABLE = define_rule(
    "DIR-UNREADABLE", Severity.ERROR,
    "Every folder of the dataset can be listed.",
    "SPEC §2.2", authority=Authority.INGEST,
)

_SEG = r"derived\/segmentation_masks\/"
VERSIONS_ALL = ("2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7")


@dataclass(frozen=True)
class SchemaPattern:
    """One row of the schema table: a pattern per version where it exists."""

    key: str  # short id used in item names: required:<key> / optional:<key>
    what: str  # what it is, in words
    example: str  # a path that would satisfy it
    required: bool
    by_version: dict[str, str] = field(hash=False)
    ending: str | None = None  # the required file ending, for near-miss messages


def _versions(spec: str) -> tuple[str, ...]:
    """'2.2-2.7' -> ('2.2', …, '2.7'); '2.0' -> ('2.0',)."""
    lo, _, hi = spec.partition("-")
    hi = hi or lo
    return tuple(v for v in VERSIONS_ALL if version_key(lo) <= version_key(v) <= version_key(hi))


def _table(ranges: dict[str, str]) -> dict[str, str]:
    """{'2.2-2.7': pattern} -> {'2.2': pattern, …, '2.7': pattern}."""
    return {version: pattern for spec, pattern in ranges.items() for version in _versions(spec)}


def version_key(version: str) -> tuple[int, ...]:
    """Natural order: 2.10 sorts after 2.9."""
    return tuple(int(part) for part in version.split("."))


# The schema table (SPEC §2.1): one row per pattern, patterns keyed by version range.
SCHEMA: tuple[SchemaPattern, ...] = (
    SchemaPattern(
        "extras-folder", "the top-level extras folder", "extras/", True,
        _table({"2.2-2.7": r"extras\/.*"}),
    ),
    SchemaPattern(
        "derived-folder", "the derived folder", "derived/", True,
        _table({"2.0-2.7": r"derived\/.*"}),
    ),
    SchemaPattern(
        "derived-extras-folder", "the derived/extras folder", "derived/extras/", True,
        _table({"2.0-2.7": r"derived\/extras\/.*"}),
    ),
    SchemaPattern(
        "segmentation-masks-folder", "the derived/segmentation_masks folder",
        "derived/segmentation_masks/", True,
        _table({"2.0-2.7": _SEG + r".*"}),
    ),
    SchemaPattern(
        "mask-image", "the mask image",
        "derived/segmentation_masks/<name>.segmentations.ome.tiff", True,
        _table({
            "2.0": _SEG + r"[^\/]+\.segmentations.ome.tiff",
            "2.1-2.2": _SEG + r"[^\/]+\.segmentations\.ome\.tiff",
            "2.3": _SEG + r"[^\/]+\.segmentations\.ome\.tiff$",
            "2.4": _SEG + r"[^\/]+\.segmentations\.ome\.tiff$",
            "2.5": _SEG + r"[^\/]+\.segmentations\.ome\.(?:tif|tiff)$",
            "2.6-2.7": _SEG + r"[^\/]+\.segmentations\.ome\.tiff$",
        }),
        ending=".segmentations.ome.tiff",
    ),
    SchemaPattern(
        "objects-table", "an objects table",
        "derived/segmentation_masks/<mask name>-objects.xlsx", True,
        _table({
            "2.0-2.2": _SEG + r"[^\/]+-objects\.(?:tsv|xlsx)",
            "2.3": _SEG + r"[^\/]+-objects\.(?:tsv|xlsx)$",
            "2.4-2.6": _SEG + r"[^\/]+-objects\.xlsx$",
            "2.7": _SEG + r"[^\/]+-objects\.(?:xlsx|tsv)$",
        }),
        ending="-objects.xlsx",
    ),
    SchemaPattern(
        "centroid-adjacency", "a centroid adjacency table",
        "derived/segmentation_masks/<mask name>-centroid-adjacency.csv", False,
        _table({"2.0-2.7": _SEG + r"[^\/]+-centroid-adjacency\.csv"}),
    ),
    SchemaPattern(
        "linkage-adjacency", "a linkage adjacency table",
        "derived/segmentation_masks/<mask name>-linkage-adjacency.csv", False,
        _table({"2.0-2.7": _SEG + r"[^\/]+-linkage-adjacency\.csv"}),
    ),
    SchemaPattern(
        "mesh", "a GLB mesh", "derived/segmentation_masks/<mask name>-mesh.glb", False,
        _table({"2.0-2.7": _SEG + r"[^\/]+-mesh\.glb"}),
    ),
    SchemaPattern(
        "transformations", "the transformations folder",
        "derived/segmentation_masks/transformations/", False,
        _table({"2.0-2.7": _SEG + r"transformations\/.*"}),
    ),
)

VERSIONS: tuple[str, ...] = tuple(
    sorted({v for p in SCHEMA for v in p.by_version}, key=version_key)
)


def patterns_for(version: str) -> list[SchemaPattern]:
    return [p for p in SCHEMA if version in p.by_version]


def find_pattern(key: str) -> SchemaPattern:
    return next(p for p in SCHEMA if p.key == key)


# --- listing -----------------------------------------------------------------


@dataclass
class Listing:
    paths: list[str]  # sorted dataset-relative POSIX paths; file-less dirs end in "/"
    unreadable: list[tuple[str, str]]  # (relative dir, error)


def list_dataset(root: Path) -> Listing:
    """List a dataset as the reference validator does (SPEC §2.2)."""
    paths: list[str] = []
    unreadable: list[tuple[str, str]] = []

    def onerror(exc: OSError) -> None:
        rel = os.path.relpath(exc.filename, root) if exc.filename else "."
        unreadable.append((PurePosixPath(Path(rel)).as_posix(), exc.strerror or str(exc)))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        rel_dir = PurePosixPath(Path(os.path.relpath(dirpath, root))).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        # os.walk puts symlinks to directories into dirnames (and does not descend
        # into them when followlinks=False); they are neither listed nor followed.
        dirnames.sort()
        if filenames:
            paths.extend(prefix + name for name in filenames)
        elif prefix:
            paths.append(prefix)
    return Listing(sorted(paths), unreadable)


# --- evaluation --------------------------------------------------------------


@dataclass
class VersionVerdict:
    version: str
    matches: dict[str, list[str]]  # pattern key -> matching paths
    missing: list[str]  # required pattern keys with no match
    not_allowed: list[str]
    unreadable: bool = False  # a folder could not be listed: no verdict can be trusted

    @property
    def passes(self) -> bool:
        return not self.missing and not self.not_allowed and not self.unreadable


def evaluate(listing: Listing, version: str, ignore_globs: list[str]) -> VersionVerdict:
    patterns = patterns_for(version)
    compiled = [(p, re.compile(p.by_version[version])) for p in patterns]
    matches: dict[str, list[str]] = {p.key: [] for p in patterns}
    not_allowed: list[str] = []
    for path in listing.paths:
        matched = False
        for pattern, regex in compiled:
            if regex.fullmatch(path):
                matches[pattern.key].append(path)
                matched = True
        if not matched and not any(fnmatch.fnmatch(path, g) for g in ignore_globs):
            not_allowed.append(path)
    missing = [p.key for p in patterns if p.required and not matches[p.key]]
    return VersionVerdict(version, matches, missing, not_allowed, bool(listing.unreadable))


@dataclass
class SchemaChoice:
    """Which version the dataset is checked against, and why."""

    version: str
    validates: bool
    requested: str  # "auto" or a version
    verdict: VersionVerdict
    passing_versions: list[str]

    def header(self, dataset: str) -> str:
        if self.validates:
            return f"segmask: {dataset} validates as segmentation-mask-v{self.version}"
        if self.requested == "auto":
            return (
                f"segmask: {dataset} fails every version; "
                f"checked against v{self.version}"
            )
        return f"segmask: {dataset} does not validate as segmentation-mask-v{self.version}"


def choose_version(
    listing: Listing, requested: str, ignore_globs: list[str]
) -> SchemaChoice:
    verdicts = {v: evaluate(listing, v, ignore_globs) for v in VERSIONS}
    passing = [v for v in VERSIONS if verdicts[v].passes]
    if requested != "auto":
        verdict = verdicts[requested]
        return SchemaChoice(requested, verdict.passes, requested, verdict, passing)
    version = passing[-1] if passing else VERSIONS[-1]
    return SchemaChoice(version, bool(passing), "auto", verdicts[version], passing)


# --- near misses ---------------------------------------------------------------

# What marks a file name as "meant to be" this pattern (lower-cased basename).
_SIGNATURES = {
    "mask-image": re.compile(r"\.segmentations|\.tiff?$"),
    "objects-table": re.compile(r"objects"),
}
# Patterns specific enough that a path matching one of them is not a near miss of another.
_SPECIFIC = ("mask-image", "objects-table", "centroid-adjacency", "linkage-adjacency", "mesh")


def _near_miss_reason(pattern: SchemaPattern, version: str, path: str) -> str | None:
    """Why ``path`` looks like ``pattern`` but does not match it, in words."""
    if path.endswith("/"):
        return None
    name = PurePosixPath(path).name
    signature = _SIGNATURES.get(pattern.key)
    if signature is None or not signature.search(name.lower()):
        return None
    for other in patterns_for(version):
        if other.key in _SPECIFIC and re.fullmatch(other.by_version[version], path):
            return None
    regex = re.compile(pattern.by_version[version])
    flat = "derived/segmentation_masks/" + name
    if path != flat and regex.fullmatch(flat):
        return (
            f"`{path}` is not directly in `derived/segmentation_masks/`, where "
            f"{pattern.what} must sit (move it to `{flat}`)"
        )
    if re.compile(regex.pattern, re.IGNORECASE).fullmatch(flat):
        return (
            f"`{path}` differs only in letter case; names are case-sensitive "
            f"(rename it so it ends in `{pattern.ending}`)"
        )
    if pattern.key == "mask-image":
        if name.lower().endswith(".segmentations.ome.tif"):
            return (
                f"`{path}` ends in `.ome.tif`; version {version} wants "
                f"`.segmentations.ome.tiff` (only 2.5 accepts `.tif`): rename it to "
                f"`{flat}f`"
            )
        return (
            f"`{path}` is named like a mask image but does not end in "
            f"`.segmentations.ome.tiff`: rename it to `<name>.segmentations.ome.tiff`"
        )
    # objects table
    stem, dot, ext = name.rpartition(".")
    accepted = _accepted_table_endings(version)
    if dot and regex.fullmatch("derived/segmentation_masks/" + stem + ".xlsx"):
        return (
            f"`{path}` is a `.{ext}` file; version {version} accepts "
            f"{' or '.join('`' + a + '`' for a in accepted)} for objects tables "
            f"(save it as `{stem}.xlsx`)"
        )
    return (
        f"`{path}` is named like an objects table but does not end in "
        f"{' or '.join('`-objects' + a + '`' for a in accepted)}"
    )


def _accepted_table_endings(version: str) -> list[str]:
    regex = re.compile(find_pattern("objects-table").by_version[version])
    return [e for e in (".xlsx", ".tsv") if regex.fullmatch(f"derived/segmentation_masks/x-objects{e}")]


def near_misses(pattern: SchemaPattern, version: str, paths: list[str]) -> list[str]:
    reasons = []
    for path in paths:
        reason = _near_miss_reason(pattern, version, path)
        if reason:
            reasons.append(reason)
    return reasons


# --- the checks behind the dirschema items -------------------------------------------


def check_required(
    listing: Listing, choice: SchemaChoice, key: str
) -> CheckResult:
    pattern = find_pattern(key)
    version = choice.version
    regex = pattern.by_version[version]
    found = choice.verdict.matches[key]
    result = CheckResult()
    if found:
        result.notes.append(f"{pattern.what}: {cut_list(found)}")
        return result
    hints = near_misses(pattern, version, listing.paths)
    message = (
        f"required but missing: {pattern.what}, "
        + ("a folder " if pattern.example.endswith("/") else "a file named ")
        + f"`{pattern.example}` (pattern `{regex}`, segmentation-mask-v{version})"
    )
    if hints:
        message += "\n    near miss: " + "\n    near miss: ".join(hints[:5])
        if len(hints) > 5:
            message += f"\n    … (+{len(hints) - 5} more near misses)"
        fix = "rename or move the near-miss file(s) as described above"
    elif pattern.example.endswith("/"):
        fix = f"create `{pattern.example}` (it may be empty)"
    else:
        fix = f"add {pattern.what} as `{pattern.example}`"
    result.findings.append(DIR_REQUIRED.finding(message, fix=fix))
    return result


def check_not_allowed(
    listing: Listing, choice: SchemaChoice, ignore_globs: list[str]
) -> CheckResult:
    result = CheckResult()
    version = choice.version
    for rel, error in listing.unreadable:
        result.findings.append(
            DIR_UNREADABLE.finding(
                f"cannot list folder `{rel}`: {error}",
                Location(file=rel),
                fix="make the folder readable (permissions) or remove it",
            )
        )
    bad = choice.verdict.not_allowed
    if not bad:
        if not result.findings:
            result.notes.append(
                f"{len(listing.paths)} paths, all allowed by segmentation-mask-v{version}"
                + (f" (ignoring {', '.join(ignore_globs)})" if ignore_globs else "")
            )
        return result
    lines = []
    for path in bad[:10]:
        hint = None
        for key in ("mask-image", "objects-table"):
            pattern = find_pattern(key)
            if version in pattern.by_version:
                hint = _near_miss_reason(pattern, version, path)
                if hint:
                    break
        lines.append(f"`{path}`" + (f" — {hint}" if hint else ""))
    more = f"\n    … (+{len(bad) - 10} more)" if len(bad) > 10 else ""
    result.findings.append(
        DIR_NOT_ALLOWED.finding(
            f"{len(bad)} path(s) not allowed by segmentation-mask-v{version}: "
            + cut_list((f"`{p}`" for p in bad), 3)
            + "\n    "
            + "\n    ".join(lines)
            + more,
            fix=(
                "move or rename these files to a path the schema allows (anything under "
                "`derived/`, e.g. `derived/extras/`), remove them, or pass "
                "--segmask-ignore-glob for files that are not part of the dataset"
            ),
        )
    )
    return result


def check_optional(choice: SchemaChoice, key: str) -> CheckResult:
    pattern = find_pattern(key)
    found = choice.verdict.matches[key]
    if not found:
        return CheckResult(skip="optional, absent")
    return CheckResult(notes=[f"{pattern.what}: {cut_list(found)}"])
