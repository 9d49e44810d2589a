"""Fixtures for the datagen tests: HumanEval's entry-point names and a scripted test server."""

from __future__ import annotations

import pytest
from datagen_helpers import script


@pytest.fixture(scope="session")
def benchmark_names() -> frozenset[str]:
    """The real HumanEval entry points (``evaluation.datasets``), as the filters see them."""
    from evaluation.datasets import benchmark_entry_points

    return benchmark_entry_points(("humaneval",))


@pytest.fixture
def server(test_server):
    """The test server answering both stages of the pipeline (see ``datagen_helpers``)."""
    test_server.set_script(script())
    return test_server
