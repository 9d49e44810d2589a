"""The prompts of both stages, exactly as the seed design gives them.

Every prompt starts with the global prefix ``This is an algorithm function.\\n\\n``.

Stage A, function names (both arms send the same sampling parameters):

- FIM, the design's main arm. The design writes it as ``<fim_prefix>`` + prefix +
  ``def <fim_middle>():`` + ``<fim_suffix>``: the name is generated in the middle and ``():``
  follows it. Qwen2.5-Coder is trained in PSM order (prefix, suffix, then the middle it
  generates), so the same layout is sent as::

      <|fim_prefix|>This is an algorithm function.\\n\\ndef <|fim_suffix|>():\\n<|fim_middle|>

  The three token strings come from ``prompts.fim_prefix/fim_suffix/fim_middle`` for other
  model families (StarCoder: ``<fim_prefix>``, ``<fim_suffix>``, ``<fim_middle>``).
- L2R, the control arm: ``This is an algorithm function.\\n\\ndef `` — the prompt ends with
  the space after ``def``. With ``" "`` among the stop sequences, a prompt ending in ``def``
  would make the model's first token (a space) stop every completion at once: empty names.

Stage B, bodies, always left to right:

- for a name: the prefix + ``def {name}(``; the model writes the parameters and the body;
- for a description: the prefix, the description as ``#`` comment lines, then ``def `` (or
  ``def {name}(`` when the description file gives a name); the model writes the rest.

The stored ``code`` is ``def ...`` (the prompt's tail) plus the completion, cut where the
function ends (``filters.code.cut_function``).
"""

from __future__ import annotations

import hashlib

from evolution.datagen.config import Arm, PromptsConfig


def name_prompt(arm: Arm, prompts: PromptsConfig) -> str:
    """The stage A prompt of ``arm``."""
    if arm == "FIM":
        return (
            f"{prompts.fim_prefix}{prompts.global_prefix}def "
            f"{prompts.fim_suffix}():\n{prompts.fim_middle}"
        )
    return f"{prompts.global_prefix}def "


def code_prompt(prompts: PromptsConfig, func_name: str | None, desc: str | None = None) -> str:
    """The stage B prompt: for a name, a description, or a description with a name."""
    comment = ""
    if desc is not None:
        lines = [line.rstrip() for line in desc.strip().splitlines()]
        comment = "".join(f"# {line}\n" if line else "#\n" for line in lines)
    return f"{prompts.global_prefix}{comment}{code_head(func_name)}"


def code_head(func_name: str | None) -> str:
    """The part of the stage B prompt that belongs to the code: ``def `` or ``def name(``."""
    return f"def {func_name}(" if func_name else "def "


def prompt_hash(prompt: str) -> str:
    """SHA-256 of a prompt, kept in each record's provenance."""
    return hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest()
