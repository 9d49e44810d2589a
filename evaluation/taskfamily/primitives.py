"""The primitive steps tasks are composed of: string, list and arithmetic transformations.

Each primitive is one Python expression over the input variable (``{v}``), a phrase in plain
words, and its typical mistakes: ``off_by_one`` (a bound or a constant one off), ``edge_case``
(right on ordinary input, wrong or crashing on an edge: empty input, upper-case letters,
negative numbers, trailing spaces) and ``wrong_op`` (a plausible, different operation). A
parameterised primitive takes ``{k}`` (and the mistake templates may use ``{k_plus}`` =
k + 1 and ``{k_minus}`` = k - 1) from its ``params``.

A task's function body is one line per step: ``{v} = <expr>`` for every step but the last,
``return <expr>`` for the last, so that a composition reads as its description does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Domain = Literal["str", "list", "int"]
Mistake = Literal["off_by_one", "edge_case", "wrong_op"]
MISTAKES: tuple[Mistake, ...] = ("off_by_one", "edge_case", "wrong_op")

# The parameter name and annotation of a task's function, by the domain of its input.
VARIABLE: dict[Domain, str] = {"str": "text", "list": "values", "int": "number"}
ANNOTATION: dict[Domain, str] = {"str": "str", "list": "list[int]", "int": "int"}

# Inputs every task of a domain is tested on: ordinary values and the edges the mistakes miss.
TEST_INPUTS: dict[Domain, tuple[object, ...]] = {
    "str": ("", "a", "Hello World", "  padded text  ", "banana", "Python 3.12", "AEIOU aeiou"),
    "list": ([], [7], [3, -1, 2, 2, -5, 8], [1, 2, 3, 4, 5, 6], [-4, 0, 4, 9], [10, 10, 3]),
    "int": (0, 1, 7, -13, 42, 105, -250),
}


@dataclass(frozen=True)
class Primitive:
    """One transformation (see the module docstring)."""

    name: str  # the kind: held-out combinations are new pairs of kinds
    domain: Domain  # input
    result: Domain  # output: the input's domain, or "int" for a reduction
    phrase: str  # lower-case, for "<phrase>, then <phrase>."
    expr: str
    short: str  # its part of the function name
    mistakes: dict[str, str] = field(default_factory=dict)
    params: tuple[int, ...] = ()

    @property
    def reduces(self) -> bool:
        """A reduction (list or text to a number) can only be the last step."""
        return self.result != self.domain


def _p(
    name: str,
    domain: Domain,
    phrase: str,
    expr: str,
    short: str = "",
    *,
    result: Domain | None = None,
    params: tuple[int, ...] = (),
    **mistakes: str,
) -> Primitive:
    unknown = set(mistakes) - set(MISTAKES)
    if unknown:
        raise ValueError(f"primitive {name}: unknown mistake kinds {sorted(unknown)}")
    return Primitive(
        name, domain, result or domain, phrase, expr, short or name, dict(mistakes), params
    )


PRIMITIVES: tuple[Primitive, ...] = (
    # --- text -> text
    _p("reverse", "str", "reverse the text", "{v}[::-1]", off_by_one="{v}[-2::-1]"),
    _p("upper", "str", "convert the text to upper case", "{v}.upper()", wrong_op="{v}.title()"),
    _p("lower", "str", "convert the text to lower case", "{v}.lower()", wrong_op="{v}.swapcase()"),
    _p("strip", "str", "remove the spaces at both ends", "{v}.strip()", edge_case="{v}.lstrip()"),
    _p(
        "no_vowels",
        "str",
        "remove every vowel (a, e, i, o, u, in either case)",
        '"".join(c for c in {v} if c.lower() not in "aeiou")',
        edge_case='"".join(c for c in {v} if c not in "aeiou")',
    ),
    _p(
        "double",
        "str",
        "repeat every character twice",
        '"".join(c * 2 for c in {v})',
        off_by_one='"".join(c * 3 for c in {v})',
    ),
    _p(
        "head",
        "str",
        "keep the first {k} characters",
        "{v}[:{k}]",
        "first_{k}",
        params=(2, 3, 4),
        off_by_one="{v}[:{k_plus}]",
    ),
    _p(
        "tail",
        "str",
        "drop the first {k} characters",
        "{v}[{k}:]",
        "drop_{k}",
        params=(1, 2, 3),
        off_by_one="{v}[{k_plus}:]",
    ),
    _p(
        "underscores",
        "str",
        "replace every space with an underscore",
        '{v}.replace(" ", "_")',
        wrong_op='{v}.replace(" ", "")',
    ),
    _p(
        "sort_chars",
        "str",
        "sort the characters",
        '"".join(sorted({v}))',
        wrong_op='"".join(sorted({v}, reverse=True))',
    ),
    _p(
        "unique_chars",
        "str",
        "remove repeated characters, keeping the first of each",
        '"".join(dict.fromkeys({v}))',
        wrong_op='"".join(sorted(set({v})))',
    ),
    _p(
        "swapcase", "str", "swap the case of every letter", "{v}.swapcase()", wrong_op="{v}.upper()"
    ),
    _p(
        "rotate",
        "str",
        "move the first {k} characters to the end",
        "{v}[{k}:] + {v}[:{k}]",
        "rotate_{k}",
        params=(1, 2, 3),
        off_by_one="{v}[{k_plus}:] + {v}[:{k_plus}]",
    ),
    _p("exclaim", "str", 'add "!" at the end', '{v} + "!"', off_by_one='{v} + "!!"'),
    # --- text -> number
    _p(
        "count_vowels",
        "str",
        "count the vowels (a, e, i, o, u, in either case)",
        'sum(1 for c in {v} if c.lower() in "aeiou")',
        result="int",
        edge_case='sum(1 for c in {v} if c in "aeiou")',
    ),
    _p("length", "str", "return the number of characters", "len({v})", result="int"),
    _p(
        "count_words",
        "str",
        "count the words (separated by spaces)",
        "len({v}.split())",
        result="int",
        edge_case='len({v}.split(" "))',
    ),
    # --- list -> list
    _p("sort", "list", "sort the values", "sorted({v})", wrong_op="sorted({v}, reverse=True)"),
    _p(
        "sort_desc",
        "list",
        "sort the values from largest to smallest",
        "sorted({v}, reverse=True)",
        wrong_op="sorted({v})",
    ),
    _p(
        "reverse_list", "list", "reverse the list", "{v}[::-1]", "reverse", off_by_one="{v}[-2::-1]"
    ),
    _p(
        "square_each",
        "list",
        "square every value",
        "[x * x for x in {v}]",
        "square",
        wrong_op="[x * 2 for x in {v}]",
    ),
    _p(
        "add_each",
        "list",
        "add {k} to every value",
        "[x + {k} for x in {v}]",
        "add_{k}",
        params=(1, 2, 5, 10),
        off_by_one="[x + {k_plus} for x in {v}]",
        wrong_op="[x * {k} for x in {v}]",
    ),
    _p(
        "times_each",
        "list",
        "multiply every value by {k}",
        "[x * {k} for x in {v}]",
        "times_{k}",
        params=(2, 3, 4),
        wrong_op="[x + {k} for x in {v}]",
    ),
    _p(
        "evens",
        "list",
        "keep only the even values",
        "[x for x in {v} if x % 2 == 0]",
        wrong_op="[x for x in {v} if x % 2 == 1]",
    ),
    _p(
        "positives",
        "list",
        "keep only the values above zero",
        "[x for x in {v} if x > 0]",
        edge_case="[x for x in {v} if x >= 0]",
    ),
    _p(
        "unique",
        "list",
        "remove repeated values, keeping the first of each",
        "list(dict.fromkeys({v}))",
        wrong_op="sorted(set({v}))",
    ),
    _p(
        "first_n",
        "list",
        "keep the first {k} values",
        "{v}[:{k}]",
        "first_{k}",
        params=(2, 3, 4),
        off_by_one="{v}[:{k_plus}]",
    ),
    _p(
        "drop_n",
        "list",
        "drop the first {k} values",
        "{v}[{k}:]",
        "drop_{k}",
        params=(1, 2, 3),
        off_by_one="{v}[{k_minus}:]",
    ),
    _p(
        "abs_each",
        "list",
        "take the absolute value of every value",
        "[abs(x) for x in {v}]",
        "abs",
        wrong_op="[-x for x in {v}]",
    ),
    _p(
        "above",
        "list",
        "keep only the values greater than {k}",
        "[x for x in {v} if x > {k}]",
        "above_{k}",
        params=(2, 3, 5),
        off_by_one="[x for x in {v} if x >= {k}]",
    ),
    # --- list -> number
    _p("total", "list", "add up the values", "sum({v})", "sum", result="int", wrong_op="len({v})"),
    _p(
        "largest",
        "list",
        "return the largest value (0 for an empty list)",
        "max({v}, default=0)",
        "max",
        result="int",
        edge_case="max({v})",
    ),
    _p(
        "smallest",
        "list",
        "return the smallest value (0 for an empty list)",
        "min({v}, default=0)",
        "min",
        result="int",
        edge_case="min({v})",
    ),
    _p("count", "list", "count the values", "len({v})", result="int", wrong_op="sum({v})"),
    _p(
        "count_even",
        "list",
        "count the even values",
        "sum(1 for x in {v} if x % 2 == 0)",
        result="int",
        wrong_op="sum(1 for x in {v} if x % 2 == 1)",
    ),
    # --- number -> number
    _p(
        "plus",
        "int",
        "add {k}",
        "{v} + {k}",
        "plus_{k}",
        params=(1, 3, 7, 10),
        off_by_one="{v} + {k_plus}",
        wrong_op="{v} * {k}",
    ),
    _p(
        "minus",
        "int",
        "subtract {k}",
        "{v} - {k}",
        "minus_{k}",
        params=(1, 2, 5),
        off_by_one="{v} - {k_plus}",
        wrong_op="{v} + {k}",
    ),
    _p(
        "times",
        "int",
        "multiply by {k}",
        "{v} * {k}",
        "times_{k}",
        params=(2, 3, 5),
        off_by_one="{v} * {k_plus}",
        wrong_op="{v} + {k}",
    ),
    _p("square", "int", "square the number", "{v} * {v}", wrong_op="{v} * 2"),
    _p(
        "absolute",
        "int",
        "take the absolute value",
        "abs({v})",
        "abs",
        edge_case="({v} if {v} > 0 else 0)",
    ),
    _p("negate", "int", "negate the number", "-{v}", wrong_op="abs({v})"),
    _p(
        "digit_sum",
        "int",
        "add up the decimal digits (ignoring the sign)",
        "sum(int(d) for d in str(abs({v})))",
        "digit_sum",
        edge_case="sum(int(d) for d in str({v}))",
    ),
    _p(
        "floor_div",
        "int",
        "divide by {k}, rounding down",
        "{v} // {k}",
        "div_{k}",
        params=(2, 3, 4),
        edge_case="int({v} / {k})",
        wrong_op="{v} % {k}",
    ),
    _p(
        "modulo",
        "int",
        "take the remainder after dividing by {k}",
        "{v} % {k}",
        "mod_{k}",
        params=(3, 5, 7),
        off_by_one="{v} % {k_plus}",
        wrong_op="{v} // {k}",
    ),
    _p(
        "cap",
        "int",
        "cap the number at {k} (larger numbers become {k})",
        "min({v}, {k})",
        "cap_{k}",
        params=(10, 50),
        off_by_one="min({v}, {k_minus})",
        wrong_op="max({v}, {k})",
    ),
)

BY_NAME: dict[str, Primitive] = {p.name: p for p in PRIMITIVES}
if len(BY_NAME) != len(PRIMITIVES):
    raise AssertionError("primitive names must be unique")


@dataclass(frozen=True)
class Step:
    """A primitive with its parameter (``k`` is None when it takes none)."""

    primitive: Primitive
    k: int | None = None

    def _fill(self, template: str, variable: str) -> str:
        k = self.k if self.k is not None else 0
        return template.format(v=variable, k=k, k_plus=k + 1, k_minus=k - 1)

    def expression(self, variable: str, mistake: str | None = None) -> str:
        """The step's expression over ``variable``, or its ``mistake`` (KeyError if none)."""
        template = self.primitive.expr if mistake is None else self.primitive.mistakes[mistake]
        return self._fill(template, variable)

    @property
    def phrase(self) -> str:
        return self._fill(self.primitive.phrase, "")

    @property
    def short(self) -> str:
        return self._fill(self.primitive.short, "")

    @property
    def key(self) -> str:
        return self.primitive.name if self.k is None else f"{self.primitive.name}({self.k})"


def steps_of(primitive: Primitive) -> list[Step]:
    """Every parameter choice of ``primitive`` as a step."""
    if not primitive.params:
        return [Step(primitive)]
    return [Step(primitive, k) for k in primitive.params]
