"""Tickets: validation creates nothing half-way, routing by data, scoping, escalation."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from care.errors import Forbidden, InvalidInput, WrongState
from care.models import TicketEventRow, TicketRow
from care.rules import CareRules, load_rules, overdue
from care.tickets import MAX_DESCRIPTION, NewTicket, Tickets
from common.storage import Storage

from .conftest import CONSULTANT, GANGNAM, MAPO, SUPERVISOR, Clock

POTHOLE = NewTicket(
    category="road",
    district="gangnam",
    address="테헤란로 152",
    description="도로에 큰 구멍이 있습니다",
    consent=True,
    language="ko",
    channel="callback",
    number="010-1234-5678",
    call_id="call-1",
)


def test_every_category_and_district_has_a_department(rules: CareRules) -> None:
    assert len(rules.districts) == 26  # 25 districts and the city
    for category in rules.categories:
        for district in rules.districts:
            assert rules.route(category, district) in rules.departments
    assert rules.route("road", "gangnam") == "gangnam.construction"
    assert rules.route("transport", "mapo") == "seoul.transport"
    assert rules.route("noise", "seoul") == "seoul.civil"


def test_rules_file_with_an_unknown_department_is_refused(tmp_path: object) -> None:
    import pathlib
    from importlib import resources

    text = resources.files("care.data").joinpath("care.yaml").read_text(encoding="utf-8")
    bad = pathlib.Path(str(tmp_path)) / "bad.yaml"
    bad.write_text(text.replace("{district}.parking", "{district}.nowhere"), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown department"):
        load_rules(bad)


async def test_a_ticket_lands_in_its_district_department(tickets: Tickets) -> None:
    view = await tickets.create(POTHOLE, CONSULTANT)
    assert view.department == "gangnam.construction"
    assert view.status == "new"
    kinds = [e.kind for e in await tickets.timeline(view.id, SUPERVISOR)]
    assert kinds == ["created", "call", "routed"]
    assert await tickets.number(view.id) == "010-1234-5678"


async def _count(storage: Storage) -> tuple[int, int]:
    async with storage.session() as session:
        t = await session.scalar(select(func.count()).select_from(TicketRow))
        e = await session.scalar(select(func.count()).select_from(TicketEventRow))
    return int(t or 0), int(e or 0)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"district": "atlantis"}, "district"),
        ({"consent": False}, "consent"),
        ({"description": "x" * (MAX_DESCRIPTION + 1)}, "description"),
        ({"address": " "}, "address"),
        ({"category": "ufo"}, "category"),
        ({"language": "fr"}, "language"),
        ({"number": "call me maybe"}, "number"),
        ({"number": None}, "number"),
    ],
)
async def test_bad_input_creates_nothing(
    tickets: Tickets, storage: Storage, change: dict[str, object], problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        await tickets.create(dataclasses.replace(POTHOLE, **change), CONSULTANT)  # type: ignore[arg-type]
    assert await _count(storage) == (0, 0)


async def test_an_official_of_another_district_cannot_read_or_act(tickets: Tickets) -> None:
    view = await tickets.create(POTHOLE, CONSULTANT)
    with pytest.raises(Forbidden):
        await tickets.get(view.id, MAPO)
    with pytest.raises(Forbidden):
        await tickets.timeline(view.id, MAPO)
    with pytest.raises(Forbidden):
        await tickets.resolve(view.id, MAPO, "done")
    assert await tickets.search(MAPO) == []
    assert [t.id for t in await tickets.search(GANGNAM)] == [view.id]
    with pytest.raises(Forbidden):  # consultants create, officials work
        await tickets.accept(view.id, CONSULTANT)


async def test_accept_note_resolve_queue_updates(tickets: Tickets, clock: Clock) -> None:
    view = await tickets.create(POTHOLE, CONSULTANT)
    clock.advance(hours=1)
    await tickets.accept(view.id, GANGNAM)
    await tickets.note(view.id, GANGNAM, "보수팀 출동")
    done = await tickets.resolve(view.id, GANGNAM, "포장 완료")
    assert done.status == "resolved" and done.assignee == "kim.gangnam"
    assert done.first_response_at is not None
    with pytest.raises(WrongState):
        await tickets.resolve(view.id, GANGNAM, "again")
    kinds = [e.kind for e in await tickets.timeline(view.id, GANGNAM)]
    assert kinds[-3:] == ["accepted", "progress", "resolved"]


async def test_reassignment_needs_a_reason_and_moves_the_ticket(tickets: Tickets) -> None:
    view = await tickets.create(POTHOLE, CONSULTANT)
    with pytest.raises(InvalidInput, match="reason"):
        await tickets.reassign(view.id, GANGNAM, "gangnam.parking", "")
    with pytest.raises(InvalidInput, match="department"):
        await tickets.reassign(view.id, GANGNAM, "mars.roads", "wrong place")
    moved = await tickets.reassign(view.id, GANGNAM, "mapo.construction", "the road is in Mapo")
    assert moved.department == "mapo.construction"
    assert await tickets.search(GANGNAM) == []
    entry = (await tickets.timeline(view.id, MAPO))[-1]
    assert (entry.kind, entry.text, entry.ref) == (
        "reassigned",
        "the road is in Mapo",
        "gangnam.construction",
    )


async def test_overdue_tickets_escalate_once_per_due_time(tickets: Tickets, clock: Clock) -> None:
    view = await tickets.create(dataclasses.replace(POTHOLE, urgency="urgent"), CONSULTANT)
    clock.advance(hours=17)  # road: 72 h, urgent: a quarter = 18 h
    assert await tickets.escalate_overdue() == []
    clock.advance(hours=1)
    assert await tickets.escalate_overdue() == [view.id]
    assert await tickets.escalate_overdue() == []  # not again for the same due time
    again = await tickets.get(view.id, SUPERVISOR)
    assert again.escalations == 1 and not again.overdue
    clock.advance(hours=36)
    assert await tickets.escalate_overdue() == [view.id]
    assert [e.kind for e in await tickets.timeline(view.id, SUPERVISOR)].count("escalated") == 2


def test_overdue_is_pure(clock: Clock) -> None:
    now = clock()
    assert overdue([("a", now, None), ("b", now, now)], now) == ["a"]
