"""Checkers verify themselves: every valid dataset passes every item; every single defect
fails exactly its declared items with its rule code. Runs the real plugin (pytester)."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
from fixtures_generator.defects import CATALOGUE, defects
from fixtures_generator.strategies import dataset_specs
from pytest_segmask.findings import Authority, Finding, Profile, Severity
from pytest_segmask.rules import all_rules

_counter = itertools.count()
FIXTURE_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])


def run_plugin(pytester, spec, defect=None, profile="hubmap"):
    """Write the dataset (plus defect), run the plugin, return (outcomes, rule codes) by id."""
    name = f"ds{next(_counter)}"
    out = pytester.path / name
    spec = defect.apply(spec) if defect else spec
    write_dataset(spec, out)
    if defect and defect.mutate_files:
        defect.mutate_files(out, spec)
    options = defect.options(out, spec) if defect else []
    reprec = pytester.inline_run(
        f"--segmask-dataset={name}", f"--segmask-schema-version={spec.version}",
        f"--segmask-profile={profile}", "-p", "no:cacheprovider", *options,
    )
    outcomes, codes = {}, {}
    for report in reprec.getreports("pytest_runtest_logreport"):
        rel = report.nodeid[len(name):]
        if report.when == "call" or report.outcome != "passed":
            outcomes[rel] = report.outcome
            props = dict(report.user_properties)
            codes[rel] = set(props.get("failed_rules", "").split()) | set(props.get("warned_rules", "").split())
    return spec, outcomes, codes


# Pinned counterexamples: cases that once broke a checker or an expectation.
# - an 8×8 image with a single one-object channel and no pyramid (a missing pyramid on a small
#   image is a warning, not an error);
# - one-row strips on an odd-sized uint8 image with sparse ids (segment grid and edge strips);
# - duplicate-looking names are impossible here, but channel names with '-' and '_' must keep
#   their own items and tables.
PINNED = [
    DatasetSpec(masks=(MaskSpec(width=8, height=8, channels=(ChannelSpec("cells", 1),), pyramid_levels=1),)),
    DatasetSpec(version="2.3", masks=(MaskSpec(
        width=33, height=17, dtype="uint8", tile=None, rows_per_strip=1,
        channels=(ChannelSpec("nuclei", 7, sparse_ids=True),), pyramid_levels=3),)),
    DatasetSpec(masks=(MaskSpec(channels=(ChannelSpec("arteries-arterioles", 3),
                                          ChannelSpec("cortical_interstitium", 2))),)),
]


@FIXTURE_OK
@given(spec=dataset_specs())
@example(spec=PINNED[0])
@example(spec=PINNED[1])
@example(spec=PINNED[2])
def test_valid_dataset_passes_every_item(pytester, spec):
    _, outcomes, _ = run_plugin(pytester, spec)
    assert outcomes, "no items collected"
    failed = {k: v for k, v in outcomes.items() if v == "failed"}
    assert not failed, failed


def fails_under(profile: str, item: str, code: str, defect, spec, warning: bool = False) -> bool:
    """Whether the defect's finding of rule ``code`` fails ``item`` under ``profile``: from the
    rule's severity and authority, so demoting or re-attributing a rule fails this test.
    HuBMAP's validators never see `.tsv` tables: there, ingest rules are schema."""
    rule = all_rules()[code]
    severity = Severity.WARNING if (defect.warns or warning) else rule.severity
    authority = rule.authority
    override = defect.authorities(spec).get(item)
    if override:
        authority = Authority(override)
    elif authority is Authority.INGEST and "-objects.tsv::" in item:
        authority = Authority.SCHEMA
    return Profile(profile).fails(Finding(code, severity, "", authority=authority))


def check_defect(pytester, spec, defect, profile="hubmap"):
    spec, outcomes, codes = run_plugin(pytester, spec, defect, profile)
    declared = defect.items(spec)
    warned = defect.warn_items(spec)
    failed = sorted(k for k, v in outcomes.items() if v == "failed")
    must_fail = sorted({k for k, code in declared.items() if fails_under(profile, k, code, defect, spec)}
                       | {k for k, code in warned.items() if fails_under(profile, k, code, defect, spec, warning=True)})
    assert failed == must_fail, (defect.name, profile, failed)
    declared = {**declared, **warned}
    for item, code in declared.items():
        assert code in codes.get(item, set()), (defect.name, item, codes.get(item))
    return {"failed": failed, "warned": sorted(k for k, v in outcomes.items() if v == "passed" and codes.get(k))}


@FIXTURE_OK
@given(data=st.data())
def test_one_defect_fails_exactly_its_items(pytester, data):
    spec = data.draw(dataset_specs())
    check_defect(pytester, spec, data.draw(defects(spec)))


@pytest.mark.parametrize("profile", ["ingest", "hubmap", "strict"])
@pytest.mark.parametrize("defect", CATALOGUE, ids=lambda d: d.name)
def test_each_defect_on_a_fixed_dataset(pytester, defect, profile, pinned_outcomes):
    """Every defect runs in every CI run, under every profile, not only when hypothesis draws it.
    The outcome (failed and warned items) is also pinned in tests/data/defect_outcomes.json, so
    a rule whose severity or authority changes fails here even though the expectation above
    follows the catalogue; after an intended change: SEGMASK_UPDATE_GOLDEN=1 with -p no:xdist."""
    got = check_defect(pytester, _example_spec(defect), defect, profile)
    key = f"{defect.name} {profile}"
    if UPDATE:
        pinned_outcomes[key] = got
    else:
        assert got == pinned_outcomes.get(key), (key, got, pinned_outcomes.get(key))


PINNED_OUTCOMES = Path(__file__).parent / "data" / "defect_outcomes.json"
UPDATE = bool(os.environ.get("SEGMASK_UPDATE_GOLDEN"))


@pytest.fixture(scope="module")
def pinned_outcomes():
    pinned = json.loads(PINNED_OUTCOMES.read_text(encoding="utf-8")) if PINNED_OUTCOMES.exists() else {}
    yield pinned
    if UPDATE:
        PINNED_OUTCOMES.write_text(json.dumps(dict(sorted(pinned.items())), indent=1) + "\n", encoding="utf-8")


# Rules no dataset can trigger: a checker error is a bug (tested in test_plugin.py).
NO_DATASET_DEFECT = {"CHECKER-ERROR"}


def test_every_rule_has_a_defect():
    covered = {code for d in CATALOGUE for code in d.items(d.apply(DatasetSpec())).values()}
    missing = set(all_rules()) - covered - NO_DATASET_DEFECT
    assert not missing, f"rules without a defect in fixtures_generator.defects: {sorted(missing)}"


def _example_spec(defect):
    for spec in (DatasetSpec(), DatasetSpec(version="2.5"), DatasetSpec(version="2.1")):
        if defect.applies(spec):
            return spec
    pytest.skip(f"{defect.name} does not apply here (e.g. root reads every folder)")
