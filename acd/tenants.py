"""Districts as tenants: the city center and its districts, each with its own consultants and
queues, in the one global ACD.

File format (YAML, ``acd.tenants_file``; absent: one tenant, the city, as before)::

    districts:
      - id: gangnam                    # [a-z0-9]{1,20}
        name: {ko: 강남구, en: Gangnam-gu}
        dial: ["12001"]                # numbers citizens dial for this district (120NN)
        consultants: [c0004]           # serve this district only
        shared: [c0010]                # serve this district AND the city
        services: [general, welfare]   # the district's own queues (services of the catalog)
        overflow_after_s: 30           # then the city center's consultants may take it too
        unstaffed_to_city: true        # nobody of the district staffed: the city at once
        hours:                         # optional (absent: always open); the center's time
          weekdays: ["09:00-18:00"]    # zone and holidays (ivr.hours) decide the day type
          weekends: []
          holidays: []

How it maps onto the ACD (the smallest extension of one catalog and one decision):
- Each district service ``s`` becomes a queue ``s__<district>`` whose first stage is the
  district's skill ``s__<district>`` and whose second stage overflows to the city's skill ``s``
  after ``overflow_after_s``; that stage also opens at once while no consultant holding the
  district skill is staffed (``OverflowStage.when_unstaffed``), unless ``unstaffed_to_city`` is
  false. The city service's later stages follow, shifted by ``overflow_after_s``.
- A district consultant gets ``s__<district>`` at their roster proficiency in ``s`` for every
  district service they hold, and loses their city skills unless they are ``shared`` (or
  listed under a district as shared). A consultant may serve several districts.
- A district call whose service the district does not run, or that comes outside the
  district's hours, goes to the city's queue, still tagged with its district (the call log's
  tenant).

Invariants: district ids, dial numbers and queue ids are unique; every consultant and service
named exists; any problem raises :class:`acd.errors.AcdConfigError` naming the file, the line
(where the YAML gives one) and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acd.errors import AcdConfigError
from acd.model import Consultant, OverflowStage, Service
from acd.services import ServiceCatalog
from acd.settings import AcdSettings
from ivr.hours import Schedule, ServiceHours, parse_window

CITY = "city"
SEPARATOR = "__"
_DISTRICT = re.compile(r"^[a-z0-9]{1,20}$")
_DIAL = re.compile(r"^[0-9]{2,15}$")


class _NameIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    ko: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _HoursIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    weekdays: list[str] = Field(default_factory=list)
    weekends: list[str] = Field(default_factory=list)
    holidays: list[str] = Field(default_factory=list)


class _DistrictIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    name: _NameIn
    dial: list[str] = Field(min_length=1)
    consultants: list[str] = Field(default_factory=list)
    shared: list[str] = Field(default_factory=list)
    services: list[str] = Field(min_length=1)
    overflow_after_s: float = Field(ge=0, le=3600)
    unstaffed_to_city: bool = True
    hours: _HoursIn | None = None


class _TenantsIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    districts: list[_DistrictIn] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class District:
    id: str
    name_ko: str
    name_en: str
    dial: tuple[str, ...]
    consultants: frozenset[str]  # the district's own (shared ones included)
    shared: frozenset[str]
    services: tuple[str, ...]
    overflow_after_s: float
    unstaffed_to_city: bool
    hours: Schedule | None = None  # None: always open


def queue_id(service: str, district: str) -> str:
    """The ACD queue of a district's service: ``service__district``."""
    return f"{service}{SEPARATOR}{district}"


def split_queue(queue: str) -> tuple[str, str | None]:
    """(city service, district or None) of an ACD queue id."""
    service, sep, district = queue.partition(SEPARATOR)
    return (service, district) if sep else (queue, None)


class Tenants:
    """The districts of the city (read-only). The city itself is the tenant ``CITY``."""

    def __init__(self, districts: Iterable[District]) -> None:
        self.districts: dict[str, District] = {d.id: d for d in districts}
        self._by_dial = {number: d.id for d in self.districts.values() for number in d.dial}

    def ids(self) -> tuple[str, ...]:
        return (CITY, *self.districts)

    def by_dial(self, number: str) -> str | None:
        """The district a dialed number belongs to (None: the city's own 120)."""
        return self._by_dial.get(number)

    def queue_for(self, district: str | None, service: str, *, open_now: bool = True) -> str:
        """The ACD queue of a call of ``service`` from ``district`` (None: the city); the
        city's queue when the district does not run that service or is closed."""
        found = self.districts.get(district or "")
        if found is None or service not in found.services or not open_now:
            return service
        return queue_id(service, found.id)

    def is_open(self, district: str | None, center: ServiceHours, now: dt.datetime) -> bool:
        """Whether ``district`` is open at ``now`` (its windows on the day type the center's
        zone and holidays give); the city and districts without hours are always open."""
        found = self.districts.get(district or "")
        if found is None or found.hours is None:
            return True
        local = center.local(now)
        minute = local.hour * 60 + local.minute
        day = center.day_type(local.date())
        return any(w.contains(minute) for w in found.hours.windows(day))

    def consultant_tenants(self, consultant_id: str) -> tuple[str, ...]:
        """Tenants this consultant serves (the city unless they serve districts only)."""
        mine = [d.id for d in self.districts.values() if consultant_id in d.consultants]
        shared = any(consultant_id in d.shared for d in self.districts.values())
        return tuple(mine) + ((CITY,) if shared or not mine else ())

    def apply(
        self, catalog: ServiceCatalog, roster: Iterable[Consultant]
    ) -> tuple[ServiceCatalog, tuple[Consultant, ...]]:
        """The catalog with every district queue added and the roster with district skills."""
        services = list(catalog.values())
        for district in self.districts.values():
            for service_id in district.services:
                services.append(_district_service(catalog[service_id], district))
        consultants = tuple(self._consultant(c) for c in roster)
        return ServiceCatalog(tuple(services)), consultants

    def _consultant(self, consultant: Consultant) -> Consultant:
        mine = [d for d in self.districts.values() if consultant.id in d.consultants]
        if not mine:
            return consultant
        shared = any(consultant.id in d.shared for d in self.districts.values())
        skills = dict(consultant.skills) if shared else {}
        for district in mine:
            for service_id in district.services:
                level = consultant.proficiency(service_id)
                if level:
                    skills[queue_id(service_id, district.id)] = level
        return replace(consultant, skills=skills)


def _district_service(city: Service, district: District) -> Service:
    after = district.overflow_after_s
    stages = (
        OverflowStage(0.0),
        OverflowStage(after, via_service=city.id, when_unstaffed=district.unstaffed_to_city),
        *(
            replace(stage, after_s=after + stage.after_s, via_service=stage.via_service or city.id)
            for stage in city.stages[1:]
        ),
    )
    return replace(
        city,
        id=queue_id(city.id, district.id),
        name=f"{city.name} ({district.name_en})",
        stages=stages,
    )


def _line_of(root: yaml.Node | None, path: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at ``path`` (or of its nearest existing parent)."""
    node, line = root, None
    for part in path:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _where(file: str, root: yaml.Node | None, path: tuple[int | str, ...]) -> str:
    line = _line_of(root, path)
    field = ".".join(str(p) for p in path) or "(top)"
    return f"{file}{'' if line is None else f' line {line}'}: {field}"


def parse_tenants(
    text: str, file: str, catalog: ServiceCatalog, roster: Iterable[Consultant]
) -> Tenants:
    """Parse and check a tenants file against the (city) catalog and roster."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AcdConfigError(f"{file}: not valid YAML: {exc}") from exc
    try:
        parsed = _TenantsIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(file, root, tuple(err['loc']))}: {err['msg']}" for err in exc.errors()
        )
        raise AcdConfigError(f"invalid tenants: {problems}") from exc
    known = {c.id for c in roster}
    districts: list[District] = []
    dials: dict[str, str] = {}
    for index, item in enumerate(parsed.districts):
        check = _Check(file, root, ("districts", index))
        districts.append(
            _district(item, check, catalog=catalog, known=known, earlier=districts, dials=dials)
        )
    return Tenants(districts)


@dataclass(frozen=True, slots=True)
class _Check:
    file: str
    root: yaml.Node | None
    at: tuple[int | str, ...]

    def fail(self, field: str | tuple[str, ...], message: str) -> AcdConfigError:
        path = (field,) if isinstance(field, str) else field
        return AcdConfigError(f"{_where(self.file, self.root, (*self.at, *path))}: {message}")


def _district(
    item: _DistrictIn,
    check: _Check,
    *,
    catalog: ServiceCatalog,
    known: set[str],
    earlier: list[District],
    dials: dict[str, str],
) -> District:
    fail = check.fail
    if not _DISTRICT.match(item.id) or item.id == CITY:
        raise fail("id", f"{item.id!r} must match [a-z0-9]{{1,20}} and not be {CITY!r}")
    if any(d.id == item.id for d in earlier):
        raise fail("id", f"duplicate district {item.id!r}")
    for number in item.dial:
        if not _DIAL.match(number):
            raise fail("dial", f"{number!r} is not a dial number (digits only)")
        if number in dials:
            raise fail("dial", f"{number!r} already belongs to {dials[number]!r}")
        dials[number] = item.id
    for field in ("consultants", "shared"):
        for consultant_id in getattr(item, field):
            if consultant_id not in known:
                raise fail(field, f"unknown consultant {consultant_id!r} (not in the roster)")
    for service_id in item.services:
        if service_id not in catalog:
            raise fail("services", f"unknown service {service_id!r}")
        if SEPARATOR in service_id:
            raise fail("services", f"{service_id!r} is already a district queue")
        if len(queue_id(service_id, item.id)) > 40:
            raise fail("services", f"queue id {queue_id(service_id, item.id)!r} is too long")
    return District(
        hours=_hours(item.hours, check),
        id=item.id,
        name_ko=item.name.ko,
        name_en=item.name.en,
        dial=tuple(item.dial),
        consultants=frozenset(item.consultants) | frozenset(item.shared),
        shared=frozenset(item.shared),
        services=tuple(dict.fromkeys(item.services)),
        overflow_after_s=item.overflow_after_s,
        unstaffed_to_city=item.unstaffed_to_city,
    )


def _hours(raw: _HoursIn | None, check: _Check) -> Schedule | None:
    if raw is None:
        return None
    windows = {}
    for day in ("weekdays", "weekends", "holidays"):
        try:
            windows[day] = tuple(parse_window(text) for text in getattr(raw, day))
        except ValueError as exc:
            raise check.fail(("hours", day), str(exc)) from None
    return Schedule(False, windows["weekdays"], windows["weekends"], windows["holidays"])


def load_tenants(path: Path, catalog: ServiceCatalog, roster: Iterable[Consultant]) -> Tenants:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AcdConfigError(f"{path}: cannot read the tenants file: {exc.strerror}") from exc
    return parse_tenants(text, str(path), catalog, roster)


def configured_tenants(
    settings: AcdSettings, catalog: ServiceCatalog, roster: Iterable[Consultant]
) -> Tenants | None:
    """The tenants of ``settings.tenants_file`` (None: single tenant, the city)."""
    if settings.tenants_file is None:
        return None
    return load_tenants(Path(settings.tenants_file), catalog, roster)


def tenant_of_queue(queue: str | None, tenants: Mapping[str, District]) -> str:
    """The tenant whose queue this is (the city for its own services)."""
    if queue is None:
        return CITY
    _service, district = split_queue(queue)
    return district if district is not None and district in tenants else CITY
