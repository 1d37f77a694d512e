"""People: CSV validation row by row, all-or-nothing import, personal data sealed at rest."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from common.storage import Storage
from recordings.keys import KeyRing, WrongKeyError
from safety.districts import districts, resolve
from safety.models import PersonRow, TimelineRow
from safety.people import parse_csv, parse_hours
from safety.protect import PersonalData
from safety.store import SafetyStore

HEADER = (
    "name,number,district,language,hours,emergency_name,emergency_number,"
    "officer_name,officer_number,personal_call,calls_per_week\n"
)
GOOD = (
    "김순자,010-1234-5678,종로구,ko,10:00-12:00,김민수,010-2222-3333,박주무관,02-2148-1234,no,3\n"
    "Nguyen Thi Lan,010 9876 5432,mapo,vi,14:00-16:00,Tran,010-4444-5555,이주무관,02-3153-8000,yes,2\n"
)
NOW = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


def test_seoul_has_25_districts_by_code_or_korean_name() -> None:
    assert len(districts()) == 25
    assert resolve("종로구") == "jongno" == resolve(" Jongno ")
    assert resolve("Busan") is None


def test_good_rows_are_accepted_with_normalized_numbers() -> None:
    report = parse_csv(HEADER + GOOD)
    assert report.ok and len(report.accepted) == 2
    first, second = report.accepted
    assert first.number == "01012345678" and first.district == "jongno"
    assert second.personal_call and second.calls_per_week == 2
    assert second.window_start == dt.time(14) and second.language == "vi"


def test_bad_rows_are_rejected_each_with_its_reasons() -> None:
    bad = (
        "A,010-12AB-5678,jung,ko,10:00-12:00,X,010-1111-2222,Y,02-1111-2222,,\n"
        "B,01012345678,jung,ko,10:00-12:00,X,010-1111-2222,Y,02-1111-2222,,\n"
        "C,010-5555-6666,Busan,fr,25:00-12:00,X,12,Y,02-1111-2222,maybe,5\n"
        ",,,,,,,,,,\n"
    )
    report = parse_csv(HEADER + GOOD + bad)
    assert not report.ok
    reasons = {r.line: r.reasons for r in report.rejected}
    assert reasons[4] == ("number: malformed number '010-12AB-5678'",)
    assert reasons[5] == ("number: duplicate of line 2",)
    joined = " | ".join(reasons[6])
    for part in ("unknown district 'Busan'", "'fr' is not one of", "hours", "emergency_number",
                 "personal_call", "calls_per_week"):  # fmt: skip
        assert part in joined
    assert any("name: missing" in r for r in reasons[7])


def test_missing_or_unknown_columns_refuse_the_file() -> None:
    report = parse_csv("name,number,colour\nA,010,red\n")
    assert not report.ok and not report.accepted
    assert "missing columns" in report.problems[0] and "colour" in report.problems[1]


def test_hours_need_a_real_window() -> None:
    assert parse_hours("9:30 - 11:00") == (dt.time(9, 30), dt.time(11))
    for bad in ("10-12", "12:00-12:10", "11:00-10:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[SafetyStore, Storage, KeyRing]]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    ring = KeyRing.generate()
    yield SafetyStore(storage, PersonalData(ring)), storage, ring
    await storage.close()


async def test_import_is_all_or_nothing_and_duplicates_are_found_across_files(
    store: tuple[SafetyStore, Storage, KeyRing],
) -> None:
    safety, _, _ = store
    bad = parse_csv(
        HEADER + GOOD + "C,010-5555-6666,Busan,ko,10:00-12:00,X,010-1,Y,02-1111-2222,,\n"
    )
    assert not bad.ok
    refused = await safety.import_csv(
        HEADER + GOOD + "C,0101,jung,ko,10:00-12:00,X,010-1111-2222,Y,02-1111-2222,,\n", NOW
    )
    assert not refused.stored and await safety.people() == []
    stored = await safety.import_csv(HEADER + GOOD, NOW)
    assert stored.stored and len(await safety.people()) == 2
    again = await safety.import_csv(HEADER + GOOD, NOW)
    assert not again.stored
    assert [r.reasons for r in again.rejected] == [("number: this person is already enrolled",)] * 2
    assert len(await safety.people()) == 2


async def test_personal_data_is_sealed_at_rest(store: tuple[SafetyStore, Storage, KeyRing]) -> None:
    safety, storage, ring = store
    await safety.import_csv(HEADER + GOOD, NOW)
    async with storage.session() as session:
        rows = (await session.scalars(select(PersonRow))).all()
        notes = (await session.scalars(select(TimelineRow))).all()
    for row in rows:
        for secret in ("김순자", "01012345678", "김민수", "박주무관", "0221481234"):
            assert secret.encode() not in row.sealed
        assert len(row.number_hash) == 64
    assert all("010" not in n.detail for n in notes)
    people = {p.name: p for p in await safety.people()}
    assert people["김순자"].officer_number == "0221481234"
    # Bound to the person's id: a row's data copied onto another id does not open.
    with pytest.raises(WrongKeyError):
        PersonalData(ring).open(rows[1].id, rows[0].sealed, rows[0].key_id)
