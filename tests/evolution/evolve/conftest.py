"""Fixtures for the self-evolve flow: one real sandbox shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One real evaluation sandbox (2 workers) for every test of the flow."""
    from evaluation.sandbox import Sandbox

    with Sandbox(workers=2) as pool:
        yield pool
