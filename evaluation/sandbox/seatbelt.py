"""macOS: the Seatbelt (``sandbox-exec``) profile for sandboxed samples, as text.

Standard library only. Seatbelt is the kernel sandbox Codex CLI and Chromium use on macOS: a
profile in SBPL (a Scheme-like language) is applied with ``sandbox-exec -p PROFILE COMMAND``,
holds for COMMAND and every process it starts, and cannot be lifted from inside. The profile
``profile`` writes denies everything by default and then allows only:

- reading the folders samples must read (the interpreter's, ``sys.path``, those given with
  ``readable_paths``), the system's libraries and frameworks, and a few devices;
- reading and writing the sample's private folder (and writing ``/dev/null``);
- forking, and executing the Python interpreter itself (the worker is started through it);
- signals to processes inside the same sandbox; reading sysctls (``os.cpu_count``).

No network at all (no rule allows ``network*``), no writes anywhere else, no Mach services,
no IPC outside. Paths must be real (``/tmp`` is ``/private/tmp`` on macOS): ``profile`` takes
them through ``os.path.realpath``.

Status: the text is generated and unit-tested here; the worker pool itself needs Linux
(``pool.py`` refuses other systems and says so), so nothing runs samples under this profile
yet. Apple marks ``sandbox-exec`` deprecated but keeps it working, as Codex relies on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

SYSTEM_READABLE = (
    *("/usr/lib", "/usr/share", "/System/Library", "/Library/Frameworks"),
    *("/private/var/db/timezone", "/opt/homebrew", "/usr/local"),
)
DEVICES_READABLE = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")


def quote(path: str) -> str:
    """``path`` as an SBPL string literal."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def profile(
    private_dir: str,
    readable: Iterable[str],
    executable: str,
    *,
    system_readable: Iterable[str] = SYSTEM_READABLE,
) -> str:
    """The profile for one sample whose own folder is ``private_dir``.

    ``readable``: folders (or files) it may read besides the system's; ``executable``: the
    Python interpreter the worker runs (it is executed through ``sandbox-exec``).
    """
    private = os.path.realpath(private_dir)
    reads = [*system_readable, *(os.path.realpath(path) for path in readable)]
    read_rules = "\n".join(f"  (subpath {quote(path)})" for path in dict.fromkeys(reads))
    devices = "\n".join(f"  (literal {quote(device)})" for device in DEVICES_READABLE)
    return "\n".join(
        [
            "(version 1)",
            "(deny default)",
            "(allow process-fork)",
            f"(allow process-exec (literal {quote(os.path.realpath(executable))}))",
            "(allow signal (target same-sandbox))",
            "(allow sysctl-read)",
            "(allow file-read-metadata)",
            f"(allow file-read*\n{read_rules}\n{devices}\n  (subpath {quote(private)}))",
            f'(allow file-write*\n  (subpath {quote(private)})\n  (literal "/dev/null"))',
            "",
        ]
    )
