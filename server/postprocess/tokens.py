"""Special tokens never reach the editor.

Qwen's FIM and repo tokens are not flagged ``special`` in its tokenizer config, so decoding
with ``skip_special_tokens`` keeps them; and what follows ``<|file_sep|>`` or
``<|endoftext|>`` belongs to another file or another sample. Cut at the first one.
"""

from __future__ import annotations

import re

# Qwen's tokens plus any other ``<|name|>`` marker a model may have learned (e.g. <|cursor|>).
SPECIAL_TOKEN = re.compile(r"<\|[A-Za-z_]{2,32}\|>")


def cut_at_special_token(text: str) -> tuple[str, bool]:
    """The text before the first special token, and whether one was found."""
    match = SPECIAL_TOKEN.search(text)
    return (text[: match.start()], True) if match else (text, False)
