"""Start-up cost of the plugin: what `--segmask-dataset` adds to a pytest run.

    python benchmarks/bench_startup.py [--repeat 7]

Prints the best of N wall times of a fresh `python -m pytest --co -q` with the plugin disabled
(`-p no:segmask`), with it installed but no dataset given (the cost every pytest run in the
environment pays), and with the example dataset (imports, listing, mask metadata, item
collection); then the plugin's own imports from `python -X importtime` (cumulative, the
modules the plugin imports at top level while collecting the example).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "kidney-demo"
BASE = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # Python's default: bytecode cached


def best_wall(args: list[str], cwd: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, capture_output=True, env=ENV)
        times.append(time.perf_counter() - start)
    return min(times)


def plugin_imports(cwd: Path) -> list[tuple[str, float]]:
    """Cumulative import time (s) of each top-level import made while the plugin collects."""
    done = subprocess.run([sys.executable, "-X", "importtime", *BASE[1:], f"--segmask-dataset={EXAMPLE}"],
                          cwd=cwd, capture_output=True, text=True, env=ENV)
    lines = done.stderr.splitlines()
    # the entry point (pytest_segmask.plugin) loads with pytest's plugins; the collecting part
    # starts with the first other pytest_segmask module
    start = next(i for i, line in enumerate(lines)
                 if re.search(r"\| +pytest_segmask\.(?!plugin)", line)) - 1
    out = []
    for line in lines[start + 1:]:
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        # top level only (nested ones are inside); hypothesis's own pytest plugin imports its
        # observability module during collection: that is the [test] extra's cost, not ours
        if match and not match.group(2).startswith("hypothesis"):
            out.append((match.group(2), int(match.group(1)) / 1e6))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)  # no conftest.py, no tests: only what the plugin does
        disabled = best_wall([*BASE, "-p", "no:segmask"], cwd, args.repeat)
        idle = best_wall(BASE, cwd, args.repeat)
        with_dataset = best_wall([*BASE, f"--segmask-dataset={EXAMPLE}"], cwd, args.repeat)
        imports = plugin_imports(cwd)
    print(f"python {sys.version.split()[0]}; best of {args.repeat} fresh processes, wall seconds")
    print(f"pytest --co, plugin disabled (-p no:segmask):  {disabled:6.3f}")
    print(f"pytest --co, plugin installed, no dataset:     {idle:6.3f}  ({idle - disabled:+.3f})")
    print(f"pytest --co --segmask-dataset=examples/kidney-demo: {with_dataset:6.3f}  ({with_dataset - disabled:+.3f}: "
          "imports, listing, mask metadata, 53 items)")
    total = sum(t for _, t in imports)
    print(f"imports made by the plugin while collecting (goal ≤ 0.3 s): {total:.3f} s")
    for name, seconds in sorted(imports, key=lambda x: -x[1])[:8]:
        print(f"  {name:40s} {seconds:6.3f}")


if __name__ == "__main__":
    main()
