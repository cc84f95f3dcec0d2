"""Every item of a varied dataset, its outcome, rules and skip reason, pinned in a file.

A change to the check plans, the resolver or a check that alters any item — its id, order,
outcome, the rules it reports or why it skips — shows up here as a diff to review. When the
change is intended, rewrite the file: `SEGMASK_UPDATE_GOLDEN=1 python -m pytest tests/test_item_golden.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fixtures_generator import ChannelSpec, DatasetSpec, MaskSpec, write_dataset

GOLDEN = Path(__file__).parent / "data" / "varied_items.json"
VARIED = DatasetSpec(
    masks=(MaskSpec(channels=(ChannelSpec("cells"), ChannelSpec("nuclei", n_objects=0),
                              ChannelSpec("tubules", sparse_ids=True)), pyramid_method="mean"),),
    meshes=("cells",), adjacency=(("cells", "centroid", "edges"), ("nuclei", "linkage", "matrix")),
    transformations=("t.txt",),
)


def items_of(pytester, name: str) -> list[list]:
    reprec = pytester.inline_run(f"--segmask-dataset={name}", "-p", "no:cacheprovider")
    rows = []
    for report in reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            props = dict(report.user_properties)
            reason = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
            rows.append([report.nodeid[len(name):], report.outcome, props.get("failed_rules", ""),
                         props.get("warned_rules", ""), reason.replace(name + "/", "<dataset>/")])
    return rows


def test_varied_dataset_items_match_the_pinned_list(pytester):
    write_dataset(VARIED, pytester.path / "varied")
    (pytester.path / "varied" / "stray.txt").write_text("x")
    rows = items_of(pytester, "varied")
    if os.environ.get("SEGMASK_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert rows == json.loads(GOLDEN.read_text(encoding="utf-8"))
