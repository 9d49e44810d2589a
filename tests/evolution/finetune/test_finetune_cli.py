"""``evoselfcode finetune`` and ``evoselfcode adapters`` as a user (or the server) runs them."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from finetune_helpers import synthetic_pairs, train_in_process, write_jsonl
from safetensors.torch import load_file

from evolution.finetune.cli_options import finetune_argv, overrides_to_argv
from evolution.finetune.config import FinetuneConfig
from evolution.finetune.errors import ResumeError
from evolution.finetune.events import RunEvents
from evolution.finetune.registry import AdapterRegistry
from evolution.finetune.run import RunRequest, run_finetune
from evolution.finetune.stopping import StopRequest
from server.cli import main

REPO = Path(__file__).resolve().parents[3]


def _settings(smoke_model_dir: Path, **changes) -> dict:
    """Flags for the smoke model (RANDOM WEIGHTS), as a mapping (see overrides_to_argv)."""
    settings = {
        "base_model": str(smoke_model_dir),
        "device": "cpu",
        "dtype": "float32",
        "threads": 1,
        "max_length": 256,
        "min_records": 4,
        "eval_share": 0.2,
        "batch_size": 2,
        "gradient_accumulation": 1,
        "learning_rate": 3e-3,
        "lora_dropout": 0.0,
        "warmup_ratio": 0.0,
        "epochs": 2.0,
        "checkpoint_every": 2,
        "eval_tasks": 1,
        "eval_max_new_tokens": 32,
    }
    return {**settings, **changes}


def _run_main(capsys, argv: list[str]) -> tuple[int, list[dict], str]:
    code = main(argv)
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    return code, lines, captured.err


def _spawn(argv: list[str]) -> subprocess.Popen:
    """Start the command as the language server does (``finetune_argv``)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _read_until(process: subprocess.Popen, predicate) -> list[dict]:
    """Progress lines up to and including the first one ``predicate`` accepts."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        event = json.loads(line)
        seen.append(event)
        if predicate(event):
            return seen
    raise AssertionError(f"the run ended before the awaited event; last lines: {seen[-3:]}")


def test_a_run_trains_registers_gates_and_promotes(capsys, tmp_path, smoke_model_dir):
    data = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(16))
    data_dir = tmp_path / "data"
    argv = ["finetune", "--data", str(data), "--data-dir", str(data_dir), "--progress", "json"]
    code, lines, _ = _run_main(capsys, argv + overrides_to_argv(_settings(smoke_model_dir)))
    assert code == 0
    result = lines[-1]
    assert result["event"] == "result" and result["status"] == "finished"
    assert result["promoted"] is True, result["reason"]
    assert Path(result["report_path"]).is_file()
    phases = [e["phase"] for e in lines if e["event"] in ("phase", "progress")]
    assert phases.index("data") < phases.index("train") < phases.index("gate")
    adapter_id = result["adapter_id"]

    registry = ["adapters", "--data-dir", str(data_dir)]
    assert main([*registry, "path"]) == 0
    assert capsys.readouterr().out.strip() == str(data_dir / "adapters" / adapter_id)
    assert main([*registry, "list"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert row.startswith(f"* {adapter_id}")
    # Columns fit their widest cell: a long base-model path does not shift the dates.
    created = re.search(r"\d{4}-\d\d-\d\dT", row)
    assert created is not None and header.index("CREATED") == created.start()
    assert main([*registry, "rollback"]) == 0
    assert "base model" in capsys.readouterr().out
    assert main([*registry, "path"]) == 1
    assert main([*registry, "promote", adapter_id]) == 0
    assert main([*registry, "show", adapter_id]) == 0
    assert "PROMOTED" in capsys.readouterr().out
    assert main([*registry, "promote", "ft-unknown"]) == 1
    assert "ft-unknown" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("rows", "extra", "exit_code", "message"),
    [
        ([], {}, 3, "no usable training records"),
        (synthetic_pairs(3), {}, 3, "only 3 usable training records"),
        (synthetic_pairs(8, body_lines=60), {"max_length": 64}, 3, "max_length=64"),
        (synthetic_pairs(8), {"lora_rank": 0}, 2, "lora_rank must be ≥ 1, got 0"),
    ],
    ids=["empty store", "tiny store", "all too long", "bad setting"],
)
def test_bad_input_is_refused_with_a_clear_message(
    capsys, tmp_path, smoke_model_dir, rows, extra, exit_code, message
):
    data = write_jsonl(tmp_path / "pairs.jsonl", rows)
    argv = [
        "finetune",
        "--data",
        str(data),
        "--data-dir",
        str(tmp_path / "d"),
        "--progress",
        "json",
    ]
    settings = _settings(smoke_model_dir, **extra)
    if "lora_rank" in extra:  # a bad value must reach the parser, not the override check
        argv += ["--lora-rank", "0"]
        settings.pop("lora_rank")
    code, lines, _ = _run_main(capsys, argv + overrides_to_argv(settings))
    assert code == exit_code
    assert lines[-1]["event"] == "error" and message in lines[-1]["message"]


def test_an_existing_save_path_is_refused_unless_resumed_or_overwritten(
    capsys, tmp_path, smoke_model_dir
):
    data = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(8))
    occupied = tmp_path / "mine"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("keep me", encoding="utf-8")
    base = [
        "finetune",
        "--data",
        str(data),
        "--data-dir",
        str(tmp_path / "d"),
        "--progress",
        "json",
    ]
    flags = overrides_to_argv(_settings(smoke_model_dir, save_path=str(occupied)))
    code, lines, _ = _run_main(capsys, base + flags)
    assert (
        code == 4 and "--resume" in lines[-1]["message"] and "--overwrite" in lines[-1]["message"]
    )
    code, lines, _ = _run_main(capsys, [*base, *flags, "--overwrite"])
    assert code == 4 and "not a fine-tuning run folder" in lines[-1]["message"]
    assert (occupied / "notes.txt").read_text(encoding="utf-8") == "keep me"  # nothing lost
    code, lines, _ = _run_main(capsys, [*base, "--resume", "--data-dir", str(tmp_path / "d")])
    assert code == 4 and "no unfinished fine-tuning run" in lines[-1]["message"]


def test_sigterm_stops_cleanly_and_resume_survives_a_corrupt_checkpoint(
    capsys, tmp_path, smoke_model_dir
):
    data = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(24))
    run_dir = tmp_path / "run"
    settings = _settings(smoke_model_dir, epochs=12, save_path=str(run_dir), auto_promote=False)
    process = _spawn([*finetune_argv(settings, data_dir=tmp_path / "d"), "--data", str(data)])
    _read_until(process, lambda e: e["event"] == "checkpoint" and e["step"] >= 4)
    process.send_signal(signal.SIGTERM)
    rest = [json.loads(line) for line in process.stdout or ()]
    assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert rest[-1]["event"] == "result" and rest[-1]["status"] == "stopped"
    stopped_at = rest[-1]["step"]
    assert stopped_at < rest[-1]["total_steps"]
    newest = run_dir / "checkpoints" / f"step-{stopped_at:08d}"
    assert (newest / "manifest.json").is_file()
    optimizer = newest / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[:-7] + b"garbage")  # a corrupt checkpoint

    resume = ["finetune", "--resume", "--save-path", str(run_dir), "--progress", "json"]
    code, lines, _ = _run_main(capsys, [*resume, "--data-dir", str(tmp_path / "d")])
    assert code == 0
    warnings = [e["message"] for e in lines if e["event"] == "warning"]
    assert any("optimizer.pt does not match its checksum" in w for w in warnings), warnings
    assert any("resuming from the previous checkpoint" in w for w in warnings)
    result = lines[-1]
    assert result["status"] == "finished" and result["step"] == result["total_steps"]
    assert result["training"]["resumed_from"] < stopped_at


def test_a_killed_run_resumes_from_its_last_checkpoint_to_the_same_adapter(
    capsys, tmp_path, smoke_model_dir
):
    data = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(24))
    run_dir = tmp_path / "run"
    settings = _settings(smoke_model_dir, epochs=12, save_path=str(run_dir), auto_promote=False)
    process = _spawn([*finetune_argv(settings, data_dir=tmp_path / "d"), "--data", str(data)])
    seen = _read_until(process, lambda e: e["event"] == "checkpoint" and e["step"] >= 6)
    process.kill()  # SIGKILL: no handler runs, no cleanup
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not any(e["event"] == "result" for e in seen)
    resume = ["finetune", "--resume", "--data-dir", str(tmp_path / "d"), "--progress", "json"]
    code, lines, _ = _run_main(capsys, resume)
    assert code == 0
    result = lines[-1]
    assert result["training"]["resumed_from"] >= 6 and result["step"] == result["total_steps"]

    # The same settings without the kill give the same adapter.
    config = FinetuneConfig.from_mapping({**settings, "save_path": str(tmp_path / "unbroken")})
    unbroken, _ = train_in_process(config, synthetic_pairs(24), tmp_path / "unbroken")
    expected = {k: v for k, v in unbroken.unwrapped.state_dict().items() if "lora_" in k}
    resumed = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    assert len(resumed) == len(expected)
    for key, tensor in resumed.items():
        match = next(v for k, v in expected.items() if k.replace(".default", "") == key)
        assert (tensor - match).abs().max() < 1e-5, key


class _StopAtPhase(io.StringIO):
    """Progress output that requests a stop when a ``phase`` message starting so appears."""

    def __init__(self, stop: StopRequest, prefix: str) -> None:
        super().__init__()
        self.stop, self.prefix = stop, prefix

    def write(self, text: str) -> int:
        for line in text.splitlines():
            event = json.loads(line)
            if event["event"] == "phase" and event["message"].startswith(self.prefix):
                self.stop.request()
        return super().write(text)


def test_a_stop_during_the_gate_leaves_the_candidate_unjudged_until_resumed(
    tmp_path, smoke_model_dir
):
    data = write_jsonl(tmp_path / "pairs.jsonl", synthetic_pairs(12))
    config = FinetuneConfig.from_mapping(_settings(smoke_model_dir, save_path=str(tmp_path / "r")))
    request = RunRequest(config=config, data_path=data, data_dir=tmp_path / "d")
    stop = StopRequest()
    stopped = run_finetune(
        request, RunEvents(json_lines=True, stream=_StopAtPhase(stop, "humaneval:")), stop
    )
    assert stopped.status == "stopped" and "gate" in stopped.reason
    registry = AdapterRegistry(tmp_path / "d" / "adapters")
    candidate = registry.get(stopped.adapter_id or "")
    assert candidate.status == "candidate" and candidate.gate is None
    assert registry.promoted() is None

    # A resume may change how the run goes on (threads, gate), not what it trains.
    clash = RunRequest(
        config=config,
        data_path=data,
        data_dir=tmp_path / "d",
        resume=True,
        overrides={"epochs": 9.0},
    )
    with pytest.raises(ResumeError, match=r"epochs \(run: 2.0, given: 9.0\)"):
        run_finetune(clash, RunEvents(json_lines=True, stream=io.StringIO()), StopRequest())
    resumed_request = RunRequest(
        config=config,
        data_path=data,
        data_dir=tmp_path / "d",
        resume=True,
        overrides={"threads": 1, "eval_tasks": 1, "device": "cpu"},
    )
    events = io.StringIO()
    finished = run_finetune(
        resumed_request, RunEvents(json_lines=True, stream=events), StopRequest()
    )
    assert finished.status == "finished" and finished.adapter_id == stopped.adapter_id
    assert not any('"phase": "train"' in line for line in events.getvalue().splitlines())
    assert registry.get(finished.adapter_id or "").gate is not None
    assert len(registry.records()) == 1  # the same candidate, judged once
