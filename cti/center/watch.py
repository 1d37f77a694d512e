"""What the PBX tells the center: channels, dials, bridges, originates, hangups (AMI events).

Invariants:
- Runs as one task reading one AMI subscription, in wire order; reactions that need the
  PBX (hang-ups) are spawned, so reading never waits on an action.
- No channel is left behind: when the citizen's channel hangs up, every other channel of
  the call is hung up; when the consultant's leg hangs up, the helpers (interpreter,
  outside party, music) are hung up so the citizen's bridge dissolves and the FastAGI
  session sees the end of the conversation — except while an attended transfer completes,
  where the consultant's leg leaving is the point.
- After an AMI reconnect (events may have been missed) subscribers are told to ``Resync``.
"""

from __future__ import annotations

import logging

from cti.ami.channels import consultant_of
from cti.ami.messages import AmiEvent, AmiEventsDropped, AmiReconnected
from cti.center.control import Control
from cti.center.core import CenterCore
from cti.center.model import CallRec, Leg
from cti.center.parties import Parties
from cti.center.spy import Supervision
from cti.control import CallOutcome, CallState, ConsultantState, Resync

log = logging.getLogger("dasan.cti.center")
_CITIZEN_CONTEXT = "from-citizens"
_CITIZEN_EXTENS = frozenset({"120", "129"})
_INTERIM = frozenset({"RINGING", "PROCEEDING", "PROGRESS", ""})


class AmiWatch:
    def __init__(
        self, core: CenterCore, parties: Parties, control: Control, spies: Supervision
    ) -> None:
        self._core = core
        self._parties = parties
        self._control = control
        self._spies = spies

    async def run(self, subscription: object) -> None:
        async for item in subscription:  # type: ignore[attr-defined]
            if isinstance(item, AmiEvent):
                try:
                    self.on_event(item)
                except Exception:  # one bad event must not stop the watch; it is logged
                    log.exception("CTI: event %s could not be applied", item.name)
            elif isinstance(item, AmiReconnected | AmiEventsDropped):
                self._core.hub.publish(Resync("the PBX connection was interrupted"))

    def on_event(self, event: AmiEvent) -> None:
        handler = _HANDLERS.get(event.name)
        if handler is not None:
            handler(self, event)

    # --- channels ---------------------------------------------------------------------------
    def _new_channel(self, event: AmiEvent) -> None:
        if event.get("Context") != _CITIZEN_CONTEXT or event.get("Exten") not in _CITIZEN_EXTENS:
            return
        number = event.get("CallerIDNum")
        leg = Leg(event.uniqueid, event.channel)
        core = self._core
        call = core.book.citizen_channel(
            leg, number if number.isdigit() else "", core.config.default_language
        )
        core.publish_call(call)

    def _hangup(self, event: AmiEvent) -> None:
        uid = event.uniqueid
        self._spies.ended(uid)
        self._parties.hung_up(uid)
        core = self._core
        call = core.book.call_of(uid)
        if call is None:
            return
        if call.citizen is not None and uid == call.citizen.uniqueid:
            self._citizen_gone(call)
        elif call.agent is not None and uid == call.agent.uniqueid:
            self._agent_gone(call)
        elif (
            call.consult is not None
            and call.consult.leg is not None
            and uid == call.consult.leg.uniqueid
        ):
            if not call.consult.completing:
                self._control.consult_over(call)
        else:
            core.book.helper_gone(uid)

    def _citizen_gone(self, call: CallRec) -> None:
        core = self._core
        self._tear_down(call, include_agent=True)
        acd_knows = (
            core.driver.ticket(call.call_id) is not None or call.call_id in core.driver.state.calls
        )
        if call.state is CallState.IVR or (not acd_knows and call.state is not CallState.WAITING):
            outcome = CallOutcome.ANSWERED if call.answered_at else CallOutcome.ABANDONED
            core.end_call(call.call_id, outcome)

    def _agent_gone(self, call: CallRec) -> None:
        if call.consult is not None and call.consult.completing:
            return  # the first consultant leaves once the target is in: that is the transfer
        self._tear_down(call, include_agent=False)

    def _tear_down(self, call: CallRec, *, include_agent: bool) -> None:
        core = self._core
        uids = [h.uniqueid for h in core.book.helpers_of(call)]
        if call.consult is not None and call.consult.leg is not None:
            uids.append(call.consult.leg.uniqueid)
        if include_agent and call.agent is not None:
            uids.append(call.agent.uniqueid)
        for uid in uids:
            core.spawn(f"teardown-{uid}", core.pbx.hangup(uid))

    # --- dials ------------------------------------------------------------------------------
    def _dial_begin(self, event: AmiEvent) -> None:
        caller = event.uniqueid
        if not caller:
            return  # an Originate: no calling channel
        core = self._core
        dest = Leg(event.get("DestUniqueid"), event.get("DestChannel"))
        consultant = consultant_of(dest.name)
        call = core.book.call_of(caller)
        if call is None and consultant is not None:
            call = self._ringing_call(consultant)
            if call is None:
                return
            core.book.bind_citizen(call, Leg(caller, event.channel))
        if call is None:
            return
        if call.citizen is not None and caller == call.citizen.uniqueid and consultant is not None:
            core.book.bind_agent(call, dest)
        elif call.agent is not None and caller == call.agent.uniqueid and call.consult is not None:
            call.consult.leg = dest
            core.book.bind_channel(call, dest.uniqueid)

    def _ringing_call(self, consultant_id: str) -> CallRec | None:
        """The call a consultant rings for whose citizen channel is not known (a call-back)."""
        call = self._core.book.call_of_consultant(consultant_id)
        if call is None or call.state is not CallState.RINGING:
            return None
        return call

    def _dial_end(self, event: AmiEvent) -> None:
        status = event.get("DialStatus")
        call = self._core.book.call_of(event.uniqueid)
        if call is None or status in _INTERIM:
            return
        if call.agent is not None and event.uniqueid == call.agent.uniqueid and call.consult:
            if status == "ANSWER":
                self._control.consult_answered(call)
            else:
                self._control.consult_over(call)
            return
        if call.transfer is not None and call.transfer[0] == "consultant" and status == "ANSWER":
            self._direct_answered(call, call.transfer[1])

    def _direct_answered(self, call: CallRec, consultant_id: str) -> None:
        """A blind transfer to a named consultant was answered (acd.waiting dialed them)."""
        core = self._core
        call.transfer = None
        found = core.book.answered(call.call_id, consultant_id)
        if found is not None:
            core.ledger.answered(call.queue_id, consultant_id, 0.0)
        core.publish_change(
            core.board.override(consultant_id, ConsultantState.TALKING, call.call_id)
        )
        core.publish_call(call)

    # --- bridges and originates -------------------------------------------------------------
    def _bridge_enter(self, event: AmiEvent) -> None:
        uid = event.uniqueid
        self._parties.joined(uid, event.channel)
        call = self._core.book.call_of(uid)
        if call is None:
            return
        bridge = event.get("BridgeUniqueid")
        if call.citizen is not None and uid == call.citizen.uniqueid:
            call.bridge_id = bridge
        elif call.agent is not None and uid == call.agent.uniqueid and bridge == call.bridge_id:
            self._control.agent_back(call)

    def _originate_response(self, event: AmiEvent) -> None:
        success = event.get("Response") == "Success"
        self._parties.originated(event.uniqueid, success, event.get("Reason"))
        self._spies.originated(event.uniqueid, success)


_HANDLERS = {
    "Newchannel": AmiWatch._new_channel,
    "Hangup": AmiWatch._hangup,
    "DialBegin": AmiWatch._dial_begin,
    "DialEnd": AmiWatch._dial_end,
    "BridgeEnter": AmiWatch._bridge_enter,
    "OriginateResponse": AmiWatch._originate_response,
}
