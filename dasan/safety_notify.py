"""Safety escalations told to the district's welfare department as a 129 care ticket.

Invariants:
- One ticket per escalation (category ``welfare``, urgent, the person's district), routed by
  care's rules to ``<district>.welfare``: the welfare officer's own department, who sees it on
  ``/officials``. Only the ``welfare_officer`` notification is marked delivered (channel
  ``ticket``), and only after the ticket was stored.
- The emergency contact is a private person, not an official: a ticket does not reach them, so
  their notification stays pending (visible in the timeline and the report) until a channel
  that reaches a phone (SMS) is wired. Nothing is ever marked delivered that was not.
- A ticket that cannot be created (bad data, database down) leaves both pending and is logged;
  the escalation itself is already stored by the campaign.
"""

from __future__ import annotations

import logging

from care.errors import CareError
from care.tickets import NewTicket, Tickets
from common.principal import Principal, Role
from safety.notify import NotificationRequest

log = logging.getLogger("dasan.safety.notify")

# Who opens the ticket in the care timeline: the safety campaign, with a supervisor's rights.
_ACTOR = Principal("safety-campaign", Role.SUPERVISOR, origin="engine")
_REASONS = {
    "no-contact": "안부 전화 연락 두절 (no contact after the set attempts)",
    "pressed-2": "안부 전화 중 상담 요청 후 연결 실패 (asked for a consultant, none reached)",
    "concern": "상담원 우려 표시 (a consultant marked a concern)",
}


class TicketNotifier:
    """A safety ``Notifier`` that opens a welfare ticket for the district's officer."""

    def __init__(self, tickets: Tickets) -> None:
        self._tickets = tickets

    async def notify(self, request: NotificationRequest) -> None:
        officer = request.notifications.get("welfare_officer")
        if officer is None:
            return
        person = request.person
        reason = _REASONS.get(request.reason, request.reason)
        description = (
            f"독거 어르신 안부 확인 필요 / safety check needed: {reason}. "
            f"Safety case {request.case_id}, person {person.id} ({person.name}). "
            f"Emergency contact: {person.emergency_name} {person.emergency_number}."
        )
        try:
            ticket = await self._tickets.create(
                NewTicket(
                    category="welfare",
                    district=person.district,
                    address=f"{person.district} (safety person {person.id})",
                    description=description,
                    consent=True,  # the person enrolled in the safety programme
                    urgency="urgent",
                    language=person.language,
                    channel="none",  # the officer acts; the person is not sent updates
                    number=person.number,
                    source="safety",
                ),
                _ACTOR,
            )
        except (CareError, OSError) as exc:
            log.warning("safety case %s: no welfare ticket: %s", request.case_id, exc)
            return
        log.info(
            "safety case %s: welfare ticket %s for %s",
            request.case_id,
            ticket.id,
            ticket.department,
        )
        await request.delivered(officer, "ticket")
