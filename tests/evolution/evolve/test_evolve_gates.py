"""The syntax, execution (real sandbox) and verifier gates."""

from __future__ import annotations

import math

import pytest

from evolution.clients.choice import Choice
from evolution.evolve import Position, locate_function
from evolution.evolve.gates import execution_gate, syntax_gate
from evolution.evolve.verify import verdict_from_choice, verifier_gate

# --- syntax ------------------------------------------------------------------------------


def test_syntax_gate_rejects_code_that_does_not_parse():
    gate = syntax_gate("def f(x:\n    return x\n")
    assert not gate.passed and gate.name == "syntax"
    assert gate.reason.startswith("the code does not parse: line 1")


def test_syntax_gate_blocks_undefined_names_but_not_style_findings():
    undefined = syntax_gate("def f(x):\n    return y\n")
    assert not undefined.passed and "F821" in undefined.reason and "line 2" in undefined.reason
    unused_import = syntax_gate("import os\n\ndef f(x):\n    return x\n")
    assert unused_import.passed
    assert any("F401" in finding for finding in unused_import.details["ruff"])


def test_syntax_gate_sees_helpers_from_the_file_and_reports_lines_of_the_code():
    context = "LIMIT = 3\n\ndef helper(v):\n    return v * LIMIT\n"
    assert syntax_gate("def f(x):\n    return helper(x)\n", context).passed
    broken = syntax_gate("def f(x):\n    return helper(x) + missing\n", context)
    assert not broken.passed and "at line 2" in broken.reason


# --- execution (real sandbox) ------------------------------------------------------------

SOURCE = "import math\n\n\ndef hyp(a, b):\n    return (a * a + b * b) ** 0.5\n"
NEW = "def hyp(a, b):\n    return math.hypot(a, b)\n"


@pytest.fixture
def location():
    return locate_function(SOURCE, Position(4, 4))


async def run(sandbox, location, tests, code=NEW, timeout_s=5.0):
    return await execution_gate(sandbox, location, code, tests, "hyp", timeout_s)


async def test_passing_tests_pass_with_the_files_imports(sandbox, location):
    gate = await run(
        sandbox, location, "assert hyp(3, 4) == 5.0\ndef test_zero():\n    assert hyp(0, 0) == 0\n"
    )
    assert gate.passed, gate.details
    assert gate.reason == "the tests passed (2 asserts; 1 test functions, 0 TestCases)"


async def test_a_failing_assert_fails_the_gate(sandbox, location):
    gate = await run(sandbox, location, "assert hyp(3, 4) == 6.0, 'wrong hypotenuse'\n")
    assert not gate.passed and gate.details["outcome"] == "failed"
    assert "a test failed" in gate.reason and "wrong hypotenuse" in gate.reason


async def test_test_functions_and_testcases_are_really_run(sandbox, location):
    failing_function = "def test_bad():\n    assert hyp(1, 1) == 3\n"
    assert not (await run(sandbox, location, failing_function)).passed
    failing_case = (
        "import unittest\n\nclass T(unittest.TestCase):\n"
        "    def test_bad(self):\n        self.assertEqual(hyp(1, 1), 3)\n"
    )
    gate = await run(sandbox, location, failing_case)
    assert not gate.passed and "test_bad" in gate.reason


@pytest.mark.parametrize(
    ("tests", "reason"),
    [
        (None, "the generator wrote no tests"),
        ("hyp(3, 4)\n", "no real assert"),
        ("assert True\nhyp(1, 2)\n", "no real assert"),
        ("assert 1 + 1 == 2\n", "never call `hyp`"),
        ("assert hyp(3, 4 ==\n", "the tests do not parse"),
    ],
)
async def test_tests_that_are_not_tests_fail_before_running(sandbox, location, tests, reason):
    gate = await run(sandbox, location, tests)
    assert not gate.passed and reason in gate.reason
    assert "outcome" not in gate.details  # nothing was run


async def test_importing_the_function_from_a_made_up_module_still_works(sandbox, location):
    gate = await run(sandbox, location, "from solution import hyp\nassert hyp(3, 4) == 5.0\n")
    assert gate.passed, gate.details


async def test_a_hanging_test_is_stopped_and_reported(sandbox, location):
    hang = "while hyp(3, 4):\n    pass\nassert hyp(1, 1) > 0\n"
    gate = await run(sandbox, location, hang, timeout_s=1.0)
    assert not gate.passed and gate.details["outcome"] == "timeout"
    assert gate.reason == "the tests ran past 1 s and were stopped (a hang?)"


@pytest.mark.parametrize(
    ("escape", "blocked"),
    [
        ("import os\nos.system('touch {target}')\n", "starting a process"),
        ("import subprocess\nsubprocess.run(['touch', '{target}'])\n", "starting a process"),
        ("open('{target}', 'w').write('escaped')\n", "writing"),
        ("import socket\nsocket.create_connection(('127.0.0.1', 9))\n", "not allowed"),
    ],
)
async def test_tests_that_try_to_escape_are_contained(sandbox, location, escape, blocked, tmp_path):
    target = tmp_path / "escaped"
    tests = escape.format(target=target) + "assert hyp(3, 4) == 5.0\n"
    gate = await run(sandbox, location, tests)
    assert not gate.passed and gate.details["outcome"] == "error"
    assert blocked in gate.reason
    assert not target.exists()  # nothing reached the host's files
    again = await run(sandbox, location, "assert hyp(3, 4) == 5.0\n")
    assert again.passed  # the sandbox carries on


async def test_a_method_runs_inside_its_class(sandbox):
    source = (
        "class Counter:\n    start = 10\n\n    def __init__(self):\n        self.n = self.start\n\n"
        "    def bump(self, by=1):\n        self.n += by\n        return self.n\n"
    )
    location = locate_function(source, Position(7, 8))
    new = (
        "def bump(self, by=1):\n    if by < 0:\n        raise ValueError(by)\n"
        "    self.n += by\n    return self.n\n"
    )
    tests = "c = Counter()\nassert c.bump() == 11\nassert c.bump(4) == 15\n"
    gate = await execution_gate(sandbox, location, new, tests, "bump", 5.0)
    assert gate.passed, gate.details


# --- verifier ----------------------------------------------------------------------------


def choice(text: str, candidates: list[dict[str, float]] | None, tokens=None) -> Choice:
    if candidates is None:
        return Choice(index=0, text=text)
    tokens = tokens or tuple(text.split())[:1]
    return Choice(
        index=0,
        text=text,
        tokens=tuple(tokens),
        token_logprobs=tuple(max(c.values()) for c in candidates),
        top_logprobs=tuple(candidates),
    )


def test_confidence_is_the_softmax_of_yes_against_no():
    verdict = verdict_from_choice(choice("Yes", [{"Yes": -0.1, "No": -2.5, "Maybe": -4.0}]))
    assert verdict.answer == "yes" and verdict.method == "logprobs"
    assert verdict.confidence == pytest.approx(1 / (1 + math.exp(-2.5 + 0.1)))


def test_every_spelling_of_yes_counts():
    candidates = [{"Yes": -1.2, " yes": -1.2, "YES": -1.2, "No": -1.0}]
    verdict = verdict_from_choice(choice("Yes", candidates, tokens=("Yes",)))
    p_yes = 3 * math.exp(-1.2)
    assert verdict.confidence == pytest.approx(p_yes / (p_yes + math.exp(-1.0)))
    assert verdict.answer == "yes"


def test_leading_whitespace_tokens_are_skipped():
    candidates = [{"\n": -0.01}, {"No": -0.2, "Yes": -1.8}]
    verdict = verdict_from_choice(choice("\nNo", candidates, tokens=("\n", "No")))
    assert verdict.answer == "no" and verdict.confidence == pytest.approx(
        1 / (1 + math.exp(-0.2 + 1.8))
    )


def test_a_missing_word_gets_the_smallest_listed_logprob():
    verdict = verdict_from_choice(choice("Yes", [{"Yes": -0.01, "Sure": -5.0}]))
    assert verdict.logprob_no is None
    assert verdict.confidence == pytest.approx(1 / (1 + math.exp(-5.0 + 0.01)))


def test_without_logprobs_the_verdict_comes_from_the_text():
    verdict = verdict_from_choice(choice("Yes.", None))
    assert verdict.answer == "yes" and verdict.confidence is None and verdict.method == "text"
    assert verdict_from_choice(choice("Hmm, hard to say", None)).answer is None


@pytest.mark.parametrize(
    ("text", "candidates", "min_confidence", "required", "passed", "reason"),
    [
        ("Yes", [{"Yes": -0.05, "No": -3.2}], 0.5, False, True, "says Yes (confidence 0.96)"),
        ("Yes", [{"Yes": -0.6, "No": -0.8}], 0.8, False, False, "below the minimum 0.80"),
        ("No", [{"Yes": -2.0, "No": -0.1}], 0.5, False, False, "does not do what was asked"),
        ("Yes", None, 0.5, False, True, "confidence is unavailable"),
        ("Yes", None, 0.5, True, False, "a confidence is required"),
        ("Perhaps", None, 0.5, False, False, "neither Yes nor No"),
    ],
)
def test_verifier_gate_rules(text, candidates, min_confidence, required, passed, reason):
    verdict = verdict_from_choice(choice(text, candidates))
    gate = verifier_gate(
        verdict, min_confidence=min_confidence, require_confidence=required, started=0.0
    )
    assert gate.passed is passed and reason in gate.reason


PACKAGE_MODULE = """from __future__ import annotations

from .units import to_metres
import numpy_that_is_not_here as np


def area(w: Side, h: Side) -> float:
    return w * h


def area_in_metres(w, h):
    return to_metres(w) * to_metres(h)


class Side(float):
    pass
"""


async def test_imports_that_fail_in_the_sandbox_only_fail_when_used(sandbox):
    area = locate_function(PACKAGE_MODULE, Position(7, 4))
    gate = await execution_gate(sandbox, area, area.code, "assert area(2, 3) == 6\n", "area", 5.0)
    assert gate.passed, gate.details  # the future import made `Side` a lazy annotation
    in_metres = locate_function(PACKAGE_MODULE, Position(11, 4))
    tests = "assert area_in_metres(100, 100) == 1.0\n"
    gate = await execution_gate(sandbox, in_metres, in_metres.code, tests, "area_in_metres", 5.0)
    assert not gate.passed and gate.details["exc_type"] == "ImportError"
    assert "'from .units import to_metres' failed in the sandbox" in gate.reason


@pytest.fixture(params=["in the repository", "under /tmp", "under a folder mode 0700"])
def package_home(request, pytestconfig, tmp_path):
    """Where the user's package lives. The sandbox covers /tmp with a private tmpfs, and its
    user may not enter a 0700 folder: the gate has it show the package's folder anyway."""
    if request.param == "under /tmp":
        return tmp_path
    home = pytestconfig.cache.mkdir("evolve-package")
    if request.param == "under a folder mode 0700":
        home.chmod(0o755)
        home = home / "private"
        home.mkdir(exist_ok=True)
        home.chmod(0o700)
        home = home / "project"
        home.mkdir(exist_ok=True)
    return home


async def test_the_files_own_package_is_importable_when_its_path_is_known(sandbox, package_home):
    package = package_home / "shapes"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "units.py").write_text("def to_metres(cm):\n    return cm / 100\n")
    for entry in (package_home, package, package / "__init__.py", package / "units.py"):
        entry.chmod(0o755)
    module = "from shapes.units import to_metres\n\n\ndef width(cm):\n    return to_metres(cm)\n"
    location = locate_function(module, Position(4, 4))
    tests = "assert width(250) == 2.5\n"
    path = str(package / "geometry.py")
    gate = await execution_gate(sandbox, location, location.code, tests, "width", 5.0, path)
    assert gate.passed, gate.details
    assert "unreadable" not in gate.details
    elsewhere = await execution_gate(sandbox, location, location.code, tests, "width", 5.0)
    assert not elsewhere.passed and elsewhere.details["exc_type"] == "ImportError"


async def test_a_file_in_tmp_itself_runs_without_its_folder_and_says_why(sandbox):
    module = "import helpers\n\n\ndef double(x):\n    return helpers.twice(x)\n"
    location = locate_function(module, Position(4, 4))
    tests = "assert double(2) == 4\n"
    gate = await execution_gate(sandbox, location, location.code, tests, "double", 5.0, "/tmp/x.py")
    assert not gate.passed and gate.details["exc_type"] == "ImportError"
    assert gate.details["unreadable"] == ["/tmp stays private to the sandbox: it cannot be shown"]
