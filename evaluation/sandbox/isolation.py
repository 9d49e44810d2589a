"""What isolates a pool's samples, as its workers found it: ``Isolation``, and its level.

Standard library only (sent by sandbox workers, read by the host). How each part is set up is
in ``jail.py``; what each level means for a sample, in the package docstring. The levels:

- ``full``: the kernel keeps the sample from the network, from the user's files (and from
  writing anything outside its private folder), from other processes, and kills everything it
  started: namespaces (network, mount, PID) with an unprivileged user, as root; or, without
  root, an unprivileged user namespace with a private read-only root. Landlock and seccomp,
  where the kernel has them, are a second wall.
- ``partial``: no namespaces (the kernel refused them: ``problems`` says why, and how to allow
  them), but Landlock and seccomp (or, as root, the ``nobody`` user) still hold part of it.
- ``guard-only``: nothing but the in-process guard (``guard.py``), which ``ctypes`` goes around.

Untrusted code from self-evolve runs only at ``full``, unless the user allowed less
(``refusal``); an evaluation runs at any level, with ``warning`` in its output and report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Level = Literal["full", "partial", "guard-only"]
ALLOW_SETTING = "evoselfcode.evolution.allowGuardOnly"
ALLOW_FLAG = "--allow-guard-only"


@dataclass(frozen=True)
class Isolation:
    """What really isolates the samples of one worker (the guard is always on as well)."""

    network_namespace: bool
    mount_namespace: bool
    pid_namespace: bool
    sandbox_uid: int | None  # samples run as this unprivileged user; None: as the host's user
    user_namespace: bool = False  # without root: an unprivileged user namespace
    private_root: bool = False  # samples see a read-only view, not the host's file tree
    private_proc: bool = False  # /proc shows the worker's PID namespace, not the host's
    landlock_abi: int = 0  # 0: no Landlock
    seccomp: bool = False
    problems: tuple[str, ...] = ()  # what the kernel refused, and how to allow it

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "problems": list(self.problems), "level": self.level}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Isolation:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "problems": tuple(data.get("problems", ()))})

    @property
    def level(self) -> Level:
        namespaces = self.network_namespace and self.pid_namespace and self.mount_namespace
        if namespaces and (self.sandbox_uid is not None or self.private_root):
            return "full"
        if self.landlock_abi or self.seccomp or self.sandbox_uid is not None:
            return "partial"
        return "guard-only"

    def describe(self) -> str:
        """One line: the level and each part (e.g. in an evaluation's summary)."""
        user = f"uid {self.sandbox_uid}" if self.sandbox_uid is not None else "host user"
        if self.user_namespace:
            user = "host user in a user namespace, no capabilities"
        walled = "seccomp" if self.seccomp else "guard only"
        parts = [
            "network: " + ("private namespace" if self.network_namespace else walled),
            "processes: "
            + ("PID namespace per sample" if self.pid_namespace else f"process group ({walled})"),
            "files: " + _files(self),
            f"user: {user}",
            "Landlock: " + (f"ABI {self.landlock_abi}" if self.landlock_abi else "none"),
            "seccomp: " + ("on" if self.seccomp else "off"),
        ]
        return f"{self.level} isolation ({', '.join(parts)})"

    def warning(self) -> str | None:
        """What to tell the user when untrusted code runs at less than ``full``; else None."""
        shortfall = self._shortfall()
        return None if shortfall is None else f"WARNING: {shortfall}"

    def refusal(self, allowed: bool) -> str | None:
        """Why self-evolve must not run untrusted code here (None when it may)."""
        shortfall = self._shortfall()
        if shortfall is None or allowed:
            return None
        return (
            f"{shortfall} Self-evolve refuses to run generated code this way; allow it at your "
            f"own risk with the setting {ALLOW_SETTING} (or {ALLOW_FLAG} on the command line)."
        )

    def _shortfall(self) -> str | None:
        if self.level == "full":
            return None
        held = {
            "partial": "only Landlock, seccomp and the in-process guard hold it",
            "guard-only": "only the in-process guard holds it, and ctypes goes around it",
        }[self.level]
        missing = "; ".join(self.problems) or "the kernel gave no namespaces"
        return (
            f"the sandbox is not fully isolated ({self.level}): untrusted code can reach more "
            f"than it should; {held}. Missing: {missing}."
        )


def _files(isolation: Isolation) -> str:
    if isolation.private_root:
        return "private read-only root"
    if isolation.mount_namespace:
        return "private /tmp"
    return "host's tree (Landlock)" if isolation.landlock_abi else "host's tree (guard only)"


def platform_refusal(platform: str) -> str | None:
    """Why the sandbox cannot run untrusted code on ``platform`` (``sys.platform``); None on
    Linux."""
    if platform.startswith("linux"):
        return None
    if platform == "darwin":
        return (
            "the sandbox runs samples on Linux only; on macOS its isolation would be a "
            "Seatbelt profile (evaluation/sandbox/seatbelt.py), but the worker pool is not "
            "ported yet: run the evaluation in a Linux VM or container"
        )
    if platform in ("win32", "cygwin"):
        return (
            "untrusted code cannot be isolated on Windows (no namespaces, Landlock, seccomp "
            "or fork), and the in-process guard alone is no isolation: run EvoSelfCode's "
            "server in WSL 2, where the Linux sandbox applies"
        )
    return f"the sandbox needs Linux (namespaces, Landlock, fork, /proc), not {platform}"
