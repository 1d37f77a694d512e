"""A safety escalation reaches the district's welfare officer as an urgent 129 ticket; only
that notification is marked delivered, the emergency contact's stays pending."""

from __future__ import annotations

import datetime as dt

from care.tickets import Tickets
from common.principal import Principal, Role
from dasan.safety_notify import TicketNotifier
from safety.notify import NotificationRequest
from safety.people import Person

SUPERVISOR = Principal("supervisor", Role.SUPERVISOR)


def person(district: str = "gangnam") -> Person:
    return Person(
        id="p1",
        name="김순자",
        number="0212345678",
        district=district,
        language="ko",
        window_start=dt.time(9),
        window_end=dt.time(18),
        emergency_name="김민수",
        emergency_number="01012345678",
        officer_name="이복지",
        officer_number="0221234567",
    )


def request(who: Person, delivered: list[tuple[str, str]]) -> NotificationRequest:
    async def mark(notification_id: str, channel: str) -> None:
        delivered.append((notification_id, channel))

    return NotificationRequest(
        person=who,
        case_id="case-1",
        reason="no-contact",
        notifications={"emergency_contact": "n-ec", "welfare_officer": "n-wo"},
        delivered=mark,
    )


async def test_the_welfare_department_gets_an_urgent_ticket(tickets: Tickets) -> None:
    delivered: list[tuple[str, str]] = []
    await TicketNotifier(tickets).notify(request(person(), delivered))
    assert delivered == [("n-wo", "ticket")]  # the emergency contact is not reached by a ticket
    (ticket,) = await tickets.search(SUPERVISOR)
    assert (ticket.department, ticket.category, ticket.urgency) == (
        "gangnam.welfare",
        "welfare",
        "urgent",
    )
    assert "case-1" in ticket.description


async def test_a_ticket_that_cannot_be_made_delivers_nothing(tickets: Tickets) -> None:
    delivered: list[tuple[str, str]] = []
    await TicketNotifier(tickets).notify(request(person(district="atlantis"), delivered))
    assert delivered == []
    assert await tickets.search(SUPERVISOR) == []
