"""Loading a menu file into a validated ``Menu``, and the store that swaps menus atomically.

Invariants:
- A ``Menu`` only exists if its file parsed and passed every check (``MenuError`` otherwise,
  listing each problem with the file and the node).
- ``MenuStore.reload()`` builds the new menu completely before swapping one reference; a
  failed reload keeps the current menu. A call takes ``store.current`` once at its start and
  keeps that object to the end, so calls in progress never see a half-changed menu.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ivr.hours import ServiceHours, load_service_hours
from ivr.menu.spec import MenuSpec
from ivr.menu.validate import MENU_LEVEL, MenuError, Names, Problem, validate_menu
from ivr.prompts.manifest import PromptManifest, load_manifest
from ivr.settings import IvrSettings
from ivr.targets import TARGETS

SHIPPED_MENU = "dasan120.yaml"


@dataclass(frozen=True)
class Menu:
    """A validated menu, with the service hours its branches consult."""

    spec: MenuSpec
    hours: ServiceHours
    source: str
    digest: str

    @property
    def id(self) -> str:
        return self.spec.id


def shipped_menu_text() -> str:
    return resources.files("ivr.menus").joinpath(SHIPPED_MENU).read_text(encoding="utf-8")


def _problems_from_pydantic(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if len(loc) >= 2 and loc[0] == "nodes":
            # loc is nodes.<id>.<kind>.<field...>; the kind level is pydantic's union tag.
            node, rest = loc[1], loc[3:] if len(loc) > 2 else []
            where = ".".join(rest) or "(node)"
            problems.append(Problem(node, f"{where}: {err['msg']}"))
        else:
            problems.append(Problem(MENU_LEVEL, f"{'.'.join(loc) or '(top)'}: {err['msg']}"))
    return problems


def parse_menu(text: str, source: str) -> MenuSpec:
    try:
        data: Any = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for bad dates
        raise MenuError(source, [Problem(MENU_LEVEL, f"not valid YAML: {exc}")]) from exc
    if not isinstance(data, dict):
        raise MenuError(source, [Problem(MENU_LEVEL, "the file must hold a mapping")])
    try:
        return MenuSpec.model_validate(data)
    except ValidationError as exc:
        raise MenuError(source, _problems_from_pydantic(exc)) from exc


def build_menu(
    text: str,
    source: str,
    manifest: PromptManifest,
    hours: ServiceHours,
    targets: Collection[str] = TARGETS,
) -> Menu:
    spec = parse_menu(text, source)
    names = Names(prompts=manifest.ids, hours=hours.services, targets=targets)
    problems = validate_menu(spec, names)
    if problems:
        raise MenuError(source, problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return Menu(spec, hours, source, digest)


def load_menu(
    path: Path | None,
    manifest: PromptManifest,
    hours: ServiceHours,
    targets: Collection[str] = TARGETS,
) -> Menu:
    """Load ``path`` (the shipped 120 menu when None), or raise ``MenuError``."""
    if path is None:
        return build_menu(
            shipped_menu_text(), f"ivr/menus/{SHIPPED_MENU}", manifest, hours, targets
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise MenuError(str(path), [Problem(MENU_LEVEL, f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise MenuError(str(path), [Problem(MENU_LEVEL, "not UTF-8 text")]) from exc
    return build_menu(text, str(path), manifest, hours, targets)


class MenuStore:
    """Holds the current menu; ``reload()`` swaps in a freshly validated one."""

    def __init__(self, loader: Callable[[], Menu]) -> None:
        self._loader = loader
        self._current = loader()
        self._generation = 1

    @property
    def current(self) -> Menu:
        return self._current

    @property
    def generation(self) -> int:
        """Increases by one with every successful reload."""
        return self._generation

    def reload(self) -> Menu:
        """Load again; on ``MenuError`` (or a data error) the current menu stays."""
        menu = self._loader()
        self._current = menu
        self._generation += 1
        return menu


def menu_loader(settings: IvrSettings) -> Callable[[], Menu]:
    """A loader that re-reads the prompt manifest, hours, holidays and menu on every call."""

    def load() -> Menu:
        manifest = load_manifest(settings.prompt_manifest_file)
        hours = load_service_hours(
            settings.timezone, settings.service_hours_file, settings.holidays_file
        )
        return load_menu(settings.menu_file, manifest, hours)

    return load
