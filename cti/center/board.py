"""``ConsultantBoard``: every consultant's view, from the ACD's states plus what the CTI knows.

The ACD is the judge of a consultant's routing state; the board translates it into the web
edge's ``ConsultantView`` and adds what the ACD cannot know: a consultant reserved for a
transfer (the ACD says not ready, reason "transfer") is shown ringing or talking on that
call, and an interpreter's ACD request id is shown as the citizen's call id.

Invariants:
- Pure: no I/O; ``since`` comes from the injected clock at each change.
- A view changes only through ``acd_changed`` and ``override``/``clear``; each returns the
  new view together with the one it replaced (for time-in-state statistics), or None when
  nothing visible changed.
- An override lives only while the ACD keeps the consultant reserved for the transfer; any
  other ACD change for that consultant drops it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from acd.model import LOGIN_NOT_READY, NO_ANSWER
from acd.model import ConsultantState as AcdState
from cti.center.model import TRANSFER_REASON
from cti.control import ConsultantState, ConsultantView, NotFound, NotReadyReason

Clock = Callable[[], datetime]
# What the ACD's system reason codes mean on the desktop.
_REASONS = {
    LOGIN_NOT_READY: NotReadyReason.LOGGED_IN,
    NO_ANSWER: NotReadyReason.NO_ANSWER,
}
# A consultant on a call they placed themselves ("outbound") is shown talking.
OUTBOUND_REASON = "outbound"


def reason_of(code: str | None) -> NotReadyReason | None:
    if code is None:
        return None
    if code in _REASONS:
        return _REASONS[code]
    try:
        return NotReadyReason(code)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Profile:
    consultant_id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Change:
    old: ConsultantView
    new: ConsultantView


@dataclass(frozen=True, slots=True)
class _Acd:
    state: AcdState
    reason: str | None
    call_id: str | None


class ConsultantBoard:
    def __init__(self, clock: Clock, profiles: Iterable[Profile]) -> None:
        self._clock = clock
        now = clock()
        self._acd: dict[str, _Acd] = {}
        self._overrides: dict[str, tuple[ConsultantState, str | None]] = {}
        self._views: dict[str, ConsultantView] = {
            p.consultant_id: ConsultantView(
                p.consultant_id, p.name, p.languages, ConsultantState.LOGGED_OUT, now
            )
            for p in profiles
        }

    def __contains__(self, consultant_id: object) -> bool:
        return consultant_id in self._views

    def view(self, consultant_id: str) -> ConsultantView:
        try:
            return self._views[consultant_id]
        except KeyError:
            raise NotFound("consultant", consultant_id) from None

    def views(self) -> list[ConsultantView]:
        return list(self._views.values())

    def acd_state(self, consultant_id: str) -> tuple[AcdState, str | None]:
        acd = self._acd.get(consultant_id)
        return (acd.state, acd.reason) if acd else (AcdState.LOGGED_OUT, None)

    def reserved(self, consultant_id: str) -> bool:
        state, reason = self.acd_state(consultant_id)
        return state is AcdState.NOT_READY and reason == TRANSFER_REASON

    # --- changes ----------------------------------------------------------------------------
    def acd_changed(
        self, consultant_id: str, state: AcdState, reason: str | None, call_id: str | None
    ) -> Change | None:
        if consultant_id not in self._views:
            return None
        self._acd[consultant_id] = _Acd(state, reason, call_id)
        if not (state is AcdState.NOT_READY and reason == TRANSFER_REASON):
            self._overrides.pop(consultant_id, None)
        return self._refresh(consultant_id)

    def load(self, states: Mapping[str, tuple[AcdState, str | None, str | None]]) -> None:
        """The ACD's states at start (before any change was observed); no change reported."""
        for consultant_id, (state, reason, call_id) in states.items():
            if consultant_id in self._views:
                self._acd[consultant_id] = _Acd(state, reason, call_id)
                self._views[consultant_id] = self._compute(consultant_id, self._clock())

    def override(
        self, consultant_id: str, state: ConsultantState, call_id: str | None
    ) -> Change | None:
        """Show a reserved consultant as ringing or talking on ``call_id``."""
        if consultant_id not in self._views:
            return None
        self._overrides[consultant_id] = (state, call_id)
        return self._refresh(consultant_id)

    def clear(self, consultant_id: str) -> Change | None:
        if self._overrides.pop(consultant_id, None) is None:
            return None
        return self._refresh(consultant_id)

    def rename_call(self, consultant_id: str, call_id: str | None) -> Change | None:
        """Show ``call_id`` instead of the ACD's id (an interpreter's request id)."""
        acd = self._acd.get(consultant_id)
        if acd is None or acd.call_id == call_id:
            return None
        self._acd[consultant_id] = replace(acd, call_id=call_id)
        return self._refresh(consultant_id)

    # --- internals --------------------------------------------------------------------------
    def _refresh(self, consultant_id: str) -> Change | None:
        old = self._views[consultant_id]
        new = self._compute(consultant_id, old.since)
        if (new.state, new.reason, new.call_id) == (old.state, old.reason, old.call_id):
            return None
        new = replace(new, since=self._clock())
        self._views[consultant_id] = new
        return Change(old, new)

    def _compute(self, consultant_id: str, since: datetime) -> ConsultantView:
        base = self._views[consultant_id]
        acd = self._acd.get(consultant_id, _Acd(AcdState.LOGGED_OUT, None, None))
        override = self._overrides.get(consultant_id)
        if override is not None:
            state, call_id = override
            return replace(base, state=state, since=since, reason=None, call_id=call_id)
        state = ConsultantState(acd.state.value)
        reason: NotReadyReason | None = None
        if state is ConsultantState.NOT_READY:
            if acd.reason == OUTBOUND_REASON:
                state = ConsultantState.TALKING
            elif acd.reason == TRANSFER_REASON:
                state = ConsultantState.RINGING
            else:
                reason = reason_of(acd.reason)
        call_id = (
            acd.call_id if state in (ConsultantState.RINGING, ConsultantState.TALKING) else None
        )
        return replace(base, state=state, since=since, reason=reason, call_id=call_id)
