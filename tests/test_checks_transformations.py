from __future__ import annotations

from conftest import make_tree

from pytest_segmask.checks.transformations import check_transformations
from pytest_segmask.dirschema import list_dataset

T = "derived/segmentation_masks/transformations/"


def run(root):
    return check_transformations(root, [p for p in list_dataset(root).paths if p.startswith(T)])


def test_files_pass_and_are_listed(tmp_path):
    root = make_tree(tmp_path, [T + "a.txt", T + "b/c.json"])
    result = run(root)
    assert result.findings == []
    assert result.notes == [f"2 file(s): {T}a.txt, {T}b/c.json"]


def test_empty_folder_warns(tmp_path):
    result = run(make_tree(tmp_path, [T]))
    [f] = result.findings
    assert (f.code, f.severity.value) == ("TRANSFORMATIONS-EMPTY", "warning")


def test_empty_and_dangling_files_fail(tmp_path):
    root = make_tree(tmp_path, [T + "ok.txt", T + "gone.txt -> nowhere"])
    (root / T / "zero.txt").write_bytes(b"")
    [f] = run(root).findings
    assert f.code == "TRANSFORMATIONS-FILES"
    assert "2 of 3 transformation file(s) unusable" in f.message
    assert f"`{T}gone.txt` cannot be read: No such file or directory" in f.message
    assert f"`{T}zero.txt` is empty (0 bytes)" in f.message
