"""Directory schema: the segmentation-mask layouts of versions 2.0–2.7, as data.

Listing and matching follow HuBMAP's reference validator (ingest-validation-tools
``directory_validator.py``): full match on dataset-relative POSIX paths, file-less directories
listed as ``dir/``, symlinks to directories neither listed nor followed.

The listing is also where the dataset's file system is made safe for everything after it:
FIFOs, sockets and devices (directly or behind a symlink) are recorded as special files and
kept out of ``paths``, so no check ever opens one; symlinks that leave the dataset are
recorded; names that are not UTF-8 are escaped into valid text (``display_path``) and the
real name kept for opening (``Listing.fs_path``).
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .findings import CheckResult, Location, Severity, cut_list, shorten
from .rules import Authority, define_rule

DIRECTORY_SCHEMA = (
    "HuBMAP Segmentation Mask directory schema v2.0–2.7 (ingest-validation-tools "
    "`directory-schemas/segmentation-mask-v2.*.yaml`)"
)
DIRECTORY_VALIDATOR = "ingest-validation-tools `directory_validator.py` (validate_directory)"

DIR_REQUIRED = define_rule(
    "DIR-REQUIRED", Severity.ERROR,
    "Every required directory-schema pattern matches at least one path.",
    f"{DIRECTORY_SCHEMA}; {DIRECTORY_VALIDATOR}: \"Required but missing\"",
    authority=Authority.INGEST,
)
DIR_NOT_ALLOWED = define_rule(
    "DIR-NOT-ALLOWED", Severity.ERROR,
    "Every path matches a pattern of the schema version or an ignore glob.",
    f"{DIRECTORY_SCHEMA}; {DIRECTORY_VALIDATOR}: \"Not allowed\"; dataset_ignore_globs of "
    "ingest-validation-tools `upload.py`",
    authority=Authority.INGEST,
)
DIR_UNREADABLE = define_rule(
    "DIR-UNREADABLE", Severity.ERROR,
    "Every folder of the dataset can be listed.",
    f"{DIRECTORY_VALIDATOR} (os.walk of the dataset: a folder it cannot list hides its files "
    "from every pattern)",
    authority=Authority.INGEST,
)
DIR_ONE_MASK_IMAGE = define_rule(
    "DIR-ONE-MASK-IMAGE", Severity.ERROR,
    "Exactly one mask image matches `**/segmentation_masks/*.ome.tif[f]` "
    "(`.ome.tif`, `.ome.tiff`, `.OME.TIF`, `.OME.TIFF`).",
    "ingest-validation-tests `segmentation_mask_imagesize_validation.py` (ImageSizeValidator: "
    "\"Too many or too few files Mask\")",
    authority=Authority.INGEST,
)
DIR_SPECIAL_FILE = define_rule(
    "DIR-SPECIAL-FILE", Severity.ERROR,
    "The dataset holds only regular files and folders: no FIFO, socket or device, directly or "
    "behind a symlink (such entries are never opened).",
    "POSIX file types (stat S_ISREG); HuBMAP uploads are copied as files and folders",
    authority=Authority.PRACTICE,
    reason="a FIFO, socket or device is not data: reading it blocks or never ends, and a "
    "transfer copies no content for it",
)
DIR_SYMLINK_OUTSIDE = define_rule(
    "DIR-SYMLINK-OUTSIDE", Severity.ERROR,
    "No symlink in the dataset points outside the dataset folder.",
    "POSIX symbolic links; HuBMAP uploads are self-contained dataset folders",
    authority=Authority.PRACTICE,
    reason="what a symlink points at outside the folder is not part of the upload; the "
    "dataset works here and is incomplete once copied",
)
DIR_NAME_ENCODING = define_rule(
    "DIR-NAME-ENCODING", Severity.ERROR,
    "Every file and folder name is UTF-8 text.",
    "RFC 3629 (UTF-8); HuBMAP's portal, JSON metadata and reports carry file names as text",
    authority=Authority.PRACTICE,
    reason="a name that is not UTF-8 cannot be shown, linked or stored as text; it is shown "
    "here with `\\xNN` escapes for its bad bytes",
)

# Entry kinds a listing can record besides regular files, folders and symlinks to them.
SPECIAL_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}

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


# The schema table (the directory schemas v2.0–2.7): one row per pattern, patterns keyed by version range.
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

_UNDECODABLE = re.compile("[\udc80-\udcff]")  # how os.fsdecode carries bytes that are not UTF-8


def display_path(rel: str) -> str:
    """A path as valid text: each byte of a name that is not UTF-8 (which ``os`` hands over as
    a lone surrogate, U+DC80..U+DCFF) becomes the four characters ``\\xNN``. Text names are
    returned unchanged."""
    if not _UNDECODABLE.search(rel):
        return rel
    return _UNDECODABLE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", rel)


def special_kind(path: str | os.PathLike) -> str | None:
    """What a path is when it is a FIFO, socket or device (also behind a symlink), in words;
    None for regular files, folders, and paths that do not resolve. Never opens the path."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return SPECIAL_KINDS.get(stat.S_IFMT(mode))


class NotRegularFile(OSError):
    """Raised by ``open_regular`` for anything but a regular file; ``strerror`` says what."""


def open_regular(path: str | os.PathLike, mode: str = "rb", encoding: str | None = None,
                 newline: str | None = None):
    """``open()`` that only ever opens a regular file.

    A FIFO would block ``open()`` forever and a device never ends: both are refused before
    any open, by ``stat``; the file is then opened non-blocking and checked again with
    ``fstat`` (so a file swapped for a FIFO in between is refused too)."""
    kind = special_kind(path)
    if kind is not None:
        raise NotRegularFile(errno.EINVAL, f"not a regular file: it is {kind}", str(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(st_mode):
            what = SPECIAL_KINDS.get(stat.S_IFMT(st_mode), "a folder" if stat.S_ISDIR(st_mode) else "not a file")
            raise NotRegularFile(errno.EINVAL, f"not a regular file: it is {what}", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, mode, encoding=encoding, newline=newline)
    except BaseException:
        os.close(fd)
        raise


@dataclass
class Listing:
    """The dataset as the directory checks see it.

    ``paths``: sorted dataset-relative POSIX paths as text (``display_path``); file-less
    folders end in "/". FIFOs, sockets and devices are not in ``paths`` but in ``special``;
    ``fs_path`` gives the real path to open for a listed path whose name is not UTF-8."""

    paths: list[str]
    unreadable: list[tuple[str, str]]  # (relative dir, error)
    special: list[tuple[str, str]] = field(default_factory=list)  # (path, what it is)
    outside: list[tuple[str, str]] = field(default_factory=list)  # (symlink path, its target)
    undecodable: list[str] = field(default_factory=list)  # paths whose own name is not UTF-8
    real: dict[str, str] = field(default_factory=dict)  # listed path -> os path, when they differ

    def fs_path(self, root: Path, rel: str) -> Path:
        """The path to open for a listed (display) path."""
        key = rel.rstrip("/")
        return Path(root) / self.real.get(key, key)


def list_dataset(root: Path) -> Listing:
    """List a dataset as the reference validator does, made safe (see the module doc)."""
    paths: list[str] = []
    unreadable: list[tuple[str, str]] = []
    listing = Listing(paths, unreadable)
    root_real = os.path.realpath(root)

    def onerror(exc: OSError) -> None:
        rel = os.path.relpath(exc.filename, root) if exc.filename else "."
        unreadable.append((display_path(PurePosixPath(Path(rel)).as_posix()),
                           exc.strerror or type(exc).__name__))

    def add(rel: str) -> str:
        shown = display_path(rel)
        if shown != rel:
            listing.real[shown.rstrip("/")] = rel.rstrip("/")
        return shown

    def leaves(full: str) -> str | None:
        """The target of a symlink that resolves outside the dataset, else None."""
        if not os.path.islink(full):
            return None
        target = os.path.realpath(full)
        if target == root_real or target.startswith(root_real.rstrip(os.sep) + os.sep):
            return None
        try:
            return os.readlink(full)
        except OSError:
            return target

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        rel_dir = PurePosixPath(Path(os.path.relpath(dirpath, root))).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        shown_prefix = display_path(prefix)
        # os.walk puts symlinks to directories into dirnames (and does not descend
        # into them when followlinks=False); they are neither listed nor followed.
        dirnames.sort()
        for name in dirnames:
            full = os.path.join(dirpath, name)
            target = leaves(full)
            if target is not None:
                listing.outside.append((shown_prefix + display_path(name) + "/", display_path(target)))
            elif display_path(name) != name and not os.path.islink(full):
                listing.undecodable.append(shown_prefix + display_path(name) + "/")
        files = []
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            target = leaves(full)
            shown = add(prefix + name)
            if display_path(name) != name:
                listing.undecodable.append(shown)
            if target is not None:
                listing.outside.append((shown, display_path(target)))
            kind = special_kind(full)
            if kind is not None:
                listing.special.append((shown, kind + (" (behind a symlink)" if os.path.islink(full) else "")))
                continue
            files.append(shown)
        if files:
            paths.extend(files)
        elif prefix:
            paths.append(add(prefix))
    paths.sort()
    listing.special.sort()
    listing.outside.sort()
    listing.undecodable = sorted(set(listing.undecodable))
    return listing


# --- evaluation --------------------------------------------------------------


@dataclass
class VersionVerdict:
    version: str
    matches: dict[str, list[str]]  # pattern key -> matching paths
    missing: list[str]  # required pattern keys with no match
    not_allowed: list[str]
    unreadable: bool = False  # a folder could not be listed: no verdict can be trusted  # mutation: equivalent — evaluate() always sets it

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


def listing_findings(listing: Listing) -> list:
    """Findings about the file system under the dataset, whatever the schema version:
    folders that cannot be listed, special files, symlinks leaving the dataset, names that
    are not UTF-8."""
    findings = []
    for rel, error in listing.unreadable:
        findings.append(DIR_UNREADABLE.finding(
            f"cannot list folder `{rel}`: {error}", Location(file=rel),
            fix="make the folder readable (permissions) or remove it"))
    if listing.special:
        findings.append(DIR_SPECIAL_FILE.finding(
            f"{len(listing.special)} entr(ies) that are not regular files; they were not opened: "
            + cut_list((f"`{shorten(p, 200)}` is {kind}" for p, kind in listing.special), 5),
            Location(file=listing.special[0][0]),
            fix="replace each with the regular file it stands for, or remove it"))
    if listing.outside:
        findings.append(DIR_SYMLINK_OUTSIDE.finding(
            f"{len(listing.outside)} symlink(s) point outside the dataset: "
            + cut_list((f"`{shorten(p, 200)}` -> `{shorten(t, 120)}`" for p, t in listing.outside), 5),
            Location(file=listing.outside[0][0]),
            fix="copy the target into the dataset in place of the symlink, or remove the symlink"))
    if listing.undecodable:
        findings.append(DIR_NAME_ENCODING.finding(
            f"{len(listing.undecodable)} name(s) are not UTF-8 text (bytes that are not text "
            "shown as \\xNN): " + cut_list((f"`{shorten(p, 200)}`" for p in listing.undecodable), 5),
            Location(file=listing.undecodable[0]),
            fix="rename them using UTF-8 text (letters, digits, `-`, `_`, `.`)"))
    return findings


def check_not_allowed(
    listing: Listing, choice: SchemaChoice, ignore_globs: list[str]
) -> CheckResult:
    result = CheckResult()
    version = choice.version
    result.findings.extend(listing_findings(listing))
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


# ingest-validation-tests segmentation_mask_imagesize_validation.py globs these from the
# dataset folder (pathlib, case-sensitive, any depth) and asserts exactly one match.
INGEST_MASK_GLOBS = (
    "**/segmentation_masks/*.ome.tif", "**/segmentation_masks/*.ome.tiff",
    "**/segmentation_masks/*.OME.TIFF", "**/segmentation_masks/*.OME.TIF",
)
_INGEST_MASK = re.compile(r"(?:.*/)?segmentation_masks/[^/]+\.(?:ome\.tiff?|OME\.TIFF?)")


def ingest_mask_images(listing: Listing) -> list[str]:
    """The paths HuBMAP's ingest takes for mask images (INGEST_MASK_GLOBS), special files
    included (ingest's glob sees them too)."""
    candidates = [p for p in listing.paths if not p.endswith("/")] + [p for p, _ in listing.special]
    return sorted(p for p in candidates if _INGEST_MASK.fullmatch(p))


def check_one_mask_image(listing: Listing) -> CheckResult:
    """Exactly one mask image, as ingest's image-size check requires."""
    found = ingest_mask_images(listing)
    globs = "`**/segmentation_masks/*.ome.tif[f]` (also `.OME.TIF[F]`)"
    if len(found) == 1:
        return CheckResult(notes=[f"one mask image, as HuBMAP's ingest requires: {found[0]}"])
    if not found:
        message = (f"no file matches {globs}: HuBMAP's ingest needs exactly one mask image and "
                   "rejects the dataset (\"Too many or too few files Mask\")")
        fix = ("add the mask image as `derived/segmentation_masks/<name>.segmentations.ome.tiff` "
               "(one channel per mask)")
    else:
        message = (f"{len(found)} files match {globs}: "
                   + cut_list((f"`{shorten(p, 200)}`" for p in found), 5)
                   + "; HuBMAP's ingest accepts exactly one mask image (\"Too many or too few "
                   "files Mask\")")
        fix = ("put every mask into one multi-channel mask image (one channel per mask) and "
               "remove the other files, or move non-mask OME-TIFFs out of `segmentation_masks/`")
    return CheckResult(findings=[DIR_ONE_MASK_IMAGE.finding(
        message, Location(file=found[0] if found else None), fix=fix)])
