"""Static checks: tree-sitter error counts, ast errors, ruff findings, normalized-AST hashes."""

from __future__ import annotations

from evolution.codecheck import ast_error, normalized_ast_hash, ruff_check, syntax_error_count


def test_syntax_error_count_grows_with_breakage():
    assert syntax_error_count("def f(x):\n    return x\n") == 0
    assert syntax_error_count("def f(x:\n    return x\n") >= 1
    broken_twice = "def f(x:\n    return x\n\ndef g(:\n    pass\n"
    assert syntax_error_count(broken_twice) > syntax_error_count("def f(x:\n    return x\n")


def test_ast_error_names_the_line():
    assert ast_error("x = 1\n") is None
    message = ast_error("x = 1\ny = (\n")
    assert message is not None and "line" in message
    assert ast_error("x = '\0'\0") is not None  # NUL bytes are an error, not a crash


def test_ruff_reports_undefined_names_and_syntax():
    assert ruff_check("def f(x):\n    return x\n") == []
    codes = {finding.code for finding in ruff_check("def f(x):\n    return y\n")}
    assert codes == {"F821"}
    assert ruff_check("def f(:\n")  # a parse error is a finding, not an exception


def test_hash_ignores_formatting_comments_docstrings_and_local_names():
    a = 'def area(w, h):\n    """Area."""\n    result = w * h  # multiply\n    return result\n'
    b = "def area(width,   height):\n    out = width * height\n    return out\n"
    assert normalized_ast_hash(a) == normalized_ast_hash(b)


def test_hash_keeps_what_changes_meaning():
    base = "def area(w, h):\n    return w * h\n"
    assert normalized_ast_hash(base) != normalized_ast_hash(base.replace("*", "+"))
    assert normalized_ast_hash(base) != normalized_ast_hash(base.replace("area", "volume"))
    assert normalized_ast_hash("def f(x):\n    return len(x)\n") != normalized_ast_hash(
        "def f(x):\n    return max(x)\n"
    )
    assert normalized_ast_hash("def f(:\n") is None
