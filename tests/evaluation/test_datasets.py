"""Datasets: HumanEval from the package, the derived infill set, local files, hub datasets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from evaluation.datasets import benchmark_entry_points, benchmark_texts, load_tasks
from evaluation.errors import DatasetError, DatasetNotAvailable

MBPP_ROWS = [
    {
        "task_id": 11,
        "text": "Write a python function to remove first and last occurrence of a given character.",
        "code": "def remove_Occ(s,ch): \r\n"
        "    return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]",
        "test_list": [
            'assert remove_Occ("hello","l") == "heo"',
            'assert remove_Occ("abcda","a") == "bcd"',
        ],
        "test_setup_code": "",
    },
    {
        "task_id": 12,
        "text": "Write a function to sort a matrix by the sum of its rows.",
        "code": "def helper(r):\n    return sum(r)\n"
        "def sort_matrix(M):\n    return sorted(M, key=helper)",
        "test_list": ["assert sort_matrix([[1, 2], [0]]) == [[0], [1, 2]]"],
        "test_setup_code": "",
    },
]


def test_humaneval_has_164_complete_tasks() -> None:
    tasks = load_tasks("humaneval")
    assert len(tasks) == 164
    first = tasks[0]
    assert (first.task_id, first.entry_point, first.kind) == (
        "HumanEval/0",
        "has_close_elements",
        "complete",
    )
    assert first.prompt.endswith('"""\n') and "def check(candidate)" in first.test
    assert all(t.canonical_solution for t in tasks)
    assert [t.task_id for t in load_tasks("HumanEval", limit=3)] == [
        f"HumanEval/{i}" for i in range(3)
    ]


def test_infill_tasks_rebuild_the_canonical_solution() -> None:
    tasks = load_tasks("humaneval-infill")
    assert len(tasks) == 1033  # every non-blank canonical line: the published set's size
    by_task = {t.task_id: t for t in load_tasks("humaneval")}
    for task in tasks[:200]:
        source = by_task[task.task_id.rsplit("/L", 1)[0]]
        assert task.kind == "infill" and task.dataset == "humaneval-infill"
        assert task.canonical_solution and task.canonical_solution.strip()
        rebuilt = task.prompt + task.canonical_solution + task.suffix
        assert rebuilt.rstrip("\n") == (source.prompt + (source.canonical_solution or "")).rstrip(
            "\n"
        )


def test_local_jsonl_and_gzip(tmp_path: Path) -> None:
    rows = [
        {
            "task_id": "T/0",
            "prompt": "def f():\n",
            "entry_point": "f",
            "test": "def check(c):\n    assert c() == 1\n",
            "canonical_solution": "    return 1\n",
        },
        {
            "task_id": "T/1",
            "prompt": "def g():\n",
            "entry_point": "g",
            "test": "def check(c):\n    assert c() == 2\n",
        },
    ]
    plain = tmp_path / "tasks.jsonl"
    plain.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    zipped = tmp_path / "tasks.jsonl.gz"
    with gzip.open(zipped, "wt") as stream:
        stream.write("".join(json.dumps(r) + "\n" for r in rows))
    for path in (plain, zipped):
        tasks = load_tasks(str(path))
        assert [t.task_id for t in tasks] == ["T/0", "T/1"]
        assert tasks[1].canonical_solution is None and tasks[0].dataset == str(path)


def test_malformed_dataset_names_every_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = {"task_id": "T/0", "prompt": "p", "entry_point": "f", "test": ""}
    path.write_text(
        json.dumps(good)
        + "\n"
        + "{not json\n"
        + json.dumps({**good, "entry_point": "not a name"})
        + "\n"
        + json.dumps({"task_id": "T/3"})
        + "\n"
        + json.dumps(good)
        + "\n"
    )
    with pytest.raises(DatasetError) as error:
        load_tasks(str(path))
    message = str(error.value)
    assert "3 bad line(s)" in message
    assert "line 2" in message and "line 3" in message and "line 4" in message
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DatasetError, match="repeats task ids: T/0"):
        load_tasks(str(path))


def test_mbpp_shaped_rows_become_tasks(tmp_path: Path) -> None:
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in MBPP_ROWS))
    first, second = load_tasks(str(path))
    assert (first.task_id, first.entry_point) == ("Mbpp/11", "remove_Occ")
    assert second.entry_point == "sort_matrix"  # the function the test calls, not the helper
    assert 'assert remove_Occ("hello","l") == "heo"' in first.prompt
    assert "\r" not in (first.canonical_solution or "")
    namespace: dict[str, object] = {}
    exec(first.prompt + (first.canonical_solution or "") + "\n" + first.test, namespace)
    namespace["check"](namespace["remove_Occ"])  # type: ignore[operator]


def test_local_file_through_the_datasets_library(tmp_path: Path) -> None:
    path = tmp_path / "mbpp-rows.json"  # .json goes through `datasets` (json builder)
    path.write_text("".join(json.dumps(r) + "\n" for r in MBPP_ROWS))
    tasks = load_tasks(str(path))
    assert [t.task_id for t in tasks] == ["Mbpp/11", "Mbpp/12"]


def test_hub_dataset_not_in_the_cache_says_what_to_do_without_touching_the_network() -> None:
    with pytest.raises(DatasetNotAvailable) as error:
        load_tasks("evoselfcode-tests/no-such-dataset")
    message = str(error.value)
    assert "evoselfcode-tests/no-such-dataset is not in the local Hugging Face cache" in message
    assert "--download" in message and "--dataset" in message
    # The hub client was in offline mode: it never tried (and retried) the network.
    assert "OfflineModeIsEnabled" in str(error.value.__cause__)


def test_unknown_names_and_missing_files() -> None:
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_tasks("humaneval-plus-plus")
    with pytest.raises(DatasetError, match="no dataset file"):
        load_tasks("/nonexistent/tasks.jsonl")
    with pytest.raises(DatasetError, match="limit"):
        load_tasks("humaneval", limit=0)


def test_benchmark_names_and_texts_skip_what_is_not_installed() -> None:
    names = benchmark_entry_points()
    assert {"has_close_elements", "truncate_number", "sort_third"} <= names
    assert len(names) >= 150  # a few HumanEval names repeat (add, ...)
    texts = benchmark_texts(["humaneval", "mbpp"])  # MBPP is not cached here: skipped
    first = load_tasks("humaneval", limit=1)[0]
    assert texts[0].text == first.prompt + (first.canonical_solution or "")
    assert texts[0].dataset == "humaneval" and texts[0].entry_point == "has_close_elements"
    assert {t.dataset for t in texts} <= {"humaneval", "mbpp"}
