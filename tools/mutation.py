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
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
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
    outcome: str = "pending"  # killed | survived | timeout | invalid | equivalent
    seconds: float = 0.0
    equivalent: str | None = None  # the reason given by a `# mutation: equivalent` pragma
    stage: str | None = None  # which stage killed it: "first" or "full" (None: not killed)

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


PRAGMA = re.compile(r"#\s*mutation:\s*equivalent\b(?:\[(?P<kinds>[^\]]*)\])?\s*(?:[\u2014\u2013:]|-+)?\s*(?P<reason>.*?)\s*$")


@dataclass(frozen=True)
class Pragma:
    """A `# mutation: equivalent[kinds] — reason` comment: ``kinds`` None covers every mutant of
    its line, else only those kinds (e.g. ``[and/or]`` leaves the line's comparisons running)."""

    reason: str
    kinds: frozenset[str] | None = None

    def covers(self, kind: str) -> bool:
        return self.kinds is None or kind in self.kinds


def equivalence_pragmas(source: str) -> dict[int, Pragma]:
    """Line number -> the `# mutation: equivalent — <reason>` comment on it.

    The comment must be a real comment (not inside a string); `—`, `–`, `-`, `--` or `:` may
    separate the reason, which may be empty (then it is recorded as "(no reason given)").
    ``equivalent[and/or,constant]`` limits it to those mutation kinds.
    """
    import io
    import tokenize

    found = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found
    for tok in tokens:
        if tok.type == tokenize.COMMENT:
            match = PRAGMA.search(tok.string)
            if match:
                kinds = match.group("kinds")
                found[tok.start[0]] = Pragma(
                    match.group("reason") or "(no reason given)",
                    None if kinds is None else frozenset(k.strip() for k in kinds.split(",") if k.strip()))
    return found


def list_mutants(module: str, source: str) -> list[Mutant]:
    _, points = mutation_points(source)
    pragmas = equivalence_pragmas(source)
    out = []
    for index, (_, node, kind, apply) in enumerate(points):
        before = ast.get_source_segment(source, node) or ast.unparse(node)
        after = ast.unparse(apply(copy.deepcopy(node)))
        if isinstance(node, (ast.If, ast.While)):  # show the condition, not the block
            before, after = ast.unparse(node.test), ast.unparse(apply(copy.deepcopy(node)).test)
        line = getattr(node, "lineno", 0)
        pragma = pragmas.get(line)
        out.append(Mutant(module, index, kind, line, _one_line(before), _one_line(after),
                          equivalent=pragma.reason if pragma is not None and pragma.covers(kind) else None))
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


RUNNING: set = set()  # test processes now running (killed when the driver is stopped)
STOPPING = threading.Event()


def _stop(signum=None, frame=None) -> None:
    """SIGTERM/SIGINT: kill every running test process group, run no further mutant, and let
    the main thread unwind (its `finally` removes the copies)."""
    STOPPING.set()
    for proc in list(RUNNING):
        _kill(proc)
    raise KeyboardInterrupt


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:  # already gone
        pass


def run_command(workdir: Path, command: list[str], timeout: float) -> tuple[int | None, float]:
    """(exit code, or None on timeout; seconds) of `command` run in the copy."""
    env = dict(os.environ, PYTHONPATH=str(workdir) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONDONTWRITEBYTECODE="1")
    real_data = REPO.parent / "shared" / "real-data"
    if real_data.is_dir() and "SEGMASK_REAL_DATA" not in env:
        # the copy lives in a temporary folder: point its tests at the real data next to us
        env["SEGMASK_REAL_DATA"] = str(real_data)
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    RUNNING.add(proc)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.wait()
        return None, time.monotonic() - start
    except BaseException:
        _kill(proc)
        raise
    finally:
        RUNNING.discard(proc)
    return code, time.monotonic() - start


def run_tests(workdir: Path, command: list[str], timeout: float) -> tuple[str, float]:
    """"survived" (exit 0), "timeout" or "killed" (any other exit: a failing test, or a mutant
    that broke import or collection)."""
    code, seconds = run_command(workdir, command, timeout)
    if code is None:
        return "timeout", seconds
    return ("survived" if code == 0 else "killed"), seconds


def run_stages(workdir: Path, stages: list[tuple], timeout: float,
               runner=run_tests) -> tuple[str, float, str | None]:
    """Run the stages in order until one does not pass: (outcome, seconds, killing stage).

    A stage is (name, command) or (name, command, its own timeout); ``timeout`` is the default.

    A mutant is killed by the first stage that fails; it survives only if every stage passes. A
    stage before the last that times out decides nothing (the next stage runs), so only the full
    command's timeout counts as killing. The first stage runs a subset of the full command's tests, so this is the
    outcome of the full command alone, reached sooner for most mutants.
    """
    total = 0.0
    for position, (name, command, *own) in enumerate(stages):
        outcome, seconds = runner(workdir, command, (own[0] if own and own[0] else timeout))
        total += seconds
        if outcome == "timeout" and position < len(stages) - 1:
            continue  # slow is not failed (e.g. kernels recompiled for a mutant): the next stage decides
        if outcome != "survived":
            return outcome, total, name
    return "survived", total, None


# --- the first stage: a mutated module's own tests before the full command -----------------------

# module -> its most relevant fast test files (from `grep -l <module> tests/*.py`, without the
# slow pytester/subprocess suites). Test files that import a module are added to its entry
# automatically (see first_test_files), so new unit-test files join without editing this table.
DEFAULT_FIRST_TESTS = {
    "pytest_segmask/checks/adjacency.py": ("tests/test_checks_adjacency.py", "tests/test_robust_companions.py"),
    "pytest_segmask/checks/channel_stats.py": ("tests/test_mask_pass.py", "tests/test_checks_mask_image.py",
                                               "tests/test_mask_robustness.py"),
    "pytest_segmask/checks/glb.py": ("tests/test_checks_glb.py", "tests/test_robust_companions.py"),
    "pytest_segmask/checks/label_kernels.py": ("tests/test_mask_pass.py", "tests/test_checks_mask_image.py",
                                               "tests/test_mask_robustness.py"),
    "pytest_segmask/checks/label_pass.py": ("tests/test_mask_pass.py", "tests/test_checks_mask_image.py",
                                            "tests/test_mask_robustness.py"),
    "pytest_segmask/checks/mask_image.py": ("tests/test_checks_mask_image.py", "tests/test_mask_pass.py",
                                            "tests/test_mask_robustness.py"),
    "pytest_segmask/checks/objects_table.py": ("tests/test_checks_objects_table.py", "tests/test_tables_bounds.py"),
    "pytest_segmask/checks/pass_threads.py": ("tests/test_pass_threads.py", "tests/test_mask_pass.py"),
    "pytest_segmask/checks/pyramid_labels.py": ("tests/test_checks_mask_image.py", "tests/test_mask_pass.py"),
    "pytest_segmask/checks/segmentation_masks_csv.py": ("tests/test_checks_segmentation_masks_csv.py",
                                                        "tests/test_robust_companions.py"),
    "pytest_segmask/checks/table_reader.py": ("tests/test_tables_bounds.py", "tests/test_checks_objects_table.py"),
    "pytest_segmask/checks/table_scan.py": ("tests/test_tables_bounds.py", "tests/test_checks_objects_table.py"),
    "pytest_segmask/checks/tiff_stream.py": ("tests/test_checks_mask_image.py", "tests/test_mask_pass.py",
                                             "tests/test_mask_robustness.py"),
    "pytest_segmask/checks/transformations.py": ("tests/test_checks_transformations.py",
                                                 "tests/test_robust_companions.py"),
    "pytest_segmask/dirschema.py": ("tests/test_dirschema.py", "tests/test_checks_transformations.py",
                                    "tests/test_robust_companions.py"),
}
# whole-plugin suites (pytester, subprocesses, browsers): never part of a first stage
SLOW_TESTS = ("test_browser.py", "test_ci_recipes.py", "test_fuzz.py", "test_distribute.py", "test_plugin.py",
              "test_properties.py", "test_html_report.py", "test_real_verdicts.py", "test_item_golden.py",
              "test_corruption.py", "test_mutation_tool.py")
FIRST_BASE = "{python} -m pytest -x -q -p no:cacheprovider -p no:xdist"


def first_test_files(module: str, repo: Path = REPO, table: dict | None = None) -> list[str]:
    """The table's files for `module` plus every fast test file that imports it."""
    table = DEFAULT_FIRST_TESTS if table is None else table
    files = list(table.get(module, ()))
    dotted = module[:-3].replace("/", ".")
    package, _, name = dotted.rpartition(".")
    imports = re.compile(rf"\b{re.escape(dotted)}\b|from\s+{re.escape(package)}\s+import\s[^\n]*\b{name}\b")
    for path in sorted((repo / "tests").glob("test_*.py")):
        rel = f"tests/{path.name}"
        if rel in files or path.name in SLOW_TESTS:
            continue
        try:
            if imports.search(path.read_text(encoding="utf-8", errors="replace")):
                files.append(rel)
        except OSError:
            continue
    return [f for f in files if (repo / f).is_file()]


# pytest options of the full command that take a value (to tell values from test paths)
_VALUE_OPTIONS = {"-k", "-m", "-p", "-n", "-c", "-o", "-W", "--deselect", "--ignore", "--ignore-glob",
                  "--rootdir", "--confcutdir", "--timeout", "--maxfail", "--tb", "--durations", "--basetemp",
                  "--dist", "--numprocesses", "--import-mode", "-r"}
# ... and those carried over to the first stage, so that it runs no test the full command skips
_CARRIED_OPTIONS = {"-k", "-m", "-o", "-W", "-c", "--deselect", "--rootdir", "--confcutdir", "--import-mode"}


def first_stage_command(full: list[str], files: list[str], python: str) -> list[str] | None:
    """The first-stage command for `files`: pytest, stop at the first failure, no xdist, only
    those of `files` that the full command runs (its paths and --ignore), with its -k, -m,
    --deselect. None when the full command is not a pytest run or runs none of the files."""
    at = [i for i, a in enumerate(full) if a == "pytest" or a.endswith("/pytest")]
    if not at:
        return None
    args = full[at[0] + 1:]
    paths, ignores, carried = [], [], []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if arg.startswith("-") and name in _VALUE_OPTIONS:
            if not eq:
                i += 1
                value = args[i] if i < len(args) else ""
            if name == "--ignore":
                ignores.append(value.rstrip("/"))
            elif name in _CARRIED_OPTIONS:
                carried += [name, value]
        elif not arg.startswith("-"):
            paths.append(arg.rstrip("/"))
        i += 1

    def under(f: str, p: str) -> bool:
        return f == p or f.startswith(p + "/") or p in (".", "")

    chosen = []
    for f in files:
        if any(under(f, ig) for ig in ignores):
            continue
        if not paths:  # pytest's own testpaths: assume the file is among them
            chosen.append(f)
            continue
        for p in paths:
            if "::" in p:
                if p.split("::", 1)[0] == f:
                    chosen.append(p)  # the full command runs only these tests of the file
            elif under(f, p):
                chosen.append(f)
                break
    if not chosen:
        return None
    return shlex.split(FIRST_BASE.format(python=shlex.quote(python))) + list(dict.fromkeys(chosen)) + carried


def parse_first_tests(specs: list[str] | None, modules: list[str]) -> dict[str, list[str]] | None:
    """--first-tests [MODULE=FILE[,FILE…] …] -> module -> first-stage files (None: one stage)."""
    if specs is None:
        return None
    table = dict(DEFAULT_FIRST_TESTS)
    for spec in specs:
        module, eq, files = spec.partition("=")
        if not eq:
            raise ValueError(f"--first-tests {spec!r}: expected MODULE=FILE[,FILE…]")
        table[module.strip()] = tuple(f.strip() for f in files.split(",") if f.strip())
    explicit = {spec.partition("=")[0].strip() for spec in specs}
    return {m: (list(table[m]) if m in explicit else first_test_files(m, table=table)) for m in modules}


# --- report ------------------------------------------------------------------------------------


def score_lines(mutants: list[Mutant]) -> list[str]:
    """Per module and in total: killed / run (declared-equivalent and invalid mutants are not
    run), the percentage of the run, and how many declared-equivalent mutants were skipped."""
    lines = []
    by_module: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_module.setdefault(m.module, []).append(m)
    width = max((len(k) for k in by_module), default=10)
    for module in sorted(by_module) + ["TOTAL"]:
        ms = mutants if module == "TOTAL" else by_module[module]
        run = [m for m in ms if m.outcome not in ("invalid", "equivalent")]
        killed = sum(m.outcome in ("killed", "timeout") for m in run)
        timeouts = sum(m.outcome == "timeout" for m in run)
        equivalent = sum(m.outcome == "equivalent" for m in ms)
        pct = f"{100 * killed / len(run):5.1f} %" if run else "    - "
        lines.append(f"{module:<{width}}  {killed:>3}/{len(run):<3} killed  {pct}"
                     + (f"  ({timeouts} by timeout)" if timeouts else "")
                     + (f"  + {equivalent} declared equivalent, skipped" if equivalent else ""))
    return lines


def report(chosen: list[Mutant]) -> list[str]:
    out = ["", "score (killed / run, non-equivalent mutants, per module):"]
    out += ["  " + line for line in score_lines(chosen)]
    survivors = [m for m in chosen if m.outcome == "survived"]
    out.append(f"\nsurvivors ({len(survivors)}):" if survivors else "\nno survivors")
    out += ["  " + m.describe() for m in survivors]
    equivalent = [m for m in chosen if m.outcome == "equivalent"]
    if equivalent:
        out.append(f"\ndeclared equivalent, not run ({len(equivalent)}):")
        out += [f"  {m.describe()}  — {m.equivalent}" for m in equivalent]
    return out


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
    parser.add_argument("--first-tests", nargs="*", default=None, metavar="MODULE=FILE[,FILE…]",
                        help="two stages: first the mutated module's own test files (-x, no xdist), the "
                        "full --test-cmd only if the mutant survives them. Without values: the built-in "
                        "table; MODULE=FILES overrides it for a module")
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds per mutant and stage (default: 5 × the unmutated run, at least 30)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run in parallel (one copy each)")
    parser.add_argument("--source", choices=("worktree", "head"), default="worktree",
                        help="copy the working tree as it is, or the last commit")
    parser.add_argument("--list", action="store_true", help="list the sampled mutants, run nothing")
    parser.add_argument("--json", type=Path, help="write every mutant, its outcome and killing stage here")
    args = parser.parse_args(argv)

    modules = sorted({str(Path(p).relative_to(REPO)) for pattern in args.modules
                      for p in glob.glob(str(REPO / pattern))
                      if p.endswith(".py") and not p.endswith("__init__.py")})
    if not modules:
        parser.error(f"no module matches {args.modules}")
    try:
        first_files = parse_first_tests(args.first_tests, modules)
    except ValueError as exc:
        parser.error(str(exc))
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
    for m in chosen:
        if m.equivalent is not None:
            m.outcome = "equivalent"
    total = sum(len(v) for v in everything.values())
    print(f"{len(chosen)} of {total} mutants over {len(modules)} module(s), seed {args.seed}")
    if args.list:
        for m in chosen:
            print("  " + m.describe() + (f"  [declared equivalent — {m.equivalent}]" if m.equivalent else ""))
        return 0

    command = shlex.split(args.test_cmd.format(python=shlex.quote(sys.executable)))
    for node_id in args.deselect:
        command += ["--deselect", node_id]
    stages_of: dict[str, list[tuple[str, list[str]]]] = {m: [("full", command)] for m in modules}
    if first_files is not None:
        for m in modules:
            first = first_stage_command(command, first_files[m], sys.executable)
            if first:
                stages_of[m] = [("first", first), ("full", command)]
    to_run = [m for m in chosen if m.outcome == "pending"]
    tmp = Path(tempfile.mkdtemp(prefix="segmask-mutation-"))
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        copies = []
        for j in range(max(1, min(args.jobs, len(to_run) or 1))):
            copy_repo(tmp / f"w{j}", args.source)
            copies.append(tmp / f"w{j}")
        code, baseline = run_command(copies[0], command, timeout=3600)
        if code != 0:
            print(f"the unmutated copy fails the test command ({' '.join(command)}): fix or "
                  "--deselect the failing tests first", file=sys.stderr)
            return 2
        timeout = args.timeout or max(30.0, 5 * baseline)
        print(f"unmutated run: {baseline:.1f} s; timeout per mutant {timeout:.0f} s; "
              f"command: {' '.join(command)}")
        # every first stage must pass on the unmutated copy too, or it would kill every mutant
        # (and gets its own timeout: 5 × its unmutated run, at least 30 s, unless --timeout)
        checked: dict[tuple, int | None] = {}
        limits: dict[tuple, float] = {}
        for m in sorted({x.module for x in to_run}):
            if len(stages_of[m]) < 2:
                continue
            key = tuple(stages_of[m][0][1])
            if key not in checked:
                checked[key], seconds = run_command(copies[0], list(key), timeout=3600)
                limits[key] = args.timeout or max(30.0, 5 * seconds)
                if checked[key] == 0:
                    print(f"unmutated first stage: {seconds:.1f} s (timeout {limits[key]:.0f} s): "
                          f"{' '.join(key[1:])}")
            if checked[key] == 5:  # it selects no test: no first stage for this module
                stages_of[m] = stages_of[m][1:]
            elif checked[key] == 0:
                stages_of[m] = [("first", list(key), limits[key])] + stages_of[m][1:]
            elif checked[key] != 0:
                print(f"the unmutated copy fails the first stage of {m} ({' '.join(key)}): fix it or "
                      "give that module other --first-tests", file=sys.stderr)
                return 2
        free = list(copies)

        def run_one(mutant: Mutant) -> Mutant:
            if mutant.outcome == "equivalent" or STOPPING.is_set():
                return mutant
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
                mutant.outcome, mutant.seconds, mutant.stage = run_stages(
                    workdir, stages_of[mutant.module], timeout)
                return mutant
            finally:
                target.write_text(sources[mutant.module], encoding="utf-8")
                free.append(workdir)

        done = 0
        with ThreadPoolExecutor(max_workers=len(copies)) as pool:
            for mutant in pool.map(run_one, chosen):
                if mutant.outcome == "equivalent":
                    continue
                done += 1
                print(f"  [{done}/{len(to_run)}] {mutant.outcome:<8} {mutant.describe()}", flush=True)
    except KeyboardInterrupt:
        print("stopped: the running tests were killed and the copies removed; no score", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for line in report(chosen):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(m) for m in chosen], indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
