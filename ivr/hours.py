"""Service hours of the center, evaluated in its own time zone with an injected clock.

Invariants:
- ``ServiceHours.is_open`` is a pure function of its data and the instant passed in; it never
  reads the system clock. Naive datetimes are rejected (an instant without a zone is ambiguous).
- A day is a *holiday* when its date (in the center's zone) is a Korean public holiday or one
  of the center's own closed days (``ivr.closed_days``), a *weekend* when it is Saturday or
  Sunday and not a holiday, else a *weekday*.
- Windows are half-open ``[start, end)`` in local wall-clock time; ``24:00`` means midnight at
  the end of the day. Data errors name the file and the entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ivr.closed_days import Holiday, HolidayCalendar

_SHIPPED_HOURS = "service_hours.yaml"
_SHIPPED_CLOSED_DAYS = "closed_days.yaml"


class HoursError(ValueError):
    """Service-hours or holiday data is invalid; the message names the file and the entry."""


class DayType(Enum):
    WEEKDAY = "weekday"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class Window:
    """Half-open local time window in minutes after midnight: [start, end)."""

    start: int
    end: int

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass(frozen=True)
class Schedule:
    always: bool
    weekdays: tuple[Window, ...] = ()
    weekends: tuple[Window, ...] = ()
    holidays: tuple[Window, ...] = ()

    def windows(self, day: DayType) -> tuple[Window, ...]:
        if day is DayType.WEEKDAY:
            return self.weekdays
        if day is DayType.WEEKEND:
            return self.weekends
        return self.holidays


@dataclass(frozen=True)
class ServiceHours:
    """Opening hours per service id plus the holiday calendar, in one time zone."""

    timezone: ZoneInfo
    schedules: Mapping[str, Schedule]
    holidays: HolidayCalendar

    @property
    def services(self) -> frozenset[str]:
        return frozenset(self.schedules)

    def local(self, now: dt.datetime) -> dt.datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("service hours need an aware datetime (with a time zone)")
        return now.astimezone(self.timezone)

    def day_type(self, day: dt.date) -> DayType:
        if day in self.holidays:
            return DayType.HOLIDAY
        return DayType.WEEKEND if day.weekday() >= 5 else DayType.WEEKDAY

    def is_open(self, service: str, now: dt.datetime) -> bool:
        try:
            schedule = self.schedules[service]
        except KeyError:
            raise KeyError(f"no service hours for {service!r}") from None
        if schedule.always:
            return True
        local = self.local(now)
        minute = local.hour * 60 + local.minute
        return any(w.contains(minute) for w in schedule.windows(self.day_type(local.date())))


# --- loading -------------------------------------------------------------------------------


class _ScheduleIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    always: bool = False
    every_day: tuple[str, ...] | None = None
    weekdays: tuple[str, ...] | None = None
    weekends: tuple[str, ...] | None = None
    holidays: tuple[str, ...] | None = None


class _HoursFileIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    services: dict[str, _ScheduleIn]


class _HolidayIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    date: dt.date
    name: str

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("holiday name is empty")
        return value


class _HolidaysFileIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    years: dict[int, tuple[_HolidayIn, ...]]


def _parse_minute(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise ValueError(f"{text!r} is not a time of day")
    return value


def parse_window(text: str) -> Window:
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a window like 09:00-18:00")
    start, end = _parse_minute(start_text), _parse_minute(end_text)
    if start >= end:
        raise ValueError(f"{text!r} ends before it starts")
    return Window(start, end)


def _schedule(where: str, raw: _ScheduleIn) -> Schedule:
    if raw.always:
        if raw.every_day or raw.weekdays or raw.weekends or raw.holidays:
            raise HoursError(f"{where}: 'always' excludes windows")
        return Schedule(always=True)
    every = raw.every_day or ()
    try:
        parts = {
            name: tuple(parse_window(w) for w in (given if given is not None else every))
            for name, given in (
                ("weekdays", raw.weekdays),
                ("weekends", raw.weekends),
                ("holidays", raw.holidays),
            )
        }
    except ValueError as exc:
        raise HoursError(f"{where}: {exc}") from exc
    if not any(parts.values()):
        raise HoursError(f"{where}: no opening windows (use 'always: true' or list windows)")
    return Schedule(always=False, **parts)


def _read_yaml(path: Path | None, shipped: str) -> tuple[str, Any]:
    if path is None:
        where = f"ivr/data/{shipped}"
        text = resources.files("ivr.data").joinpath(shipped).read_text(encoding="utf-8")
    else:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise HoursError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return where, yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for bad dates
        raise HoursError(f"{where}: not valid YAML: {exc}") from exc


def _pydantic_problem(where: str, exc: ValidationError) -> HoursError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()
    )
    return HoursError(f"{where}: {problems}")


def load_closed_days(path: Path | None = None) -> dict[dt.date, Holiday]:
    """The center's own closed days (shipped ``closed_days.yaml`` unless ``path`` is given)."""
    where, data = _read_yaml(path, _SHIPPED_CLOSED_DAYS)
    try:
        parsed = _HolidaysFileIn.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_problem(where, exc) from exc
    holidays: dict[dt.date, Holiday] = {}
    for year, days in parsed.years.items():
        for day in days:
            if day.date.year != year:
                raise HoursError(f"{where}: years.{year}: {day.date} is not in {year}")
            if day.date in holidays:
                raise HoursError(f"{where}: years.{year}: {day.date} is listed twice")
            holidays[day.date] = Holiday(day.date, day.name)
    return holidays


def load_service_hours(
    timezone: str = "Asia/Seoul",
    hours_file: Path | None = None,
    holidays_file: Path | None = None,
) -> ServiceHours:
    """Read the schedule and the center's own closed days (shipped files unless paths are
    given); public holidays are computed."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise HoursError(f"unknown time zone {timezone!r} (is tzdata installed?)") from exc
    where, data = _read_yaml(hours_file, _SHIPPED_HOURS)
    try:
        parsed = _HoursFileIn.model_validate(data)
    except ValidationError as exc:
        raise _pydantic_problem(where, exc) from exc
    schedules = {
        name: _schedule(f"{where}: services.{name}", raw) for name, raw in parsed.services.items()
    }
    return ServiceHours(zone, schedules, HolidayCalendar(load_closed_days(holidays_file)))
