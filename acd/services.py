"""The service catalog: queues, their targets, wrap-up times and overflow stages.

Invariants:
- Service ids are unique, lowercase ``[a-z0-9_]`` identifiers.
- Every service serves at least one language; its overflow stages are sorted by ``after_s``,
  the first opens at 0 s, and a ``via_service`` names a service of the catalog.
- A ``via_service`` stage without interpreter never loosens the language rules: the via
  service's staff languages include the call service's staff languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acd.errors import AcdConfigError
from acd.model import (
    PROFICIENCY_MAX,
    PROFICIENCY_MIN,
    Language,
    OverflowStage,
    Service,
    ServiceLevelTarget,
)

_ID = re.compile(r"^[a-z0-9_]{1,40}$")


class _TargetIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    fraction: float = Field(gt=0, le=1)
    within_s: float = Field(gt=0, le=3600)


class _StageIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    after_s: float = Field(ge=0, le=86400)
    min_proficiency: int = Field(default=PROFICIENCY_MIN, ge=PROFICIENCY_MIN, le=PROFICIENCY_MAX)
    via_service: str | None = None
    with_interpreter: bool = False
    when_unstaffed: bool = False


class _ServiceIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: str
    languages: list[Language] = Field(min_length=1)
    staff_languages: list[Language] = Field(default_factory=list)
    target: _TargetIn
    wrap_up_s: float = Field(ge=0, le=3600)
    handle_s: float = Field(gt=0, le=7200)
    overflow: list[_StageIn] = Field(min_length=1)


class _CatalogIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    services: list[_ServiceIn] = Field(min_length=1)


class ServiceCatalog(Mapping[str, Service]):
    """Read-only mapping of service id to :class:`Service`, in file order."""

    def __init__(self, services: tuple[Service, ...]) -> None:
        self._by_id = {s.id: s for s in services}
        if len(self._by_id) != len(services):
            raise AcdConfigError("services: duplicate service id")
        for service in services:
            _check_service(service, self._by_id)

    def __getitem__(self, key: str) -> Service:
        return self._by_id[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)


def _check_service(service: Service, by_id: Mapping[str, Service]) -> None:
    where = f"service {service.id!r}"
    if not _ID.match(service.id):
        raise AcdConfigError(f"{where}: id must match [a-z0-9_]{{1,40}}")
    stages = service.stages
    if stages[0].after_s != 0:
        raise AcdConfigError(f"{where}: the first overflow stage must open at after_s 0")
    if any(a.after_s > b.after_s for a, b in pairwise(stages)):
        raise AcdConfigError(f"{where}: overflow stages must be sorted by after_s")
    for stage in stages:
        if stage.via_service is None:
            continue
        via = by_id.get(stage.via_service)
        if via is None:
            raise AcdConfigError(f"{where}: overflow via unknown service {stage.via_service!r}")
        if not stage.with_interpreter and not service.staff_languages <= via.staff_languages:
            raise AcdConfigError(
                f"{where}: overflow via {via.id!r} would drop staff languages "
                f"{sorted(service.staff_languages - via.staff_languages)}; add with_interpreter"
            )
        if stage.with_interpreter and Language.KO not in via.staff_languages:
            raise AcdConfigError(f"{where}: an interpreter stage needs a Korean via_service")


def _convert(item: _ServiceIn) -> Service:
    return Service(
        id=item.id,
        name=item.name,
        languages=frozenset(item.languages),
        staff_languages=frozenset(item.staff_languages),
        target=ServiceLevelTarget(item.target.fraction, item.target.within_s),
        wrap_up_s=item.wrap_up_s,
        handle_s=item.handle_s,
        stages=tuple(
            OverflowStage(
                s.after_s, s.min_proficiency, s.via_service, s.with_interpreter, s.when_unstaffed
            )
            for s in item.overflow
        ),
    )


def parse_catalog(data: Any, where: str) -> ServiceCatalog:
    """Build a catalog from parsed YAML, or raise AcdConfigError naming ``where``."""
    try:
        parsed = _CatalogIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise AcdConfigError(f"{where}: invalid services: {problems}") from exc
    try:
        return ServiceCatalog(tuple(_convert(s) for s in parsed.services))
    except AcdConfigError as exc:
        raise AcdConfigError(f"{where}: {exc}") from exc


def load_catalog(path: Path | None = None) -> ServiceCatalog:
    """Load ``path`` or, when None, the shipped ``acd/data/services.yaml``."""
    if path is None:
        text = resources.files("acd").joinpath("data/services.yaml").read_text(encoding="utf-8")
        where = "acd/data/services.yaml"
    else:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AcdConfigError(f"{where}: cannot read: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AcdConfigError(f"{where}: not valid YAML: {exc}") from exc
    return parse_catalog(data, where)
