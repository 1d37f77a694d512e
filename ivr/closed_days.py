"""The days the center keeps holiday hours: Korean public holidays, computed, plus its own.

Invariants:
- Public holidays (관공서의 공휴일) come from the ``holidays`` package for any year it covers:
  lunar Seollal and Chuseok, substitute days (대체공휴일) and election days included, so no
  list runs out. Nothing here reads a clock.
- The center's own closed days are data (``ivr/data/closed_days.yaml`` or the operator's
  ``IvrSettings.holidays_file``); they add to the public ones, and where both name a date the
  center's name is kept.
- ``covers(year)`` is False for a year the package has no rules for; such a year still honors
  the center's own days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import holidays

COUNTRY = "KR"


@dataclass(frozen=True)
class Holiday:
    date: dt.date
    name: str


@lru_cache(maxsize=32)
def public_holidays(year: int) -> Mapping[dt.date, str]:
    """``{date: "Korean name (English name)"}`` of one year's public holidays."""
    if not _supported(year):
        return MappingProxyType({})
    korean = holidays.country_holidays(COUNTRY, years=year, language="ko")
    english = holidays.country_holidays(COUNTRY, years=year, language="en_US")
    return MappingProxyType(
        {day: f"{name} ({english.get(day, name)})" for day, name in korean.items()}
    )


def _supported(year: int) -> bool:
    return year in _years()


@lru_cache(maxsize=1)
def _years() -> range:
    country = holidays.country_holidays(COUNTRY)
    return range(country.start_year, country.end_year + 1)


class HolidayCalendar:
    """Public holidays (computed per year on first use) plus the center's own closed days."""

    def __init__(self, own: Mapping[dt.date, Holiday] | None = None) -> None:
        self._own = MappingProxyType(dict(own or {}))

    @property
    def own(self) -> Mapping[dt.date, Holiday]:
        return self._own

    def get(self, day: dt.date) -> Holiday | None:
        if day in self._own:
            return self._own[day]
        name = public_holidays(day.year).get(day)
        return None if name is None else Holiday(day, name)

    def __eq__(self, other: object) -> bool:
        # The public part is the same for every calendar: only the center's own days differ.
        return isinstance(other, HolidayCalendar) and other._own == self._own

    def __hash__(self) -> int:
        return hash(frozenset(self._own.items()))

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.get(day) is not None

    def in_year(self, year: int) -> list[Holiday]:
        """Every closed day of ``year``, in date order."""
        days = set(public_holidays(year)) | {d for d in self._own if d.year == year}
        return [holiday for day in sorted(days) if (holiday := self.get(day)) is not None]

    def covers(self, year: int) -> bool:
        """True when the public holidays of ``year`` are known (not only the center's own)."""
        return _supported(year)
