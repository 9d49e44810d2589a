"""Golden cases of the name filter and the code filter."""

from __future__ import annotations

import pytest

from evolution.datagen.config import DatagenConfig
from evolution.datagen.filters.code import CodeFilter, CodeSample, cut_function, ruff_many
from evolution.datagen.filters.names import NameFilter


@pytest.fixture(scope="module")
def names(benchmark_names) -> NameFilter:
    config = DatagenConfig()
    return NameFilter(
        name_regex=config.filters.name_regex,
        weaklist=config.namegen.weaklist,
        benchmark_names=benchmark_names,
        stops=config.namegen.stop,
        end_tokens=config.prompts.end_tokens,
    )


@pytest.mark.parametrize(
    ("text", "finish", "name", "reason"),
    [
        ("merge_intervals", "stop", "merge_intervals", None),
        ("binary_search(arr, x):", "stop", "binary_search", None),  # the server ignored stop
        ("top_k_frequent<|endoftext|>", "stop", "top_k_frequent", None),
        ("match", "stop", "match", None),  # a soft keyword is a valid name
        ("", "stop", "", "empty"),
        ("   ", "stop", "", "empty"),
        (" spaced_name", "stop", "", "empty"),  # the first character was a stop sequence
        ("<|fim_pad|><|fim_pad|>", "stop", "", "empty"),
        ("very_long_name_that_was_cut", "length", "very_long_name_that_was_cut", "truncated"),
        ("def class", "stop", "def", "keyword"),  # cut at the space: "def"
        ("class", "stop", "class", "keyword"),
        ("lambda", "stop", "lambda", "keyword"),
        ("3sum", "stop", "3sum", "not_identifier"),
        ("two-sum", "stop", "two-sum", "not_identifier"),
        ("zero\u200bwidth", "stop", "zero\u200bwidth", "not_identifier"),
        ("MergeSort", "stop", "MergeSort", "style"),
        ("_private_helper", "stop", "_private_helper", "style"),
        ("ab", "stop", "ab", "style"),  # shorter than 3
        ("trie__insert", "stop", "trie__insert", "style"),
        ("переставить", "stop", "переставить", "style"),  # a valid identifier, not ASCII
        ("sorted", "stop", "sorted", "builtin"),
        ("func2", "stop", "func2", "weak"),
        ("solve_", "stop", "solve_", "style"),  # trailing underscore fails the style first
        ("my_function", "stop", "my_function", "weak"),
        ("has_close_elements", "stop", "has_close_elements", "benchmark"),  # HumanEval/0
        ("below_zero", "stop", "below_zero", "benchmark"),  # HumanEval/3
    ],
)
def test_name_golden_cases(names, text, finish, name, reason) -> None:
    verdict = names.judge(text, finish)
    assert (verdict.name, verdict.reason) == (name, reason)


def test_unicode_names_are_read_as_python_reads_them(names) -> None:
    fullwidth = names.judge("ｑｕｉｃｋ_ｓｅｌｅｃｔ", "stop")  # NFKC: quick_select
    assert (fullwidth.name, fullwidth.reason, fullwidth.non_ascii) == ("quick_select", None, True)
    cyrillic = names.judge("переставить", "stop")
    assert cyrillic.non_ascii and not cyrillic.compliant
    permissive = NameFilter(name_regex=r"\w+", weaklist=[], benchmark_names=[])
    assert permissive.judge("переставить").kept


def test_compliance_ends_at_the_style_check(names) -> None:
    assert names.judge("sorted").compliant and not names.judge("sorted").kept
    assert names.judge("func2").compliant and names.is_weak("func2")
    assert names.judge("has_close_elements").compliant
    assert not names.judge("class").compliant and not names.judge("").compliant


# --- code -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "cut", "complete"),
    [
        ("def f(x): return x\nprint(f(1))\n", "def f(x): return x\n", True),
        ("def f(x):\n    return x\n\n\nprint(f(1))\n", "def f(x):\n    return x\n", True),
        ("def f(a,\nb):\n    return a\n# usage\nf(1, 2)\n", "def f(a,\nb):\n    return a\n", True),
        ("def f():\n    x = 1\n# note\n    return x\n", None, False),  # a comment inside
        ("def f(x):\n    return x\n@cache\ndef g(): pass\n", "def f(x):\n    return x\n", True),
        ("def f():\n    s = '''a\nb'''\n    return s\nx = 1",
         "def f():\n    s = '''a\nb'''\n    return s\n", True),  # a string at column 0
        ("def f():\n    return 1\n\n", "def f():\n    return 1\n", False),  # ended by a stop
        ("def f():\n    x = [1,\n", "def f():\n    x = [1,\n", False),  # cut by max_tokens
    ],
)  # fmt: skip
def test_cut_function_ends_at_the_next_top_level_line(code, cut, complete) -> None:
    assert cut_function(code) == (code if cut is None else cut, complete)


@pytest.fixture(scope="module")
def code_filter(benchmark_names) -> CodeFilter:
    return CodeFilter(
        min_len=30,
        enable_ast=True,
        enable_ruff=True,
        ruff_select=("F", "E9"),
        reject_stubs=True,
        benchmark_names=benchmark_names,
    )


GOOD = "def add_all(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"


def sample(code: str, name: str | None = "add_all", complete: bool = True, finish: str = "stop"):
    return CodeSample(code, name, complete, finish)


def test_code_golden_cases(code_filter) -> None:
    cases = [
        (sample(GOOD), None),
        (sample("def add_all(\n"), "empty"),
        (sample("def add_all(xs):\n    total = 0\n    for x in", complete=False, finish="length"),
         "truncated"),
        (sample("def add_all(xs): return 1\n"), "too_short"),
        (sample("def add_all(xs):\n    return [x for x in xs if x >\n"), "syntax"),
        (sample(GOOD.replace("add_all", "sum_all"), name="add_all"), "no_function"),
        (sample(GOOD + "\ndef other():\n    return 1\n"), "no_function"),
        (sample('def add_all(xs):\n    """Add them all up, one by one."""\n    ...\n'), "stub"),
        (sample("def add_all(xs):\n    raise NotImplementedError('later, later')\n"), "stub"),
        (sample("def below_zero(ops):\n    return any(o < 0 for o in ops)\n", name=None),
         "benchmark"),
        (sample("def add_all(xs):\n    return sum(map(undefined_fn, xs))\n"), "ruff"),
        (sample("def add_all(values):\n    # sum\n    total = 0\n    for v in values:\n"
                "        total += v\n    return total\n"), "duplicate"),
        (sample("def count_odd(xs):\n    return sum(1 for x in xs if x % 2)\n", name=None), None),
    ]  # fmt: skip
    verdicts = code_filter.judge_all([case for case, _ in cases])
    assert [v.reason for v in verdicts] == [reason for _, reason in cases]
    assert "F821" in verdicts[10].detail
    assert verdicts[0].ast_hash == verdicts[11].ast_hash  # renamed locals, a comment: same AST
    assert verdicts[12].func_name == "count_odd"


def test_the_checks_can_be_turned_off(benchmark_names) -> None:
    lenient = CodeFilter(
        min_len=0,
        enable_ast=False,
        enable_ruff=False,
        ruff_select=("F",),
        reject_stubs=False,
        benchmark_names=benchmark_names,
    )
    broken = sample("def add_all(xs):\n    return [x for x in xs if x >\n")
    undefined = sample("def add_all(xs):\n    return undefined_fn(xs)\n")
    assert [v.reason for v in lenient.judge_all([broken, undefined, broken])] == [
        None,
        None,
        "duplicate",  # without an AST, the same text
    ]


def test_ruff_runs_once_for_many_snippets_and_maps_findings_back() -> None:
    found = ruff_many(["x = 1\n", "print(y)\n", "import os\n", "def f(:\n"], ["F", "E9"])
    assert found[0] == []
    assert found[1][0].startswith("F821")
    assert found[2][0].startswith("F401")
    assert found[3] and found[3][0].startswith("invalid-syntax")
    assert ruff_many([], ["F"]) == []
