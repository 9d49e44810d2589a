"""Fixtures for the training-data store: a HumanEval decontaminator and a draft factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from evolution.store import (
    Decontaminator,
    Provenance,
    RecordContext,
    RecordDraft,
    load_benchmark_texts,
)


@pytest.fixture(scope="session")
def humaneval_decontaminator() -> Decontaminator:
    """The real 164 HumanEval tasks (from evaluation.datasets) as decontamination sees them."""
    return Decontaminator(load_benchmark_texts(["humaneval"]))


@pytest.fixture
def make_draft() -> Callable[..., RecordDraft]:
    def make(
        code: str,
        instruct: str = "Return the area of a rectangle.",
        source: str = "editor",
        task_id: str | None = None,
        class_name: str | None = None,
    ) -> RecordDraft:
        return RecordDraft(
            instruct=instruct,
            code=code,
            source=source,  # type: ignore[arg-type]
            context=RecordContext(path="geometry.py", function_name="area", class_name=class_name),
            provenance=Provenance(
                generator_model="qwen2.5-coder-32b-instruct",
                verifier_model="qwen2.5-coder-14b-instruct",
                prompt_hashes={"generator": "ab" * 32},
                sampling={"generator": {"temperature": 0.2, "max_tokens": 2048}},
                gates=[{"name": "syntax", "passed": True, "reason": "", "details": {}}],
                verdict="yes",
                confidence=0.93,
                task_id=task_id,
            ),
        )

    return make
