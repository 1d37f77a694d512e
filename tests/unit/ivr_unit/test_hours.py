"""Service hours: weekday / weekend / holiday windows in Seoul time, and the closed days
(Korean public holidays computed, the center's own as data)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.closed_days import Holiday, HolidayCalendar
from ivr.hours import (
    DayType,
    HoursError,
    ServiceHours,
    load_closed_days,
    load_service_hours,
    parse_window,
)

from .helpers import seoul


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (seoul(2026, 11, 18, 8, 59), False),  # Wednesday before 09:00
        (seoul(2026, 11, 18, 9, 0), True),
        (seoul(2026, 11, 18, 21, 59), True),
        (seoul(2026, 11, 18, 22, 0), False),  # end is exclusive
        (seoul(2026, 11, 21, 17, 59), True),  # Saturday until 18:00
        (seoul(2026, 11, 21, 18, 0), False),
        (seoul(2026, 11, 22, 10, 0), True),  # Sunday morning
        (seoul(2026, 9, 25, 19, 0), False),  # Chuseok (Friday): holiday hours
        (seoul(2026, 9, 25, 17, 0), True),
        (seoul(2026, 3, 2, 20, 0), False),  # substitute holiday for 3.1 (Monday)
        (seoul(2026, 3, 3, 20, 0), True),  # the next Tuesday is a weekday again
    ],
)
def test_sign_language_and_chat_hours(
    hours: ServiceHours, when: dt.datetime, expected: bool
) -> None:
    assert hours.is_open("sign_language", when) is expected
    assert hours.is_open("chat", when) is expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (seoul(2026, 11, 18, 9, 0), True),
        (seoul(2026, 11, 18, 22, 0), False),
        (seoul(2026, 11, 21, 21, 0), True),  # weekends keep 09-22
        (seoul(2027, 2, 6, 21, 0), True),  # Seollal keeps 09-22
        (seoul(2027, 2, 6, 3, 0), False),
    ],
)
def test_foreign_language_hours(hours: ServiceHours, when: dt.datetime, expected: bool) -> None:
    assert hours.is_open("foreign_language", when) is expected


def test_telephone_is_always_open(hours: ServiceHours) -> None:
    for hour in range(24):
        assert hours.is_open("telephone", seoul(2026, 12, 25, hour))


def test_hours_are_evaluated_in_the_center_time_zone(hours: ServiceHours) -> None:
    # 13:30 UTC is 22:30 in Seoul: foreign languages closed although it is mid-day in UTC.
    utc = dt.datetime(2026, 11, 18, 13, 30, tzinfo=dt.UTC)
    assert hours.is_open("foreign_language", utc) is False
    # 00:30 UTC is 09:30 in Seoul.
    assert hours.is_open("foreign_language", utc.replace(hour=0)) is True


def test_naive_datetimes_are_rejected(hours: ServiceHours) -> None:
    with pytest.raises(ValueError, match="aware"):
        hours.is_open("foreign_language", dt.datetime(2026, 11, 18, 12))


def test_unknown_service_is_an_error(hours: ServiceHours) -> None:
    with pytest.raises(KeyError, match="karaoke"):
        hours.is_open("karaoke", seoul(2026, 11, 18))


def test_day_types(hours: ServiceHours) -> None:
    assert hours.day_type(dt.date(2026, 11, 18)) is DayType.WEEKDAY
    assert hours.day_type(dt.date(2026, 11, 21)) is DayType.WEEKEND
    assert hours.day_type(dt.date(2026, 2, 17)) is DayType.HOLIDAY


def test_public_holidays_are_computed_with_lunar_and_substitute_days() -> None:
    calendar = HolidayCalendar()
    # 2026-27 as the hand-kept list had them (Seollal, Chuseok, substitutes for 3.1 and 10.3).
    for day in [(2026, 2, 17), (2026, 9, 25), (2026, 3, 2), (2026, 10, 5), (2027, 9, 15)]:
        assert dt.date(*day) in calendar
    # 2028, past the old list: Seollal and Chuseok move with the lunar calendar, and Chuseok's
    # second day falls on National Foundation Day (10.3), so the next weekday is a day off too.
    seollal = [dt.date(2028, 1, 26), dt.date(2028, 1, 27), dt.date(2028, 1, 28)]
    chuseok = [dt.date(2028, 10, 2), dt.date(2028, 10, 3), dt.date(2028, 10, 4)]
    assert all(day in calendar for day in seollal + chuseok)
    substitute = calendar.get(dt.date(2028, 10, 5))
    assert substitute is not None
    assert "Chuseok" in substitute.name
    assert substitute.date.weekday() < 5  # a substitute replaces a weekday
    assert dt.date(2028, 10, 6) not in calendar  # and only one
    assert dt.date(2028, 1, 25) not in calendar
    # Every year the package knows has at least the fifteen fixed and lunar days off.
    for year in (2026, 2030, 2045):
        assert calendar.covers(year)
        assert len(calendar.in_year(year)) >= 15


def test_the_centers_own_closed_days_add_to_the_public_ones(tmp_path: Path) -> None:
    own = tmp_path / "closed.yaml"
    own.write_text(
        "years:\n  2028:\n    - {date: 2028-11-15, name: 센터 휴무 (center closed)}\n"
        "    - {date: 2028-10-03, name: 개천절 (the center's name)}\n",
        encoding="utf-8",
    )
    hours = load_service_hours("Asia/Seoul", holidays_file=own)
    assert hours.day_type(dt.date(2028, 11, 15)) is DayType.HOLIDAY  # a Wednesday
    assert hours.is_open("sign_language", seoul(2028, 11, 15, 19, 0)) is False
    assert hours.is_open("sign_language", seoul(2028, 11, 16, 19, 0)) is True  # next weekday
    assert hours.day_type(dt.date(2028, 10, 4)) is DayType.HOLIDAY  # public days still there
    named = hours.holidays.get(dt.date(2028, 10, 3))
    assert named is not None
    assert named.name == "개천절 (the center's name)"
    assert [h.date for h in hours.holidays.in_year(2028) if h.date.month == 11] == [
        dt.date(2028, 11, 15)
    ]


def test_shipped_closed_days_load_and_calendars_compare_by_them() -> None:
    shipped = load_closed_days()
    assert all(day.name for day in shipped.values())
    assert HolidayCalendar(shipped) == HolidayCalendar(dict(shipped))
    extra = {dt.date(2028, 11, 15): Holiday(dt.date(2028, 11, 15), "센터 휴무")}
    assert HolidayCalendar(extra) != HolidayCalendar(shipped)
    assert hash(HolidayCalendar(extra)) == hash(HolidayCalendar(dict(extra)))


def test_parse_window() -> None:
    assert parse_window("09:00-22:00").start == 9 * 60
    assert parse_window("00:00-24:00").end == 24 * 60
    for bad in ("9-22", "22:00-09:00", "09:00-25:00", "09:60-10:00", "0900-1000"):
        with pytest.raises(ValueError):
            parse_window(bad)


def test_operator_files_replace_the_shipped_data(tmp_path: Path) -> None:
    hours_file = tmp_path / "hours.yaml"
    hours_file.write_text(
        "services:\n  foreign_language:\n    every_day: ['10:00-11:00']\n", encoding="utf-8"
    )
    holidays_file = tmp_path / "holidays.yaml"
    holidays_file.write_text(
        "years:\n  2028:\n    - {date: 2028-01-01, name: New Year}\n", encoding="utf-8"
    )
    loaded = load_service_hours("Asia/Seoul", hours_file, holidays_file)
    assert loaded.services == {"foreign_language"}
    assert set(loaded.holidays.own) == {dt.date(2028, 1, 1)}
    assert loaded.is_open("foreign_language", seoul(2028, 1, 3, 10, 30))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  x:\n    weekdays: ['22:00-09:00']\n", "services.x: '22:00-09:00' ends"),
        ("services:\n  x: {}\n", "services.x: no opening windows"),
        ("services:\n  x: {always: true, every_day: ['09:00-10:00']}\n", "excludes windows"),
        ("services:\n  x: {sometimes: true}\n", "sometimes"),
        ("services: [\n", "not valid YAML"),
    ],
)
def test_bad_hours_files_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HoursError) as info:
        load_service_hours("Asia/Seoul", path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("years:\n  2026:\n    - {date: 2027-01-01, name: X}\n", "2027-01-01 is not in 2026"),
        (
            "years:\n  2026:\n    - {date: 2026-01-01, name: X}\n    - {date: 2026-01-01, name: Y}\n",
            "listed twice",
        ),
        ("years:\n  2026:\n    - {date: 2026-02-30, name: X}\n", "day is out of range"),
    ],
)
def test_bad_holiday_files_name_the_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HoursError) as info:
        load_closed_days(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_unknown_time_zone() -> None:
    with pytest.raises(HoursError, match="Mars/Olympus"):
        load_service_hours("Mars/Olympus")
