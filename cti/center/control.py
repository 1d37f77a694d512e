"""Call control on the real PBX: hold, blind and attended transfer, hang up.

Mechanisms (measured on Asterisk 22.10, see dialplans/cti.conf):
- The citizen's channel sits in the engine's FastAGI ``Dial`` and cannot be moved, so
  everything moves around it. **Hold**: a Local channel playing music on hold joins the
  citizen's bridge (``BridgeAdd``), then the consultant's leg is redirected out to wait in
  ``dasan-cti-hold``; the citizen hears the music and the citizen's MixMonitor keeps
  recording. **Unhold**: the leg is redirected to ``BridgeAdd`` back into the bridge, then
  the music leaves. The bridge never dissolves meanwhile: Asterisk's basic bridge only
  dissolves when a member *hangs up* with a single other member left.
- **Blind transfer**: the ticket gets the transfer (``driver.request_transfer``), then the
  consultant's leg and every helper are hung up; the citizen's ``Dial`` returns and the
  FastAGI session carries the transfer out (acd.waiting).
- **Attended transfer**: hold, then the consultant's leg is redirected into
  ``dasan-cti-consult``, which dials the target; *complete* redirects the target's leg into
  the citizen's bridge (the consultant's leg then hangs up in the dialplan) and the ACD
  hands the call over; *cancel* hangs the target up and the consultant's leg rejoins.

Invariants:
- A refused action changes nothing visible; an action the PBX fails half-way is undone as
  far as possible and reported as ``Unavailable``.
- A consultant reserved for an attended transfer is set not ready ("transfer") in the ACD
  for as long as they are ringing, consulted or talking on the call, and released after.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from acd.driver import Transfer
from acd.events import CallEnded, ConsultantNotReady, ConsultantReady
from acd.model import ConsultantState as AcdState
from common.principal import Principal
from cti.center.core import CenterCore
from cti.center.model import (
    CONSULT_CONTEXT,
    CONSULT_DIAL_VAR,
    CONSULT_DONE_VAR,
    CONSULT_RING_VAR,
    HOLD_CONTEXT,
    JOIN_VAR,
    MOH_CONTEXT,
    REJOIN_CONTEXT,
    TRANSFER_REASON,
    CallRec,
    Consult,
    Helper,
    HelperKind,
    Leg,
)
from cti.center.parties import new_channel_id
from cti.center.pbx import STEP_S, Originate
from cti.control import (
    CallState,
    CallSummary,
    ConsultantState,
    InvalidState,
    NotFound,
    PartyKind,
    PartyState,
    TargetKind,
    TransferMode,
    TransferTarget,
    Unavailable,
)

log = logging.getLogger("dasan.cti.center")


def _ticket_transfer(target: TransferTarget, by: Principal) -> Transfer:
    if target.kind is TargetKind.CONSULTANT:
        return Transfer("consultant", target.value, by.user_id)
    if target.kind is TargetKind.QUEUE:
        return Transfer("service", target.value, by.user_id)
    return Transfer("number", target.value, by.user_id)


def _no_conference(call: CallRec, action: str) -> None:
    """Hold and transfers move the consultant's leg around the citizen's bridge; in a video
    conference (conference.py) that leg is in the conference instead: not built yet."""
    if call.conference is not None:
        raise InvalidState(f"{action} is not available once a video call has an interpreter")


class Control:
    def __init__(self, core: CenterCore) -> None:
        self._core = core

    # --- hold -------------------------------------------------------------------------------
    async def hold(self, call_id: str) -> CallSummary:
        core = self._core
        call = self._connected(call_id, CallState.TALKING)
        _no_conference(call, "hold")
        agent = self._agent(call)
        await self._music_on(call)
        try:
            await core.pbx.redirect(agent.name, HOLD_CONTEXT)
        except Unavailable:
            self._music_off(call)
            raise
        call.held = True
        core.book.refresh_state(call)
        core.publish_call(call)
        return core.book.summary(call)

    async def unhold(self, call_id: str) -> CallSummary:
        core = self._core
        call = self._connected(call_id, CallState.HELD)
        await self._rejoin(call, self._agent(call))
        call.held = False
        core.book.refresh_state(call)
        self._music_off(call)
        core.publish_call(call)
        return core.book.summary(call)

    # --- transfers --------------------------------------------------------------------------
    async def transfer(
        self, by: Principal, call_id: str, target: TransferTarget, mode: TransferMode
    ) -> CallSummary:
        call = self._connected(call_id, CallState.TALKING, CallState.HELD)
        _no_conference(call, "transfer")
        self._check_target(call, target)
        if mode is TransferMode.ATTENDED:
            return await self._consult(call, target)
        core = self._core
        transfer = _ticket_transfer(target, by)
        try:
            core.driver.request_transfer(call_id, transfer)
        except LookupError as exc:
            raise InvalidState(str(exc)) from exc
        call.transfer = (transfer.kind, transfer.target)
        log.info("call %s: blind transfer to %s %s", call_id, target.kind.value, target.value)
        await self.release(call)
        return core.book.summary(call)

    async def complete(self, call_id: str) -> CallSummary:
        core = self._core
        call = self._connected(call_id, CallState.CONSULTING)
        consult = call.consult
        assert consult is not None  # CONSULTING always has a consultation
        if not consult.answered or consult.leg is None:
            raise InvalidState("the consulted party has not answered yet")
        consult.completing = True
        agent = self._agent(call)
        await core.pbx.setvar(agent.name, **{CONSULT_DONE_VAR: "1"})
        await self._rejoin(call, consult.leg)
        self._music_off(call)
        call.handover_to = consult.target
        core.feed(CallEnded(call.call_id))  # the ACD: the first consultant wraps up
        call.consult = None
        if core.book.live(call_id) is not None:
            core.book.bind_agent(call, consult.leg)
            core.book.refresh_state(call)
            if consult.kind == "consultant":
                core.publish_change(
                    core.board.override(consult.target, ConsultantState.TALKING, call_id)
                )
                core.spawn(
                    f"joined-{call_id}", core.calls.consultant_joined(call_id, consult.target)
                )
        core.publish_call(call)
        return core.book.summary(call)

    async def cancel(self, call_id: str) -> CallSummary:
        core = self._core
        call = self._connected(call_id, CallState.CONSULTING)
        consult = call.consult
        assert consult is not None
        if consult.leg is not None:
            await core.pbx.hangup(consult.leg.uniqueid)  # the consultant's leg then rejoins
        else:
            await self._rejoin(call, self._agent(call))
        self.consult_over(call)
        return core.book.summary(call)

    # --- hang up ----------------------------------------------------------------------------
    async def hang_up(self, call_id: str) -> CallSummary:
        core = self._core
        call = core.book.live(call_id)
        if call is None:
            core.book.get(call_id)
            raise InvalidState(f"call {call_id} has ended")
        if call.state is CallState.RINGING:
            if call.agent is not None:  # decline: the ACD requeues the call
                await core.pbx.hangup(call.agent.uniqueid)
            return core.book.summary(call)
        self._connected(call_id, CallState.TALKING, CallState.HELD, CallState.CONSULTING)
        await self.release(call)
        return core.book.summary(call)

    async def release(self, call: CallRec) -> None:
        """Hang up everything around the citizen; the citizen's Dial then returns."""
        pbx = self._core.pbx
        if call.agent is not None:
            await pbx.hangup(call.agent.uniqueid)
        if call.consult is not None and call.consult.leg is not None:
            await pbx.hangup(call.consult.leg.uniqueid)
        for helper in self._core.book.helpers_of(call):
            await pbx.hangup(helper.uniqueid)

    # --- reactions (from the AMI watch) -----------------------------------------------------
    def agent_back(self, call: CallRec) -> None:
        """The consultant's leg entered the citizen's bridge again (unhold, consult over)."""
        if call.held or call.consult is not None:
            return
        self._music_off(call)
        self._core.book.refresh_state(call)
        self._core.publish_call(call)

    def consult_answered(self, call: CallRec) -> None:
        consult = call.consult
        if consult is None or consult.answered:
            return
        consult.answered = True
        party = call.parties.get(consult.party_id)
        if party is not None:
            call.parties[consult.party_id] = replace(party, state=PartyState.CONNECTED)
        if consult.kind == "consultant":
            board = self._core.board
            self._core.publish_change(
                board.override(consult.target, ConsultantState.TALKING, call.call_id)
            )
        self._core.publish_call(call)

    def consult_over(self, call: CallRec) -> None:
        """The consultation ended without a transfer (no answer, cancelled, target hung up)."""
        consult, call.consult = call.consult, None
        if consult is None:
            return
        call.parties.pop(consult.party_id, None)
        if consult.leg is not None:
            self._core.book.helper_gone(consult.leg.uniqueid)
        if consult.reserved:
            self._core.feed_later(ConsultantReady(consult.target))
        self._core.book.refresh_state(call)
        self._core.publish_call(call)

    # --- internals --------------------------------------------------------------------------
    def _connected(self, call_id: str, *states: CallState) -> CallRec:
        return self._core.book.connected(call_id, states)

    def _agent(self, call: CallRec) -> Leg:
        if call.agent is None:
            raise Unavailable(f"the consultant's channel of call {call.call_id} is not known")
        return call.agent

    def _check_target(self, call: CallRec, target: TransferTarget) -> None:
        core = self._core
        if target.kind is TargetKind.CONSULTANT:
            if target.value not in core.board:
                raise NotFound("consultant", target.value)
            if target.value == call.consultant_id:
                raise InvalidState("cannot transfer a call to the consultant who has it")
            if core.board.acd_state(target.value)[0] is not AcdState.READY:
                raise InvalidState(f"{target.value} is not ready")
        elif target.kind is TargetKind.QUEUE:
            service = core.driver.state.catalog.get(target.value)
            if service is None:
                raise NotFound("queue", target.value)
            if call.language not in {lang.value for lang in service.languages}:
                raise InvalidState(f"queue {target.value} does not serve {call.language!r}")

    async def _consult(self, call: CallRec, target: TransferTarget) -> CallSummary:
        core = self._core
        if target.kind is TargetKind.QUEUE:
            raise InvalidState("an attended transfer needs a person; transfer to a queue blindly")
        agent = self._agent(call)
        kind = "consultant" if target.kind is TargetKind.CONSULTANT else "number"
        dial = (
            f"PJSIP/{target.value}"
            if kind == "consultant"
            else core.config.outside_dial.format(number=target.value)
        )
        if kind == "consultant":
            core.feed(ConsultantNotReady(target.value, TRANSFER_REASON))
            core.publish_change(
                core.board.override(target.value, ConsultantState.RINGING, call.call_id)
            )
        party = core.book.add_party(
            call, PartyKind.TRANSFER_TARGET, target.value, PartyState.DIALING
        )
        call.consult = Consult(target.value, kind, party.party_id, reserved=kind == "consultant")
        try:
            await self._dial_from_agent(call, agent, dial)
        except Unavailable:
            self.consult_over(call)
            self._music_off(call)
            raise
        core.book.refresh_state(call)
        core.publish_call(call)
        return core.book.summary(call)

    async def _dial_from_agent(self, call: CallRec, agent: Leg, dial: str) -> None:
        """Music for the citizen, then the consultant's leg dials the consulted party."""
        core = self._core
        citizen = call.citizen
        assert citizen is not None
        if not call.held:
            await self._music_on(call)
        call.held = False
        variables = {
            JOIN_VAR: citizen.name,
            CONSULT_DIAL_VAR: dial,
            CONSULT_RING_VAR: str(round(core.config.ring_s)),
            CONSULT_DONE_VAR: "",
        }
        await core.pbx.setvar(agent.name, **variables)
        await core.pbx.redirect(agent.name, CONSULT_CONTEXT)

    async def _rejoin(self, call: CallRec, leg: Leg) -> None:
        """Redirect ``leg`` into the citizen's bridge and wait until it is in."""
        core = self._core
        citizen = call.citizen
        assert citizen is not None
        await core.pbx.setvar(leg.name, **{JOIN_VAR: citizen.name})
        async with core.pbx.expect(
            lambda e: e.name == "BridgeEnter" and e.uniqueid == leg.uniqueid
        ) as entered:
            await core.pbx.redirect(leg.name, REJOIN_CONTEXT)
            if await entered.wait(STEP_S) is None:
                raise Unavailable(f"{leg.name} did not rejoin the call within {STEP_S:.0f} s")

    async def _music_on(self, call: CallRec) -> None:
        core = self._core
        citizen = call.citizen
        assert citizen is not None
        uid = new_channel_id("moh")
        core.book.add_helper(call, Helper(uid, HelperKind.MUSIC), None, "", None)
        spec = Originate(
            dial=f"Local/s@{MOH_CONTEXT}/n",
            app="BridgeAdd",
            data=citizen.name,
            channel_id=uid,
            ring_s=STEP_S,
            other_id=f"{uid}-2",
        )
        async with core.pbx.expect(
            lambda e: e.name == "BridgeEnter" and e.uniqueid == uid
        ) as entered:
            await core.pbx.originate(spec)
            if await entered.wait(STEP_S) is None:
                self._music_off(call)
                raise Unavailable("music on hold did not start")

    def _music_off(self, call: CallRec) -> None:
        for helper in self._core.book.helpers_of(call, HelperKind.MUSIC):
            self._core.book.helper_gone(helper.uniqueid)
            self._core.spawn(f"moh-off-{helper.uniqueid}", self._core.pbx.hangup(helper.uniqueid))
