"""Run an instruction on the local instruct model and turn the answer into an edit.

The instruct model (``evoselfcode.chat.model``) is loaded on first use, on its own thread, so
completions keep flowing on the model thread meanwhile. ``plan`` (event loop) reads the
instruction and decides new conversation or follow-up; ``run`` (chat thread) generates;
``finish`` builds the edit and records the turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server.documents import LineDocument, cursor_at, line_text, open_document
from server.errors import DocumentError, InstructionError
from server.instructions.answer import extract_code, indent_code
from server.instructions.conversation import Conversation, find_code, touches
from server.instructions.source import InstructionSource, instruction_at
from server.model_host import ModelSpec, load
from server.settings import Settings

if TYPE_CHECKING:
    from pygls.workspace import Workspace

    from models.types import CancelToken, CodeModel, TextCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateRequest:
    """The arguments of ``evoselfcode.generateFromInstruction``."""

    uri: str
    start: types.Position
    end: types.Position
    instruction: str | None
    new_conversation: bool

    @classmethod
    def parse(cls, args: Any) -> GenerateRequest:
        if not isinstance(args, Mapping) or not isinstance(args.get("uri"), str):
            raise InstructionError(
                "evoselfcode.generateFromInstruction takes {uri, range or position, "
                "instruction?, newConversation?}"
            )
        try:
            if "range" in args:
                start = _position(args["range"]["start"])
                end = _position(args["range"]["end"])
            else:
                start = end = _position(args["position"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InstructionError(
                f"a range {{start, end}} or a position is needed: {exc}"
            ) from exc
        instruction = args.get("instruction")
        if instruction is not None and not isinstance(instruction, str):
            raise InstructionError("instruction must be a string")
        return cls(
            uri=args["uri"],
            start=start,
            end=end,
            instruction=instruction.strip() if instruction else None,
            new_conversation=bool(args.get("newConversation", False)),
        )


def _position(raw: Any) -> types.Position:
    line, character = raw["line"], raw["character"]
    if not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (line, character)
    ):
        raise ValueError(f"line and character must be non-negative integers, got {raw!r}")
    return types.Position(line=line, character=character)


@dataclass(frozen=True)
class Plan:
    document: LineDocument
    version: int | None
    source: InstructionSource
    conversation: Conversation
    replace: tuple[int, int] | None  # lines of earlier generated code the new code replaces
    follow_up: bool  # continues ``conversation`` (else it is a new one)


# Said with every answer of an instruct model trained here (``ModelInfo.trained_here``), such
# as the shipped evoselfcode-small-chat, as the status says it of the completion model.
TRAINED_HERE_NOTE = (
    "a small model trained here by EvoSelfCode: plausible code, often wrong, nowhere near "
    "Qwen2.5-Coder-Instruct"
)


class ChatModelHost:
    """The instruct model, loaded on first use and again when its settings change."""

    def __init__(self) -> None:
        self._spec: ModelSpec | None = None
        self._model: CodeModel | None = None

    def get(self, settings: Settings) -> CodeModel:
        """Runs on the chat thread (loading imports torch)."""
        spec = ModelSpec(
            name=settings.chat.model,
            models_dir=settings.models_dir,
            device=settings.device,
            dtype=settings.dtype,
            quantization=settings.quantization,
            backend="local",
            remote_base_url="",
            remote_model="",
            data_dir=settings.data_dir,
        )
        if self._model is None or spec != self._spec:
            if self._model is not None:
                self._model.close()
                self._model = None
            log.info("loading the instruct model %s", spec.name)
            self._model, self._spec = load(spec), spec
            note = self.describe().get("modelNote")
            log.info("instruct model %s ready%s", spec.name, f" ({note})" if note else "")
        return self._model

    def describe(self) -> dict[str, str]:
        """The loaded model's name and, for a test model or one trained here, a plain note."""
        if self._model is None:
            return {}
        info = self._model.info
        described = {"model": info.name}
        if info.random_weights:
            described["modelNote"] = f"{info.name} has RANDOM WEIGHTS: its code is junk"
        elif info.trained_here:
            described["modelNote"] = f"{info.name} is {TRAINED_HERE_NOTE}"
        return described


class InstructionService:
    def __init__(self, workspace: Callable[[], Workspace]) -> None:
        self._workspace = workspace
        self.chat_model = ChatModelHost()
        self.conversation: Conversation | None = None

    def new_conversation(self) -> None:
        self.conversation = None

    def plan(self, request: GenerateRequest) -> Plan:
        """Read the instruction and decide: a new conversation, or a follow-up."""
        if request.new_conversation:
            self.new_conversation()
        try:
            document = open_document(self._workspace(), request.uri)
            start = cursor_at(document, request.start)
            end = cursor_at(document, request.end)
        except DocumentError as exc:
            raise InstructionError(str(exc)) from exc
        last = end.line - 1 if end.line > start.line and end.column == 0 else end.line
        current = (
            self.conversation
            if self.conversation and self.conversation.uri == request.uri
            else None
        )
        code_lines = find_code(document, current) if current else None
        if request.instruction is not None:
            first_text = line_text(document, start.line)
            source = InstructionSource(
                request.instruction,
                start.line,
                max(last, start.line),
                first_text[: len(first_text) - len(first_text.lstrip())],
            )
        else:
            source = instruction_at(document, start.line, max(last, start.line))
        if current is None or code_lines is None or not touches(source, code_lines):
            fresh = Conversation(uri=request.uri, first_instruction=source.instruction)
            return Plan(document, document.version, source, fresh, None, follow_up=False)
        code_indent = line_text(document, code_lines[0])
        source = InstructionSource(
            source.instruction,
            source.first_line,
            source.last_line,
            code_indent[: len(code_indent) - len(code_indent.lstrip())],
        )
        if source.instruction == current.first_instruction:
            # The first instruction again: start over, replacing the code it produced.
            fresh = Conversation(uri=request.uri, first_instruction=source.instruction)
            return Plan(document, document.version, source, fresh, code_lines, follow_up=False)
        return Plan(document, document.version, source, current, code_lines, follow_up=True)

    def run(
        self,
        plan: Plan,
        settings: Settings,
        token: CancelToken,
        on_text: TextCallback | None = None,
    ) -> tuple[str, str]:
        """(raw answer, extracted code); runs on the chat thread."""
        from evaluation.generation import answer_budget
        from models.types import SamplingParams

        model = self.chat_model.get(settings)
        messages = [
            *plan.conversation.messages,
            {"role": "user", "content": plan.source.instruction},
        ]
        params = SamplingParams(
            # A small model (the shipped chat model's window is 512 tokens) keeps half of its
            # window for the instruction and the conversation.
            max_new_tokens=answer_budget(settings.chat.max_tokens, model.info.context_window),
            temperature=settings.chat.temperature,
            top_p=settings.chat.top_p,
        )
        generation = model.chat(
            messages,
            params,
            system_prompt=settings.chat.system_prompt,
            cancel=token,
            on_text=on_text,
        )
        if generation.finish_reason == "cancelled":
            raise InstructionError("cancelled")
        code = extract_code(generation.text)
        if not code.strip():
            raise InstructionError("the instruct model answered without any code; try rewording")
        return generation.text, code

    def finish(self, plan: Plan, answer: str, code: str) -> tuple[str, types.WorkspaceEdit]:
        """The code as inserted and the edit that inserts it; the turn is recorded."""
        source = plan.source
        inserted = indent_code(code, source.indent)
        document = plan.document
        if plan.replace is not None:
            first, last = plan.replace
            start = types.Position(line=first, character=0)
            end = _line_end(document, last)
            new_text, code_line = inserted, first
        else:
            line = source.last_line
            start = end = _line_end(document, line)
            new_text, code_line = "\n" + inserted, line + 1
        edit = types.TextEdit(range=types.Range(start=start, end=end), new_text=new_text)
        workspace_edit = types.WorkspaceEdit(
            document_changes=[
                types.TextDocumentEdit(
                    text_document=types.OptionalVersionedTextDocumentIdentifier(
                        uri=document.uri, version=plan.version
                    ),
                    edits=[edit],
                )
            ]
        )
        conversation = plan.conversation
        conversation.messages += [
            {"role": "user", "content": source.instruction},
            {"role": "assistant", "content": answer},
        ]
        conversation.code, conversation.code_line = inserted, code_line
        self.conversation = conversation
        return inserted, workspace_edit


def _line_end(document: LineDocument, line: int) -> types.Position:
    text = line_text(document, line)
    return types.Position(line=line, character=document.position_codec.client_num_units(text))
