"""Realistic edits for ``bench/speculation.py``, and a model-free replay of drafting on them.

Held-out text: PyYAML's source. The project's trained model never saw it (its corpus holds the
installed ``yaml`` package out whole); the standard library stands in where PyYAML is missing.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sysconfig
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models import Prompt, fim_prompt
from models.budget import keep_tail
from models.speculation import NgramDrafter, Speculation

CountMany = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True)
class Edit:
    kind: str  # "retype" or "rename"
    where: str
    prompt: Prompt
    truth: str  # what a model that wrote the held-out code exactly would produce


def heldout_files() -> list[Path]:
    spec = importlib.util.find_spec("yaml")
    if spec is not None and spec.origin:
        folder = Path(spec.origin).parent
        names = ("constructor.py", "representer.py", "emitter.py", "scanner.py")
    else:
        folder = Path(sysconfig.get_paths()["stdlib"])
        names = ("textwrap.py", "shlex.py", "fnmatch.py", "glob.py")
    return [folder / n for n in names if (folder / n).is_file()]


def retype_edits(path: Path, count: int, context: int, counter: CountMany) -> list[Edit]:
    """The file typed anew: a cursor at line starts spread over it, nothing after the cursor."""
    text = path.read_text(encoding="utf-8")
    starts = [m.end() for m in re.finditer(r"\n(?=[ \t]*\S)", text)]
    starts = [s for s in starts if len(text) // 4 < s < len(text) - 2000]
    picks = [starts[(i + 1) * len(starts) // (count + 1)] for i in range(count)]
    return [
        Edit(
            "retype",
            f"{path.name}:{text.count(chr(10), 0, at) + 1}",
            fim_prompt(keep_tail(text[:at], context, counter).text, ""),
            text[at:],
        )
        for at in picks
    ]


def rename_edits(path: Path, count: int, context: int, counter: CountMany) -> list[Edit]:
    """A function copied below itself with a new name and a renamed parameter: the prompt ends
    at the copy's signature, and the body to write is the original with the rename."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    edits: list[Edit] = []
    for fn in _functions(ast.parse(text)):
        param = _renamable(fn)
        if param is None or fn.end_lineno is None:
            continue
        head_end = fn.body[0].lineno - 1  # the signature's lines (decorators excluded)
        if isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant):
            continue  # a docstring would be copied verbatim, which flatters the drafts
        renamed = _renamed(lines, fn, param, f"{param}_value")
        head = "".join(renamed[fn.lineno - 1 : head_end])
        head = head.replace(f"def {fn.name}(", f"def {fn.name}_v2(", 1)
        before = "".join(lines[: fn.end_lineno]) + "\n"
        prompt = fim_prompt(keep_tail(before, context, counter).text + head, "")
        body = "".join(renamed[head_end : fn.end_lineno])
        edits.append(Edit("rename", f"{path.name}:{fn.name}", prompt, body))
        if len(edits) == count:
            break
    return edits


def _renamed(lines: list[str], fn: ast.FunctionDef, old: str, new: str) -> list[str]:
    """``lines`` with the identifier ``old`` renamed inside ``fn``, not in its strings or
    comments (as an editor's rename does)."""
    nodes = list(ast.walk(fn))
    spots = [(n.lineno, n.col_offset) for n in nodes if isinstance(n, ast.Name) and n.id == old]
    spots += [(n.lineno, n.col_offset) for n in nodes if isinstance(n, ast.arg) and n.arg == old]
    out = list(lines)
    for lineno, col in sorted(spots, reverse=True):  # right to left keeps the columns valid
        line = out[lineno - 1]
        out[lineno - 1] = line[:col] + new + line[col + len(old) :]
    return out


def _functions(tree: ast.AST) -> list[ast.FunctionDef]:
    found = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    return [f for f in found if f.end_lineno and 6 <= f.end_lineno - f.body[0].lineno <= 30]


def _renamable(fn: ast.FunctionDef) -> str | None:
    """A parameter the body uses at least twice (a rename then matters to the copy)."""
    used = [n.id for n in ast.walk(fn) if isinstance(n, ast.Name)]
    params = [a.arg for a in fn.args.args if a.arg not in ("self", "cls")]
    return next((p for p in params if used.count(p) >= 2), None)


@dataclass
class Replay:
    new_tokens: int
    forwards: list[int]  # tokens fed per decode step (the first token came from the prefill)
    drafted: int = 0
    accepted: int = 0


def replay(prompt_ids: Sequence[int], truth: Sequence[int], spec: Speculation) -> Replay:
    """Decoding ``truth`` speculatively, as if the model wrote exactly ``truth``."""
    drafter = NgramDrafter(prompt_ids, spec)
    done, out = 1, Replay(len(truth), [])
    while done < len(truth):
        drafter.sync(truth[:done], len(prompt_ids))
        draft = drafter.draft(len(truth) - done - 1)
        agreed = next((i for i, t in enumerate(draft) if t != truth[done + i]), len(draft))
        out.forwards.append(1 + len(draft))
        out.drafted, out.accepted = out.drafted + len(draft), out.accepted + agreed
        done += agreed + 1
    return out


def predicted_ratio(replays: Sequence[Replay], cost: Callable[[int], float]) -> float:
    """Speculative / plain decode time when a forward of T tokens costs ``cost(T)``."""
    spec = sum(cost(t) for r in replays for t in r.forwards)
    plain = sum(cost(1) * (r.new_tokens - 1) for r in replays)
    return spec / plain
