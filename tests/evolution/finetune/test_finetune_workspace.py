"""``evoselfcode finetune --workspace DIR``: a completion adapter trained on a workspace's own
files (smoke model, RANDOM WEIGHTS: mechanics only), registered per workspace."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from evolution.finetune.errors import DataError
from evolution.finetune.events import RunEvents
from evolution.finetune.formatting import IGNORE_INDEX
from evolution.finetune.registry import AdapterRegistry
from evolution.finetune.run import RunRequest, run_finetune
from evolution.finetune.stopping import StopRequest
from evolution.finetune.workspace_data import (
    SNAPSHOT,
    prepare_workspace_data,
    read_snapshot,
    registry_root,
    training_examples,
    workspace_key,
)
from evolution.workspace import split_by_path
from tests.evolution.workspace.workspace_helpers import module_source


def make_workspace(root: Path, names: list[str]) -> Path:
    for name in names:
        path = root / "pkg" / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(module_source(name), encoding="utf-8")
    return root


def finetune(config, data_dir: Path) -> dict:
    request = RunRequest(config=config, data_path=data_dir / "unused.jsonl", data_dir=data_dir)
    events = RunEvents(json_lines=True, stream=io.StringIO())
    return run_finetune(request, events, StopRequest()).to_dict()


NAMES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


def test_a_workspace_run_trains_a_completion_adapter_in_the_workspace_registry(
    tiny_config, tmp_path
):
    workspace = make_workspace(tmp_path / "proj", NAMES)
    data_dir = tmp_path / "data"
    config = tiny_config(workspace=str(workspace), auto_promote=False, workspace_fim_variants=2)
    result = finetune(config, data_dir)

    root = data_dir / "adapters" / "completion" / workspace_key(workspace)
    assert workspace_key(workspace).startswith("proj-") and root == registry_root(data_dir, config)
    assert Path(result["adapter_path"]).parent == root
    assert AdapterRegistry(root).get(result["adapter_id"]).status == "candidate"
    # The instruction registry is another one: nothing of this run is in it.
    assert AdapterRegistry.in_data_dir(data_dir).records() == []
    # The report names the workspace and exactly the files held out by path.
    report = json.loads(Path(result["report_path"]).read_text(encoding="utf-8"))
    paths = [f"pkg/{name}.py" for name in NAMES]
    train_paths, heldout_paths = split_by_path(paths)
    assert report["workspace"]["root"] == str(workspace.resolve())
    assert report["workspace"]["heldout_files"] == heldout_paths
    assert report["workspace"]["train_files"] == len(train_paths)
    assert report["data"]["heldout_records"] == len(heldout_paths) >= 2
    assert result["training"]["steps"] > 0


def test_training_examples_take_loss_on_the_middle_only_and_never_see_held_out_files(
    tiny_config, tmp_path
):
    workspace = make_workspace(tmp_path / "proj", NAMES)
    config = tiny_config(workspace=str(workspace), auto_promote=False, workspace_fim_variants=3)
    result = finetune(config, tmp_path / "data")
    data = read_snapshot(Path(result["run_dir"]))
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(config.base_model)
    prepared = prepare_workspace_data(data, tokenizer, config)
    heldout = {f.path for f in data.heldout_files}
    assert heldout and not heldout & {f.path for f in data.train_files}
    assert {e.key.split(":", 1)[1] for e in prepared.train}.isdisjoint(heldout)
    assert {e.key.split(":", 1)[1] for e in prepared.heldout} <= heldout
    # Three variants: three times the file examples of one, with other middles.
    single = tiny_config(workspace=str(workspace), workspace_fim_variants=1)
    three = training_examples(data, config)
    assert len(three) == 3 * len(training_examples(data, single))
    assert len({e.middle for e in three}) > len(training_examples(data, single))
    eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    middle = tokenizer.convert_tokens_to_ids("<|fim_middle|>")
    for example in prepared.train:
        labelled = [i for i, label in enumerate(example.labels) if label != IGNORE_INDEX]
        # Labels start right after <|fim_middle|> and run to the end: the middle, then EOS.
        assert example.input_ids[labelled[0] - 1] == middle
        assert labelled == list(range(labelled[0], len(example)))
        assert example.labels[-1] == eos


def test_two_workspaces_of_the_same_name_get_two_registries(tmp_path):
    first = make_workspace(tmp_path / "a" / "proj", NAMES[:3])
    second = make_workspace(tmp_path / "b" / "proj", NAMES[:3])
    assert workspace_key(first) != workspace_key(second)
    assert workspace_key(first) == workspace_key(tmp_path / "a" / ".." / "a" / "proj")


def test_a_workspace_with_one_file_is_refused_before_a_run_folder_is_made(tiny_config, tmp_path):
    workspace = make_workspace(tmp_path / "proj", ["alone"])
    config = tiny_config(workspace=str(workspace))
    with pytest.raises(DataError, match="at least two Python files"):
        finetune(config, tmp_path / "data")
    assert not Path(config.save_path).exists()


def test_the_snapshot_freezes_the_files_for_a_resumed_run(tiny_config, tmp_path):
    workspace = make_workspace(tmp_path / "proj", NAMES)
    config = tiny_config(workspace=str(workspace), auto_promote=False)
    result = finetune(config, tmp_path / "data")
    frozen = read_snapshot(Path(result["run_dir"]))
    (workspace / "pkg" / "alpha.py").write_text("changed = 1\n" * 40, encoding="utf-8")
    assert read_snapshot(Path(result["run_dir"])) == frozen
    assert (Path(result["run_dir"]) / SNAPSHOT).is_file()
    assert {f.path for f in frozen.train_files + frozen.heldout_files} == {
        f"pkg/{n}.py" for n in NAMES
    }


def test_adapters_workspace_manages_the_completion_registry_only(tiny_config, tmp_path, capsys):
    from server.cli import main

    workspace = make_workspace(tmp_path / "proj", NAMES)
    data_dir = tmp_path / "data"
    result = finetune(tiny_config(workspace=str(workspace), auto_promote=False), data_dir)
    assert f"adapters --workspace {workspace} promote" in result["reason"]
    flags = ["adapters", "--data-dir", str(data_dir), "--workspace", str(workspace)]
    assert main([*flags, "path"]) == 1  # nothing promoted yet
    assert main([*flags, "promote", result["adapter_id"]]) == 0
    capsys.readouterr()
    assert main([*flags, "path"]) == 0
    assert capsys.readouterr().out.strip() == result["adapter_path"]
    # The instruction registry knows nothing of it.
    assert main(["adapters", "--data-dir", str(data_dir), "path"]) == 1
    assert main(["adapters", "--data-dir", str(data_dir), "promote", result["adapter_id"]]) == 1


def test_a_stopped_workspace_run_resumes_on_its_snapshot_into_the_same_registry(
    tiny_config, tmp_path
):
    from finetune_helpers import StopAt

    workspace = make_workspace(tmp_path / "proj", NAMES)
    data_dir = tmp_path / "data"
    config = tiny_config(workspace=str(workspace), auto_promote=False, checkpoint_every=1)
    request = RunRequest(config=config, data_path=data_dir / "unused.jsonl", data_dir=data_dir)
    stop = StopRequest()
    stopped = run_finetune(request, RunEvents(json_lines=True, stream=StopAt(stop, 2)), stop)
    assert stopped.status == "stopped" and stopped.step == 2 < stopped.total_steps
    # The workspace changes in between; the run goes on with what it froze.
    for name in NAMES:
        (workspace / "pkg" / f"{name}.py").unlink()
    resumed = RunRequest(
        config=config, data_path=data_dir / "unused.jsonl", data_dir=data_dir, resume=True
    )
    events = io.StringIO()
    finished = run_finetune(resumed, RunEvents(json_lines=True, stream=events), StopRequest())
    assert finished.status == "finished" and finished.step == stopped.total_steps
    assert '"resuming at step 2' in events.getvalue()
    assert Path(finished.adapter_path or "").parent == registry_root(data_dir, config)
