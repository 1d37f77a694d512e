"""The real center's internal records: calls with their legs and helpers, and PBX names.

Invariants:
- A ``CallRec`` is owned by one ``CallBook`` and changed only through its methods; the web
  edge only ever sees the frozen ``CallSummary`` made from it.
- Every channel the center knows belongs to exactly one call: the citizen's channel, the
  consultant's leg, helpers it originated (interpreter, third party, music on hold) and the
  consulted party of an attended transfer. ``Leg`` names it both ways (name and uniqueid).
- The dialplan contexts and channel variables the center relies on live here and in
  ``dialplans/cti.conf`` only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime

from cti.control import CallOutcome, CallState, Party, PartyKind, PartyState

# --- dialplan contexts (dialplans/cti.conf) and channel variables --------------------------------
HOLD_CONTEXT = "dasan-cti-hold"  # the consultant's leg waits here while the citizen is held
REJOIN_CONTEXT = "dasan-cti-rejoin"  # BridgeAdd(${DASAN_JOIN}): back into the citizen's bridge
MOH_CONTEXT = "dasan-cti-moh"  # a Local channel playing music on hold into the bridge
CONSULT_CONTEXT = "dasan-cti-consult"  # Dial(${DASAN_CONSULT_DIAL}) then rejoin the citizen
JOIN_VAR = "DASAN_JOIN"
CONSULT_DIAL_VAR = "DASAN_CONSULT_DIAL"
CONSULT_RING_VAR = "DASAN_CONSULT_RING"
CONSULT_DONE_VAR = "DASAN_CONSULT_DONE"
# Video calls with an interpreter (cti/center/conference.py): a ConfBridge conference.
CONF_CITIZEN_CONTEXT = "dasan-cti-conf-citizen"  # Local <conf>@: the citizen's side joins
CONF_PARTY_CONTEXT = "dasan-cti-conf"  # ConfBridge(${DASAN_CONF}): the consultant's leg moves in
CONF_VAR = "DASAN_CONF"
CONF_BRIDGE_PROFILE = "dasan-video"  # asterisk-config/confbridge.conf
CONF_PARTY_PROFILE = "dasan-video-party"  # consultant and interpreter
# The ACD's not-ready reason while a consultant is reserved for a transfer (acd.waiting too).
TRANSFER_REASON = "transfer"


class HelperKind(enum.Enum):
    """Channels the center originates into a call (or dials on the consultant's behalf)."""

    INTERPRETER = "interpreter"
    THIRD_PARTY = "third_party"
    MUSIC = "music"
    CONSULT = "consult"
    CONFERENCE = "conference"  # the Local channel carrying the citizen into a conference


@dataclass(frozen=True, slots=True)
class Leg:
    uniqueid: str
    name: str


@dataclass(slots=True)
class Helper:
    """A channel in (or dialing into) a call on the center's behalf."""

    uniqueid: str
    kind: HelperKind
    party_id: str | None = None  # None for music on hold
    request_id: str | None = None  # the ACD request of an interpreter
    consultant_id: str | None = None  # interpreter or consulted consultant
    name: str | None = None  # the channel name once Asterisk created it
    connected: bool = False


@dataclass(slots=True)
class Consult:
    """An attended transfer in progress: the consultant talks to ``target`` first."""

    target: str
    kind: str  # "consultant" or "number"
    party_id: str
    reserved: bool  # we set the consulted consultant not ready for it
    leg: Leg | None = None
    answered: bool = False
    completing: bool = False


@dataclass(slots=True)
class CallRec:
    call_id: str
    number: str
    language: str
    started_at: datetime
    state: CallState = CallState.IVR
    queue_id: str | None = None
    consultant_id: str | None = None
    answered_at: datetime | None = None
    enqueued_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome | None = None
    citizen: Leg | None = None
    agent: Leg | None = None
    bridge_id: str | None = None  # the citizen's bridge, once the citizen entered it
    held: bool = False  # put on hold by the consultant (not by a consultation)
    consult: Consult | None = None
    parties: dict[str, Party] = field(default_factory=dict)
    party_seq: int = 0
    # Transfer requested through the ACD ticket: ("service"|"consultant"|"number", target).
    transfer: tuple[str, str] | None = None
    # An attended transfer completed: the ACD hands the call over instead of ending it.
    handover_to: str | None = None
    # A video call's conference (interpreter joined): its name and the video codec it relays.
    conference: str | None = None
    conference_codecs: tuple[str, ...] = ()

    def next_party_id(self) -> str:
        self.party_seq += 1
        return f"{self.call_id}-p{self.party_seq}"

    def party(self, kind: PartyKind) -> Party | None:
        return next((p for p in self.parties.values() if p.kind is kind), None)

    def set_party_state(self, kind: PartyKind, state: PartyState) -> None:
        for pid, party in list(self.parties.items()):
            if party.kind is kind:
                self.parties[pid] = replace(party, state=state)
