"""The verifier gate: a yes/no judgement, with a confidence taken from the logprobs.

The verifier (default ``qwen2.5-coder-14b-instruct``) is asked whether the code does what the
instruction says and answers in one word, greedily. Its confidence is P(yes) from the first
answer token's candidates: the log-probabilities of every spelling of "yes" (``Yes``, `` yes``,
``YES``...) are summed, likewise for "no", and the two are normalized against each other
(a softmax over two classes). A word absent from the listed candidates gets the smallest
listed logprob, an upper bound of its probability. The verdict is "yes" when P(yes) > 0.5
(a tie is "no", as in StarCoder2-Instruct's judge).

Fallback: when the server returns no logprobs (or refuses the request for them), the verdict
is read from the text and the confidence is marked unavailable (None). The gate then passes a
"Yes" only if ``require_confidence`` is off (the default), and says so in its reason.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from evolution.evolve.gates import GateResult

if TYPE_CHECKING:
    from evolution.clients.choice import Choice

Answer = Literal["yes", "no"]
_WORD = re.compile(r"[A-Za-z]+")


class ChatClient(Protocol):
    """The part of ``evolution.clients.OpenAIClient`` the flow uses."""

    async def chat(
        self,
        messages: Sequence[dict[str, str]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        n: int = 1,
        logprobs: bool | int | None = None,
    ) -> list[Choice]: ...


@dataclass(frozen=True)
class Verdict:
    """What the verifier said and how sure it was."""

    answer: Answer | None  # None: neither yes nor no
    confidence: float | None  # P(yes); None when the server gave no usable logprobs
    method: Literal["logprobs", "text"]
    text: str
    logprob_yes: float | None = None
    logprob_no: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict_from_choice(choice: Choice) -> Verdict:
    """Read the verdict from one verifier answer (see the module docstring)."""
    text_answer = _answer_word(choice.text)
    position = _first_word_position(choice)
    if position is None:
        note = "the server returned no logprobs: verdict read from the text"
        return Verdict(text_answer, None, "text", choice.text, note=note)
    candidates = dict(choice.top_logprobs[position]) if choice.top_logprobs else {}
    chosen = choice.token_logprobs[position] if choice.token_logprobs else None
    if choice.tokens and chosen is not None:
        candidates.setdefault(choice.tokens[position], float(chosen))
    yes, no = _class_logprob(candidates, "yes"), _class_logprob(candidates, "no")
    if yes is None and no is None:
        note = "neither yes nor no among the top candidates: verdict read from the text"
        return Verdict(text_answer, None, "text", choice.text, note=note)
    floor = min(candidates.values())
    yes_value = floor if yes is None else yes
    no_value = floor if no is None else no
    p_yes = 1.0 / (1.0 + math.exp(no_value - yes_value))
    return Verdict("yes" if p_yes > 0.5 else "no", p_yes, "logprobs", choice.text, yes, no)


def verifier_gate(
    verdict: Verdict, *, min_confidence: float, require_confidence: bool, started: float
) -> GateResult:
    """Pass a "yes" whose confidence reaches ``min_confidence`` (see the module docstring)."""
    details = verdict.to_dict()
    details["min_confidence"] = min_confidence
    if verdict.answer is None:
        passed, reason = False, f"the verifier answered neither Yes nor No: {verdict.text[:80]!r}"
    elif verdict.answer == "no":
        shown = f" (P(yes) = {verdict.confidence:.2f})" if verdict.confidence is not None else ""
        passed, reason = False, f"the verifier says the code does not do what was asked{shown}"
    elif verdict.confidence is None:
        passed = not require_confidence
        reason = "the verifier says Yes; its confidence is unavailable (no logprobs)" + (
            "" if passed else ", and a confidence is required"
        )
    elif verdict.confidence < min_confidence:
        passed = False
        reason = (
            f"the verifier says Yes with confidence {verdict.confidence:.2f}, below the "
            f"minimum {min_confidence:.2f}"
        )
    else:
        passed, reason = True, f"the verifier says Yes (confidence {verdict.confidence:.2f})"
    return GateResult("verifier", passed, reason, details, round(time.perf_counter() - started, 4))


def _answer_word(text: str) -> Answer | None:
    match = _WORD.search(text)
    word = match.group().lower() if match else ""
    return "yes" if word == "yes" else "no" if word == "no" else None


def _first_word_position(choice: Choice) -> int | None:
    """Index of the first generated token holding a letter (chat templates may lead with space)."""
    if not choice.tokens or not choice.top_logprobs:
        return None
    for index, token in enumerate(choice.tokens):
        if _WORD.search(token):
            return index if index < len(choice.top_logprobs) else None
    return None


def _class_logprob(candidates: dict[str, float], word: str) -> float | None:
    """log of the summed probability of every candidate spelling ``word``."""
    values = [lp for token, lp in candidates.items() if _normalized(token) == word]
    if not values:
        return None
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _normalized(token: str) -> str:
    return token.strip().strip(".,!:;\"'*").lower()
