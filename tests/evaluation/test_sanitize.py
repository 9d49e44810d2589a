"""The sanitizer on outputs shaped like real base and instruct model outputs."""

from __future__ import annotations

from evaluation.sanitize import extract_code, sanitize_completion, strip_special_tokens

PROMPT = '''from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """ Check if in given list of numbers, are any two numbers closer to each other than
    given threshold.
    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)
    False
    """
'''
BODY = """    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if is_close(a, b, threshold):
                return True
    return False
"""
HELPER = """def is_close(a: float, b: float, threshold: float) -> bool:
    return abs(a - b) < threshold
"""


def test_base_output_keeps_helpers_defined_after_the_function() -> None:
    output = (
        BODY
        + "\n\n"
        + HELPER
        + "\n\ndef main():\n    print(has_close_elements([1.0, 2.0], 0.5))\n\n\n"
        + 'if __name__ == "__main__":\n    main()\n'
        + "<|endoftext|>def junk(:\n"
    )
    completion = sanitize_completion(PROMPT, output, "has_close_elements")
    assert completion.startswith(BODY)
    assert HELPER in completion
    assert "def main" not in completion and "__main__" not in completion
    assert "junk" not in completion
    compile(PROMPT + completion, "<test>", "exec")


def test_base_output_cut_at_the_token_limit_drops_only_the_broken_tail() -> None:
    output = BODY + "\n\n" + HELPER + "\n\ndef unused_and_truncated(x):\n    return [x for x in"
    completion = sanitize_completion(PROMPT, output, "has_close_elements")
    assert completion.startswith(BODY) and HELPER in completion
    assert "truncated" not in completion


def test_base_output_with_prose_and_test_calls_after_the_code() -> None:
    output = (
        BODY
        + "\n\nprint(has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3))\n"
        + "assert has_close_elements([1.0], 0.1) is False\n"
        + "This solution compares every pair of numbers, which is O(n^2).\n"
    )
    completion = sanitize_completion(PROMPT, output, "has_close_elements")
    assert completion.rstrip("\n") == BODY.rstrip("\n")


def test_strings_that_look_like_top_level_code_are_not_cut() -> None:
    body = (
        '    text = """\ndef not_a_function():\n    pass\n"""\n    return text.count("def") > 0\n'
    )
    completion = sanitize_completion(PROMPT, body + "\n\nprint(1)\n", "has_close_elements")
    assert completion.rstrip("\n") == body.rstrip("\n")


def test_unparseable_body_is_returned_for_the_sandbox_to_judge() -> None:
    broken = "    return [x for x in numbers if\n"
    assert sanitize_completion(PROMPT, broken, "has_close_elements") == broken


def test_prompt_is_never_altered() -> None:
    prompt = PROMPT + "\n"  # ends with a blank line
    completion = sanitize_completion(prompt, BODY, "has_close_elements")
    assert (prompt + completion).startswith(prompt)
    assert completion.rstrip("\n") == BODY.rstrip("\n")


def test_instruct_answer_with_prose_and_fences() -> None:
    answer = (
        "Here is the completed function:\n\n```python\nfrom typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        + BODY
        + "\n\n"
        + HELPER
        + "\n\n# Example usage\nprint(has_close_elements([1.0, 2.0], 0.5))\n```\n\n"
        "This function uses a helper to compare every pair.<|im_end|>"
    )
    code = extract_code(answer, "has_close_elements")
    assert code.startswith("from typing import List")
    assert "def has_close_elements" in code and HELPER in code
    assert "Example usage" not in code and "print(" not in code and "This function" not in code


def test_instruct_answer_prefers_the_block_that_defines_the_entry_point() -> None:
    answer = (
        "First, a test:\n```python\nassert has_close_elements([], 1.0) is False\n```\n"
        "Then the solution:\n```py\ndef has_close_elements(numbers, threshold):\n"
        "    return False\n```"
    )
    code = extract_code(answer, "has_close_elements")
    assert code == "def has_close_elements(numbers, threshold):\n    return False\n"


def test_instruct_answer_without_fences_and_unterminated_fence() -> None:
    plain = (
        "Sure! def is wrong here.\ndef has_close_elements(n, t):\n    return True\nHope it helps."
    )
    assert extract_code(plain, "has_close_elements") == (
        "def has_close_elements(n, t):\n    return True\n"
    )
    truncated = "```python\ndef has_close_elements(n, t):\n    return True\n"
    assert "return True" in extract_code(truncated, "has_close_elements")


def test_unknown_entry_point_keeps_every_definition() -> None:
    code = extract_code(
        "```python\ndef a():\n    return 1\n\ndef b():\n    return 2\n\nb()\n```", "c"
    )
    assert code == "def a():\n    return 1\n\ndef b():\n    return 2\n"


def test_strip_special_tokens() -> None:
    assert strip_special_tokens("x = 1<|fim_pad|><|fim_pad|>") == "x = 1"
    assert strip_special_tokens("return 1<|file_sep|>other.py") == "return 1"
    assert strip_special_tokens("plain") == "plain"
