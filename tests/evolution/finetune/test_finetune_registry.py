"""The adapter registry (promote, reject, rollback, locking) and what serving reads from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evolution.finetune.errors import (
    AdapterNotFound,
    PromotionRefused,
    RegistryError,
    RegistryLocked,
)
from evolution.finetune.registry import AdapterRecord, AdapterRegistry, utc_now
from evolution.finetune.serving import (
    promoted_adapter_path,
    resolve_adapter_setting,
    swap_adapter,
    swap_to_promoted,
)

REPO = Path(__file__).resolve().parents[3]


def _fake_adapter(folder: Path) -> Path:
    """Stand-in adapter files for registry bookkeeping tests (no model needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text("{}", encoding="utf-8")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def _add(
    registry: AdapterRegistry, source: Path, adapter_id: str, base: str = "Qwen2.5-Coder-1.5B"
):
    record = AdapterRecord(
        id=adapter_id, base_model=base, data_hash="ab" * 32, created_at=utc_now()
    )
    return registry.add(source, record)


@pytest.fixture
def registry(tmp_path: Path) -> AdapterRegistry:
    return AdapterRegistry(tmp_path / "data" / "adapters")


def test_promote_reject_and_rollback_keep_a_history(registry, tmp_path):
    source = _fake_adapter(tmp_path / "trained")
    a, b, c = (_add(registry, source, name) for name in ("ft-a", "ft-b", "ft-c"))
    assert (registry.path_of("ft-a") / "adapter_model.safetensors").read_bytes() == b"weights"
    assert registry.promoted() is None
    registry.promote(a.id, reason="gate passed")
    registry.promote(b.id, reason="gate passed")
    registry.reject(c.id, reason="worse on held-out loss")
    statuses = {r.id: r.status for r in registry.records()}
    assert statuses == {"ft-a": "retired", "ft-b": "promoted", "ft-c": "rejected"}
    restored = registry.rollback()
    assert restored is not None and restored.id == "ft-a"
    assert registry.get("ft-b").status == "rolled_back"
    assert registry.rollback() is None  # back to the base model
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()
    actions = [(e["action"], e["id"]) for e in registry.events()]
    assert actions[-4:] == [
        ("promote", "ft-b"),
        ("reject", "ft-c"),
        ("rollback", "ft-b"),
        ("rollback", "ft-a"),
    ]


def test_a_rejected_adapter_needs_force_and_unknown_ids_are_named(registry, tmp_path):
    _add(registry, _fake_adapter(tmp_path / "t"), "ft-x")
    registry.reject("ft-x", reason="HumanEval lost 6 tasks")
    with pytest.raises(PromotionRefused, match="HumanEval lost 6 tasks"):
        registry.promote("ft-x", reason="manual")
    assert registry.promote("ft-x", reason="manual", force=True).status == "promoted"
    with pytest.raises(AdapterNotFound, match="ft-x"):
        registry.get("ft-nope")


def test_ids_never_collide(registry, tmp_path):
    source = _fake_adapter(tmp_path / "t")
    first, second = _add(registry, source, "ft-same"), _add(registry, source, "ft-same")
    assert (first.id, second.id) == ("ft-same", "ft-same-2")


def test_an_unreadable_registry_is_reported_and_left_untouched(registry, tmp_path):
    registry.root.mkdir(parents=True)
    registry.file.write_text('{"adapters": {"ft-1": ', encoding="utf-8")
    with pytest.raises(RegistryError, match="unreadable"):
        registry.records()
    with pytest.raises(RegistryError, match="left untouched"):
        _add(registry, _fake_adapter(tmp_path / "t"), "ft-2")
    assert registry.file.read_text(encoding="utf-8") == '{"adapters": {"ft-1": '


def test_concurrent_writers_in_two_processes_lose_nothing(registry, tmp_path):
    source = _fake_adapter(tmp_path / "t")
    script = (
        "import sys; from pathlib import Path\n"
        "from evolution.finetune.registry import AdapterRecord, AdapterRegistry\n"
        "reg = AdapterRegistry(sys.argv[1])\n"
        "for i in range(15):\n"
        "    r = AdapterRecord(id=f'ft-{sys.argv[2]}-{i}', base_model='m', data_hash='0'*64,\n"
        "                      created_at='t')\n"
        "    reg.add(Path(sys.argv[3]), r)\n"
        "    reg.promote(r.id, reason='race')\n"
    )
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(registry.root), tag, str(source)], cwd=REPO
        )
        for tag in ("p", "q")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    records = registry.records()
    assert len(records) == 30
    assert sum(r.status == "promoted" for r in records) == 1
    assert len(json.loads(registry.file.read_text())["stack"]) == 30
    assert not list(registry.root.glob(".*.tmp"))  # no half-written registry left behind


def test_a_held_lock_times_out_with_a_clear_error(tmp_path):
    from filelock import FileLock

    registry = AdapterRegistry(tmp_path / "adapters", lock_timeout_s=0.2)
    registry.root.mkdir(parents=True)
    with FileLock(str(registry.root / "registry.lock")), pytest.raises(RegistryLocked):
        _add(registry, _fake_adapter(tmp_path / "t"), "ft-1")


def test_the_adapter_setting_resolves_like_the_server_needs(registry, tmp_path):
    data_dir = registry.root.parent
    source = _fake_adapter(tmp_path / "t")
    _add(registry, source, "ft-1")
    _add(registry, source, "ft-2", base="Qwen2.5-Coder-0.5B")
    assert resolve_adapter_setting("promoted", data_dir=data_dir) is None
    assert resolve_adapter_setting("none", data_dir=data_dir) is None
    registry.promote("ft-1", reason="test")
    choice = resolve_adapter_setting("promoted", data_dir=data_dir, base_model="Qwen2.5-Coder-1.5B")
    assert choice is not None and (choice.name, choice.path) == ("ft-1", registry.path_of("ft-1"))
    # The same model named by folder or hub id still matches; another base model does not.
    assert promoted_adapter_path(data_dir, base_model="/w/Qwen/Qwen2.5-Coder-1.5B") is not None
    assert promoted_adapter_path(data_dir, base_model="Qwen2.5-Coder-0.5B") is None
    by_id = resolve_adapter_setting("ft-2", data_dir=data_dir)
    assert by_id is not None and by_id.name == "ft-2"
    by_folder = resolve_adapter_setting(str(source), data_dir=data_dir)
    assert by_folder is not None and by_folder.path == source
    with pytest.raises(AdapterNotFound, match="ft-1"):
        resolve_adapter_setting("ft-missing", data_dir=data_dir)


def test_promoted_serves_the_workspace_s_completion_adapter_first(registry, tmp_path):
    from evolution.finetune.workspace_data import completion_registry_root

    data_dir = registry.root.parent
    workspace = tmp_path / "project"
    workspace.mkdir()
    source = _fake_adapter(tmp_path / "t")
    _add(registry, source, "instruct-1")
    registry.promote("instruct-1", reason="test")
    own = AdapterRegistry(completion_registry_root(data_dir, workspace))
    base = "Qwen2.5-Coder-1.5B"

    def served(folder: Path | None = workspace, model: str = base):
        return resolve_adapter_setting(
            "promoted", data_dir=data_dir, base_model=model, workspace=folder
        )

    # No completion adapter yet: the instruction adapter serves, and a rollback goes there.
    choice = served()
    assert choice is not None and (choice.name, choice.registry) == ("instruct-1", registry.root)
    _add(own, source, "ws-1")
    own.promote("ws-1", reason="test")
    choice = served()
    assert choice is not None and (choice.name, choice.registry) == ("ws-1", own.root)
    assert choice.promoted
    other = tmp_path / "other"
    other.mkdir()
    assert served(other).name == "instruct-1"  # type: ignore[union-attr]
    assert served(None).name == "instruct-1"  # type: ignore[union-attr]
    # A completion adapter of another base model is passed over; an id is served as named.
    _add(own, source, "ws-2", base="Qwen2.5-Coder-0.5B")
    own.promote("ws-2", reason="test")
    assert served().name == "instruct-1"  # type: ignore[union-attr]
    named = resolve_adapter_setting("instruct-1", data_dir=data_dir, workspace=workspace)
    assert named is not None and not named.promoted


def test_the_serving_model_hot_swaps_to_the_promoted_adapter(
    registry, tmp_path, smoke_model_dir, tiny_config
):
    """A real adapter on the real runtime: swap in, roll back to base, swap again."""
    import torch
    from finetune_helpers import synthetic_pairs, train_in_process

    from models import load_model

    trainer, _ = train_in_process(tiny_config(epochs=2), synthetic_pairs(8), tmp_path / "run")
    trainer.unwrapped.save_pretrained(tmp_path / "adapter")
    _add(registry, tmp_path / "adapter", "ft-good", base=str(smoke_model_dir))
    registry.promote("ft-good", reason="test")
    model = load_model(smoke_model_dir, device="cpu", dtype="float32")
    ids = torch.tensor([[5, 17, 300, 42]])

    def logits():
        with torch.no_grad():
            return model.hf_model(input_ids=ids).logits

    base = logits()
    data_dir = registry.root.parent
    assert swap_to_promoted(model, data_dir=data_dir, base_model=str(smoke_model_dir)) == "ft-good"
    assert model.info.adapter == "ft-good"
    tuned = logits()
    assert not torch.allclose(tuned, base, atol=1e-4)
    with torch.no_grad():
        assert torch.allclose(trainer.unwrapped.eval()(input_ids=ids).logits, tuned, atol=1e-5)
    registry.rollback()
    assert swap_to_promoted(model, data_dir=data_dir) is None
    assert torch.allclose(logits(), base, atol=1e-6)
    registry.promote("ft-good", reason="again")
    choice = resolve_adapter_setting("promoted", data_dir=data_dir)
    assert swap_adapter(model, choice) == "ft-good"  # already loaded: reused, not reloaded
    assert list(model.adapters) == ["ft-good"]
    assert torch.allclose(logits(), tuned, atol=1e-6)
