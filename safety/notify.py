"""Who is told when a person cannot be reached: the notifier interface.

Invariants:
- A notification is first stored as ``pending`` in the person's timeline, naming who should be
  told (by role: the emergency contact, the district welfare officer), before any notifier
  runs; it becomes ``delivered`` only when a notifier that delivered it (an SMS the gateway
  accepted, a ticket opened) calls the request's ``delivered`` (the store's
  ``notification_delivered``, timed by the campaign's clock).
- ``PendingOnly`` delivers nothing: with it every notification stays pending, visible in the
  report and the timeline for supervisors to act on. SMS (channels/) and tickets (care/) plug
  in here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from safety.people import Person

log = logging.getLogger("dasan.safety.notify")


@dataclass(frozen=True, slots=True)
class NotificationRequest:
    person: Person
    case_id: str
    reason: str  # why the case was opened (no-contact, pressed-2, concern)
    notifications: dict[str, str]  # recipient role -> notification id (pending in the store)
    # Call with (notification id, channel: "sms" | "ticket") once that one was delivered.
    delivered: Callable[[str, str], Awaitable[None]]


class Notifier(Protocol):
    async def notify(self, request: NotificationRequest) -> None:
        """Try to tell the recipients; mark each delivered one in the store."""


class PendingOnly:
    """No delivery channel wired yet: notifications stay pending (and say so in the log)."""

    async def notify(self, request: NotificationRequest) -> None:
        log.warning(
            "safety case %s: %s to be told; no delivery channel wired, kept pending",
            request.case_id,
            ", ".join(request.notifications),
        )
