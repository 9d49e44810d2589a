"""Scripted generator and verifier replies for the self-evolve tests (test server rules)."""

from __future__ import annotations

from typing import Any

GENERATOR = "qwen2.5-coder-32b-instruct"
VERIFIER = "qwen2.5-coder-14b-instruct"


def reply(code: str, tests: str, prose: str = "Here is the improved version.") -> str:
    """A generator reply in the asked-for format: prose, then two labelled fenced blocks."""
    return (
        f"{prose}\n\n```python\n# improved\n{code.strip()}\n```\n\n"
        f"```python\n# tests\n{tests.strip()}\n```\n"
    )


def verifier_rule(answer: str = "Yes", yes: float = -0.05, no: float = -3.2, **extra: Any) -> dict:
    """A scripted verifier answer whose first token carries Yes/No logprobs."""
    return {"model": VERIFIER, "text": answer, "logprobs": [{"Yes": yes, "No": no}], **extra}


def generator_rule(text: str, **extra: Any) -> dict:
    return {"model": GENERATOR, "text": text, **extra}
