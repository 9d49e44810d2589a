"""The result cache: exact hits, typing through a suggestion, and what must not hit."""

from __future__ import annotations

from server.cache import PREFIX_TAIL, CompletionCache
from server.context import InfillWindow, OtherFile
from server.postprocess import Suggestion


def window(prefix: str, suffix: str = "\nprint(1)\n", uri: str = "file:///a.py", others=()):
    return InfillWindow(
        uri=uri,
        path="a.py",
        repo_name="ws",
        language_id="python",
        prefix=prefix,
        suffix=suffix,
        line_prefix=prefix.rpartition("\n")[2],
        line_suffix=suffix.partition("\n")[0],
        other_files=tuple(others),
    )


def test_exact_hit_and_typing_through_returns_the_rest():
    cache = CompletionCache()
    prefix = "import os\n\ndef f(x):\n    "
    cache.put(window(prefix), Suggestion("return x + 1\n    # done"))
    assert cache.get(window(prefix)) == Suggestion("return x + 1\n    # done")
    assert cache.get(window(prefix + "ret")) == Suggestion("urn x + 1\n    # done")
    assert cache.get(window(prefix + "return x + 1\n    ")) == Suggestion("# done")


def test_misses_when_the_text_differs_or_the_suggestion_is_used_up():
    cache = CompletionCache()
    prefix = "def f(x):\n    "
    cache.put(window(prefix), Suggestion("return x", replace_after=0))
    assert cache.get(window(prefix + "rex")) is None  # typed something else
    assert cache.get(window(prefix + "return x")) is None  # nothing left
    assert cache.get(window(prefix, suffix="\nother\n")) is None  # text after cursor changed
    assert cache.get(window(prefix, uri="file:///b.py")) is None
    # Other files are not part of the key: typing changes which of them are near-duplicates.
    assert cache.get(window(prefix, others=[OtherFile("b.py", "x = 1\n")])) is not None
    assert cache.get(window("")) is None
    assert cache.get(window("# " + prefix)) is None  # a short prefix must match whole


def test_long_prefixes_compare_their_tail_and_capacity_evicts_oldest():
    cache = CompletionCache(capacity=2)
    long_prefix = "x = 1\n" * (PREFIX_TAIL // 3) + "y = "
    cache.put(window(long_prefix), Suggestion("2"))
    assert cache.get(window("# an edit far above\n" + long_prefix)) == Suggestion("2")
    cache.put(window("a = "), Suggestion("1"))
    cache.put(window("b = "), Suggestion("2"))
    assert len(cache) == 2
    assert cache.get(window(long_prefix)) is None
    cache.clear()
    assert cache.get(window("a = ")) is None


def test_replace_range_is_kept_for_the_rest():
    cache = CompletionCache()
    cache.put(window("def f(", suffix="):\n"), Suggestion("x, y):\n    pass", replace_after=2))
    assert cache.get(window("def f(x", suffix="):\n")) == Suggestion(
        ", y):\n    pass", replace_after=2
    )


def test_filtered_results_hit_only_on_the_exact_window():
    from server.postprocess import Filtered
    from server.reasons import EmptyReason

    cache = CompletionCache()
    filtered = Filtered(EmptyReason.FILTERED_SYNTAX, "junk")
    cache.put(window("x = "), filtered)
    assert cache.get(window("x = ")) == filtered
    assert cache.get(window("x = 1")) is None
