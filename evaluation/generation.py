"""Completions of benchmark tasks from a model (local or remote, through ``models``).

Prompt formats:

- ``base``: the task's prompt as it is (never stripped: a missing final newline costs base
  models many points), continued by the model; the output is cleaned with
  ``sanitize_completion``;
- ``instruct``: one chat turn asking for the completed function in a code block; the answer
  is cleaned with ``extract_code`` and appended after the prompt, so the prompt's imports stay
  in force and the model's definition replaces the stub;
- infill tasks always use a fill-in-the-middle prompt, and keep the first line of the output.

``auto`` picks ``instruct`` for instruct models and ``base`` otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from evaluation.errors import GenerationError
from evaluation.infill import single_line
from evaluation.sanitize import extract_code, sanitize_completion
from evaluation.tasks import PromptFormat, Task

if TYPE_CHECKING:
    from models import CancelToken, CodeModel, Generation, SamplingParams

# Top-level statements that end a solution; the sanitizer would drop them anyway.
BASE_STOPS = ("\nif __name__", "\nprint(", "\nassert ", "\n```")
INSTRUCTION = (
    "Complete the following Python function. Reply with the whole function, including the "
    "imports it needs, in one ```python code block.\n\n```python\n{prompt}```"
)


@dataclass(frozen=True)
class GenerationSettings:
    """How completions are sampled: greedy by default, or ``samples_per_task`` at a
    ``temperature`` (with nucleus ``top_p``) for pass@k."""

    samples_per_task: int = 1
    temperature: float = 0.0
    top_p: float = 0.95
    max_new_tokens: int = 512
    infill_max_new_tokens: int = 64
    batch_size: int = 8
    prompt_format: PromptFormat = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples_per_task < 1 or self.batch_size < 1:
            raise ValueError("samples_per_task and batch_size must be at least 1")
        if self.samples_per_task > 1 and self.temperature == 0:
            raise ValueError(
                f"{self.samples_per_task} samples per task need a temperature above 0: "
                "greedy decoding gives the same completion every time"
            )


@dataclass(frozen=True)
class Completion:
    """One sample: the model's raw output and the completion that is run after the prompt."""

    task: Task
    sample_index: int
    raw: str
    completion: str
    finish_reason: str


def resolve_format(model: CodeModel, requested: PromptFormat) -> Literal["base", "instruct"]:
    if requested != "auto":
        return requested
    return "instruct" if model.info.kind == "instruct" else "base"


def generate_completions(
    model: CodeModel,
    tasks: Sequence[Task],
    settings: GenerationSettings,
    *,
    cancel: CancelToken | None = None,
) -> Iterator[list[Completion]]:
    """Completions in batches of ``settings.batch_size``, in task order; stops early when
    ``cancel`` is set. Raises ``GenerationError`` when the model fails."""
    from models import ModelError

    form = resolve_format(model, settings.prompt_format)
    jobs = [(task, i) for task in tasks for i in range(settings.samples_per_task)]
    for start in range(0, len(jobs), settings.batch_size):
        if cancel is not None and cancel.cancelled:
            return
        batch = jobs[start : start + settings.batch_size]
        try:
            outputs = _generate(model, [task for task, _ in batch], form, settings, start, cancel)
        except ModelError as exc:
            raise GenerationError(f"{model.info.name} failed to generate: {exc}") from exc
        yield [
            Completion(task, index, out.text, _completion(task, form, out.text), out.finish_reason)
            for (task, index), out in zip(batch, outputs, strict=True)
        ]


def _generate(
    model: CodeModel,
    tasks: list[Task],
    form: str,
    settings: GenerationSettings,
    batch_start: int,
    cancel: CancelToken | None,
) -> list[Generation]:
    """One output per task, in order: infill, base and chat prompts each batched."""
    from models import fim_prompt
    from models.tokens import Segment, join_prompt

    groups: dict[str, list[int]] = {"infill": [], "base": [], "instruct": []}
    for i, task in enumerate(tasks):
        groups["infill" if task.kind == "infill" else form].append(i)
    outputs: dict[int, Generation] = {}
    for kind in ("infill", "base"):
        if groups[kind]:
            prompts = [
                fim_prompt(tasks[i].prompt, tasks[i].suffix)
                if kind == "infill"
                else join_prompt([Segment(tasks[i].prompt, "prefix")])  # read literally
                for i in groups[kind]
            ]
            params = _params(settings, kind, batch_start, model.info.context_window)
            batch = model.generate_batch(prompts, params, cancel=cancel)
            outputs.update(zip(groups[kind], batch, strict=True))
    if groups["instruct"]:
        conversations = [
            [{"role": "user", "content": INSTRUCTION.format(prompt=tasks[i].prompt)}]
            for i in groups["instruct"]
        ]
        params = _params(settings, "instruct", batch_start, model.info.context_window)
        batch = model.chat_batch(conversations, params, cancel=cancel)
        outputs.update(zip(groups["instruct"], batch, strict=True))
    return [outputs[i] for i in range(len(tasks))]


def answer_budget(wanted: int, context_window: int) -> int:
    """New tokens for an answer: ``wanted``, but at most half of the context window, so that a
    model with a small window (a few hundred tokens) keeps the other half for the prompt."""
    return max(1, min(wanted, context_window // 2))


def _params(
    settings: GenerationSettings, kind: str, position: int, context_window: int
) -> SamplingParams:
    """Sampling for ``kind`` (infill, base or instruct); seeds differ per sample. A model with
    a small context window (a few hundred tokens) writes at most half of it, so that the
    prompt keeps the other half."""
    from models import SamplingParams

    stops = {"infill": ("\n",), "base": BASE_STOPS}.get(kind, ())
    wanted = settings.infill_max_new_tokens if kind == "infill" else settings.max_new_tokens
    return SamplingParams(
        max_new_tokens=answer_budget(wanted, context_window),
        temperature=settings.temperature,
        top_p=settings.top_p if settings.temperature > 0 else 1.0,
        stop=stops,
        seed=settings.seed + position if settings.temperature > 0 else None,
    )


def _completion(task: Task, form: str, output: str) -> str:
    if task.kind == "infill":
        return single_line(output)
    if form == "instruct":
        return "\n" + extract_code(output, task.entry_point)
    return sanitize_completion(task.prompt, output, task.entry_point)
