"""Private folders in a mount namespace: cover folders with a fresh tmpfs, show chosen ones again.

Standard library only (runs inside sandbox workers and their children). Everything here needs
root, in a mount namespace of the caller's own, and Linux >= 5.2.

A worker (``WorkerMounts.enter``) covers /tmp, /var/tmp and /dev/shm with private tmpfs
mounts, and covers with an empty tmpfs each folder the sandbox user cannot enter that holds a
folder samples must read (a Python installed under /root, mode 0700). Every folder samples must
read that lies in a covered folder (the interpreter's, or a project's ``.venv`` when the project
was cloned under /tmp) is shown again inside the cover, at its own path, read-only.

A sample given folders to read (``readable_paths``) gets them in a mount namespace of its own
(``WorkerMounts.sample_plan``): its child covers again, with a fresh tmpfs, each covered folder
that holds one (or, for a folder the sandbox user cannot enter, the outermost such ancestor),
and shows inside it those folders read-only from the host's tree, the folders the worker showed
there, and the sample's own folder (writable). A readable folder that nothing hides is shown
read-only at its own place. Nothing of this reaches the worker's namespace: no sample sees
another's folders, and no folder is ever made inside a tmpfs that samples can write to.

How a covered original is reached: an ``O_PATH`` descriptor opened before the cover still points
at the original folder, and ``/proc/self/fd/N/relative`` walks the original tree from there.
The worker keeps one such descriptor per folder it covered, so that a sample's child can copy a
folder of the host's /tmp that the worker's own /tmp hides. The child closes every descriptor it
does not need before the program runs: with one of these left open, a program could ``openat``
around its private tmpfs into the host's /tmp.

A shown folder is a copy of its mount tree (``open_tree``; mounts below it come along, with
their own flags), itself read-only and nosuid. Permissions still apply: a folder shown to the
sandbox user must be readable by others.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from evaluation.sandbox.syscalls import (
    CLONE_NEWNS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    attach_mount_tree,
    copy_mount_tree,
    mount,
    unshare,
)

PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")
TMPFS_OPTIONS = "size=256m,mode=1777"
HIDING_COVER_OPTIONS = "mode=0755"  # the sandbox user may enter it, but not write to it
_O_FOLDER = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(frozen=True)
class Bind:
    """Show the folder ``source`` at ``target``, read-only unless ``writable``."""

    target: str
    source: str  # read before anything is covered: a path, or /proc/self/fd/N/relative
    writable: bool = False


@dataclass(frozen=True)
class MountPlan:
    """What one process mounts: tmpfs covers ``(folder, options)``, then binds into them."""

    covers: tuple[tuple[str, str], ...]
    binds: tuple[Bind, ...]

    def apply(self, *, new_namespace: bool = False) -> None:
        """Copy every source, enter a new mount namespace if asked, then mount the covers and
        attach the copies in path order (a folder before what lies in it; a cover can lie in
        a shown folder). Every descriptor opened here is closed again, whatever happens."""
        trees: list[int] = []
        try:
            # Copies, not bind mounts: a bind mount's source must be in the caller's own
            # namespace, and a sample's child reads its sources in the worker's.
            for bind in self.binds:
                trees.append(copy_mount_tree(bind.source))
            if new_namespace:
                unshare(CLONE_NEWNS)  # a copy of the current one, whose mounts are all private
            steps = [(folder, 0, options, -1, False) for folder, options in self.covers]
            steps += [
                (b.target, 1, "", t, b.writable) for b, t in zip(self.binds, trees, strict=True)
            ]
            for target, is_bind, options, tree, writable in sorted(steps):
                if is_bind:
                    _attach(tree, target, writable)
                else:
                    os.makedirs(target, 0o755, exist_ok=True)  # when an outer cover hid it
                    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)
        finally:
            for tree in trees:
                os.close(tree)


def _attach(tree: int, target: str, writable: bool) -> None:
    os.makedirs(target, 0o755, exist_ok=True)
    attach_mount_tree(tree, target)
    if writable:
        return
    # Read-only takes a remount, which resets the other flags of the mount: keep nodev and
    # noexec where the source had them (and add nosuid).
    flags = os.statvfs(target).f_flag
    kept = (MS_NODEV if flags & os.ST_NODEV else 0) | (MS_NOEXEC if flags & os.ST_NOEXEC else 0)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept)


@dataclass(frozen=True)
class Covered:
    """A folder a worker covered: the tmpfs options, and a descriptor of what it hides."""

    options: str
    original_fd: int


@dataclass(frozen=True)
class WorkerMounts:
    """A worker's private mount namespace: what it covered, and what it showed inside."""

    covered: dict[str, Covered]
    shown: tuple[str, ...]  # folders samples read, shown again inside a cover

    @classmethod
    def enter(cls, python_paths: Iterable[str]) -> WorkerMounts:
        """Enter a new mount namespace, cover the private folders, show ``python_paths``.

        ``python_paths``: the folders samples must read (``sys.path``); ones that do not
        exist are ignored.
        """
        unshare(CLONE_NEWNS)
        # Private propagation first, so that nothing mounted here shows up on the host.
        mount("none", "/", None, MS_REC | MS_PRIVATE)
        needed = [os.path.realpath(p) for p in python_paths if os.path.isdir(p)]
        private = {folder: TMPFS_OPTIONS for folder in PRIVATE_TMPFS if os.path.isdir(folder)}
        plan = plan_mounts(needed, private, original=lambda path: path, show_visible=False)
        covered: dict[str, Covered] = {}
        try:
            for folder, options in plan.covers:
                covered[folder] = Covered(options, os.open(folder, _O_FOLDER))
            plan.apply()
        except BaseException:
            for entry in covered.values():
                os.close(entry.original_fd)
            raise
        return cls(covered, tuple(bind.target for bind in plan.binds))

    def sample_plan(self, readable: Iterable[str], sample_dir: str) -> MountPlan:
        """What the child of a sample mounts (in a namespace of its own) to read ``readable``.

        ``readable``: absolute, real paths of folders, as the host checked them.
        """
        readable = list(readable)
        fresh = {}  # the worker's covers that hide one: covered again, from scratch
        for path in readable:
            folder = holder(path, self.covered)
            if folder is not None:
                fresh[folder] = self.covered[folder].options
        needed = [*readable, *(path for path in self.shown if holder(path, fresh))]
        own = [sample_dir] if holder(sample_dir, fresh) else []
        return plan_mounts(
            [*needed, *own], fresh, original=self.original, show_visible=True, writable=own
        )

    def original(self, path: str) -> str:
        """A path to ``path`` in the host's tree, even where this worker covered it."""
        folder = holder(path, self.covered)
        if folder is None:
            return path
        return f"/proc/self/fd/{self.covered[folder].original_fd}/{os.path.relpath(path, folder)}"


def plan_mounts(
    needed: Iterable[str],
    covers: dict[str, str],
    *,
    original: Callable[[str], str],
    show_visible: bool,
    writable: Iterable[str] = (),
) -> MountPlan:
    """Covers and binds that let the sandbox user read every folder of ``needed``.

    ``covers``: tmpfs covers there will be anyway; ``original``: where the host's version of a
    path can be read. A needed folder is shown (read from its original) when a cover hides
    it, or when a folder above it, as the sandbox user will see it, is one it may not enter:
    the outermost such folder gets a cover of its own (the user could see nothing in it
    anyway). A folder nothing hides is shown again only if ``show_visible``; one that lies in
    a shown folder is seen through it; a cover itself stays covered. ``writable`` folders
    (a sample's own) are shown as the caller sees them, writable.
    """
    covers = dict(covers)
    binds: dict[str, Bind] = {}
    own = set(writable)
    for path in sorted(set(needed)):  # a folder before what lies in it
        hiding = _closed_ancestor(path, covers, binds, original)
        if hiding is not None:
            covers[hiding] = HIDING_COVER_OPTIONS
        seen_through = _deepest(path, [*covers, *binds], including=True)
        hidden = seen_through in covers and seen_through != path
        if hidden or (seen_through is None and show_visible):
            source = path if path in own else original(path)
            binds[path] = Bind(path, source, writable=path in own)
    return MountPlan(tuple(covers.items()), tuple(binds.values()))


def _closed_ancestor(
    path: str, covers: dict[str, str], binds: dict[str, Bind], original: Callable[[str], str]
) -> str | None:
    """The outermost folder above ``path`` that others may not enter, in the view planned so
    far: folders made inside a cover are open; the others are the host's, with its modes."""
    current = os.sep
    for part in path.strip(os.sep).split(os.sep)[:-1]:
        current = os.path.join(current, part)
        cover = _deepest(current, covers, including=True)
        bind = _deepest(current, binds, including=True)
        if cover is not None and (bind is None or len(bind) < len(cover)):
            continue  # a cover, or a folder made inside one (mode 0755)
        try:
            if not os.stat(original(current)).st_mode & 0o001:
                return current
        except OSError:  # gone: reading the path fails later, with a clear error
            return None
    return None


def _deepest(path: str, folders: Iterable[str], *, including: bool) -> str | None:
    """The innermost of ``folders`` that holds ``path`` (or is it, when ``including``)."""
    holding = [f for f in folders if is_inside(path, f) or (including and path == f)]
    return max(holding, key=len) if holding else None


def is_inside(path: str, folder: str) -> bool:
    """Whether ``path`` lies strictly inside ``folder`` (both normalised and absolute)."""
    return path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


def holder(path: str, folders: Iterable[str]) -> str | None:
    """The innermost of ``folders`` that ``path`` lies strictly inside, if any."""
    return _deepest(path, folders, including=False)
