"""The defect catalogue: each defect breaks a valid dataset in one named way and declares
which items must fail, with which rule code. The property tests run the real plugin on
valid + one defect and require exactly those failures.

Item ids are given relative to the dataset node id: ``::dirschema::not-allowed`` or
``/derived/segmentation_masks/<file>::<check>``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hypothesis import strategies as st

from .spec import DatasetSpec
from .writer import SEG, table_name


@dataclass(frozen=True)
class Defect:
    name: str
    rule: str  # the rule code the failing items report
    items: Callable[[DatasetSpec], list[str]]  # relative ids of the items that must fail
    mutate_spec: Callable[[DatasetSpec], DatasetSpec] | None = None
    mutate_files: Callable[[Path, DatasetSpec], None] | None = None
    applies: Callable[[DatasetSpec], bool] = lambda spec: True

    def apply(self, spec: DatasetSpec) -> DatasetSpec:
        return self.mutate_spec(spec) if self.mutate_spec else spec


def _version(spec: DatasetSpec) -> tuple[int, ...]:
    return tuple(int(p) for p in spec.version.split("."))


def _seg(out: Path) -> Path:
    return out / SEG


def _mask_path(out: Path, spec: DatasetSpec) -> Path:
    return _seg(out) / spec.masks[0].file_name


def _touch(relative: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")

    return mutate


def _rename_mask(new_suffix: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        path = _mask_path(out, spec)
        path.rename(path.with_name(spec.masks[0].stem + new_suffix))

    return mutate


def _remove_tables(out: Path, spec: DatasetSpec) -> None:
    for channel in spec.masks[0].channels:
        (_seg(out) / table_name(spec, channel.name)).unlink()


def _remove_folder(relative: str) -> Callable[[Path, DatasetSpec], None]:
    def mutate(out: Path, spec: DatasetSpec) -> None:
        shutil.rmtree(out / relative)

    return mutate


DIRSCHEMA = "::dirschema::"

CATALOGUE: tuple[Defect, ...] = (
    Defect(
        "stray-top-level-file", "DIR-NOT-ALLOWED",
        lambda spec: [DIRSCHEMA + "not-allowed"],
        mutate_files=_touch("notes.txt"),
    ),
    Defect(
        "mask-name-near-miss", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:mask-image"],
        mutate_files=_rename_mask(".segmentations_crop.ome.tiff"),
    ),
    Defect(
        "mask-upper-case-ending", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:mask-image"],
        mutate_files=_rename_mask(".segmentations.OME.TIFF"),
    ),
    Defect(
        "objects-tables-missing", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:objects-table"],
        mutate_files=_remove_tables,
    ),
    Defect(
        "derived-extras-missing", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:derived-extras-folder"],
        mutate_files=_remove_folder("derived/extras"),
    ),
    Defect(
        "top-extras-missing", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:extras-folder"],
        mutate_files=_remove_folder("extras"),
        applies=lambda spec: _version(spec) >= (2, 2),
    ),
    Defect(
        "top-extras-under-2.0", "DIR-NOT-ALLOWED",
        lambda spec: [DIRSCHEMA + "not-allowed"],
        mutate_files=_touch("extras/x.txt"),
        applies=lambda spec: _version(spec) < (2, 2),
    ),
    Defect(
        "tsv-table-where-xlsx-required", "DIR-REQUIRED",
        lambda spec: [DIRSCHEMA + "required:objects-table"],
        mutate_spec=lambda spec: replace(spec, table_format="tsv"),
        applies=lambda spec: spec.version in ("2.4", "2.5", "2.6"),
    ),
)


def by_name(name: str) -> Defect:
    return next(d for d in CATALOGUE if d.name == name)


def defects(spec: DatasetSpec | None = None) -> st.SearchStrategy[Defect]:
    """Draw a defect from the catalogue (one that applies to ``spec`` when given)."""
    pool = [d for d in CATALOGUE if spec is None or d.applies(spec)]
    return st.sampled_from(pool)
