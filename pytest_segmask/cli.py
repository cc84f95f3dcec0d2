"""`segmask DIR… [pytest options]`: pytest with each DIR as --segmask-dataset.

For pre-commit hooks and shell use; everything starting with '-' goes to pytest unchanged.
The rootdir is the current directory, so node ids are relative to it.
"""

from __future__ import annotations

import sys

import pytest


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    datasets = [a for a in argv if not a.startswith("-")]
    options = [a for a in argv if a.startswith("-")]
    args = [f"--segmask-dataset={d}" for d in (datasets or ["."])]
    # -p no:cacheprovider: a hook run must not write .pytest_cache into the data repository
    return int(pytest.main(["-p", "no:cacheprovider", "--rootdir=.", *args, *options]))


if __name__ == "__main__":
    sys.exit(main())
