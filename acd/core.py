"""The ACD routing core: ``decide(state, event, now) -> (state, commands)``.

Pure and synchronous: no awaits, no I/O, no clock of its own (``now`` is a float of seconds on
the driver's monotonic clock, the same clock for every call). ``decide`` takes ownership of
``state`` and returns its successor, updated in place for speed (copying a thousand waiting
calls per event would cost the latency budget); use ``copy.deepcopy`` for a snapshot. The
policy itself (eligibility, the one global choice, wait estimates) is in :mod:`acd.policy`.

How a driver uses it
--------------------
Build the state once: ``catalog, roster = acd.roster.load_configured(settings.acd)`` (raises
AcdConfigError with file, line and reason), ``state = AcdState.new(catalog, roster,
settings.acd)``, then feed ``ConsultantLoggedIn`` for ``settings.acd.logged_in`` (None:
the whole roster). Keep the state in one task; feed every event in order with the current time
and carry out every command. :mod:`acd.views` gives read-only queue and consultant counts.

Events the driver must feed (all in :mod:`acd.events`):
- ``ConsultantLoggedIn`` / ``ConsultantLoggedOut`` / ``ConsultantReady`` /
  ``ConsultantNotReady(reason)``: from the consultant API, device state and calls the
  consultant places themselves (not ready with reason "outbound" while on such a call).
- ``ConsultantReachable(reachable)``: the consultant's phone registered or its registration
  ended; an unreachable consultant is never READY (NOT_READY "unregistered" instead) and
  becomes READY again when it registers, unless they chose not ready meanwhile.
- ``CallArrived``: the caller left the IVR and waits (music on hold inside the FastAGI session).
- ``CallAbandoned``: the caller hung up before being connected (also while ringing).
- ``OfferAccepted`` when the consultant answers; ``OfferRejected`` when the dial fails or is
  declined; ``OfferTimedOut`` when it rang ``ring_timeout_s`` without answer. The consultant is
  then set NOT_READY with reason "no answer" and the call goes back to the head of its queue
  with its original enqueue time.
- ``CallEnded`` when a connected call hangs up (the consultant starts wrap-up of the service's
  ``wrap_up_s``, then is READY again on their own; ``WrapUpEnded`` ends it early; with
  ``wrap_up_needs_release`` only ``WrapUpEnded`` ends it, the time passing never does). A
  ``CallEnded`` for a call not connected yet counts as ``CallAbandoned``, and vice versa.
- ``CallbackAccepted(number)`` when a caller takes the call-back offer (virtual hold: they keep
  their place and may hang up, which is then *not* an abandonment); ``CallbackAnswered`` /
  ``CallbackFailed`` for the outcome of calling them back.
- ``Tick`` at (or after) the time of the latest ``ScheduleWakeup``. Extra ticks are harmless.

Commands the driver must carry out (all in :mod:`acd.commands`):
- ``OfferCall(call, consultant, ring_timeout_s, interpreter_language, callback_number)``: stop
  the music and dial the consultant with that ring timeout, then report the outcome as above.
  With ``callback_number``: first originate the call-back to the citizen (the consultant stays
  reserved), report CallbackAnswered or CallbackFailed, then dial the consultant. With
  ``interpreter_language``: once connected, request an interpreter of that language (the CTI
  submits it as a ``CallArrived`` of service ``interp_<lang>``) and bridge them in.
- ``CancelOffer``: stop ringing that consultant for that call, if still ringing.
- ``ScheduleWakeup(at)``: keep ONE timer, re-armed to the latest ``at``; feed ``Tick`` then.
- ``AnnounceWait(call, position, estimated_wait_s)``: play it to the waiting caller.
- ``OfferCallback(call, estimated_wait_s)``: offer a call-back; feed CallbackAccepted on yes.
- ``ConsultantStateChanged``: publish (wallboard, desktop, statistics).
- ``DecisionRecord``: append ``to_json()`` to the decision log, with the event journal
  (:func:`acd.events.event_to_json` of each ``(now, event)``) so any routing can be replayed.
- ``EventIgnored``: log it; nothing else (the event raced with another and changed nothing).

``decide`` raises :class:`acd.errors.InvalidEvent` (state unchanged) for input it cannot accept:
unknown service or consultant, a language the service does not serve, a duplicate call id. The
driver then sends that caller to the static app_queue fallback, so nothing is lost.

Invariants: see :mod:`acd.state` (no call lost, no consultant double-booked) and
:mod:`acd.policy` (language matched, global most-urgent-first, FCFS among equals).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from acd.announce import announce, announce_due, request_wakeup
from acd.commands import (
    CancelOffer,
    Command,
    EventIgnored,
)
from acd.errors import InvalidEvent
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallbackAccepted,
    CallbackAnswered,
    CallbackFailed,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    ConsultantNotReady,
    ConsultantReachable,
    ConsultantReady,
    Event,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
    Tick,
    WrapUpEnded,
)
from acd.model import (
    LOGIN_NOT_READY,
    NO_ANSWER,
    UNREGISTERED,
    CallStatus,
    ConsultantState,
    WaitingCall,
)
from acd.policy import dispatch
from acd.state import AcdState, Agent, CallRecord

S = ConsultantState
Handler = Callable[[AcdState, Any, float, list[Command]], CallRecord | None]


def decide(state: AcdState, event: Event, now: float) -> tuple[AcdState, list[Command]]:
    """Apply ``event`` at time ``now``; return the successor state and the commands."""
    handler = _HANDLERS[type(event)]
    out: list[Command] = []
    _expire_wrap_ups(state, now, out)
    _expire_reservations(state, now, out)
    arrived = handler(state, event, now, out)
    dispatch(state, now, type(event).__name__, out)
    if arrived is not None and arrived.status is CallStatus.WAITING:
        announce(state, arrived, now, out)
    announce_due(state, now, out)
    request_wakeup(state, now, out)
    return state, out


# Calls -------------------------------------------------------------------------------------
def _call_arrived(state: AcdState, ev: CallArrived, now: float, out: list[Command]) -> CallRecord:
    if ev.call_id in state.calls:
        raise InvalidEvent(f"call {ev.call_id!r} is already known")
    service = state.catalog.get(ev.service)
    if service is None:
        raise InvalidEvent(f"call {ev.call_id!r}: unknown service {ev.service!r}")
    if ev.language not in service.languages:
        raise InvalidEvent(
            f"call {ev.call_id!r}: service {ev.service!r} does not serve language {ev.language!r}"
        )
    seq = state.next_seq
    state.next_seq += 1
    enqueued_at = now if ev.enqueued_at is None else ev.enqueued_at
    call = WaitingCall(
        ev.call_id,
        ev.language,
        ev.service,
        ev.priority,
        enqueued_at,
        seq,
        ev.tags,
        callback_number=ev.callback_number or None,
    )
    record = CallRecord(call)
    state.calls[ev.call_id] = record
    state.enqueue(record)
    return record


def _call_gone(state: AcdState, ev: CallAbandoned, now: float, out: list[Command]) -> None:
    """The caller hung up, or the call ended before it was connected."""
    record = state.calls.get(ev.call_id)
    if record is None:
        out.append(EventIgnored(type(ev).__name__, f"unknown call {ev.call_id!r}"))
        return
    if record.status is CallStatus.CONNECTED:
        _call_ended(state, CallEnded(ev.call_id), now, out)
        return
    if record.status is CallStatus.WAITING:
        state.dequeue(record)
    else:
        agent = state.agents[record.consultant_id or ""]
        out.append(CancelOffer(ev.call_id, agent.profile.id))
        _release(state, agent, now, out)
    del state.calls[ev.call_id]


def _call_ended(state: AcdState, ev: CallEnded, now: float, out: list[Command]) -> None:
    record = state.calls.get(ev.call_id)
    if record is None:
        out.append(EventIgnored("CallEnded", f"unknown call {ev.call_id!r}"))
        return
    if record.status is not CallStatus.CONNECTED:
        _call_gone(state, CallAbandoned(ev.call_id), now, out)
        return
    agent = state.agents[record.consultant_id or ""]
    del state.calls[ev.call_id]
    wrap_up_s = state.catalog[record.call.service].wrap_up_s
    state.start_wrap_up(agent, now + wrap_up_s, now, out)
    if wrap_up_s <= 0 and not state.settings.wrap_up_needs_release:
        _finish_wrap_up(state, agent, now, out)


def _offered(state: AcdState, call_id: str, consultant_id: str | None = None) -> CallRecord | None:
    record = state.calls.get(call_id)
    if record is None or record.status is not CallStatus.OFFERED:
        return None
    if consultant_id is not None and record.consultant_id != consultant_id:
        return None
    return record


def _offer_accepted(state: AcdState, ev: OfferAccepted, now: float, out: list[Command]) -> None:
    record = _offered(state, ev.call_id, ev.consultant_id)
    if record is None or record.calling_back:
        out.append(
            EventIgnored(
                "OfferAccepted", f"no open offer of {ev.call_id!r} to {ev.consultant_id!r}"
            )
        )
        return
    agent = state.agents[ev.consultant_id]
    record.status = CallStatus.CONNECTED
    state.set_state(agent, S.TALKING, now, out)


def _offer_failed(
    state: AcdState, ev: OfferRejected | OfferTimedOut, now: float, out: list[Command]
) -> None:
    record = _offered(state, ev.call_id, ev.consultant_id)
    if record is None:
        out.append(
            EventIgnored(
                type(ev).__name__, f"no open offer of {ev.call_id!r} to {ev.consultant_id!r}"
            )
        )
        return
    agent = state.agents[ev.consultant_id]
    _requeue(state, record)
    if agent.pending is not None and agent.pending[0] is S.LOGGED_OUT:
        agent.pending = None
        state.set_state(agent, S.LOGGED_OUT, now, out)
    else:
        agent.pending = None
        state.set_state(agent, S.NOT_READY, now, out, reason=NO_ANSWER)


def _requeue(state: AcdState, record: CallRecord) -> None:
    """Back to the head of its queue: same enqueue time and arrival order as before."""
    if record.calling_back:
        record.calling_back = False  # still on virtual hold: keep the number
    state.enqueue(record)


def _callback_accepted(
    state: AcdState, ev: CallbackAccepted, now: float, out: list[Command]
) -> None:
    record = state.calls.get(ev.call_id)
    if record is None or record.status is not CallStatus.WAITING or record.call.callback_number:
        out.append(
            EventIgnored("CallbackAccepted", f"call {ev.call_id!r} is not waiting on the line")
        )
        return
    if not ev.number:
        raise InvalidEvent(f"call {ev.call_id!r}: empty call-back number")
    record.call = replace(record.call, callback_number=ev.number)


def _callback_answered(
    state: AcdState, ev: CallbackAnswered, now: float, out: list[Command]
) -> None:
    record = _offered(state, ev.call_id)
    if record is None or not record.calling_back:
        out.append(
            EventIgnored("CallbackAnswered", f"call {ev.call_id!r} is not being called back")
        )
        return
    record.calling_back = False
    record.reserved_until = None
    record.call = replace(record.call, callback_number=None)


def _callback_failed(state: AcdState, ev: CallbackFailed, now: float, out: list[Command]) -> None:
    record = _offered(state, ev.call_id)
    if record is None or not record.calling_back:
        out.append(EventIgnored("CallbackFailed", f"call {ev.call_id!r} is not being called back"))
        return
    _release(state, state.agents[record.consultant_id or ""], now, out)
    del state.calls[ev.call_id]


def _release(state: AcdState, agent: Agent, now: float, out: list[Command]) -> None:
    """An offer ended through no fault of the consultant: back as before, keeping their place."""
    pending, agent.pending = agent.pending, None
    if pending is None:
        state.set_state(agent, S.READY, now, out, idle_since=agent.idle_since)
    else:
        state.set_state(agent, pending[0], now, out, reason=pending[1])


# Consultants --------------------------------------------------------------------------------
def _logged_in(state: AcdState, ev: ConsultantLoggedIn, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    if agent.state is not S.LOGGED_OUT:
        out.append(EventIgnored("ConsultantLoggedIn", f"{ev.consultant_id} is already logged in"))
        return
    if ev.ready:
        state.set_state(agent, S.READY, now, out)
    else:
        state.set_state(agent, S.NOT_READY, now, out, reason=LOGIN_NOT_READY)


def _logged_out(state: AcdState, ev: ConsultantLoggedOut, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    if agent.state is S.LOGGED_OUT:
        out.append(EventIgnored("ConsultantLoggedOut", f"{ev.consultant_id} is not logged in"))
        return
    if agent.state is S.TALKING:
        agent.pending = (S.LOGGED_OUT, None)
        return
    if agent.state is S.RINGING:
        record = state.calls[agent.call_id or ""]
        out.append(CancelOffer(record.call.call_id, agent.profile.id))
        _requeue(state, record)
    agent.pending = None
    state.set_state(agent, S.LOGGED_OUT, now, out)


def _ready(state: AcdState, ev: ConsultantReady, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    if agent.state in (S.RINGING, S.TALKING):
        if agent.pending is not None and agent.pending[0] is S.NOT_READY:
            agent.pending = None  # their latest wish: ready after this call
        return
    if agent.state is S.WRAP_UP:
        if agent.pending is not None and agent.pending[0] is S.NOT_READY:
            agent.pending = None
        _finish_wrap_up(state, agent, now, out)
    elif agent.state is S.NOT_READY:
        state.set_state(agent, S.READY, now, out)
    else:
        out.append(EventIgnored("ConsultantReady", f"{ev.consultant_id} is {agent.state.value}"))


def _not_ready(state: AcdState, ev: ConsultantNotReady, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    if not ev.reason:
        raise InvalidEvent(f"{ev.consultant_id}: a not-ready reason code is required")
    if agent.state in (S.READY, S.NOT_READY):
        state.set_state(agent, S.NOT_READY, now, out, reason=ev.reason)
    elif agent.state in (S.RINGING, S.TALKING, S.WRAP_UP):
        if agent.pending is None or agent.pending[0] is not S.LOGGED_OUT:
            agent.pending = (S.NOT_READY, ev.reason)
    else:
        out.append(EventIgnored("ConsultantNotReady", f"{ev.consultant_id} is logged out"))


def _reachable(state: AcdState, ev: ConsultantReachable, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    agent.reachable = ev.reachable
    if not ev.reachable and agent.state is S.READY:
        state.set_state(agent, S.NOT_READY, now, out, reason=UNREGISTERED)
    elif ev.reachable and agent.state is S.NOT_READY and agent.reason == UNREGISTERED:
        state.set_state(agent, S.READY, now, out)


def _wrap_up_ended(state: AcdState, ev: WrapUpEnded, now: float, out: list[Command]) -> None:
    agent = state.agent(ev.consultant_id)
    if agent.state is not S.WRAP_UP:
        out.append(EventIgnored("WrapUpEnded", f"{ev.consultant_id} is {agent.state.value}"))
        return
    _finish_wrap_up(state, agent, now, out)


def _finish_wrap_up(state: AcdState, agent: Agent, at: float, out: list[Command]) -> None:
    pending, agent.pending = agent.pending, None
    if pending is None:
        state.set_state(agent, S.READY, at, out)
    else:
        state.set_state(agent, pending[0], at, out, reason=pending[1])


def _tick(state: AcdState, ev: Tick, now: float, out: list[Command]) -> None:
    return None  # wrap-ups, dispatch and announcements run for every event


# Timers --------------------------------------------------------------------------------------
def _expire_wrap_ups(state: AcdState, now: float, out: list[Command]) -> None:
    """Wrap-ups whose time is up end (those needing the consultant's release were never
    timed: ``AcdState.start_wrap_up``)."""
    heap = state.wrapups
    while heap and heap[0][0] <= now:
        until, token, consultant_id = heapq.heappop(heap)
        agent = state.agents[consultant_id]
        if agent.token == token and agent.state is S.WRAP_UP:
            _finish_wrap_up(state, agent, until, out)


def _expire_reservations(state: AcdState, now: float, out: list[Command]) -> None:
    """A call-back whose outcome never came: the consultant is released and the call dropped
    from the core, as for ``CallbackFailed`` (the driver hears ``CancelOffer``)."""
    heap = state.reservations
    while heap and heap[0][0] <= now:
        until, call_id = heapq.heappop(heap)
        if not state.reservation_current(until, call_id):
            continue
        record = state.calls[call_id]
        agent = state.agents[record.consultant_id or ""]
        out.append(CancelOffer(call_id, agent.profile.id))
        out.append(EventIgnored("CallbackReservation", f"call {call_id!r}: reservation expired"))
        _release(state, agent, now, out)
        del state.calls[call_id]


_HANDLERS: dict[type, Handler] = {
    CallArrived: _call_arrived,
    CallAbandoned: _call_gone,
    CallEnded: _call_ended,
    CallbackAccepted: _callback_accepted,
    CallbackAnswered: _callback_answered,
    CallbackFailed: _callback_failed,
    ConsultantLoggedIn: _logged_in,
    ConsultantLoggedOut: _logged_out,
    ConsultantReady: _ready,
    ConsultantNotReady: _not_ready,
    ConsultantReachable: _reachable,
    OfferAccepted: _offer_accepted,
    OfferRejected: _offer_failed,
    OfferTimedOut: _offer_failed,
    WrapUpEnded: _wrap_up_ended,
    Tick: _tick,
}
