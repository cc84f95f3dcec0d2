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


def test_github_actions_commands_run(tmp_path):
    install, *commands = workflow_commands()
    assert install.startswith("pip install")  # the project is installed here already
    repo = tmp_path / "data-repo"
    write_dataset(DatasetSpec(), repo / "datasets" / "one")
    write_dataset(DatasetSpec(version="2.3", table_format="tsv"), repo / "datasets" / "two")
    # the `segmask` script installed beside this interpreter comes first on PATH
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    for command in commands:
        assert command.startswith("segmask ")
        done = subprocess.run(command, shell=True, cwd=repo, capture_output=True, text=True,
                              timeout=600, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    cases = ET.parse(repo / "segmask.xml").findall(".//testcase")
    classnames = {c.get("classname", "") for c in cases}
    assert any(n.startswith("datasets.one.") for n in classnames)
    assert any(n.startswith("datasets.two.") for n in classnames)
    assert (repo / "segmask.html").exists()
    assert not (repo / ".pytest_cache").exists()


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
