"""The scripted test server in a process of its own, so its CPU is not the benchmark's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def start_testserver(latency: float, *options: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``evoselfcode testserver`` on a free port with ``--latency`` (seconds) and any
    other ``options``; return the process and its base URL (``http://…/v1``)."""
    command = [sys.executable, "-m", "server.cli", "testserver", "--port", "0", "--quiet"]
    command += ["--latency", str(latency), *options]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    match = re.search(r"(http://\S+/v1)", proc.stdout.readline())
    if match is None:
        proc.kill()
        raise SystemExit("the test server did not start")
    return proc, match.group(1)
