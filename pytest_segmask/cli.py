"""`segmask DIR… [pytest options]`: pytest with each DIR checked as a dataset.

pytest parses the command line itself, so every pytest option works in either spelling
(`-k EXPR`, `-kEXPR`, `--html report.html`, `--html=report.html`); the positional arguments
become datasets. The rootdir is the current directory (node ids are relative to it) and no
`.pytest_cache` is written, so a pre-commit hook leaves the data repository untouched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .plugin import POSITIONAL_DATASETS

USAGE = """\
usage: segmask [DIR ...] [pytest options]

Check HuBMAP Segmentation Mask datasets (each DIR is a dataset root) with pytest-segmask.
Every pytest option works, with or without '=': -k EXPR, -x, --lf, -n 2, --junitxml FILE,
--html FILE --self-contained-html, and the segmask options:

  --segmask-profile P           ingest | hubmap (default) | strict: which findings fail
  --segmask-strict              the same as --segmask-profile strict
  --segmask-schema-version V    auto (default) or 2.0 … 2.7
  --segmask-ignore-glob GLOB    paths exempt from 'not allowed' (repeatable)
  --segmask-ignore 'CODE: why'  waive a rule, with a reason (repeatable)
  --segmask-shard K/N           check the K-th of N shares of the datasets
  --segmask-source-image PATH   the source OME-TIFF the mask was derived from

examples:
  segmask datasets/HBM123.ABCD.456
  segmask datasets/* -n 2 --html report.html --self-contained-html
  segmask my-dataset -k glomeruli --segmask-profile ingest

Without DIR, the current folder is checked when it looks like a dataset (it has derived/).
Exit status: 0 conforms, 1 some item failed, 4 usage error. `pytest --help` lists every option.
"""


def looks_like_dataset(path: Path) -> bool:
    return (path / "derived").is_dir()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(USAGE, end="")
        return 0
    positional = [a for a in argv if not a.startswith("-")]
    if not positional and not any(a.startswith("--segmask-dataset") for a in argv):
        if not looks_like_dataset(Path.cwd()):
            print(f"segmask: {Path.cwd()} is not a dataset (it has no derived/ folder); "
                  "give the dataset folders: segmask DIR… (segmask --help)", file=sys.stderr)
            return int(pytest.ExitCode.USAGE_ERROR)
        print(f"segmask: checking the current folder {Path.cwd()} as a dataset", file=sys.stderr)
        argv.append(".")
    # the plugin (in this process and in every xdist worker, which inherit the environment)
    # takes pytest's positional arguments as datasets
    os.environ[POSITIONAL_DATASETS] = "1"
    # -p no:cacheprovider: a hook run must not write .pytest_cache into the data repository
    return int(pytest.main(["-p", "no:cacheprovider", "--rootdir=.", *argv]))


if __name__ == "__main__":
    sys.exit(main())
