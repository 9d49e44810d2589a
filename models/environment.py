"""Is the installed set of packages one this code works with? Checked at start by the CLI and
by the server before it loads a model.

pip never stops ``pip install -U transformers`` from breaking a working set: transformers
5.24 and 5.25 refused every released peft two weeks after this project worked with 5.23.
``make`` installs from the lock, but a user's own upgrade (or a library install) can still mix
versions, and the failure then surfaces deep inside a fine-tune. This check finds it at start
and names the two packages, the versions found and needed, and the command that fixes it.

It reads package metadata only (no imports of torch or transformers), in a few milliseconds:
- evoselfcode's own requirements: as installed, or, where the packages run from a source tree or
  the extension's bundle (on PYTHONPATH, never installed), from the ``pyproject.toml`` beside them;
- what each of those packages requires of the others (as ``pip check`` would, for our set);
- breaks that no metadata declares, found at run time by a package itself (``RUNTIME_BREAKS``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DISTRIBUTION = "evoselfcode"
SKIP_VARIABLE = "EVOSELFCODE_SKIP_VERSION_CHECK"  # "1": start anyway, at the user's own risk
EXIT_INCOMPATIBLE = 78  # sysexits.h EX_CONFIG; 1–5 already mean other things (finetune)

VersionOf = Callable[[str], "str | None"]
RequiresOf = Callable[[str], "list[str]"]


@dataclass(frozen=True)
class RuntimeBreak:
    """``package`` at ``versions`` refuses ``other`` outside ``needs``; ``fix`` avoids it."""

    package: str
    versions: str
    other: str
    needs: str
    fix: str


# Checked at run time by the package itself, so pip and the resolver cannot see them.
RUNTIME_BREAKS = (
    # transformers' PEFT integration (MIN_PEFT_VERSION): "The version of PEFT you are using is
    # not compatible, please use a version >= 0.22.0" (no peft 0.22 existed when 5.24 came out).
    RuntimeBreak("transformers", ">=5.24", "peft", ">=0.22", 'pip install "transformers<5.24"'),
)


@dataclass(frozen=True)
class Conflict:
    """``required_by`` needs ``package`` at ``needed``; ``found`` is installed (None: absent)."""

    required_by: str  # "evoselfcode 0.1.0", "transformers 5.25.0"
    package: str
    needed: str
    found: str | None
    fix: str

    def describe(self) -> str:
        found = f"{self.package} {self.found} is installed" if self.found else "it is missing"
        return f"{self.required_by} needs {self.package}{self.needed}, but {found}. Fix: {self.fix}"


class IncompatibleEnvironmentError(RuntimeError):
    """Installed packages that do not work together; the message says how to fix it."""

    def __init__(self, conflicts: list[Conflict]):
        self.conflicts = conflicts
        lines = "\n".join(f"  - {conflict.describe()}" for conflict in conflicts)
        super().__init__(
            f"incompatible Python packages:\n{lines}\n"
            f"(In a checkout, `make python` after `rm .stamps/python` reinstalls the locked "
            f"versions; {SKIP_VARIABLE}=1 starts anyway.)"
        )


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def declared_requirements(name: str) -> list[str]:
    try:
        return metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return _source_tree_requirements() if name == DISTRIBUTION else []


def _source_tree_requirements() -> list[str]:
    """``[project] dependencies`` of the pyproject.toml beside the packages (a checkout, or
    the extension's bundle, which ships it); empty where there is none or no TOML reader."""
    if sys.version_info < (3, 11):
        return []  # tomllib arrived in 3.11; 3.10 runs without the check of our own ranges
    import tomllib

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError):
        return []
    return [str(line) for line in project.get("dependencies", [])]


def find_conflicts(
    version_of: VersionOf = installed_version, requires_of: RequiresOf = declared_requirements
) -> list[Conflict]:
    """Every conflict among evoselfcode's direct dependencies (empty when all is well)."""
    own_version = version_of(DISTRIBUTION)
    ourselves = f"{DISTRIBUTION} {own_version}" if own_version else DISTRIBUTION
    direct = _applicable(requires_of(DISTRIBUTION))
    conflicts = list(_unmet(ourselves, direct, version_of))
    ours = {canonicalize_name(requirement.name) for requirement in direct}
    for requirement in direct:
        found = version_of(requirement.name)
        if found is None:
            continue
        among_ours = [
            r
            for r in _applicable(requires_of(requirement.name))
            if canonicalize_name(r.name) in ours
        ]
        conflicts.extend(_unmet(f"{requirement.name} {found}", among_ours, version_of))
    conflicts.extend(_runtime_breaks(version_of))
    return conflicts


def check_environment(
    version_of: VersionOf = installed_version, requires_of: RequiresOf = declared_requirements
) -> None:
    """Raise ``IncompatibleEnvironmentError`` naming every conflict; skipped when the user set
    ``EVOSELFCODE_SKIP_VERSION_CHECK=1``."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        return
    conflicts = find_conflicts(version_of, requires_of)
    if conflicts:
        raise IncompatibleEnvironmentError(conflicts)


def _applicable(lines: Iterable[str]) -> list[Requirement]:
    """Requirements that apply here: markers evaluated, extras (``extra == ...``) left out."""
    found = []
    for line in lines:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        found.append(requirement)
    return found


def _unmet(
    required_by: str, requirements: Iterable[Requirement], version_of: VersionOf
) -> Iterable[Conflict]:
    for requirement in requirements:
        found = version_of(requirement.name)
        if found is not None and _satisfies(found, requirement.specifier):
            continue
        spec = str(requirement.specifier)
        yield Conflict(required_by, requirement.name, spec, found, f'pip install "{requirement}"')


def _runtime_breaks(version_of: VersionOf) -> Iterable[Conflict]:
    for rule in RUNTIME_BREAKS:
        version, other = version_of(rule.package), version_of(rule.other)
        if version is None or other is None:
            continue
        if _satisfies(version, SpecifierSet(rule.versions)) and not _satisfies(
            other, SpecifierSet(rule.needs)
        ):
            yield Conflict(f"{rule.package} {version}", rule.other, rule.needs, other, rule.fix)


def _satisfies(version: str, specifier: SpecifierSet) -> bool:
    try:
        return specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # a version we cannot read is not one we can call wrong
