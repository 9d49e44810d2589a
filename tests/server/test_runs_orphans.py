"""A run the language server started stops when the server dies, even by SIGKILL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from models.progress import ProgressReporter
from server.runs.child import PACKAGE_ROOT

# Made a subreaper, the harness inherits the run once its server is gone and can wait for it
# (without that, init would, and a zombie looks alive from here).
HARNESS = textwrap.dedent(
    """
    import ctypes, json, os, signal, subprocess, sys, time
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # The "server": starts a long run the way server.runs does, then waits to be killed.
    server = subprocess.Popen([sys.executable, "-c", '''
    import subprocess, sys
    from server.runs.child import child_environment, command_argv
    run = subprocess.Popen(command_argv("testserver", "--port", "0", "--quiet"),
                           env=child_environment(), stdout=subprocess.PIPE, text=True)
    print(run.pid, flush=True)
    run.stdout.readline()  # it is serving
    print("ready", flush=True)
    sys.stdin.read()
    '''], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    run_pid = int(server.stdout.readline())
    assert server.stdout.readline().strip() == "ready"
    server.kill()
    server.wait()
    started = time.monotonic()
    while time.monotonic() - started < 30:
        pid, status = os.waitpid(run_pid, os.WNOHANG)
        if pid:
            print(json.dumps({"exit": os.waitstatus_to_exitcode(status),
                              "after_s": time.monotonic() - started}))
            sys.exit(0)
        time.sleep(0.1)
    os.kill(run_pid, signal.SIGKILL)
    print(json.dumps({"exit": None}))
    """
)


def test_a_run_stops_when_its_server_is_killed():
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", HARNESS], capture_output=True, text=True, env=env, timeout=90
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    # The test server stops cleanly on SIGTERM (status 0), as a fine-tuning run checkpoints.
    assert outcome["exit"] == 0, (outcome, done.stderr)


def test_progress_goes_on_quietly_when_its_reader_is_gone():
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w") as stream:
        reporter = ProgressReporter(3, "run", json_lines=True, stream=stream)
        reporter.update(message="first")  # broken pipe: not an error for the run
        reporter.update(message="second")
        reporter.result(ok=True)
        assert reporter.done == 2
        stream.write("after\n")
        stream.flush()  # the stream now goes to /dev/null: flushing at exit cannot fail
