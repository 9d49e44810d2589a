"""Scripted generator and verifier answers for the self-evolve tests (the real test server).

The generator answers in the format ``evolution/evolve/prompts.py`` asks for (two fenced
blocks, ``# improved`` then ``# tests``); the verifier answers "Yes" with logprobs on its
first token, as a vLLM or OpenAI server does.
"""

from __future__ import annotations

from typing import Any

GENERATOR = "qwen2.5-coder-32b-instruct"
VERIFIER = "qwen2.5-coder-14b-instruct"

MEAN = (
    'def mean(values):\n    """Arithmetic mean; 0.0 for no values."""\n    if not values:\n'
    "        return 0.0\n    return math.fsum(values) / len(values)\n"
)
MEAN_TESTS = "assert mean([]) == 0.0\nassert mean([1, 2, 3]) == 2.0\n"
ADD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0\n"


def reply(code: str, tests: str) -> str:
    return (
        "Here is the improved version.\n\n"
        f"```python\n# improved\n{code.strip()}\n```\n\n```python\n# tests\n{tests.strip()}\n```\n"
    )


def script(code: str = MEAN, tests: str = MEAN_TESTS, **generator: Any) -> dict[str, Any]:
    """A generator that answers with ``code`` and ``tests``, and a verifier that says Yes."""
    return {
        "rules": [
            {"model": GENERATOR, "text": reply(code, tests), **generator},
            {"model": VERIFIER, "text": "Yes", "logprobs": [{"Yes": -0.05, "No": -3.2}]},
        ]
    }
