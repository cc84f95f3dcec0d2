"""tools/mutation.py: the equivalence pragma, the score over non-equivalent mutants and the
two-stage run (no real sweep: a fake runner stands in for the test commands)."""

from __future__ import annotations

import importlib.util
import shlex
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "mutation.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("segmask_mutation_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


SOURCE = '''\
LIMIT = 64  # mutation: equivalent — only sizes a buffer
STEP = 2  # mutation: equivalent - the step is always overridden
OTHER = 3  # mutation: equivalent
TEXT = "# mutation: equivalent — inside a string, not a pragma"


def f(x):
    return x > LIMIT  # mutation:equivalent--close enough


def g(a, b):
    return a > 1 or b < 2  # mutation: equivalent[and/or, negate] — either way the same
'''


def test_pragma_lines_and_reasons(tool):
    reasons = {line: p.reason for line, p in tool.equivalence_pragmas(SOURCE).items()}
    assert reasons == {
        1: "only sizes a buffer",
        2: "the step is always overridden",
        3: "(no reason given)",
        8: "close enough",
        12: "either way the same",
    }
    assert tool.equivalence_pragmas(SOURCE)[12].kinds == {"and/or", "negate"}
    assert tool.equivalence_pragmas(SOURCE)[8].kinds is None


def test_a_pragma_naming_kinds_covers_only_those_mutants_of_its_line(tool):
    line12 = [m for m in tool.list_mutants("m.py", SOURCE) if m.line == 12]
    kinds = {m.kind: m.equivalent for m in line12}
    assert kinds["and/or"] == "either way the same"
    assert kinds["compare"] is None and kinds["constant"] is None


def test_mutants_on_pragma_lines_are_declared_equivalent(tool):
    mutants = {m.line: m for m in tool.list_mutants("m.py", SOURCE)}
    assert mutants[1].equivalent == "only sizes a buffer" and mutants[1].before == "64"
    assert mutants[2].equivalent == "the step is always overridden"
    assert mutants[8].kind == "compare" and mutants[8].equivalent == "close enough"
    plain = tool.list_mutants("m.py", SOURCE.replace("# mutation", "# note"))
    assert all(m.equivalent is None for m in plain)


def _mutant(tool, module, outcome, line=1, equivalent=None):
    m = tool.Mutant(module, line, "constant", line, "1", "2", equivalent=equivalent)
    m.outcome = outcome
    return m


def test_score_counts_only_run_non_equivalent_mutants(tool):
    mutants = [
        _mutant(tool, "a.py", "killed"), _mutant(tool, "a.py", "timeout", 2),
        _mutant(tool, "a.py", "survived", 3), _mutant(tool, "a.py", "equivalent", 4, "why"),
        _mutant(tool, "a.py", "invalid", 5), _mutant(tool, "b.py", "killed", 6),
    ]
    lines = tool.score_lines(mutants)
    assert lines[0].split() == ["a.py", "2/3", "killed", "66.7", "%", "(1", "by", "timeout)",
                                "+", "1", "declared", "equivalent,", "skipped"]
    assert lines[1].split() == ["b.py", "1/1", "killed", "100.0", "%"]
    assert lines[2].split()[:5] == ["TOTAL", "3/4", "killed", "75.0", "%"]
    assert lines[2].endswith("+ 1 declared equivalent, skipped")
    text = "\n".join(tool.report(mutants))
    assert "survivors (1):\n  a.py:3  [constant]" in text
    assert "declared equivalent, not run (1):\n  a.py:4  [constant]  `1` -> `2`  — why" in text


class FakeRunner:
    def __init__(self, outcomes):
        self.outcomes = dict(outcomes)
        self.ran = []

    def __call__(self, workdir, command, timeout):
        self.ran.append(command[0])
        return self.outcomes[command[0]], 1.0


STAGES = [("first", ["first"]), ("full", ["full"])]


@pytest.mark.parametrize("first, full, expected, ran", [
    ("killed", "survived", ("killed", 1.0, "first"), ["first"]),
    ("timeout", "survived", ("survived", 2.0, None), ["first", "full"]),
    ("timeout", "killed", ("killed", 2.0, "full"), ["first", "full"]),
    ("survived", "killed", ("killed", 2.0, "full"), ["first", "full"]),
    ("survived", "timeout", ("timeout", 2.0, "full"), ["first", "full"]),
    ("survived", "survived", ("survived", 2.0, None), ["first", "full"]),
])
def test_two_stages(tool, first, full, expected, ran):
    runner = FakeRunner({"first": first, "full": full})
    assert tool.run_stages(Path("."), STAGES, 10, runner=runner) == expected
    assert runner.ran == ran


def test_stage_timeouts(tool):
    seen = []

    def runner(workdir, command, timeout):
        seen.append((command[0], timeout))
        return "survived", 1.0

    tool.run_stages(Path("."), [("first", ["first"], 7.0), ("full", ["full"])], 99, runner=runner)
    assert seen == [("first", 7.0), ("full", 99)]


def test_one_stage(tool):
    runner = FakeRunner({"full": "killed"})
    assert tool.run_stages(Path("."), STAGES[1:], 10, runner=runner) == ("killed", 1.0, "full")


def test_first_stage_runs_only_what_the_full_command_runs(tool):
    full = shlex.split(
        "py -m pytest -x -q -n 2 tests --ignore=tests/test_fuzz.py --ignore tests/test_plugin.py "
        "--deselect tests/test_a.py::test_readme -k 'not slow' -p no:cacheprovider")
    first = tool.first_stage_command(full, ["tests/test_a.py", "tests/test_fuzz.py", "tests/test_plugin.py"], "py")
    assert first == ["py", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                     "tests/test_a.py", "--deselect", "tests/test_a.py::test_readme", "-k", "not slow"]
    only = shlex.split("py -m pytest tests/test_b.py tests/test_a.py::test_one")
    assert tool.first_stage_command(only, ["tests/test_a.py", "tests/test_c.py"], "py")[9:] == \
        ["tests/test_a.py::test_one"]
    assert tool.first_stage_command(only, ["tests/test_c.py"], "py") is None
    assert tool.first_stage_command(["make", "test"], ["tests/test_a.py"], "py") is None


def test_first_tests_table(tool):
    table = tool.parse_first_tests(["pytest_segmask/checks/glb.py=tests/test_checks_glb.py"],
                                   ["pytest_segmask/checks/glb.py", "pytest_segmask/checks/adjacency.py"])
    assert table["pytest_segmask/checks/glb.py"] == ["tests/test_checks_glb.py"]
    adjacency = table["pytest_segmask/checks/adjacency.py"]
    assert adjacency[:2] == ["tests/test_checks_adjacency.py", "tests/test_robust_companions.py"]
    assert "tests/test_fuzz.py" not in adjacency  # imports it, but a slow suite
    assert tool.parse_first_tests(None, ["x.py"]) is None
    with pytest.raises(ValueError):
        tool.parse_first_tests(["no-equals-sign"], ["x.py"])
