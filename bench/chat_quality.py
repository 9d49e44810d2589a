"""Does the chat variant answer an instruction with a function, better than its base model?

    python bench/chat_quality.py [--chat models/evoselfcode-small-chat]
        [--base models/evoselfcode-small] [--pairs 0] [--max-new-tokens 256]
        [--humaneval 164] [--write-card]

The items are the docstring → function pairs of the files the base model held out by path
(``heldout.json``; ``evolution.chattune.pairs``): neither model trained on them. Both models are
asked the same way, as "Generate code from this instruction" asks: a ChatML turn with the
server's default system prompt, the instruction ``Write a Python function `def …:``` + the
docstring, greedy decoding; the code is taken from the answer by the server's own
``extract_code``. Scores per pair: the answer holds a function that parses (``ast``), the edit
similarity of its body to the real body (``evaluation.line_holes.edit_similarity``; an answer
that does not parse is scored on the lines after its ``def`` line), and whether it stopped by
itself. Paired comparisons (``evolution.finetune.hole_comparison.compare_scores``): exact
McNemar for the parse share, Wilcoxon signed-rank for similarity, each with a 95% paired
bootstrap interval of the difference. HumanEval pass@1 (greedy, the instruct prompt of the
evaluation harness, sandboxed) is reported beside them for both models.

Runs on one CPU thread. Last line JSON: ``ratio`` = the chat variant's parse share, ``target``
= the base's (the chat variant is worth serving when it parses more often, McNemar p below
``target_p``), both similarities and p-values beside them.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from evaluation.line_holes import edit_similarity  # noqa: E402
from evolution.chattune.pairs import FunctionPair, build_pairs  # noqa: E402
from evolution.finetune.config import QWEN_DEFAULT_SYSTEM_PROMPT  # noqa: E402
from evolution.finetune.hole_comparison import ScoreChange, compare_scores  # noqa: E402
from evolution.pretrain.heldout import heldout_files  # noqa: E402
from models import SamplingParams, load_model  # noqa: E402
from models.bench_shapes import set_threads  # noqa: E402
from server.instructions.answer import extract_code  # noqa: E402

TARGET_P = 0.01  # the chat variant must parse more often than its base at this McNemar p


@dataclass(frozen=True)
class Answer:
    text: str
    parses: bool
    body_similarity: float
    stopped: bool
    seconds: float


def answer_body(code: str) -> tuple[bool, str]:
    """(holds a function that parses, the body of its first function): statements after an
    optional docstring; for code that does not parse, the lines after its first ``def`` line."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body
                if (
                    len(body) > 1
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                ):
                    body = body[1:]
                lines = code.splitlines()[body[0].lineno - 1 : body[-1].end_lineno]
                return True, textwrap.dedent("\n".join(lines)).strip("\n") + "\n"
    lines = code.splitlines()
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith(("def ", "async def "))]
    rest = lines[starts[0] + 1 :] if starts else lines
    return False, textwrap.dedent("\n".join(rest)).strip("\n") + "\n"


def ask_all(folder: Path, pairs: list[FunctionPair], max_new_tokens: int) -> list[Answer]:
    model = load_model(folder, device="cpu")
    answers = []
    try:
        params = SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0)
        for index, pair in enumerate(pairs):
            begun = time.perf_counter()
            generation = model.chat(
                [{"role": "user", "content": pair.instruction()}],
                params,
                system_prompt=QWEN_DEFAULT_SYSTEM_PROMPT,
            )
            seconds = time.perf_counter() - begun
            parses, body = answer_body(extract_code(generation.text))
            answers.append(
                Answer(
                    generation.text,
                    parses,
                    edit_similarity(body.strip(), pair.body.strip()),
                    generation.finish_reason in ("eos", "stop"),
                    seconds,
                )
            )
            if (index + 1) % 50 == 0:
                print(f"  {folder.name}: {index + 1}/{len(pairs)}", file=sys.stderr, flush=True)
    finally:
        model.close()
    return answers


def humaneval(folder: Path, tasks: int, max_new_tokens: int) -> dict[str, float]:
    """Greedy pass per task with the harness's instruct prompt (a chat turn for either
    model), run in the evaluation sandbox."""
    from evaluation.datasets import load_tasks
    from evaluation.runner import evaluate_model

    model = load_model(folder, device="cpu")
    try:
        report = evaluate_model(
            model,
            load_tasks("humaneval", limit=tasks or None),
            prompt_format="instruct",
            max_new_tokens=max_new_tokens,
            workers=1,
        )
    finally:
        model.close()
    return report.task_pass_rates()


def summary(answers: list[Answer]) -> dict[str, float]:
    return {
        "parses": statistics.fmean(a.parses for a in answers),
        "body_similarity": statistics.fmean(a.body_similarity for a in answers),
        "stopped": statistics.fmean(a.stopped for a in answers),
        "seconds_per_answer": statistics.fmean(a.seconds for a in answers),
    }


def show(change: ScoreChange, label: str, unit: str = "pairs") -> None:
    print(change.line(label).replace(" holes,", f" {unit},"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chat", type=Path, default=REPO / "models/evoselfcode-small-chat")
    parser.add_argument("--base", type=Path, default=REPO / "models/evoselfcode-small")
    parser.add_argument("--pairs", type=int, default=0, help="held-out pairs (0: all)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument(
        "--humaneval", type=int, default=164, help="HumanEval tasks (0: skip; 164: all)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--write-card", action="store_true", help="put the figures in the chat model's card"
    )
    parser.add_argument("--json", type=Path, help="write every answer and score here")
    args = parser.parse_args()
    set_threads(args.threads)

    found = heldout_files(args.base)
    pairs = build_pairs([], found.files).heldout
    pairs = pairs[: args.pairs] if args.pairs else pairs
    print(f"{found.describe()}; {len(pairs)} docstring → function pairs from them")
    results = {}
    for name, folder in (("base", args.base), ("chat", args.chat)):
        results[name] = ask_all(folder, pairs, args.max_new_tokens)
    sums = {name: summary(answers) for name, answers in results.items()}
    for name, values in sums.items():
        print(
            f"{name:>5}: parses {values['parses']:.3f}, body similarity "
            f"{values['body_similarity']:.3f}, stops by itself {values['stopped']:.3f}, "
            f"{values['seconds_per_answer']:.2f} s/answer"
        )
    base, chat = results["base"], results["chat"]
    parses = compare_scores(
        [a.parses for a in base], [a.parses for a in chat], score="parses", test="mcnemar"
    )
    similarity = compare_scores(
        [a.body_similarity for a in base],
        [a.body_similarity for a in chat],
        score="body_similarity",
        test="wilcoxon",
    )
    show(parses, "parses (base → chat)")
    show(similarity, "body similarity (base → chat)")
    quality: dict[str, Any] = {
        "pairs": len(pairs),
        "max_new_tokens": args.max_new_tokens,
        "base": sums["base"],
        "chat": sums["chat"],
        "parses": parses.to_dict(),
        "body_similarity": similarity.to_dict(),
    }
    if args.humaneval:
        passed = {
            name: humaneval(folder, args.humaneval, args.max_new_tokens)
            for name, folder in (("base", args.base), ("chat", args.chat))
        }
        ids = sorted(passed["base"])
        he = compare_scores(
            [passed["base"][t] for t in ids],
            [passed["chat"][t] for t in ids],
            score="humaneval_pass@1",
            test="mcnemar",
        )
        quality["humaneval"] = {"tasks": len(ids), "base": he.before, "chat": he.after}
        quality["humaneval_comparison"] = he.to_dict()
        show(he, f"HumanEval pass@1 ({len(ids)} tasks)", "tasks")
    if args.json:
        rows = [
            {"pair": p.to_dict(), "base": vars(b), "chat": vars(c)}
            for p, b, c in zip(pairs, base, chat, strict=True)
        ]
        args.json.write_text(json.dumps({**quality, "answers": rows}, indent=1), "utf-8")
    if args.write_card:
        from evolution.chattune.export import write_quality

        write_quality(args.chat, quality)
    print(
        json.dumps(
            {
                "ratio": round(sums["chat"]["parses"], 4),
                # The bar for the default: parse more often than the base, significantly.
                "target": round(sums["base"]["parses"], 4),
                "target_p": TARGET_P,
                "chat_similarity": round(sums["chat"]["body_similarity"], 4),
                "base_similarity": round(sums["base"]["body_similarity"], 4),
                "parses_p": parses.p_value,
                "similarity_p": similarity.p_value,
                "pairs": len(pairs),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
