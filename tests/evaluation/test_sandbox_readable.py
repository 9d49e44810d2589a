"""Folders samples must read: the interpreter's and the pool's ``python_paths`` (per worker) and
``readable_paths`` (per sample), wherever they are: under the host's /tmp, which the sandbox
covers with a private tmpfs, or under a folder its unprivileged user cannot enter. What is shown
is read-only, shows nothing else of the host's /tmp, and leaves no way around the covers."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evaluation.sandbox import Limits, Sandbox
from evaluation.sandbox.mounts import (
    HIDING_COVER_OPTIONS,
    TMPFS_OPTIONS,
    Bind,
    Covered,
    WorkerMounts,
)


def _package(folder: Path, name: str, value: int) -> Path:
    """``folder/name/__init__.py`` holding ``VALUE = value``, readable by everyone."""
    package = folder / name
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f"VALUE = {value}\n")
    for entry in (folder, package, package / "__init__.py"):
        entry.chmod(0o755)
    return folder


def _importer(folder: Path, name: str) -> str:
    return f"import sys\nsys.path.insert(0, {str(folder)!r})\nimport {name}\nprint({name}.VALUE)\n"


def _needs_private_mounts(sandbox: Sandbox) -> None:
    iso = sandbox.isolation
    if not (iso.mount_namespace and iso.sandbox_uid is not None):
        pytest.skip(f"without root the sandbox hides nothing from samples ({iso.describe()})")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project under the host's /tmp: ``lib/`` holds a package, ``secret.txt`` lies beside."""
    (tmp_path / "secret.txt").write_text("not for samples")
    return _package(tmp_path / "lib", "tmp_pkg", 41)


@pytest.fixture(scope="module")
def python_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder under the host's /tmp with a package, and a folder mode 0700 inside."""
    folder = _package(tmp_path_factory.mktemp("python-path"), "python_path_pkg", 7)
    _package(folder / "closed" / "lib", "closed_pkg", 3)
    (folder / "closed").chmod(0o700)
    return folder


@pytest.fixture(scope="module")
def one_worker(python_path: Path, limits: Limits) -> Iterator[Sandbox]:
    """One worker whose samples find ``python_path`` on their sys.path."""
    with Sandbox(workers=1, limits=limits, python_paths=[python_path]) as pool:
        yield pool


def test_a_package_under_tmp_is_importable_through_readable_paths(
    sandbox: Sandbox, project: Path
) -> None:
    result = sandbox.run(_importer(project, "tmp_pkg"), readable_paths=[project])
    assert result.passed, result
    assert result.stdout == "41\n"


def test_a_package_under_tmp_is_importable_through_python_paths(one_worker: Sandbox) -> None:
    result = one_worker.run("import python_path_pkg\nprint(python_path_pkg.VALUE)\n")
    assert result.passed, result
    assert result.stdout == "7\n"


def test_a_closed_folder_inside_a_folder_on_sys_path_can_be_read(
    one_worker: Sandbox, python_path: Path
) -> None:
    # A project cloned under /tmp: the worker shows the clone, its .pytest_cache holds a
    # folder mode 0700, and the package a sample must read lies in it.
    lib = python_path / "closed" / "lib"
    result = one_worker.run(_importer(lib, "closed_pkg"), readable_paths=[lib])
    assert result.passed, result
    assert result.stdout == "3\n"


def test_every_folder_of_the_samples_sys_path_is_readable(sandbox: Sandbox) -> None:
    # What breaks when the project (and its .venv) lives under /tmp and /tmp is covered.
    program = (
        "import json, os, sys\n"
        "print(json.dumps({p: os.path.isdir(p) and bool(os.listdir(p)) for p in sys.path}))\n"
    )
    result = sandbox.run(program)
    assert result.passed, result
    listed = json.loads(result.stdout)
    assert any(path.endswith("site-packages") for path in listed)
    assert all(listed[path] for path in listed if os.path.isdir(path)), listed


def test_a_package_under_a_folder_the_sandbox_user_cannot_enter(
    sandbox: Sandbox, pytestconfig: pytest.Config
) -> None:
    hidden = pytestconfig.cache.mkdir("sandbox-readable") / "hidden"
    folder = _package(hidden / "lib", "hidden_pkg", 5)
    hidden.chmod(0o700)
    result = sandbox.run(_importer(folder, "hidden_pkg"), readable_paths=[folder])
    assert result.passed, result
    assert result.stdout == "5\n"


def test_without_readable_paths_hidden_folders_stay_hidden(
    sandbox: Sandbox, project: Path, pytestconfig: pytest.Config
) -> None:
    _needs_private_mounts(sandbox)
    hidden = pytestconfig.cache.mkdir("sandbox-readable") / "hidden"
    lib = _package(hidden / "lib", "hidden_pkg", 5)
    hidden.chmod(0o700)
    for folder, name in ((project, "tmp_pkg"), (lib, "hidden_pkg")):
        result = sandbox.run(_importer(folder, name))
        assert result.exc_type == "ModuleNotFoundError", result


def test_only_the_shown_folder_of_the_hosts_tmp_is_visible(sandbox: Sandbox, project: Path) -> None:
    _needs_private_mounts(sandbox)
    program = (
        "import os\n"
        "try:\n"
        f"    print(sorted(os.listdir({str(project.parent)!r})))\n"
        "except PermissionError:\n"
        "    print('not listed')\n"  # Landlock: a folder above a shown one is not read
        f"print(os.path.exists({str(project.parent / 'secret.txt')!r}))\n"
    )
    result = sandbox.run(program, readable_paths=[project])
    assert result.passed, result
    assert result.stdout.splitlines() in (["['lib']", "False"], ["not listed", "False"])
    assert (project.parent / "secret.txt").exists()  # on the host, it is there


def test_a_shown_folder_is_read_only_even_around_the_guard(sandbox: Sandbox, project: Path) -> None:
    _needs_private_mounts(sandbox)
    project.chmod(0o777)  # only the read-only mount stops the sandbox user now
    planted = project / "planted.py"
    program = (
        "import ctypes, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.open({str(planted).encode()!r}, os.O_WRONLY | os.O_CREAT, 0o644)\n"
        "print(fd, ctypes.get_errno())\n"
    )
    result = sandbox.run(program, readable_paths=[project])
    assert result.passed, result
    assert result.stdout.split() == ["-1", str(errno.EROFS)]
    assert not planted.exists()


def test_no_descriptor_of_the_host_tree_reaches_the_sample(sandbox: Sandbox, project: Path) -> None:
    # An O_PATH descriptor of the host's /tmp would let a sample openat around its cover.
    program = (
        "import json, os\n"
        "links = {}\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        links[fd] = os.readlink(f'/proc/self/fd/{fd}')\n"
        "    except OSError:\n"
        "        pass\n"
        "print(json.dumps(links))\n"
    )
    for readable in ([], [project]):
        result = sandbox.run(program, readable_paths=readable)
        assert result.passed, result
        links = json.loads(result.stdout)
        assert {"0", "1", "2"} <= set(links) and len(links) <= 4, links
        assert all(t == "/dev/null" or t.startswith("pipe:") for t in links.values()), links


def test_what_one_sample_was_shown_no_later_sample_sees(one_worker: Sandbox, project: Path) -> None:
    _needs_private_mounts(one_worker)
    program = _importer(project, "tmp_pkg")
    assert one_worker.run(program, readable_paths=[project]).passed
    after = one_worker.run(program)  # the same worker: it has only one
    assert after.exc_type == "ModuleNotFoundError", after
    # Its /tmp covered again, the sample still has its own folder, writable, as cwd.
    writer = "import os\nopen('mine.txt', 'w').write('x')\nprint(os.listdir('.'))\n"
    written = one_worker.run(writer, readable_paths=[project])
    assert written.passed and written.stdout == "['mine.txt']\n", written


def test_the_guard_only_sandbox_reads_the_host_tree_as_it_is(
    guard_only_sandbox: Sandbox, project: Path
) -> None:
    for readable in ([], [project]):
        result = guard_only_sandbox.run(_importer(project, "tmp_pkg"), readable_paths=readable)
        assert result.stdout == "41\n", result


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("relative/folder", "must be absolute"),
        ("/no/such/folder", "does not exist"),
        ("/tmp", "private to the sandbox"),
        ("/", "would hide the sandbox's own folder"),
    ],
)
def test_folders_that_cannot_be_shown_are_refused(sandbox: Sandbox, path: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        sandbox.run("pass", readable_paths=[path])
    with pytest.raises(ValueError, match=why):
        list(sandbox.map(["pass"], readable_paths=[path]))
    assert sandbox.run("pass").passed


def test_a_bad_python_path_is_refused_before_any_worker_starts(limits: Limits) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Sandbox(workers=1, limits=limits, python_paths=["/no/such/folder"])


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder whose ancestors everyone may enter (unlike pytest's own under /tmp)."""
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="evoselfcode-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_the_plan_of_a_sample_covers_again_and_opens_closed_folders(open_folder: Path) -> None:
    # ``host`` stands for the host's /tmp, which the worker covered (keeping a descriptor).
    host = open_folder / "host"
    lib = host / "clone" / "cache" / "closed" / "lib"
    lib.mkdir(parents=True)
    (host / "clone" / "cache" / "closed").chmod(0o700)
    fd = os.open(host, os.O_PATH | os.O_DIRECTORY)
    try:
        worker = WorkerMounts({str(host): Covered(TMPFS_OPTIONS, fd)}, shown=(f"{host}/clone",))
        plan = worker.sample_plan([str(lib), "/usr/lib"], f"{host}/scratch/1")
    finally:
        os.close(fd)
    original = f"/proc/self/fd/{fd}"
    assert plan.covers == (
        (str(host), TMPFS_OPTIONS),  # covered again, from scratch
        (f"{host}/clone/cache/closed", HIDING_COVER_OPTIONS),  # inside the shown clone
    )
    assert plan.binds == (
        Bind("/usr/lib", "/usr/lib"),  # nothing hides it: shown read-only where it is
        Bind(f"{host}/clone", f"{original}/clone"),  # what the worker showed there
        Bind(str(lib), f"{original}/clone/cache/closed/lib"),
        Bind(f"{host}/scratch/1", f"{host}/scratch/1", writable=True),  # the worker's own
    )
    assert worker.sample_plan(["/usr/lib"], f"{host}/scratch/2").covers == ()
