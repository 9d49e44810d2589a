"""Static checks on Python source shared by the server, the gates, datagen and the store."""

from evolution.codecheck.normalize import normalized_ast_hash
from evolution.codecheck.ruff import RuffFinding, RuffUnavailable, ruff_check
from evolution.codecheck.syntax import (
    ast_error,
    parse_or_none,
    parse_quietly,
    syntax_error_count,
    tree_sitter_parse,
)

__all__ = [
    "RuffFinding",
    "RuffUnavailable",
    "ast_error",
    "normalized_ast_hash",
    "parse_or_none",
    "parse_quietly",
    "ruff_check",
    "syntax_error_count",
    "tree_sitter_parse",
]
