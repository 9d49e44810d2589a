"""Fixtures of the evaluation tests: one sandbox pool shared by the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evaluation.sandbox import Limits, Sandbox

# Small enough that memory bombs end quickly, large enough for every HumanEval solution.
TEST_LIMITS = Limits(memory_mb=256, file_size_mb=4, max_output_bytes=16 * 1024)


@pytest.fixture(scope="session")
def limits() -> Limits:
    return TEST_LIMITS


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A two-worker sandbox with the default isolation (namespaces where permitted)."""
    with Sandbox(workers=2, limits=TEST_LIMITS) as pool:
        yield pool


@pytest.fixture(scope="session")
def guard_only_sandbox() -> Iterator[Sandbox]:
    """A sandbox without namespaces: the fallback where only the guard and rlimits apply."""
    with Sandbox(workers=1, limits=TEST_LIMITS, namespaces=False) as pool:
        yield pool
