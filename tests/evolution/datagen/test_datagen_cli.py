"""``evoselfcode datagen`` as a user runs it: a real process, killed with SIGKILL and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from datagen_helpers import config_data, lines, make_config, outputs, run, script, write_descs

from evolution.testserver import ScriptedServer

REPO = Path(__file__).resolve().parents[3]
KEY = "sk-test-7f3a9c-do-not-log"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "EVOSELFCODE_GENERATOR_API_KEY"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def datagen(cwd: Path, *args: str, env: dict[str, str] | None = None):
    command = [sys.executable, "-m", "server.cli", "datagen", *args]
    return subprocess.run(
        command, cwd=cwd, env=env or cli_env(), capture_output=True, text=True, timeout=120
    )


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    """The command in the background, its output in ``cwd/run.out`` (a pipe could fill up)."""
    command = [sys.executable, "-m", "server.cli", "datagen", *args]
    with open(cwd / "run.out", "a") as out:
        return subprocess.Popen(command, cwd=cwd, env=cli_env(), stdout=out, stderr=out, text=True)


def kill_when(process: subprocess.Popen[str], folder: Path, records: int) -> None:
    """SIGKILL ``process`` once the parts files in ``folder`` hold ``records`` lines."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        written = sum(p.read_bytes().count(b"\n") for p in folder.glob("raw.*.jsonl"))
        if written >= records:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        assert process.poll() is None, (folder.parent.parent / "run.out").read_text()
        time.sleep(0.005)
    raise AssertionError("the run wrote too little in a minute")


def test_kill_9_twice_then_resume_gives_the_uninterrupted_result(server, tmp_path, benchmark_names):
    server.set_script(script(descs=8))
    descs = write_descs(tmp_path / "descs.jsonl", 8)
    options = {"namegen": {"requests_per_arm": 6}, "io": {"input_desc_path": str(descs)}}
    reference = tmp_path / "reference"
    run(make_config(reference, server.base_url, **options), benchmark_names)
    server.clear_requests()

    work = tmp_path / "work"
    data = config_data(work, server.base_url, **options)
    data["io"].update(concurrency=2)
    work.mkdir()
    (work / "datagen.yaml").write_text(yaml.safe_dump(data))
    server.latency = 0.15
    args = ("--config", "datagen.yaml", "--progress", "json")

    first = start(work, *args)  # killed during stage A
    kill_when(first, work / "names" / "parts", records=12)
    assert not (work / "names" / "raw.jsonl").exists()
    [own] = sorted((work / "names" / "parts").glob("raw.*.jsonl"))
    with open(own, "ab") as handle:  # as if the kill had landed inside a write
        handle.write(b'{"schema_version":1,"id":"L2R-000005#0","item_id":"L2R-0')

    second = start(work, *args)  # killed during stage B
    kill_when(second, work / "code" / "parts", records=2)
    assert (work / "names" / "filtered.jsonl").is_file()
    assert list((work / "names" / "parts").glob("*.torn-*"))  # the torn line was set aside

    server.latency = 0.0
    third = datagen(work, *args)
    assert third.returncode == 0, third.stderr
    result = json.loads(third.stdout.splitlines()[-1])
    assert result["event"] == "result" and result["exit_code"] == 0
    code_stats = result["stages"][1]["generation"]
    assert code_stats["skipped"] >= 2 and code_stats["skipped"] + code_stats["done"] == 11

    assert outputs(work) == outputs(reference)  # byte for byte
    raw = lines(work / "names" / "raw.jsonl")
    assert len({r["id"] for r in raw}) == len(raw) == 12 * 4  # no duplicates, no gaps
    # Only the requests in flight at each kill were asked twice (concurrency 2).
    assert len(server.bodies("/v1/completions")) <= 12 + 11 + 2 * 2


def test_a_user_run_with_an_api_key_and_json_progress(tmp_path):
    with ScriptedServer(script(), api_key=KEY) as keyed:
        base_url = keyed.base_url
        data = config_data(tmp_path, base_url)
        data["io"] = {"concurrency": 4}  # relative paths: data/generated/..., logs/
        (tmp_path / "datagen.yaml").write_text(yaml.safe_dump(data))
        done = datagen(
            tmp_path, "--config", "datagen.yaml", "--progress", "json",
            env=cli_env(EVOSELFCODE_GENERATOR_API_KEY=KEY),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert {r.headers["authorization"] for r in keyed.requests} == {"Bearer ***"}
        refused = datagen(
            tmp_path, "--config", "datagen.yaml", "--stage", "names", "--merge",
            env=cli_env(EVOSELFCODE_GENERATOR_API_KEY="wrong"),
        )  # fmt: skip
        assert refused.returncode == 0  # --merge asks the server nothing
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert {e["event"] for e in events} == {"progress", "result"}
    assert {e["stage"] for e in events if e["event"] == "progress"} == {"names", "code"}
    result = events[-1]
    assert [s["stage"] for s in result["stages"]] == ["names", "code"]
    assert result["stages"][0]["summary"]["kept_names"] == 3
    for name in ("raw.jsonl", "filtered.jsonl", "metrics.json"):
        assert (tmp_path / "data" / "generated" / "names" / name).is_file()
        assert (tmp_path / "data" / "generated" / "code" / name).is_file()
    logs = list((tmp_path / "logs").glob("datagen-*.log"))
    assert len(logs) == 2 and all(base_url in log.read_text() for log in logs)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in done.stdout + done.stderr


def test_a_refused_key_stops_with_a_message_that_does_not_show_it(tmp_path):
    with ScriptedServer(script(), api_key=KEY) as keyed:
        config = tmp_path / "datagen.yaml"
        config.write_text(yaml.safe_dump(config_data(tmp_path, keyed.base_url)))
        refused = datagen(
            tmp_path, "--config", str(config), env=cli_env(EVOSELFCODE_GENERATOR_API_KEY="sk-bad")
        )
    assert refused.returncode == 1
    assert "HTTP 401" in refused.stderr
    assert "the API key in $EVOSELFCODE_GENERATOR_API_KEY was rejected" in refused.stderr
    assert "sk-bad" not in refused.stderr and "run the same command again" in refused.stderr
    assert not (tmp_path / "names" / "raw.jsonl").exists()


def test_bad_configs_and_flags_exit_2_and_write_nothing(tmp_path):
    config = tmp_path / "datagen.yaml"
    config.write_text(yaml.safe_dump({"namegen": {"tempreature": 0.3}, "io": {"logs_dir": "L"}}))
    bad = datagen(tmp_path, "--config", str(config))
    assert bad.returncode == 2
    assert "namegen.tempreature: unknown key; did you mean 'temperature'?" in bad.stderr
    config.write_text(yaml.safe_dump({"io": {"logs_dir": "L"}}))
    both = datagen(tmp_path, "--config", str(config), "--shard", "1/2")
    assert both.returncode == 2 and "--shard needs --stage names or --stage code" in both.stderr
    shard = datagen(tmp_path, "--config", str(config), "--stage", "names", "--shard", "3/2")
    assert shard.returncode == 2 and "i must be between 1 and N" in shard.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["datagen.yaml"]


def test_an_unreachable_endpoint_exits_1_with_the_reason(tmp_path):
    config = tmp_path / "datagen.yaml"
    data = config_data(tmp_path, "http://127.0.0.1:9/v1", api={"max_retries": 0})
    config.write_text(yaml.safe_dump(data))
    down = datagen(tmp_path, "--config", str(config))
    assert down.returncode == 1
    assert "http://127.0.0.1:9/v1/completions: cannot connect" in down.stderr
    assert "Check that the server is running" in down.stderr
    assert "run the same command again to resume" in down.stderr


def test_import_from_the_command_line(server, tmp_path, benchmark_names):
    config = make_config(tmp_path, server.base_url)
    run(config, benchmark_names)
    path = tmp_path / "datagen.yaml"
    args = ("--config", str(path), "--stage", "import", "--data-dir", str(tmp_path / "data"))
    first = datagen(tmp_path, *args, "--progress", "json")
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout.splitlines()[-1])
    assert (result["read"], result["added"], result["flagged"]) == (2, 2, 0)
    assert (tmp_path / "data" / "training" / "pairs.jsonl").is_file()
    second = datagen(tmp_path, *args)
    assert second.returncode == 0
    assert "2 read, 0 added (0 flagged by decontamination), 0 duplicates, 2 imported before" in (
        second.stderr
    )
