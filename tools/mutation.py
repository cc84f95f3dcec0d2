#!/usr/bin/env python
"""A small AST mutation driver: how many wrong checkers do the tests catch?

It mutates the checker modules one change at a time (flipped comparisons, ``and``/``or``,
negated conditions, changed numbers, dropped findings, emptied returns, swapped severities
and authorities), runs a test command against each mutant in a temporary copy of the
repository (the working tree is never touched), and prints the score per module and the
mutants that survived. Run it on demand (it is CPU-heavy), not in CI:

    python tools/mutation.py --sample 40 --seed 1
    python tools/mutation.py --modules pytest_segmask/checks/glb.py --per-module 20 \\
        --test-cmd "python -m pytest -x -q -p no:cacheprovider tests/test_checks_glb.py"
    python tools/mutation.py --list --modules pytest_segmask/dirschema.py

See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import ast
import copy
import glob
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODULES = ("pytest_segmask/checks/*.py", "pytest_segmask/dirschema.py")
DEFAULT_TESTS = (
    "{python} -m pytest -x -q -p no:cacheprovider tests "
    "--ignore=tests/test_browser.py --ignore=tests/test_ci_recipes.py"
)
SKIP_COPY = {".git", "__pycache__", ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache",
             "node_modules", ".venv", "venv", "build", "dist"}

COMPARE_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
SEVERITY_SWAPS = {"ERROR": "WARNING", "WARNING": "ERROR"}
AUTHORITY_SWAPS = {"INGEST": "SCHEMA", "SCHEMA": "PRACTICE", "PRACTICE": "SCHEMA"}


@dataclass
class Mutant:
    module: str  # repository-relative path
    index: int  # n-th mutation point of the module (in ast.walk order)
    kind: str
    line: int
    before: str
    after: str
    outcome: str = "pending"  # killed | survived | timeout | invalid
    seconds: float = 0.0

    def describe(self) -> str:
        return f"{self.module}:{self.line}  [{self.kind}]  `{self.before}` -> `{self.after}`"


# --- mutation points ---------------------------------------------------------------------------


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _skipped(node: ast.AST, parents: dict) -> bool:
    """Docstrings, annotations and `if __name__ == "__main__"` blocks are not mutated."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and "__name__" in ast.unparse(parent.test):
            return True
        if isinstance(parent, (ast.arg, ast.AnnAssign)) and node is getattr(parent, "annotation", None):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is parent.returns:
            return True
        node = parent
    return False


DISPLAY_CALLS = ("shorten", "cut_list", "_one_line")  # their numbers only size a message


def _in_display_call(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DISPLAY_CALLS:
            return True
    return False


def _is_findings_call(node: ast.AST) -> bool:
    """A statement that records a finding: `<...findings...>.append/extend(...)` or `fail(...)`."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    if isinstance(func, ast.Attribute) and func.attr in ("append", "extend"):
        return "finding" in ast.unparse(func.value).lower() or "finding" in ast.unparse(node.value.args[0] if node.value.args else func).lower()
    return isinstance(func, ast.Name) and func.id == "fail"


def mutations(node: ast.AST, parents: dict):
    """(kind, description of the change, function applying it to a copy of node) for node."""
    if isinstance(node, ast.Compare):
        for k, op in enumerate(node.ops):
            swap = COMPARE_SWAPS.get(type(op))
            if swap:
                def apply(n, k=k, swap=swap):
                    n.ops[k] = swap()
                    return n
                yield "compare", apply
    elif isinstance(node, ast.BoolOp):
        def apply(n):
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
            return n
        yield "and/or", apply
    elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
        test = node.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in COMPARE_SWAPS):
            # (a single comparison is already flipped by "compare")
            def apply(n):
                if isinstance(n.test, ast.UnaryOp) and isinstance(n.test.op, ast.Not):
                    n.test = n.test.operand  # `if not x` -> `if x`
                else:
                    n.test = ast.UnaryOp(op=ast.Not(), operand=n.test)
                return n
            yield "negate", apply
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
        parent = parents.get(node)
        if not (isinstance(parent, ast.Subscript) and parent.slice is node and node.value in (0, -1)) \
                and not _in_display_call(node, parents):
            def apply(n):
                n.value = n.value + 1
                return n
            yield "constant", apply
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        def apply(n):
            n.value = not n.value
            return n
        yield "constant", apply
    elif _is_findings_call(node):
        def apply(n):
            return ast.Pass()
        yield "drop-finding", apply
    elif isinstance(node, ast.Return) and node.value is not None:
        value = node.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "CheckResult" \
                and (value.args or value.keywords):
            def apply(n):
                n.value = ast.Call(func=ast.Name("CheckResult", ast.Load()), args=[], keywords=[])
                return n
            yield "empty-return", apply
        elif isinstance(value, (ast.List, ast.ListComp)) and not (isinstance(value, ast.List) and not value.elts):
            def apply(n):
                n.value = ast.List(elts=[], ctx=ast.Load())
                return n
            yield "empty-return", apply
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        table = {"Severity": SEVERITY_SWAPS, "Authority": AUTHORITY_SWAPS}.get(node.value.id)
        if table and node.attr in table:
            def apply(n, new=table[node.attr]):
                n.attr = new
                return n
            yield "severity" if node.value.id == "Severity" else "authority", apply


def mutation_points(source: str):
    """Every (node position, kind, apply) of a module, in a stable order."""
    tree = ast.parse(source)
    parents = _parents(tree)
    points = []
    for position, node in enumerate(ast.walk(tree)):
        if _skipped(node, parents):
            continue
        for kind, apply in mutations(node, parents):
            points.append((position, node, kind, apply))
    return tree, points


def list_mutants(module: str, source: str) -> list[Mutant]:
    _, points = mutation_points(source)
    out = []
    for index, (_, node, kind, apply) in enumerate(points):
        before = ast.get_source_segment(source, node) or ast.unparse(node)
        after = ast.unparse(apply(copy.deepcopy(node)))
        if isinstance(node, (ast.If, ast.While)):  # show the condition, not the block
            before, after = ast.unparse(node.test), ast.unparse(apply(copy.deepcopy(node)).test)
        out.append(Mutant(module, index, kind, getattr(node, "lineno", 0),
                          _one_line(before), _one_line(after)))
    return out


def mutated_source(source: str, index: int) -> str:
    tree, points = mutation_points(source)
    position, node, kind, apply = points[index]
    parents = _parents(tree)
    new = apply(node)
    if new is not node:  # a replaced statement
        parent = parents[node]
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list) and node in value:
                value[value.index(node)] = new
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _one_line(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- running -----------------------------------------------------------------------------------


def copy_repo(dest: Path, source: str) -> None:
    if source == "head":
        archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], check=True,
                                 capture_output=True).stdout
        dest.mkdir(parents=True)
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    shutil.copytree(REPO, dest, symlinks=True,
                    ignore=lambda d, names: [n for n in names if n in SKIP_COPY or n.endswith(".pyc")])


def run_tests(workdir: Path, command: list[str], timeout: float) -> tuple[str, float]:
    env = dict(os.environ, PYTHONPATH=str(workdir) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONDONTWRITEBYTECODE="1")
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return "timeout", time.monotonic() - start
    seconds = time.monotonic() - start
    if code == 0:
        return "survived", seconds
    if code in (2, 3, 4):  # interrupted, internal error, usage error: mutant broke import/collection
        return "killed", seconds
    return "killed", seconds


def score_lines(mutants: list[Mutant]) -> list[str]:
    lines = []
    by_module: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_module.setdefault(m.module, []).append(m)
    width = max((len(k) for k in by_module), default=10)
    for module in sorted(by_module) + ["TOTAL"]:
        ms = mutants if module == "TOTAL" else by_module[module]
        valid = [m for m in ms if m.outcome != "invalid"]
        killed = sum(m.outcome in ("killed", "timeout") for m in valid)
        timeouts = sum(m.outcome == "timeout" for m in valid)
        pct = f"{100 * killed / len(valid):5.1f} %" if valid else "    - "
        lines.append(f"{module:<{width}}  {killed:>3}/{len(valid):<3} killed  {pct}"
                     + (f"  ({timeouts} by timeout)" if timeouts else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", nargs="+", default=list(DEFAULT_MODULES),
                        help="module paths or globs relative to the repository (default: %(default)s)")
    parser.add_argument("--sample", type=int, default=40, help="mutants to run in all (0 = every one)")
    parser.add_argument("--per-module", type=int, default=0,
                        help="mutants per module instead of --sample (0 = off)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default %(default)s)")
    parser.add_argument("--kinds", nargs="+", default=None,
                        help="only these kinds: compare and/or negate constant drop-finding "
                        "empty-return severity authority")
    parser.add_argument("--test-cmd", default=DEFAULT_TESTS,
                        help="test command run in the copy; {python} is this interpreter "
                        "(default: %(default)s)")
    parser.add_argument("--deselect", action="append", default=[],
                        help="a test node id to deselect (repeatable; appended as --deselect)")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds per mutant (default: 5 × the unmutated run, at least 30)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (one copy each)")
    parser.add_argument("--source", choices=("worktree", "head"), default="worktree",
                        help="copy the working tree as it is, or the last commit")
    parser.add_argument("--list", action="store_true", help="list the sampled mutants, run nothing")
    parser.add_argument("--json", type=Path, help="write every mutant and its outcome here")
    args = parser.parse_args(argv)

    modules = sorted({str(Path(p).relative_to(REPO)) for pattern in args.modules
                      for p in glob.glob(str(REPO / pattern))
                      if p.endswith(".py") and not p.endswith("__init__.py")})
    if not modules:
        parser.error(f"no module matches {args.modules}")
    sources = {m: (REPO / m).read_text(encoding="utf-8") for m in modules}
    everything = {m: [x for x in list_mutants(m, sources[m]) if not args.kinds or x.kind in args.kinds]
                  for m in modules}
    rng = random.Random(args.seed)
    if args.per_module:
        chosen = [x for m in modules for x in rng.sample(everything[m], min(args.per_module, len(everything[m])))]
    else:
        pool = [x for m in modules for x in everything[m]]
        chosen = pool if not args.sample or args.sample >= len(pool) else rng.sample(pool, args.sample)
    chosen.sort(key=lambda x: (x.module, x.index))
    total = sum(len(v) for v in everything.values())
    print(f"{len(chosen)} of {total} mutants over {len(modules)} module(s), seed {args.seed}")
    if args.list:
        for m in chosen:
            print("  " + m.describe())
        return 0

    command = shlex.split(args.test_cmd.format(python=shlex.quote(sys.executable)))
    for node_id in args.deselect:
        command += ["--deselect", node_id]
    tmp = Path(tempfile.mkdtemp(prefix="segmask-mutation-"))
    try:
        copies = []
        for j in range(max(1, args.jobs)):
            copy_repo(tmp / f"w{j}", args.source)
            copies.append(tmp / f"w{j}")
        outcome, baseline = run_tests(copies[0], command, timeout=3600)
        if outcome != "survived":
            print(f"the unmutated copy fails the test command ({' '.join(command)}): fix or "
                  "--deselect the failing tests first", file=sys.stderr)
            return 2
        timeout = args.timeout or max(30.0, 5 * baseline)
        print(f"unmutated run: {baseline:.1f} s; timeout per mutant {timeout:.0f} s; "
              f"command: {' '.join(command)}")
        free = list(copies)

        def run_one(mutant: Mutant) -> Mutant:
            workdir = free.pop()
            target = workdir / mutant.module
            try:
                try:
                    text = mutated_source(sources[mutant.module], mutant.index)
                    compile(text, mutant.module, "exec")
                except (SyntaxError, ValueError):
                    mutant.outcome = "invalid"
                    return mutant
                target.write_text(text, encoding="utf-8")
                mutant.outcome, mutant.seconds = run_tests(workdir, command, timeout)
                return mutant
            finally:
                target.write_text(sources[mutant.module], encoding="utf-8")
                free.append(workdir)

        done = 0
        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            for mutant in pool.map(run_one, chosen):
                done += 1
                print(f"  [{done}/{len(chosen)}] {mutant.outcome:<8} {mutant.describe()}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("\nscore (killed / run, per module):")
    for line in score_lines(chosen):
        print("  " + line)
    survivors = [m for m in chosen if m.outcome == "survived"]
    print(f"\nsurvivors ({len(survivors)}):" if survivors else "\nno survivors")
    for m in survivors:
        print("  " + m.describe())
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in chosen], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
