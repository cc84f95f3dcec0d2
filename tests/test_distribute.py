"""Many datasets: whole datasets per xdist worker, shards of whole datasets, merged reports."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset
from pytest_segmask.distribute import dataset_of, parse_shard, shard_members

SMALL = DatasetSpec(masks=(MaskSpec(width=64, height=48, channels=(ChannelSpec("cells", 4),)),))

# Records which xdist worker ran each item (on the controller).
WORKER_LOG = """
import json, os
seen = {}
def pytest_runtest_logreport(report):
    node = getattr(report, "node", None)
    if report.when == "call" and node is not None:
        seen[report.nodeid] = node.gateway.id
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        with open("workers.json", "w") as f:
            json.dump(seen, f)
"""


def test_shard_members_partition_datasets():
    ids = [f"ds{i}" for i in range(7)]
    shards = [shard_members(ids, (k, 3)) for k in (1, 2, 3)]
    assert set().union(*shards) == set(ids)
    assert sum(len(s) for s in shards) == len(ids)
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1
    assert shard_members(ids, None) == set(ids)
    assert shard_members(list(reversed(ids)), (2, 3)) == shards[1]  # order of the arguments is irrelevant


@pytest.mark.parametrize("text", ["0/2", "3/2", "1-2", "x/y", "1/0"])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(pytest.UsageError, match="K/N"):
        parse_shard(text)


def test_dataset_of_prefers_the_longest_id():
    ids = ["data", "data/more"]
    assert dataset_of("data/more/derived/x.tsv::layout", ids) == "data/more"
    assert dataset_of("data::dirschema::not-allowed", ids) == "data"
    assert dataset_of("tests/test_x.py::test_y", ids) is None


def _ids(result) -> set[str]:
    return {line.split(" ")[1] for line in result.outlines if line.startswith(("PASSED ", "FAILED ", "SKIPPED "))}


def test_shards_check_disjoint_whole_datasets(pytester):
    for name in ("a", "b", "c"):
        write_dataset(SMALL, pytester.path / name)
    args = ["--segmask-dataset=a", "--segmask-dataset=b", "--segmask-dataset=c", "-p", "no:cacheprovider"]
    full = pytester.runpytest(*args, "--co", "-q")
    everything = {line for line in full.outlines if "::" in line}
    parts = []
    for k in (1, 2, 3, 4):
        shard = pytester.runpytest(*args, f"--segmask-shard={k}/4", "--co", "-q")
        parts.append({line for line in shard.outlines if "::" in line})
        if not parts[-1]:
            empty = pytester.runpytest(*args, f"--segmask-shard={k}/4")
            assert empty.ret == 0  # an empty shard is not an error
            empty.stdout.fnmatch_lines([f"*shard {k}/4 checks 0 dataset(s): none*"])
    assert set().union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)
    for part in parts:  # whole datasets: every item of a dataset in the same shard
        assert len({item.split("/")[0].split("::")[0] for item in part}) <= 1


def test_one_worker_per_dataset_under_xdist(pytester):
    for name in ("a", "b", "c", "d"):
        write_dataset(SMALL, pytester.path / name)
    pytester.makeconftest(WORKER_LOG)
    args = [f"--segmask-dataset={n}" for n in "abcd"]
    result = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "no:cacheprovider")
    assert result.ret in (0, 1), result.stdout.str()  # outcomes are not the point here
    seen = json.loads((pytester.path / "workers.json").read_text())
    by_dataset: dict[str, set[str]] = {}
    for nodeid, worker in seen.items():
        by_dataset.setdefault(nodeid.split("/")[0].split("::")[0], set()).add(worker)
    assert set(by_dataset) == set("abcd")
    assert all(len(workers) == 1 for workers in by_dataset.values()), by_dataset
    assert len(set().union(*by_dataset.values())) == 2  # both workers were used
    # xdist's own distribution stays available
    items = pytester.runpytest_subprocess(*args, "-n", "2", "--segmask-dist=items", "-p", "no:cacheprovider")
    assert items.ret in (0, 1)


def test_merge_joins_shard_reports(pytester):
    for name in ("a", "b"):
        write_dataset(SMALL, pytester.path / name)
    (pytester.path / "b" / "stray.txt").write_text("x")
    args = ["--segmask-dataset=a", "--segmask-dataset=b", "-p", "no:cacheprovider"]
    for k in (1, 2):
        pytester.runpytest_subprocess(*args, f"--segmask-shard={k}/2", f"--junitxml=shard{k}.xml")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_segmask.merge", "--junit", "all.xml", "--html", "all.html",
         "shard1.xml", "shard2.xml"], cwd=pytester.path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr  # b has a stray file
    assert "merged 2 junit file(s): 2 dataset(s)" in done.stdout
    cases = ET.parse(pytester.path / "all.xml").getroot().iter("testcase")
    datasets = {p.get("value") for c in cases for p in c.iter("property") if p.get("name") == "dataset"}
    assert datasets == {"a", "b"}
    page = (pytester.path / "all.html").read_text(encoding="utf-8")
    assert "dirschema" in page and "not-allowed" in page and "DIR-NOT-ALLOWED" in page
