"""Multi-turn instruction sessions: a follow-up on the code just generated continues the chat.

A conversation remembers its turns and the code it last inserted. A new instruction
continues it when it is about that code: given on a range that overlaps the code, or written
as a new comment touching it. Otherwise (or after "new conversation") a fresh one starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.documents import LineDocument
from server.instructions.source import InstructionSource


@dataclass
class Conversation:
    uri: str
    first_instruction: str
    messages: list[dict[str, str]] = field(default_factory=list)  # user/assistant turns
    code: str = ""  # the code as last inserted
    code_line: int = 0  # where it was inserted (a hint when it occurs more than once)

    @property
    def turns(self) -> int:
        return sum(m["role"] == "user" for m in self.messages)


def find_code(document: LineDocument, conversation: Conversation) -> tuple[int, int] | None:
    """The lines of the conversation's code in the document (nearest to where it was put),
    or None when the user changed or removed it."""
    code = conversation.code
    if not code.strip():
        return None
    lines = document.lines
    first_code_line = code.split("\n", 1)[0]
    count = code.count("\n") + 1
    best: tuple[int, int] | None = None
    for start in range(len(lines)):
        if lines[start].rstrip("\r\n") != first_code_line:
            continue
        block = "".join(lines[start : start + count]).replace("\r\n", "\n").rstrip("\n")
        if block == code and (
            best is None
            or abs(start - conversation.code_line) < abs(best[0] - conversation.code_line)
        ):
            best = (start, start + count - 1)
    return best


def touches(source: InstructionSource, code_lines: tuple[int, int]) -> bool:
    """The instruction overlaps the code or sits right next to it (a blank line between)."""
    first, last = code_lines
    return source.first_line <= last + 2 and source.last_line >= first - 1
