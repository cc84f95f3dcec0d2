"""The README's CI recipes work: the GitHub Actions `run:` commands and the segmask script."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from conftest import PROJECT

from fixtures_generator import DatasetSpec, write_dataset


def workflow_commands() -> list[str]:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- ci:github-actions -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    return [line.split("run:", 1)[1].strip() for line in block.splitlines() if line.strip().startswith("- run:")]


def _env():
    # the `segmask` script installed beside this interpreter comes first on PATH
    return {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


def test_github_actions_commands_run(tmp_path):
    commands = workflow_commands()
    installs = [c for c in commands if c.startswith("pip install")]
    assert installs and all(c == "pip install ./tools/pytest-segmask" for c in installs)  # installed here already
    check, merge = [c for c in commands if not c.startswith("pip install")]
    repo = tmp_path / "data-repo"
    write_dataset(DatasetSpec(), repo / "datasets" / "one")
    write_dataset(DatasetSpec(version="2.3"), repo / "datasets" / "two")  # TSV-only: ingest rejects it
    write_dataset(DatasetSpec(version="2.5"), repo / "datasets" / "three")
    assert check.startswith("segmask ") and "${{ matrix.shard }}" in check
    for shard in (1, 2, 3, 4):  # the matrix
        command = check.replace("${{ matrix.shard }}", str(shard))
        done = subprocess.run(command, shell=True, cwd=repo, capture_output=True, text=True, timeout=600, env=_env())
        assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(merge, shell=True, cwd=repo, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 dataset(s), 0 failing item(s)" in done.stdout
    cases = ET.parse(repo / "segmask.xml").findall(".//testcase")
    datasets = {p.get("value") for c in cases for p in c.iter("property") if p.get("name") == "dataset"}
    assert datasets == {"datasets/one", "datasets/two", "datasets/three"}
    assert (repo / "segmask.html").exists() and (repo / "segmask-1.html").exists()
    assert not (repo / ".pytest_cache").exists()


def test_pre_commit_recipe_runs(tmp_path):
    """The local hook's `entry` with its `args`, as pre-commit runs it (pass_filenames: false)."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- ci:pre-commit -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    entry = next(line.split(":", 1)[1].strip() for line in block.splitlines() if line.strip().startswith("entry:"))
    args = next(line.split(":", 1)[1].strip() for line in block.splitlines() if line.strip().startswith("args:"))
    args = [a.strip() for a in args.strip("[]").split(",")]
    repo = tmp_path / "data-repo"
    write_dataset(DatasetSpec(), repo / args[0])
    done = subprocess.run([entry, *args], cwd=repo, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    (repo / args[0] / "stray.txt").write_text("x")
    done = subprocess.run([entry, *args], cwd=repo, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 1 and "dirschema::not-allowed" in done.stdout


def test_segmask_cli_takes_pytest_options_in_either_spelling(tmp_path):
    repo = tmp_path / "repo"
    write_dataset(DatasetSpec(), repo / "ds")
    done = subprocess.run(["segmask", "ds", "-k", "dirschema", "--html", "r.html", "--segmask-profile", "ingest",
                           "--co", "-q"], cwd=repo, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    assert ids and all("::dirschema::" in i for i in ids)
    usage = subprocess.run(["segmask", "--help"], capture_output=True, text=True, env=_env())
    assert usage.returncode == 0 and usage.stdout.startswith("usage: segmask")
    empty = subprocess.run(["segmask"], cwd=tmp_path, capture_output=True, text=True, env=_env())
    assert empty.returncode == 4 and "is not a dataset" in empty.stderr


def test_segmask_script_fails_on_broken_dataset(tmp_path):
    repo = tmp_path / "repo"
    write_dataset(DatasetSpec(), repo / "ds")
    (repo / "ds" / "stray.txt").write_text("x")
    done = subprocess.run(
        [sys.executable, "-m", "pytest_segmask.cli", "ds", "-q"], cwd=repo,
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 1
    assert "FAILED ds::dirschema::not-allowed" in done.stdout
