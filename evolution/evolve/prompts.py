"""The generator's and the verifier's chat prompts, and the hash that records which was sent.

The generator is asked for exactly two fenced Python blocks, the first starting with the
comment ``# improved`` and the second with ``# tests``; ``parse`` also copes with replies that
do not follow the format. The verifier is asked one yes/no question, answered in one token so
that its first token's logprobs carry the verdict's confidence.
"""

from __future__ import annotations

import hashlib
import json

from evolution.evolve.instruction import Instruction
from evolution.evolve.locate import FunctionLocation

Messages = list[dict[str, str]]

GENERATOR_SYSTEM = (
    "You are an expert Python engineer. You improve one function at a time so that it does "
    "exactly what its task says, correctly on every input, and you prove it with unit tests."
)
VERIFIER_SYSTEM = (
    "You are a meticulous code reviewer. You judge whether code does what an instruction "
    "asks, and you answer with a single word: Yes or No."
)
VERIFIER_QUESTION = "Does the code do what the instruction says, correctly and completely?"
IMPROVED_LABEL = "# improved"
TESTS_LABEL = "# tests"


def generator_messages(
    location: FunctionLocation, instruction: Instruction, context: str
) -> Messages:
    """The chat messages asking the generator for the improved function and its tests."""
    what = (
        f"method `{location.name}` of class `{location.class_name}`"
        if location.is_method
        else (f"function `{location.name}`")
    )
    parts = [f"Task:\n{instruction.text}"]
    if context.strip():
        parts.append(
            "Context from the same file (already defined there; do not repeat it):\n"
            f"```python\n{context.strip()}\n```"
        )
    parts.append(f"Current code of the {what}:\n```python\n{location.code.rstrip()}\n```")
    rules = [
        f"Rewrite the {what} so that it does what the task says.",
        f"Keep the name `{location.name}` and stay compatible with existing callers: the same "
        "parameters in the same order; new parameters only with default values.",
    ]
    if location.is_method:
        rules.append(
            "Write the method alone, starting at column 0, with its decorators and `self` "
            "(or `cls`) as in the current code."
        )
        call = f"create a `{location.class_name}` and call `{location.name}` on it"
    else:
        rules.append("Put any import the new code needs right above the function.")
        call = f"call `{location.name}`"
    rules.append(
        f"Then write unit tests: top-level `assert` statements (or `def test_...()` functions "
        f"using `assert`) that {call} and check the results, edge cases included. The tests "
        "must not use the network, files, subprocesses or sleep, and must finish in a second."
    )
    parts.append("\n".join(f"- {rule}" for rule in rules))
    parts.append(
        "Answer with exactly two fenced Python code blocks, in this order:\n"
        f"```python\n{IMPROVED_LABEL}\n<the complete improved {what}>\n```\n"
        f"```python\n{TESTS_LABEL}\n<the unit tests>\n```"
    )
    return [
        {"role": "system", "content": GENERATOR_SYSTEM},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def writer_messages(instruction: Instruction) -> Messages:
    """The chat messages asking the generator for a new function (no existing code)."""
    rules = (
        "- Write one self-contained Python function that does what the task says, with the "
        "imports it needs right above it.\n"
        "- Then write unit tests: top-level `assert` statements (or `def test_...()` functions "
        "using `assert`) that call the function and check the results, edge cases included. "
        "The tests must not use the network, files, subprocesses or sleep, and must finish in "
        "a second."
    )
    answer = (
        "Answer with exactly two fenced Python code blocks, in this order:\n"
        f"```python\n{IMPROVED_LABEL}\n<the function>\n```\n"
        f"```python\n{TESTS_LABEL}\n<the unit tests>\n```"
    )
    content = f"Task:\n{instruction.text}\n\n{rules}\n\n{answer}"
    return [
        {"role": "system", "content": GENERATOR_SYSTEM},
        {"role": "user", "content": content},
    ]


def verifier_messages(instruction: Instruction, code: str) -> Messages:
    """The yes/no question for the verifier about ``code`` and the instruction."""
    question = (
        f"Instruction:\n{instruction.text}\n\n"
        f"Code:\n```python\n{code.rstrip()}\n```\n\n"
        f"{VERIFIER_QUESTION} Answer with one word: Yes or No."
    )
    return [
        {"role": "system", "content": VERIFIER_SYSTEM},
        {"role": "user", "content": question},
    ]


def prompt_hash(messages: Messages) -> str:
    """SHA-256 of the messages as sent (provenance without storing the whole prompt)."""
    blob = json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()
