"""The sandbox as an ordinary user runs it: adversarial samples, most of them around the
in-process guard with ``ctypes``, against the user's own home, processes and network.

The evaluation runs as an unprivileged user (``nobody`` when the tests run as root, else the
user running them) through ``unprivileged_driver.py``, with HOME a temporary home of that user
holding an SSH key and files to keep. Each program asserts that its escape worked, so a
contained one fails (``failed``, or ``error`` where Python itself refuses, or ``timeout``);
none may pass. Afterwards the host must show no trace: the home unchanged, no connection to
the test's loopback server, the user's other process alive, no process of the sandbox left.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("unprivileged_driver.py")
ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"
SECRET_ENV = "evoselfcode-test-environment-secret"
BOMB_TIMEOUT_S = 2.0
LIBC = "import ctypes, os, struct, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
REFUSED = "f'refused: errno {ctypes.get_errno()}'"


@dataclass(frozen=True)
class Host:
    """What the unprivileged evaluation may not touch."""

    uid: int
    gid: int
    home: Path
    victim: subprocess.Popen[bytes]  # another process of the same user, with a secret
    listener: socket.socket  # a server on loopback


def _connect(address: str, port: int) -> str:
    """A TCP connection made with the C library's own ``socket`` and ``connect``."""
    return (
        "import socket\n"
        "fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)\n"
        f"port, host = socket.htons({port}), socket.inet_aton({address!r})\n"
        "address = struct.pack('=HH4s8x', socket.AF_INET, port, host)\n"
        f"assert libc.connect(fd, address, len(address)) == 0, {REFUSED}\n"
    )


def _escapes(host: Host) -> dict[str, str]:
    home, victim = host.home, host.victim.pid
    key, port = home / ".ssh" / "id_rsa", host.listener.getsockname()[1]
    return {
        "write_home": LIBC
        + f"fd = libc.open({str(home / 'escape.txt').encode()!r}, os.O_WRONLY | os.O_CREAT, 420)\n"
        + f"assert fd >= 0, {REFUSED}\n",
        "write_home_python": f"open({str(home / 'escape.txt')!r}, 'w').write('escaped')\n",
        "delete_home": LIBC
        + f"assert libc.unlink({str(home / 'precious.txt').encode()!r}) == 0, {REFUSED}\n",
        "read_ssh_key": f"print(open({str(key)!r}).read())\n",
        "read_ssh_key_ctypes": LIBC
        + f"fd = libc.open({str(key).encode()!r}, os.O_RDONLY)\n"
        + f"assert fd >= 0, {REFUSED}\n"
        + "buffer = ctypes.create_string_buffer(4096)\n"
        + "print(buffer.raw[: libc.read(fd, buffer, 4096)])\n",
        "read_other_environ": LIBC
        + f"fd = libc.open(b'/proc/{victim}/environ', os.O_RDONLY)\n"
        + f"assert fd >= 0, {REFUSED}\n",
        "scan_environs": "import os\nfound = []\n"
        "for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "    try:\n"
        "        found.append(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError:\n"
        "        pass\n"
        "assert any(b'SECRET=' in e for e in found), 'no environment with the secret'\n",
        "loopback": LIBC + _connect("127.0.0.1", port),
        "loopback_python": f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 1)\n",
        "outside_network": LIBC + _connect("192.0.2.1", 9),  # TEST-NET-1: never routed
        "kill_everyone": LIBC + f"assert libc.kill(-1, 9) == 0, {REFUSED}\ntime.sleep(0.3)\n",
        "fork_bomb": LIBC
        + "print(os.readlink('/proc/self/ns/pid'), flush=True)\n"
        + "while True:\n    libc.fork()\n",
        "daemon": LIBC
        + "read_end, write_end = os.pipe()\n"
        + "if libc.fork() == 0:\n"
        + "    os.write(write_end, str(libc.setsid()).encode())\n"
        + "    for _ in range(30):\n"
        + "        time.sleep(0.1)\n"
        + "        libc.kill(-1, 9)\n"
        + f"        libc.open({str(home / 'daemon.txt').encode()!r}, 65, 420)\n"  # O_CREAT|O_WRONLY
        + "    libc._exit(0)\n"
        + "session = int(os.read(read_end, 32))\n"
        + "assert session > 0, f'setsid refused: {session}'\n",
    }


def _poison(host: Host) -> dict[str, str]:
    """For one worker, in order: a sample that tries to spoil what the next ones see."""
    plant = LIBC + (
        "import sys\n"
        "targets = ['/tmp/sitecustomize.py', '/dev/shm/poison', sys.path[-1] + '/poison.py',\n"
        "           os.path.dirname(os.getcwd()) + '/poison']\n"
        "planted = [t for t in targets if libc.open(t.encode(), 65, 420) >= 0]\n"
        "if libc.fork() == 0:  # a leftover that would kill the samples after it\n"
        "    for _ in range(50):\n"
        "        time.sleep(0.1)\n"
        "        libc.kill(-1, 9)\n"
        "    libc._exit(0)\n"
        "libc.kill(1, 9)\n"
        "assert planted, 'nothing could be planted'\n"
    )
    check = (
        "import os, sys, time\n"
        "time.sleep(0.3)\n"  # the leftover, if any, would be at work by now
        "assert not os.path.exists('/tmp/sitecustomize.py')\n"
        "assert not os.path.exists(os.path.dirname(os.getcwd()) + '/poison')\n"
        "assert not os.path.exists(sys.path[-1] + '/poison.py')\n"
        "me = os.readlink('/proc/self')\n"  # its PID as its worker's /proc numbers it
        "print([p for p in os.listdir('/proc') if p.isdigit() and p != me])\n"
    )
    return {"poison": plant, **{f"after_poison_{n}": check for n in range(3)}}


def _folders(host: Host) -> dict:
    """A batch of samples given folders of the user's home to read: a project's package
    (``readable_paths``) and a library (``python_paths``). They see those, read-only, and
    nothing beside them."""
    lib, pylib = host.home / "project" / "lib", host.home / "pylib"
    importer = (
        f"import sys\nsys.path.insert(0, {str(lib)!r})\nimport home_pkg\nprint(home_pkg.VALUE)\n"
    )
    planted = str(lib / "planted.py").encode()
    programs = {
        "python_path_import": "import home_lib\nprint(home_lib.VALUE)\n",
        "readable_import": importer,
        "secret_beside_readable": f"print(open({str(lib.parent / 'secret.txt')!r}).read())\n",
        "readable_is_read_only": LIBC + f"assert libc.open({planted!r}, 65, 420) >= 0, {REFUSED}\n",
        "readable_gone_after": importer,
    }
    readable = {name: [str(lib)] for name in list(programs)[1:4]}
    return {
        "workers": 1,
        "timeout_s": BOMB_TIMEOUT_S,
        "python_paths": [str(pylib)],
        "programs": programs,
        "readable": readable,
    }


def _snapshot(home: Path) -> dict[str, bytes]:
    """Every path under ``home`` with its content (b"" for a folder)."""
    paths = home.rglob("*")
    return {str(p.relative_to(home)): p.read_bytes() if p.is_file() else b"" for p in paths}


def _processes_with(marks: list[str]) -> list[str]:
    """Processes whose command line holds one of ``marks``: a pool's scratch folder is in
    every worker's, and so in every sample's (forked from it), whatever the sample did."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(mark in command for mark in marks):
            found.append(entry)
    return found


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    uid, gid = _unprivileged_user()
    home = Path(tempfile.mkdtemp(prefix="evoselfcode-home-", dir="/var/tmp"))
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_text(SECRET_KEY)
    (home / "precious.txt").write_text("keep me")
    (home / "project" / "lib" / "home_pkg").mkdir(parents=True)
    (home / "project" / "lib" / "home_pkg" / "__init__.py").write_text("VALUE = 42\n")
    (home / "project" / "secret.txt").write_text("beside the package")
    (home / "pylib" / "home_lib").mkdir(parents=True)
    (home / "pylib" / "home_lib" / "__init__.py").write_text("VALUE = 7\n")
    for path in (home, *home.rglob("*")):
        os.chown(path, uid, gid)
    home.chmod(0o700)
    (home / ".ssh").chmod(0o700)
    (home / ".ssh" / "id_rsa").chmod(0o600)
    as_user = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
    victim = subprocess.Popen(["sleep", "300"], env={"SECRET": SECRET_ENV}, **as_user)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        yield Host(uid, gid, home, victim, listener)
    finally:
        listener.close()
        victim.kill()
        victim.wait()
        shutil.rmtree(home)


def _unprivileged_user() -> tuple[int, int]:
    """``nobody`` when the tests run as root; else the user running them."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return 65534, 65534
    return nobody.pw_uid, nobody.pw_gid


def _command(host: Host, python_args: list[str], *, refuse_user_namespaces: bool = False):
    """``python -s python_args`` as the unprivileged user."""
    if refuse_user_namespaces:
        python_args = [str(DRIVER), "refuse", "--", *python_args]
    if os.geteuid() != 0:
        return [sys.executable, "-s", *python_args]
    folders = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, ROOT)})
    launch = [str(DRIVER), "launch", str(host.uid), str(host.gid), *folders, "--"]
    return [sys.executable, "-s", *launch, *python_args]


def _drive(host: Host, batches: list[dict], *, refuse_user_namespaces: bool = False) -> dict:
    """Run ``batches`` as the unprivileged user; its answer, and the home as it was before."""
    before = _snapshot(host.home)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(host.home)}
    done = subprocess.run(
        _command(host, [str(DRIVER), "drive"], refuse_user_namespaces=refuse_user_namespaces),
        input=json.dumps({"batches": batches}),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout), "before": before}


@pytest.fixture(scope="module")
def run(host: Host) -> dict:
    return _drive(
        host,
        [
            {"workers": 2, "timeout_s": BOMB_TIMEOUT_S, "programs": _escapes(host)},
            {"workers": 1, "timeout_s": BOMB_TIMEOUT_S, "programs": _poison(host)},
            _folders(host),
        ],
    )


@pytest.fixture(scope="module")
def refused_run(host: Host, run: dict) -> dict:
    """The same escapes where the kernel refuses user namespaces (as in some containers)."""
    escapes = {name: _escapes(host)[name] for name in _CONTAINED_WITHOUT_NAMESPACES}
    # Alone: without a user namespace, RLIMIT_NPROC counts every process of the user, and a
    # bomb that used it up would starve the forks of the samples beside it.
    bomb = {"fork_bomb": LIBC + "while True:\n    libc.fork()\n"}  # no /proc to print from
    del escapes["fork_bomb"]
    batches = [
        {"workers": 2, "timeout_s": BOMB_TIMEOUT_S, "programs": escapes},
        {"workers": 1, "timeout_s": BOMB_TIMEOUT_S, "programs": bomb},
    ]
    return _drive(host, batches, refuse_user_namespaces=True)


def test_the_evaluation_ran_unprivileged_with_full_isolation(run: dict, host: Host) -> None:
    assert run["uid"] == host.uid != 0
    isolation = run["isolation"]
    assert isolation["level"] == "full", isolation
    assert isolation["user_namespace"] and isolation["private_root"], isolation


def test_every_sample_has_a_result_and_none_escaped(run: dict, host: Host) -> None:
    expected = [*_escapes(host), *_poison(host), *_folders(host)["programs"]]
    assert sorted(run["results"]) == sorted(expected)
    escaped = {n: r for n, r in run["results"].items() if n in _escapes(host) or n == "poison"}
    assert all(r["outcome"] != "passed" for r in escaped.values()), escaped


@pytest.mark.parametrize(
    ("name", "outcome", "exc_type"),
    [
        ("write_home", "failed", "AssertionError"),
        ("write_home_python", "error", "PermissionError"),  # the guard
        ("delete_home", "failed", "AssertionError"),
        ("read_ssh_key", "error", "FileNotFoundError"),  # not in the private root at all
        ("read_ssh_key_ctypes", "failed", "AssertionError"),
        ("read_other_environ", "failed", "AssertionError"),
        ("scan_environs", "failed", "AssertionError"),
        ("loopback", "failed", "AssertionError"),
        ("loopback_python", "error", "PermissionError"),  # the guard
        ("outside_network", "failed", "AssertionError"),
        ("kill_everyone", "failed", "AssertionError"),
        ("fork_bomb", "timeout", None),
        ("daemon", "failed", "AssertionError"),
        ("poison", "failed", "AssertionError"),
    ],
)
def test_each_escape_is_contained_and_classified(
    run: dict, name: str, outcome: str, exc_type: str | None
) -> None:
    result = run["results"][name]
    assert (result["outcome"], result["exc_type"]) == (outcome, exc_type), result


def test_secrets_never_reach_the_output(run: dict) -> None:
    text = json.dumps(run["results"])
    assert SECRET_KEY not in text and SECRET_ENV not in text


def test_the_network_attempts_failed_at_once(run: dict, host: Host) -> None:
    assert "errno" in run["results"]["outside_network"]["detail"]
    with pytest.raises(BlockingIOError):
        host.listener.accept()  # nothing ever connected


def test_the_samples_after_a_poisoner_see_nothing_of_it(run: dict) -> None:
    for n in range(3):
        result = run["results"][f"after_poison_{n}"]
        assert result["outcome"] == "passed", result
        assert result["stdout"].strip() == "['1']", result  # their worker, nothing left over


def test_folders_given_to_read_are_shown_read_only_and_alone(run: dict) -> None:
    outcomes = {
        name: (run["results"][name]["outcome"], run["results"][name]["stdout"])
        for name in _FOLDER_SAMPLES
    }
    assert outcomes == _FOLDER_SAMPLES
    for name in ("secret_beside_readable", "readable_gone_after"):
        assert run["results"][name]["exc_type"] in ("FileNotFoundError", "ModuleNotFoundError")


_FOLDER_SAMPLES = {
    "python_path_import": ("passed", "7\n"),
    "readable_import": ("passed", "42\n"),
    "secret_beside_readable": ("error", ""),
    "readable_is_read_only": ("failed", ""),
    "readable_gone_after": ("error", ""),
}


def test_the_host_shows_no_trace(run: dict, host: Host) -> None:
    assert _snapshot(host.home) == run["before"]
    assert host.victim.poll() is None, "kill(-1) reached the user's other process"
    # The kernel tears a PID namespace down as its init exits: give it a moment.
    assert _eventually(lambda: not _processes_with(run["scratch"])), "a process outlived"
    assert not any(os.path.exists(folder) for folder in run["scratch"])
    namespace = run["results"]["fork_bomb"]["stdout"].split()[0]
    assert namespace.startswith("pid:[")
    assert not _processes_in(namespace)


def _eventually(condition: Callable[[], bool], within_s: float = 3.0) -> bool:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _processes_in(namespace: str) -> list[str]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") == namespace:
                found.append(entry)
        except OSError:
            continue
    return found


_CONTAINED_WITHOUT_NAMESPACES = {
    "write_home": ("failed", "AssertionError"),  # Landlock
    "write_home_python": ("error", "PermissionError"),  # the guard
    "delete_home": ("failed", "AssertionError"),  # Landlock
    "read_ssh_key": ("error", "PermissionError"),  # Landlock: only what it must read
    "read_ssh_key_ctypes": ("failed", "AssertionError"),
    "read_other_environ": ("failed", "AssertionError"),  # Landlock: no /proc, no ptrace
    "loopback": ("failed", "AssertionError"),  # seccomp: no socket but AF_UNIX, Landlock TCP
    "outside_network": ("failed", "AssertionError"),
    "kill_everyone": ("failed", "AssertionError"),  # seccomp, and Landlock's signal scope
    "fork_bomb": ("timeout", None),  # RLIMIT_NPROC; its process group killed at the end
    "daemon": ("failed", "AssertionError"),  # seccomp: it cannot leave the process group
}


def test_where_the_kernel_refuses_user_namespaces_it_says_why(refused_run: dict) -> None:
    isolation = refused_run["isolation"]
    assert isolation["level"] == "partial", isolation
    assert not isolation["user_namespace"] and isolation["landlock_abi"] and isolation["seccomp"]
    assert any("namespace" in problem for problem in isolation["problems"]), isolation


def test_landlock_and_seccomp_still_contain_the_escapes(refused_run: dict, host: Host) -> None:
    outcomes = {n: (r["outcome"], r["exc_type"]) for n, r in refused_run["results"].items()}
    assert outcomes == _CONTAINED_WITHOUT_NAMESPACES
    assert _snapshot(host.home) == refused_run["before"]
    assert host.victim.poll() is None
    with pytest.raises(BlockingIOError):
        host.listener.accept()
    assert _eventually(lambda: not _processes_with(refused_run["scratch"]))


def _hostile_completions(host: Host) -> list[str]:
    """Function bodies for the first HumanEval tasks, each an escape through ``ctypes``."""
    home, port = host.home, host.listener.getsockname()[1]
    body = "    import ctypes, os, socket, struct\n    libc = ctypes.CDLL(None)\n"
    return [
        body + "    libc.kill(-1, 9)\n    return False\n",
        body + f"    libc.open({str(home / 'eval.txt').encode()!r}, 65, 420)\n    return []\n",
        body + f"    libc.unlink({str(home / 'precious.txt').encode()!r})\n    return 0\n",
        body + f"    print(open({str(home / '.ssh' / 'id_rsa')!r}).read())\n    return ''\n",
        body
        + "    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)\n"
        + "    host = socket.inet_aton('127.0.0.1')\n"
        + f"    sa = struct.pack('=HH4s8x', socket.AF_INET, socket.htons({port}), host)\n"
        + "    libc.connect(fd, sa, len(sa))\n    return 0.0\n",
    ]


def test_eval_of_hostile_samples_as_the_user_finishes_and_leaves_no_trace(host: Host) -> None:
    work = Path(tempfile.mkdtemp(prefix="evoselfcode-eval-", dir="/var/tmp"))
    os.chown(work, host.uid, host.gid)
    try:
        done, out, rows = _eval_as_the_user(host, work)
    finally:
        shutil.rmtree(work)
    assert done["returncode"] == 0, done["stderr"]
    assert done["result"]["isolation"] == "full" and done["result"]["isolationWarning"] is None
    assert len(out) == len(rows) and not any(json.loads(line)["passed"] for line in out)
    assert SECRET_KEY not in "".join(out)
    assert host.victim.poll() is None
    with pytest.raises(BlockingIOError):
        host.listener.accept()


def test_eval_where_the_kernel_refuses_namespaces_warns_everywhere(host: Host) -> None:
    work = Path(tempfile.mkdtemp(prefix="evoselfcode-eval-", dir="/var/tmp"))
    os.chown(work, host.uid, host.gid)
    try:
        done, out, rows = _eval_as_the_user(host, work, count=2, refuse_user_namespaces=True)
        page = (work / "run" / "report.html").read_text()
        summary = json.loads((work / "run" / "summary.json").read_text())
    finally:
        shutil.rmtree(work)
    assert done["returncode"] == 0, done["stderr"]
    warning = done["result"]["isolationWarning"]
    assert done["result"]["isolation"] == "partial" and "namespace" in warning
    assert f"evoselfcode eval: {warning}" in done["stderr"]  # the output
    assert summary["isolation_warning"] == warning  # the summary
    assert 'class="danger"' in page and "not fully isolated" in page  # the report
    assert len(out) == len(rows) and not any(json.loads(line)["passed"] for line in out)


def _eval_as_the_user(
    host: Host, work: Path, *, count: int = 5, refuse_user_namespaces: bool = False
) -> tuple[dict, list[str], list[dict]]:
    """``evoselfcode eval --samples`` of ``count`` hostile completions, as the user; what it
    said, its results.jsonl lines, the samples. The home must be as it was."""
    from evaluation.datasets import load_tasks

    completions = _hostile_completions(host)[:count]
    pairs = zip(load_tasks("humaneval", limit=len(completions)), completions, strict=True)
    rows = [{"task_id": task.task_id, "completion": body} for task, body in pairs]
    samples = work / "samples.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    os.chown(samples, host.uid, host.gid)
    before = _snapshot(host.home)
    arguments = ["--samples", str(samples), "--limit", str(len(rows)), "--out", str(work / "run")]
    arguments += ["--data-dir", str(work / "data"), "--timeout", "3", "--progress", "json"]
    done = subprocess.run(
        _command(
            host,
            ["-m", "server.cli", "eval", *arguments],
            refuse_user_namespaces=refuse_user_namespaces,
        ),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(host.home)},
        timeout=240,
        check=False,
    )
    assert _snapshot(host.home) == before
    said = {"returncode": done.returncode, "stderr": done.stderr, "result": {}}
    if done.returncode == 0:
        said["result"] = json.loads(done.stdout.splitlines()[-1])
    results = work / "run" / "results.jsonl"
    return said, results.read_text().splitlines() if results.exists() else [], rows
