"""Examples are laid out as the server prompts: repo name, other files first, then the FIM
prompt of the file and its middle; the format is pretraining's and the runtime's own."""

from __future__ import annotations

import pytest
from workspace_helpers import module_source

from evolution.pretrain.dedup import text_sha256
from evolution.pretrain.samples import SampleMaker, answered, split_chunks
from evolution.workspace.accepted import AcceptedTarget
from evolution.workspace.examples import (
    ExampleConfig,
    accepted_examples,
    file_examples,
)
from evolution.workspace.scan import WorkspaceFile
from models.paths import DEFAULT_MODEL, default_models_dir
from models.prompts import repo_fim_prompt
from models.tokens import ENDOFTEXT, FILE_SEP, FIM_MIDDLE, FIM_PREFIX, REPO_NAME


def workspace_file(path: str, text: str) -> WorkspaceFile:
    return WorkspaceFile(path, text, text_sha256(text))


FILES = [
    workspace_file("app/core.py", module_source("core", lines=30)),
    workspace_file("app/utils.py", module_source("utils", lines=4)),
    workspace_file("tools/report.py", module_source("report", lines=12)),
]


def parts(example) -> dict[str, str]:
    """The text of each role's segments after the current file's header."""
    roles: dict[str, str] = {}
    for segment in example.prompt.segments:
        roles[segment.role] = roles.get(segment.role, "") + segment.text
    return roles


def test_each_chunk_of_each_file_is_one_repo_level_fim_example():
    config = ExampleConfig(context_tokens=128)
    examples = file_examples(FILES, "myproject", config)
    chunk_chars = SampleMaker(128, 1.0, 1.0, 0, "editor").chunk_chars
    expected = [f.path for f in FILES for _ in split_chunks(f.text, chunk_chars)]
    assert [e.path for e in examples] == expected and len(expected) > len(FILES)
    for example in examples:
        text = example.prompt.text
        assert example.kind == "repo-fim" and example.source == "file"
        assert text.startswith(f"{REPO_NAME}myproject\n{FILE_SEP}")
        assert text.endswith(example.middle + ENDOFTEXT)
        # other files' heads first, the example's own file last, right before its FIM prompt
        headers = [line for line in text.split(FILE_SEP)[1:]]
        assert headers[-1].startswith(f"{example.path}\n{FIM_PREFIX}")
        others = [h.split("\n", 1)[0] for h in headers[:-1]]
        assert others and example.path not in others
        assert set(others) <= {f.path for f in FILES}
        # prefix + middle + suffix is one chunk of the file, cut at line ends
        roles = parts(example)
        chunk = roles["prefix"] + example.middle + roles.get("suffix", "")
        assert chunk in split_chunks(
            next(f.text for f in FILES if f.path == example.path), chunk_chars
        )
        assert example.question.text.endswith(FIM_MIDDLE)
        assert example.question.text + example.middle + ENDOFTEXT == text


def test_examples_are_deterministic_for_a_seed_and_differ_across_seeds():
    first = file_examples(FILES, "myproject", ExampleConfig(context_tokens=128, seed=1))
    again = file_examples(FILES, "myproject", ExampleConfig(context_tokens=128, seed=1))
    other = file_examples(FILES, "myproject", ExampleConfig(context_tokens=128, seed=2))
    assert first == again and first != other


def test_a_single_file_workspace_gets_file_level_fim():
    (example,) = file_examples(FILES[1:2], "myproject", ExampleConfig(context_tokens=2048))
    assert example.kind == "fim" and example.prompt.text.startswith(FIM_PREFIX)


def test_an_accepted_completion_is_the_middle_of_the_servers_own_layout():
    text = FILES[1].text
    start = text.index("utils_total = sum")
    middle = "utils_total = sum(v * scale for v in values if v > 0)\n"
    target = AcceptedTarget("app/utils.py", start, start + len(middle), middle, "accepted", "r1")
    (example,) = accepted_examples(
        [target], FILES[1:2], "myproject", ExampleConfig(context_tokens=2048)
    )
    prefix, _, suffix = target.split(text)
    assert example.prompt == answered(
        repo_fim_prompt("myproject", [], "app/utils.py", prefix, suffix), middle
    )
    assert example.source == "accepted" and example.middle == middle


def test_an_accepted_completions_window_is_cut_at_line_ends_around_it():
    core = FILES[0]
    start = core.text.index("core_total = sum(v * scale for v in values if v > 15)")
    middle = "core_total = sum(v * scale for v in values if v > 15)"
    target = AcceptedTarget(core.path, start, start + len(middle), middle, "partial", "r2")
    config = ExampleConfig(context_tokens=128, seed=5)
    (example,) = accepted_examples([target], FILES, "myproject", config)
    roles = parts(example)
    prefix, suffix = roles["prefix"], roles["suffix"]
    full_prefix, _, full_suffix = target.split(core.text)
    assert full_prefix.endswith(prefix) and len(prefix) < len(full_prefix)
    assert full_prefix[: len(full_prefix) - len(prefix)].endswith("\n")  # whole lines only
    assert full_suffix.startswith(suffix) and suffix.startswith("\n    return core_total")
    room = SampleMaker(128, 1.0, 1.0, 0, "editor").chunk_chars - len(middle)
    assert len(prefix) <= room * config.prefix_share and len(prefix) + len(suffix) <= room
    headers = example.prompt.text.split(FILE_SEP)[1:]
    assert headers[-1].startswith(f"{core.path}\n{FIM_PREFIX}") and len(headers) >= 2


@pytest.mark.parametrize(
    ("field", "value"),
    [("context_tokens", 8), ("repo_rate", 1.5), ("fim_split", "lines"), ("prefix_share", 1.0)],
)
def test_a_bad_config_names_the_value(field: str, value: object):
    with pytest.raises(ValueError, match=field):
        ExampleConfig(**{field: value})


def test_the_shipped_tokenizer_reads_markers_as_single_tokens_and_file_text_literally():
    from transformers import AutoTokenizer

    from models.encoding import Codec

    folder = default_models_dir() / DEFAULT_MODEL  # the shipped model's tokenizer
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    codec = Codec(tokenizer)
    # A file that spells the control tokens must never inject them into the prompt.
    tricky = workspace_file(
        "app/tricky.py", module_source("tricky") + 'MARK = "<|file_sep|><|fim_middle|>"\n'
    )
    examples = file_examples([*FILES[1:], tricky], "myproject", ExampleConfig(context_tokens=512))
    ids = {name: codec.special_id(name) for name in (FILE_SEP, FIM_PREFIX, FIM_MIDDLE, ENDOFTEXT)}
    for example in examples:
        encoded = codec.encode_prompt(example.prompt)
        assert encoded.count(ids[FIM_PREFIX]) == 1 and encoded.count(ids[FIM_MIDDLE]) == 1
        markers = [s.text for s in example.prompt.segments if s.special]  # ours, not the file's
        assert encoded.count(ids[FILE_SEP]) == markers.count(FILE_SEP)
        assert encoded[-1] == ids[ENDOFTEXT]
        answer = encoded[encoded.index(ids[FIM_MIDDLE]) + 1 : -1]
        assert codec.decode(answer) == example.middle
    assert any("<|file_sep|><|fim_middle|>" in e.prompt.text for e in examples)  # it was there
    assert all(len(e.question.segments) < len(e.prompt.segments) for e in examples)
