"""Third parties in a call: interpreters (routed by the ACD as a skill) and outside numbers.

How an interpreter joins: the request enters the ACD as ``CallArrived(request_id, language,
"interp_<kind>")`` with an offer handler registered first (kind: a spoken language's code, or
``sign`` for the Korean Sign Language pool, asked for in Korean and on video calls only); the offered interpreter is
originated with ``BridgeAdd(<citizen channel>)``, which joins the existing citizen-consultant
bridge (it becomes a softmix bridge; the citizen's MixMonitor keeps recording one file). The
``OriginateResponse`` is the offer's outcome (OfferAccepted / OfferTimedOut /
OfferRejected); the interpreter's hangup is the request's ``CallEnded`` (wrap-up follows).
An outside number joins the same way, without the ACD. A video call (sign language) is
different: the bridge would drop its video, so its interpreter or outside party is originated
into a ConfBridge conference the consultant is moved into first (``conference.py``).

Invariants:
- A request the ACD cannot offer at once is withdrawn (``CallAbandoned``) and the consultant
  gets ``NoInterpreterAvailable`` to retry; nothing waits in an interpreter queue unseen.
- One interpreter and one outside party per call at a time; each request id, offer handler
  and helper channel is forgotten when its party leaves.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from acd.commands import OfferCall
from acd.errors import InvalidEvent
from acd.events import (
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAccepted,
    OfferRejected,
    OfferTimedOut,
)
from acd.model import SIGN_INTERPRETER, Language, Service, interpreter_service
from common.dialstring import dialable_number, outside_channel
from cti.center.conference import VideoConference, party_codecs, party_data
from cti.center.core import CenterCore
from cti.center.model import CallRec, Helper, HelperKind
from cti.center.pbx import Originate
from cti.control import (
    CallState,
    CallSummary,
    InvalidState,
    NoInterpreterAvailable,
    NotFound,
    Party,
    PartyKind,
    Unavailable,
    VideoCallRequired,
)

log = logging.getLogger("dasan.cti.center")
JOINABLE = (CallState.TALKING, CallState.HELD)
_STEP_S = 5.0
# OriginateResponse "Reason" for a ring that timed out (Asterisk's AST_CONTROL_RINGING).
_NO_ANSWER_REASONS = {"3"}


def _request_language(service: Service) -> Language:
    """The language an interpreter request enters the ACD with: the pool's one language
    (``en`` for ``interp_en``; Korean for ``interp_sign``, whose interpreters sign and speak
    Korean)."""
    if len(service.languages) != 1:
        raise InvalidState(f"interpreter pool {service.id} must serve exactly one language")
    return next(iter(service.languages))


def new_channel_id(prefix: str) -> str:
    return f"dasan-{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass(slots=True)
class _Request:
    call_id: str
    language: str
    asked_at: datetime
    reoffered: bool = False


@dataclass(slots=True)
class _Dial:
    """One helper channel the center originated, until the PBX and the ACD are settled."""

    call_id: str
    request_id: str | None = None
    consultant_id: str | None = None
    answered: bool = False


class Parties:
    def __init__(self, core: CenterCore) -> None:
        self._core = core
        self._requests: dict[str, _Request] = {}
        self._dials: dict[str, _Dial] = {}
        self._conference = VideoConference(core)

    # --- the consultant's actions -----------------------------------------------------------
    async def add_interpreter(self, call_id: str, language: str) -> Party:
        core = self._core
        call = self._joinable(call_id)
        if call.party(PartyKind.INTERPRETER) is not None:
            raise InvalidState(f"call {call_id} already has an interpreter")
        service = interpreter_service(language)
        catalog = core.driver.state.catalog
        if service not in catalog:
            raise InvalidState(f"there is no interpreter pool for {language!r}")
        asked_in = _request_language(catalog[service])
        # A video call's interpreter needs a conference; a voice call opens none.
        conference = await self._conference.open(call)
        if language == SIGN_INTERPRETER and conference is None:
            raise VideoCallRequired(
                f"call {call_id} is a voice call: a sign-language interpreter joins video calls"
            )
        request_id = new_channel_id("interp")
        offers: list[OfferCall] = []
        core.driver.handle_offers_for(request_id, offers.append)
        # The request has no FastAGI session; its ticket takes the core's announcements.
        core.driver.open_ticket(request_id)
        core.book.requests[request_id] = call_id
        try:
            core.driver.feed(CallArrived(request_id, asked_in, service))
        except (InvalidEvent, ValueError) as exc:
            self._forget(request_id)
            raise InvalidState(f"interpreter request refused: {exc}") from exc
        if not offers:
            core.feed_quietly(CallAbandoned(request_id))
            self._forget(request_id)
            core.ledger.abandoned(service)
            core.publish_queue(service)
            raise NoInterpreterAvailable(language)
        self._requests[request_id] = _Request(call_id, language, core.clock())
        core.driver.handle_offers_for(request_id, self._reoffered)
        return self._dial_interpreter(call, request_id, offers[0])

    async def add_third_party(self, call_id: str, number: str) -> Party:
        core = self._core
        dial = outside_channel(core.config.outside_dial, number)
        if dial is None:
            raise InvalidState(f"{number!r} is not a dialable number")
        call = self._joinable(call_id)
        if call.party(PartyKind.THIRD_PARTY) is not None:
            raise InvalidState(f"call {call_id} already has an outside party")
        await self._conference.open(call)  # a video call keeps its video with a third party
        uid = new_channel_id("party")
        self._dials[uid] = _Dial(call_id)
        helper = Helper(uid, HelperKind.THIRD_PARTY)
        party = core.book.add_helper(call, helper, PartyKind.THIRD_PARTY, number, None)
        assert party is not None  # a party is made for every kind but music
        core.publish_call(call)
        core.spawn(f"party-{uid}", self._originate(call, uid, dial, core.config.ring_s))
        return party

    async def drop(self, call_id: str, party_id: str) -> CallSummary:
        core = self._core
        call = core.book.live(call_id)
        if call is None or call.state not in JOINABLE:
            raise InvalidState(f"call {call_id} is not connected")
        party = call.parties.get(party_id)
        if party is None:
            raise NotFound("party", party_id)
        if party.kind not in (PartyKind.INTERPRETER, PartyKind.THIRD_PARTY):
            raise InvalidState(f"a {party.kind.value} cannot be dropped; hang up instead")
        helper = next((h for h in core.book.helpers.values() if h.party_id == party_id), None)
        if helper is None:
            raise NotFound("party", party_id)
        uid = helper.uniqueid
        async with core.pbx.expect(lambda e: e.name == "Hangup" and e.uniqueid == uid) as gone:
            await core.pbx.hangup(uid)
            if await gone.wait(_STEP_S) is None:
                raise Unavailable(f"{party.address} did not leave the call")
        self.hung_up(uid)
        return core.book.summary(call)

    # --- what the PBX reports (from the AMI watch) ------------------------------------------
    def originated(self, uniqueid: str, success: bool, reason: str) -> None:
        dial = self._dials.get(uniqueid)
        if dial is None:
            return
        core = self._core
        if success:
            dial.answered = True
            if dial.request_id is not None and dial.consultant_id is not None:
                core.feed_quietly(OfferAccepted(dial.request_id, dial.consultant_id))
            return
        log.info("call %s: helper %s did not join (reason %s)", dial.call_id, uniqueid, reason)
        del self._dials[uniqueid]
        self._left(uniqueid)
        request = self._requests.get(dial.request_id or "")
        if request is None or dial.request_id is None or dial.consultant_id is None:
            return
        request.reoffered = False
        failed = OfferTimedOut if reason in _NO_ANSWER_REASONS else OfferRejected
        core.feed_quietly(failed(dial.request_id, dial.consultant_id))
        if not request.reoffered:  # nobody else free right now: withdraw, the consultant retries
            core.feed_quietly(CallAbandoned(dial.request_id))
            self._forget(dial.request_id)

    def joined(self, uniqueid: str, name: str) -> None:
        if uniqueid in self._dials:
            self._core.publish_call(self._core.book.helper_connected(uniqueid, name))

    def hung_up(self, uniqueid: str) -> None:
        dial = self._dials.get(uniqueid)
        if dial is None or not dial.answered:
            return  # an unanswered dial is settled by its OriginateResponse
        del self._dials[uniqueid]
        self._left(uniqueid)
        if dial.request_id is not None:
            self._core.feed_quietly(CallEnded(dial.request_id))
            self._forget(dial.request_id)

    def on_request_event(self, event: Event) -> None:
        """ACD events about an interpreter request (from the ACD feed): queue figures."""
        core = self._core
        if isinstance(event, CallArrived):
            core.publish_queue(event.service)
            return
        request = self._requests.get(str(getattr(event, "call_id", "")))
        if request is None:
            return
        queue_id = interpreter_service(request.language)
        if isinstance(event, OfferAccepted):
            waited = (core.clock() - request.asked_at).total_seconds()
            core.ledger.answered(queue_id, event.consultant_id, waited)
        elif isinstance(event, CallAbandoned):
            core.ledger.abandoned(queue_id)
        core.publish_queue(queue_id)

    # --- internals --------------------------------------------------------------------------
    def _joinable(self, call_id: str) -> CallRec:
        return self._core.book.connected(call_id, JOINABLE)

    def _reoffered(self, offer: OfferCall) -> None:
        """The ACD offered the request again (after a failed ring): dial that interpreter."""
        request = self._requests.get(offer.call_id)
        call = self._core.book.live(request.call_id) if request else None
        if request is None or call is None or call.citizen is None:
            self._core.feed_later(OfferRejected(offer.call_id, offer.consultant_id))
            return
        request.reoffered = True
        self._dial_interpreter(call, offer.call_id, offer)

    def _dial_interpreter(self, call: CallRec, request_id: str, offer: OfferCall) -> Party:
        core = self._core
        request = self._requests[request_id]
        uid = new_channel_id("interp")
        self._dials[uid] = _Dial(call.call_id, request_id, offer.consultant_id)
        helper = Helper(
            uid, HelperKind.INTERPRETER, request_id=request_id, consultant_id=offer.consultant_id
        )
        party = core.book.add_helper(
            call, helper, PartyKind.INTERPRETER, offer.consultant_id, request.language
        )
        assert party is not None
        core.publish_call(call)
        dial = f"PJSIP/{offer.consultant_id}"
        core.spawn(f"interp-{uid}", self._originate(call, uid, dial, offer.ring_timeout_s))
        return party

    async def _originate(self, call: CallRec, uid: str, dial: str, ring_s: float) -> None:
        """Dial a helper into the citizen's bridge, or into the call's video conference."""
        assert call.citizen is not None
        caller_id = f"120 <{dialable_number(call.number) or '120'}>"
        if call.conference is not None:
            spec = Originate(
                dial,
                "ConfBridge",
                party_data(call),
                uid,
                ring_s,
                caller_id,
                codecs=party_codecs(call),
            )
        else:
            spec = Originate(dial, "BridgeAdd", call.citizen.name, uid, ring_s, caller_id)
        try:
            await self._core.pbx.originate(spec)
        except Unavailable as exc:
            log.warning("call %s: could not originate %s: %s", call.call_id, dial, exc)
            self.originated(uid, success=False, reason="0")

    def _left(self, uniqueid: str) -> None:
        found = self._core.book.helper_gone(uniqueid)
        if found is not None:
            self._core.publish_call(found[0])

    def _forget(self, request_id: str) -> None:
        self._core.driver.forget_offer_handler(request_id)
        self._core.driver.close_ticket(request_id)
        self._core.book.requests.pop(request_id, None)
        self._requests.pop(request_id, None)
