"""The scan keeps the user's own Python files and says why it left out every other one."""

from __future__ import annotations

from pathlib import Path

import pytest
from workspace_helpers import KEPT, MAX_FILE_BYTES, SKIPPED, make_workspace, module_source, write

from evolution.pretrain.cleaning import normalise
from evolution.workspace.scan import SKIP_REASONS, scan_workspace
from evolution.workspace.secret_files import find_secret, is_secret_name


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "myproject")


def test_it_keeps_exactly_the_users_own_python_files(workspace: Path):
    result = scan_workspace(workspace, max_file_bytes=MAX_FILE_BYTES)
    assert [f.path for f in result.files] == sorted(KEPT)
    core = next(f for f in result.files if f.path == "app/core.py")
    assert core.text == normalise((workspace / "app/core.py").read_text(encoding="utf-8"))


def test_every_other_file_or_folder_is_skipped_with_its_reason(workspace: Path):
    result = scan_workspace(workspace, max_file_bytes=MAX_FILE_BYTES)
    assert {s.path: s.reason for s in result.skips} == SKIPPED
    assert all(s.reason in SKIP_REASONS for s in result.skips)
    counts = result.skip_counts()
    assert counts["gitignored"] == 6 and counts["secret-file"] == 5
    assert sum(counts.values()) == len(SKIPPED)


def test_a_secret_is_named_by_kind_and_line_never_quoted(workspace: Path):
    result = scan_workspace(workspace, max_file_bytes=MAX_FILE_BYTES)
    details = {s.path: s.detail for s in result.skips if s.reason == "secret-content"}
    assert details["config.py"].startswith("a service token on line ")
    assert details["keys.py"].startswith("a private key on line ")
    assert not any("sk-proj" in d or "MIIE" in d for d in details.values())


def test_nothing_in_a_skipped_folder_is_read_or_listed(workspace: Path):
    result = scan_workspace(workspace, max_file_bytes=MAX_FILE_BYTES)
    listed = [f.path for f in result.files] + [s.path for s in result.skips]
    for folder in ("scratch/", ".venv/", "node_modules/", "build/", "vendor/", "app/__pycache__/"):
        assert not [p for p in listed if p.startswith(folder) and p != folder]


def test_a_subfolder_opened_alone_obeys_the_checkouts_gitignore(workspace: Path):
    write(workspace, ".gitignore", "app/utils.py\n")  # anchored to the checkout's top
    result = scan_workspace(workspace / "app", max_file_bytes=MAX_FILE_BYTES)
    assert "utils.py" not in [f.path for f in result.files]
    assert {s.path: s.reason for s in result.skips}["utils.py"] == "gitignored"
    assert "core.py" in [f.path for f in result.files]  # paths relative to the folder opened


def test_an_excluded_folder_cannot_be_reincluded_from_inside(tmp_path: Path):
    write(tmp_path, ".gitignore", "generated/\n!generated/keep.py\n")
    write(tmp_path, "generated/keep.py", module_source("keep"))
    write(tmp_path, "main.py", module_source("main"))
    result = scan_workspace(tmp_path)
    assert [f.path for f in result.files] == ["main.py"]  # as git: it never looks inside


def test_build_and_dist_are_output_unless_they_are_packages(tmp_path: Path):
    write(tmp_path, "dist/pkg/mod.py", module_source("mod"))
    write(tmp_path, "src/dist/__init__.py", module_source("dist_init"))
    write(tmp_path, "tool.egg-info/x.py", module_source("x"))
    result = scan_workspace(tmp_path)
    assert [f.path for f in result.files] == ["src/dist/__init__.py"]
    assert {s.path for s in result.skips} == {"dist/", "tool.egg-info/"}


def test_a_conda_environment_is_a_virtualenv(tmp_path: Path):
    (tmp_path / "env" / "conda-meta").mkdir(parents=True)
    write(tmp_path, "env/lib/x.py", module_source("x"))
    assert [(s.path, s.reason) for s in scan_workspace(tmp_path).skips] == [("env/", "virtualenv")]


def test_the_size_cap_is_checked_before_reading(tmp_path: Path):
    write(tmp_path, "big.py", module_source("big", lines=40))
    size = (tmp_path / "big.py").stat().st_size
    assert [f.path for f in scan_workspace(tmp_path, max_file_bytes=size).files] == ["big.py"]
    skips = scan_workspace(tmp_path, max_file_bytes=size - 1).skips
    assert [(s.path, s.reason) for s in skips] == [("big.py", "too-large")]


def test_a_missing_folder_is_an_error(tmp_path: Path):
    with pytest.raises(NotADirectoryError):
        scan_workspace(tmp_path / "nope")


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".env.local",
        "prod.env",
        ".envrc",
        "server.pem",
        "tls.KEY",
        "id_rsa",
        "id_ed25519.pub",
    ],
)
def test_secret_names(name: str):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["env.py", "environment.py", "keys.py", "monkey.py", "pem.py"])
def test_ordinary_names(name: str):
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    "line",
    [
        'API_KEY = "sk-proj-4fJ2kL9xQ7mN3pR8sT1vW6yZ"',
        'token = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB"',
        'aws = "AKIAIOSFODNN7EXAMPLE"',
        'client_secret = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"',
        'settings = {"auth_token": "Zx81kQp0Lm2Vn7Rt5Yw3"}',
        'db_password = "h7Gk2pQ9zX4mW8vL"',
        'PEM = "-----BEGIN EC PRIVATE KEY-----"',
    ],
)
def test_secret_texts(line: str):
    assert find_secret(f"import os\n\n{line}\n") is not None


@pytest.mark.parametrize(
    "line",
    [
        'api_key = os.environ["OPENAI_API_KEY"]',
        'API_KEY = "your-api-key-here-please-1"',
        'password = "hunter2"',
        'SECRET_KEY_SETTING = "django.conf.settings.SECRET_KEY"',
        'token_type = "bearer_authentication"',
        "max_tokens = 1024",
        'cert = "-----BEGIN CERTIFICATE-----"',
    ],
)
def test_ordinary_texts(line: str):
    assert find_secret(f"import os\n\n{line}\n") is None
