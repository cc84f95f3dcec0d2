"""Entry point (``pytest11``): options, and nothing else until a dataset is given.

Every pytest run in the environment imports this module, so it stays light: the
collecting plugin (and numpy, tifffile, openpyxl behind it) loads only when
``--segmask-dataset`` or ``segmask_dataset`` names a dataset.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

POSITIONAL_DATASETS = "SEGMASK_POSITIONAL_DATASETS"  # set by the `segmask` command
SCHEMA_VERSION_CHOICES_HELP = "auto (default) or a directory-schema version 2.0 … 2.7"
PROFILE_HELP = ("ingest (only what HuBMAP's ingest rejects), hubmap (default: ingest and schema "
                "errors) or strict (every finding)")
# hidden files, plus what HuBMAP's upload validation ignores in a dataset folder
# (ingest-validation-tools upload.py: typical dataset_ignore_globs)
DEFAULT_IGNORE_GLOBS = [".*", "*metadata.tsv", "validation_report.txt"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("segmask", "HuBMAP segmentation-mask conformance")
    group.addoption(
        "--segmask-dataset",
        action="append",
        default=[],
        metavar="DIR",
        dest="segmask_dataset",
        help="dataset root to check (repeatable); write it as --segmask-dataset=DIR",
    )
    group.addoption(
        "--segmask-schema-version",
        default=None,
        metavar="V",
        dest="segmask_schema_version",
        help=f"directory-schema version: {SCHEMA_VERSION_CHOICES_HELP}",
    )
    group.addoption(
        "--segmask-ignore-glob",
        action="append",
        default=[],
        metavar="GLOB",
        dest="segmask_ignore_glob",
        help="fnmatch glob of dataset-relative paths exempt from 'not allowed' "
        "(repeatable; added to the ini globs, default: .*, *metadata.tsv, validation_report.txt)",
    )
    group.addoption(
        "--segmask-profile",
        default=None,
        metavar="P",
        dest="segmask_profile",
        help=f"which findings fail: {PROFILE_HELP}",
    )
    group.addoption(
        "--segmask-strict",
        action="store_true",
        default=None,
        dest="segmask_strict",
        help="the same as --segmask-profile=strict: every finding fails its item",
    )
    group.addoption(
        "--segmask-dist",
        default=None,
        choices=("dataset", "items"),
        dest="segmask_dist",
        help="under pytest-xdist: 'dataset' (default) runs all items of a dataset on one worker; "
        "'items' leaves xdist's own distribution",
    )
    group.addoption(
        "--segmask-shard",
        default=None,
        metavar="K/N",
        dest="segmask_shard",
        help="check only the K-th of N shares of the datasets (whole datasets; for N parallel CI jobs)",
    )
    group.addoption(
        "--segmask-source-image",
        default=None,
        metavar="PATH",
        dest="segmask_source_image",
        help="the source OME-TIFF the mask was derived from: its sizes and physical sizes must equal "
        "the mask's, as HuBMAP's ingest requires (metadata only)",
    )
    group.addoption(
        "--segmask-ignore",
        action="append",
        default=[],
        metavar="'CODE: reason'",
        dest="segmask_ignore",
        help="waive a rule, with a reason shown in the reports (repeatable)",
    )
    parser.addini("segmask_dataset", "dataset roots to check (relative to the rootdir)", type="paths", default=[])
    parser.addini("segmask_schema_version", SCHEMA_VERSION_CHOICES_HELP, default="auto")
    parser.addini(
        "segmask_ignore_globs",
        "fnmatch globs exempt from 'not allowed'",
        type="linelist",
        default=list(DEFAULT_IGNORE_GLOBS),
    )
    parser.addini(
        "segmask_ignore", "waived rules, one 'CODE: reason' per line", type="linelist", default=[]
    )
    parser.addini("segmask_profile", PROFILE_HELP, default="hubmap")
    parser.addini("segmask_source_image", "the source OME-TIFF of the masks (relative to the rootdir)", default="")
    parser.addini("segmask_dist", "under xdist: dataset (default) or items", default="dataset")
    parser.addini("segmask_strict", "the same as segmask_profile = strict", type="bool", default=False)


def dataset_paths(config: pytest.Config) -> list[Path]:
    """Datasets from the command line (relative to the invocation dir) and the ini file."""
    invocation_dir = config.invocation_params.dir
    paths = [Path(os.path.normpath(invocation_dir / p)) for p in config.option.segmask_dataset]
    paths += [Path(os.path.normpath(p)) for p in config.getini("segmask_dataset")]
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(POSITIONAL_DATASETS) == "1" and config.args_source == pytest.Config.ArgsSource.ARGS:
        # the `segmask` command: positional arguments are datasets, not test paths
        config.option.segmask_dataset = [*config.option.segmask_dataset, *config.args]
        config.args = []
    datasets = dataset_paths(config)
    if not datasets:
        return  # inert: no collector, no heavy imports
    for path in datasets:
        if not path.exists():
            raise pytest.UsageError(f"--segmask-dataset: {path} does not exist")
        if not path.is_dir():
            raise pytest.UsageError(f"--segmask-dataset: {path} is not a directory")

    from . import dirschema
    from .collect import SegmaskPlugin, Settings

    version = config.option.segmask_schema_version or config.getini("segmask_schema_version")
    version = str(version).strip()
    if version.startswith("v"):
        version = version[1:]
    if version != "auto" and version not in dirschema.VERSIONS:
        raise pytest.UsageError(
            f"--segmask-schema-version: unknown version {version!r}; "
            f"use auto or one of {', '.join(dirschema.VERSIONS)}"
        )
    settings = Settings(
        datasets=datasets,
        schema_version=version,
        ignore_globs=list(config.getini("segmask_ignore_globs")) + list(config.option.segmask_ignore_glob),
        profile=chosen_profile(config),
        waivers=parse_waivers(list(config.getini("segmask_ignore")) + list(config.option.segmask_ignore)),
    )
    from .collect import dataset_node_id
    from .distribute import parse_shard, shard_members

    shard = parse_shard(config.option.segmask_shard)
    ids = {path: dataset_node_id(path, config.rootpath) for path in datasets}
    members = shard_members(list(ids.values()), shard)
    settings.datasets = [path for path in datasets if ids[path] in members]
    settings.shard = shard
    settings.dist = config.option.segmask_dist or config.getini("segmask_dist")
    settings.source_image = source_image_path(config)
    _collect_datasets_instead_of_default_args(config, settings.datasets)
    config.pluginmanager.register(SegmaskPlugin(config, settings), "segmask-collector")


def source_image_path(config: pytest.Config) -> Path | None:
    """--segmask-source-image (relative to the invocation dir) or the ini value (to the rootdir)."""
    if config.option.segmask_source_image:
        path = Path(os.path.normpath(config.invocation_params.dir / config.option.segmask_source_image))
    elif config.getini("segmask_source_image"):
        path = Path(os.path.normpath(config.rootpath / config.getini("segmask_source_image")))
    else:
        return None
    if not path.is_file():
        raise pytest.UsageError(f"--segmask-source-image: {path} is not a file")
    return path


def chosen_profile(config: pytest.Config):
    """--segmask-profile, else --segmask-strict, else the ini values; default hubmap."""
    from .findings import Profile

    strict = config.option.segmask_strict
    name = config.option.segmask_profile
    if name is None and strict:
        name = "strict"
    if name is None:
        name = "strict" if config.getini("segmask_strict") else config.getini("segmask_profile")
    name = str(name).strip().lower()
    if strict and name != "strict":
        raise pytest.UsageError(f"--segmask-strict contradicts --segmask-profile={name}; give one of them")
    try:
        return Profile(name)
    except ValueError:
        raise pytest.UsageError(
            f"--segmask-profile: unknown profile {name!r}; use ingest, hubmap or strict") from None


def parse_waivers(entries: list[str]) -> dict[str, str]:
    """'CODE: reason' entries -> {CODE: reason}; a reason is required, the code must exist."""
    if not entries:
        return {}  # all_rules() imports every check module: not for nothing (xdist's controller)
    from .rules import all_rules

    known = all_rules()
    waivers: dict[str, str] = {}
    for entry in entries:
        code, _, reason = entry.partition(":")
        code, reason = code.strip(), reason.strip()
        if code not in known:
            raise pytest.UsageError(
                f"--segmask-ignore: unknown rule code {code!r}; the README's rules table lists them"
            )
        if not reason:
            raise pytest.UsageError(
                f"--segmask-ignore: waiving {code} needs a reason: write '{code}: why it does not apply'"
            )
        waivers[code] = reason
    return waivers


def _collect_datasets_instead_of_default_args(config: pytest.Config, datasets: list[Path]) -> None:
    """Put the datasets into config.args: replace testpaths/cwd defaults,
    keep explicitly given test paths."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = []
        config.args_source = pytest.Config.ArgsSource.ARGS
    present = {Path(os.path.normpath(config.invocation_params.dir / a.split("::")[0])) for a in config.args}
    for path in datasets:
        if path not in present:
            config.args.append(str(path))
