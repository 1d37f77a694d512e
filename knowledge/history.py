"""The citizen's history for the screen pop: their earlier calls with the notes and
dispositions written about them, behind the recordings' access rules and access log.

Who may read it (``may_read``): admins and supervisors, for any call; a consultant only for a
call they take or took part in (the history of *that* caller). Every attempt, granted or
denied, is written to the access log (action ``history``) before anything is returned; if the
log cannot be written the read fails (fail closed), as for recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.principal import Principal, Role
from knowledge.notes import CallNotes, Note
from recordings.accesslog import AccessAction, AccessLog, AccessOutcome
from recordings.calllog import CallLog, CallRecord
from recordings.models import ParticipantRole

_EARLIER = 10
_REASON = "screen pop: caller history"


class HistoryDenied(PermissionError):
    pass


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    call: CallRecord
    notes: tuple[Note, ...]

    def as_json(self) -> dict[str, Any]:
        consultants = self.call.people(ParticipantRole.CONSULTANT)
        return {
            "call_id": self.call.id,
            "started_at": self.call.started_at.isoformat(),
            "service": self.call.service,
            "language": self.call.language,
            "consultant_id": consultants[0] if consultants else None,
            "notes": [n.as_json() for n in self.notes],
        }


def may_read(principal: Principal, call: CallRecord | None) -> str | None:
    """None when allowed, else why not."""
    if principal.role in (Role.ADMIN, Role.SUPERVISOR):
        return None
    if call is None:
        return "no such call"
    if principal.user_id not in {p.person_id for p in call.participants}:
        return "consultants see the history of their own callers only"
    return None


class CitizenHistory:
    def __init__(self, calls: CallLog, notes: CallNotes, log: AccessLog) -> None:
        self._calls, self._notes, self._log = calls, notes, log

    async def for_call(self, principal: Principal, call_id: str) -> list[HistoryEntry]:
        """The caller of ``call_id``: their last calls (this one included), newest first."""
        call = await self._calls.get(call_id)
        denial = may_read(principal, call)
        if denial is not None:
            await self._log.record(
                principal,
                AccessAction.HISTORY,
                AccessOutcome.DENIED,
                _REASON,
                call_id=call_id,
                detail=denial,
            )
            raise HistoryDenied(denial)
        number = await self._calls.caller_number(call_id)
        found = await self._calls.by_caller(number) if number else []
        if call is not None and all(c.id != call.id for c in found):
            found.append(call)
        found.sort(key=lambda c: c.started_at, reverse=True)
        found = found[: _EARLIER + 1]
        notes = await self._notes.for_calls(c.id for c in found)
        await self._log.record(
            principal,
            AccessAction.HISTORY,
            AccessOutcome.GRANTED,
            _REASON,
            call_id=call_id,
            detail=f"calls={len(found)} notes={len(notes)}",
        )
        by_call: dict[str, list[Note]] = {}
        for note in notes:
            by_call.setdefault(note.call_id, []).append(note)
        return [HistoryEntry(c, tuple(by_call.get(c.id, ()))) for c in found]
