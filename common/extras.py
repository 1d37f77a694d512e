"""Optional groups of packages (the ``[project.optional-dependencies]`` extras) and a clear
error when a command needs one that is not installed.

Invariants:
- The extras are read from the installed project's own metadata, so ``pyproject.toml`` is the
  only list of what each extra holds; nothing here imports the packages it checks.
- ``require`` raises ``MissingExtra`` naming the command's purpose, the extra, the missing
  distributions and the command that installs them; it returns quietly when all are there
  (or when the project itself is not installed, so there is no metadata to read).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from importlib import metadata

PROJECT = "dasan"
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


class MissingExtra(RuntimeError):
    """A command needs optional packages that are not installed."""

    def __init__(self, purpose: str, extra: str, missing: Iterable[str]) -> None:
        self.extra = extra
        self.missing = tuple(missing)
        super().__init__(
            f"{purpose} needs the optional '{extra}' packages ({', '.join(self.missing)} "
            f"missing): install them with  pip install -e '.[{extra}]'  (make does this for "
            "the targets that need them)"
        )


def extra_packages(extra: str, requirements: Iterable[str]) -> list[str]:
    """The distribution names that ``requirements`` (metadata lines) list for ``extra``."""
    names = []
    for line in requirements:
        requirement, _, marker = line.partition(";")
        found = _EXTRA.search(marker)
        name = _NAME.match(requirement)
        if found and found.group(1) == extra and name:
            names.append(name.group(1))
    return names


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def missing_packages(
    extra: str,
    requirements: Iterable[str] | None = None,
    installed: Callable[[str], bool] | None = None,
) -> list[str]:
    """The packages of ``extra`` that are not installed (the project's metadata by default)."""
    if requirements is None:
        try:
            requirements = metadata.requires(PROJECT) or []
        except metadata.PackageNotFoundError:
            return []
    requirements = list(requirements)
    listed = extra_packages(extra, requirements)
    if requirements and not listed:
        raise ValueError(f"the project has no extra named {extra!r}")
    is_installed = installed or _installed
    return [name for name in listed if not is_installed(name)]


def require(extra: str, purpose: str) -> None:
    """Raise ``MissingExtra`` unless every package of ``extra`` is installed."""
    missing = missing_packages(extra)
    if missing:
        raise MissingExtra(purpose, extra, missing)
