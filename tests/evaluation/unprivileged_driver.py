"""Runs sandbox samples as an unprivileged user, for test_sandbox_unprivileged.py.

    python unprivileged_driver.py launch UID GID FOLDER... -- ARGS...   (as root)
    python unprivileged_driver.py refuse -- ARGS...                      (as root or not)
    python unprivileged_driver.py drive < request.json                   (as anyone)

``launch`` makes the Python installation and this project readable to UID (in a mount
namespace of its own: a Python under /root, mode 0700, is shown again inside an empty tmpfs
over /root, as the sandbox itself does), drops to UID/GID with no capabilities and no
supplementary groups, and executes ``python -s ARGS...`` (this file's ``drive``, or
``-m server.cli eval ...``): from then on, nothing is privileged.

``refuse`` executes ``python -s ARGS...`` under a seccomp filter that refuses user namespaces,
as some container runtimes' default profiles do.

``drive`` reads ``{"batches": [{"workers": N, "timeout_s": T, "programs": {name: code}}]}``
on stdin (a batch may add ``python_paths`` and ``readable``: ``{name: [folder, ...]}``), runs
each batch in a sandbox pool of its own (a one-worker batch runs its programs in order, on the
same worker), and prints one JSON line: the pools' isolation and scratch folders, and every
program's result.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def launch(uid: int, gid: int, folders: list[str], command: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from evaluation.sandbox.mounts import plan_mounts
    from evaluation.sandbox.syscalls import CLONE_NEWNS, MS_PRIVATE, MS_REC, mount, unshare

    unshare(CLONE_NEWNS)
    mount("none", "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host
    plan = plan_mounts(folders, {}, original=lambda path: path, show_visible=False)
    plan.apply()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # from root: every capability goes with it
    os.execv(sys.executable, [sys.executable, "-s", *command])


def refuse(command: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from evaluation.sandbox import seccomp
    from evaluation.sandbox.syscalls import CLONE_NEWUSER

    numbers = seccomp._numbers(seccomp.MACHINE)
    program = seccomp._assemble(
        [
            seccomp._load(seccomp._NR),
            seccomp._jump(seccomp._JEQ, numbers["unshare"], "eperm"),
            seccomp._jump(seccomp._JEQ, numbers["clone3"], "enosys"),
            seccomp._jump(seccomp._JEQ, numbers["clone"], "clone"),
            seccomp._return(seccomp._RET_ALLOW),
            *("clone", seccomp._load(seccomp._ARG0)),
            seccomp._jump(seccomp._JSET, CLONE_NEWUSER, "eperm"),
            seccomp._return(seccomp._RET_ALLOW),
            *("eperm", seccomp._return(seccomp._EPERM)),
            *("enosys", seccomp._return(seccomp._RET_ERRNO | errno.ENOSYS)),
        ]
    )
    seccomp.install(program)
    os.execv(sys.executable, [sys.executable, "-s", *command])


def drive() -> None:
    sys.path.insert(0, str(ROOT))
    from evaluation.sandbox import Limits, Sandbox

    request = json.load(sys.stdin)
    limits = Limits(memory_mb=256, file_size_mb=4, max_output_bytes=16 * 1024)
    isolation, results, scratch = None, {}, []
    for batch in request["batches"]:
        python_paths = batch.get("python_paths", [])
        with Sandbox(workers=batch["workers"], limits=limits, python_paths=python_paths) as pool:
            isolation = pool.isolation.to_json()
            scratch.append(pool._scratch)  # in every worker's and sample's command line
            futures = {
                name: pool.submit(
                    program,
                    batch["timeout_s"],
                    readable_paths=batch.get("readable", {}).get(name, []),
                )
                for name, program in batch["programs"].items()
            }
            for name, future in futures.items():
                result = future.result()
                results[name] = {
                    "outcome": result.outcome.value,
                    "detail": result.detail,
                    "exc_type": result.exc_type,
                    "stdout": result.stdout,
                    "signal": result.signal,
                }
    answer = {"uid": os.getuid(), "isolation": isolation, "results": results, "scratch": scratch}
    print(json.dumps(answer))


if __name__ == "__main__":
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    if sys.argv[1] == "launch":
        uid, gid, *folders = sys.argv[2:split]
        launch(int(uid), int(gid), folders, sys.argv[split + 1 :])
    elif sys.argv[1] == "refuse":
        refuse(sys.argv[split + 1 :])
    else:
        drive()
