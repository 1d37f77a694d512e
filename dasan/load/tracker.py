"""Citizen calls as AMI shows them: offered, waiting, answered, abandoned (pure, no I/O).

Fed every AMI event of a load run in wire order, the tracker follows each citizen channel
(``PJSIP/<trunk>-...`` entering one of the services, e.g. 120) from Newchannel to Hangup.

Invariants:
- Answered means a ``DialEnd`` with ``DialStatus: ANSWER`` on the citizen's channel: answers
  come from the PBX, never from SIPp's own counts.
- A call is *enqueued* at its first ``MusicOnHoldStart`` or ``QueueCallerJoin`` (the caller
  waits for a consultant), else at its first ``DialBegin``; the wait (speed of answer) runs
  from there to the answer.
- A call not answered is *abandoned* when the citizen ended it (``HangupRequest``, which
  Asterisk raises for a remote BYE; a hangup by the PBX is a ``SoftHangupRequest``), in the
  queue if it was enqueued or ringing, else in the IVR; otherwise it was *unserved*.
- Times are Asterisk's event timestamps; events of unknown channels are ignored.
- A call the events left unserved whose consultant the engine's call log names was answered
  while this run's own AMI link was down (``with_call_log_answers``): answered, wait unknown
  (so never counted as within the service level).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum

from cti.ami.messages import AmiEvent

WAIT_MARKERS = frozenset({"MusicOnHoldStart", "QueueCallerJoin"})
Step = Callable[["CitizenCall", AmiEvent, float], "CitizenCall"]


class Outcome(Enum):
    ACTIVE = "active"
    ANSWERED = "answered"
    ABANDONED_QUEUE = "abandoned_in_queue"
    ABANDONED_IVR = "abandoned_in_ivr"
    UNSERVED = "unserved"


@dataclass(frozen=True)
class CitizenCall:
    uniqueid: str
    call_type: str
    started: float
    stage: int = 0
    enqueued: float | None = None
    dialed: float | None = None
    answered: float | None = None
    consultant: str | None = None
    citizen_hung_up: float | None = None
    ended: float | None = None
    # Answered, but the answer came while this run's AMI link was down: known only from the
    # engine's call log (a consultant was bridged), so its time, and the wait, are unknown.
    answer_unseen: bool = False

    @property
    def outcome(self) -> Outcome:
        if self.answered is not None or self.answer_unseen:
            return Outcome.ANSWERED
        if self.ended is None:
            return Outcome.ACTIVE
        if self.citizen_hung_up is None:
            return Outcome.UNSERVED
        if self.enqueued is not None or self.dialed is not None:
            return Outcome.ABANDONED_QUEUE
        return Outcome.ABANDONED_IVR

    @property
    def wait_start(self) -> float | None:
        return self.enqueued if self.enqueued is not None else self.dialed

    @property
    def wait_s(self) -> float | None:
        """Enqueue to answer (answered calls) or to hangup (abandoned in the queue)."""
        start = self.wait_start
        if self.answer_unseen:
            return None
        end = self.answered if self.answered is not None else self.ended
        if start is None or end is None:
            return None
        return max(0.0, end - start)


@dataclass(frozen=True)
class Counts:
    offered: int = 0
    in_ivr: int = 0
    waiting: int = 0
    talking: int = 0
    answered: int = 0
    abandoned_in_queue: int = 0
    abandoned_in_ivr: int = 0
    unserved: int = 0

    @property
    def active(self) -> int:
        return self.in_ivr + self.waiting + self.talking

    @property
    def abandoned(self) -> int:
        return self.abandoned_in_queue + self.abandoned_in_ivr


def _consultant(dest_channel: str) -> str:
    """``PJSIP/c0123-0000002a`` -> ``c0123``."""
    name = dest_channel.split("/", 1)[-1]
    return name.rsplit("-", 1)[0]


class CallTracker:
    """Follows citizen channels; ``classify`` maps a caller number to (call type, stage)."""

    def __init__(
        self,
        services: Iterable[str],
        classify: Callable[[str], tuple[str, int]] = lambda _caller: ("", 0),
        trunk: str = "citizens",
    ) -> None:
        self._services = frozenset(services)
        self._classify = classify
        self._prefix = f"PJSIP/{trunk}-"
        self._calls: dict[str, CitizenCall] = {}
        self._steps: dict[str, Step] = {name: _on_wait for name in WAIT_MARKERS}
        self._steps.update(
            DialBegin=_on_dial_begin,
            DialEnd=_on_dial_end,
            HangupRequest=_on_citizen_hangup,
            Hangup=_on_hangup,
        )

    def feed(self, event: AmiEvent) -> None:
        uid = event.uniqueid
        if event.name == "Newchannel":
            self._new(event)
            return
        call = self._calls.get(uid)
        if call is None:
            return
        ts = event.timestamp or call.started
        updated = self._advance(call, event, ts)
        if updated is not call:
            self._calls[uid] = updated

    def _new(self, event: AmiEvent) -> None:
        if not event.channel.startswith(self._prefix):
            return
        if event.get("Exten") not in self._services:
            return
        call_type, stage = self._classify(event.get("CallerIDNum"))
        self._calls[event.uniqueid] = CitizenCall(
            uniqueid=event.uniqueid,
            call_type=call_type,
            started=event.timestamp or 0.0,
            stage=stage,
        )

    def _advance(self, call: CitizenCall, event: AmiEvent, ts: float) -> CitizenCall:
        if call.ended is not None:
            return call
        step = self._steps.get(event.name)
        return step(call, event, ts) if step is not None else call

    def calls(self) -> list[CitizenCall]:
        return list(self._calls.values())

    def counts(self) -> Counts:
        tally = dict.fromkeys(Outcome, 0)
        in_ivr = waiting = talking = 0
        for call in self._calls.values():
            outcome = call.outcome
            tally[outcome] += 1
            if call.ended is None:
                if call.answered is not None:
                    talking += 1
                elif call.wait_start is not None:
                    waiting += 1
                else:
                    in_ivr += 1
        return Counts(
            offered=len(self._calls),
            in_ivr=in_ivr,
            waiting=waiting,
            talking=talking,
            answered=tally[Outcome.ANSWERED],
            abandoned_in_queue=tally[Outcome.ABANDONED_QUEUE],
            abandoned_in_ivr=tally[Outcome.ABANDONED_IVR],
            unserved=tally[Outcome.UNSERVED],
        )


def _on_wait(call: CitizenCall, _event: AmiEvent, ts: float) -> CitizenCall:
    if call.enqueued is None and call.answered is None:
        return replace(call, enqueued=ts)
    return call


def _on_dial_begin(call: CitizenCall, _event: AmiEvent, ts: float) -> CitizenCall:
    return replace(call, dialed=ts) if call.dialed is None else call


def _on_dial_end(call: CitizenCall, event: AmiEvent, ts: float) -> CitizenCall:
    if event.get("DialStatus") != "ANSWER" or call.answered is not None:
        return call
    return replace(call, answered=ts, consultant=_consultant(event.get("DestChannel")))


def _on_citizen_hangup(call: CitizenCall, _event: AmiEvent, ts: float) -> CitizenCall:
    return replace(call, citizen_hung_up=ts) if call.citizen_hung_up is None else call


def _on_hangup(call: CitizenCall, _event: AmiEvent, ts: float) -> CitizenCall:
    return replace(call, ended=ts)


def service_level(calls: Iterable[CitizenCall], threshold_s: float) -> float | None:
    """Answered within ``threshold_s`` of enqueue / (answered + abandoned in the queue)."""
    answered_in_time = handled = 0
    for call in calls:
        outcome = call.outcome
        if outcome is Outcome.ANSWERED:
            handled += 1
            wait = call.wait_s
            if wait is not None and wait <= threshold_s:
                answered_in_time += 1
        elif outcome is Outcome.ABANDONED_QUEUE:
            handled += 1
    return answered_in_time / handled if handled else None


def with_call_log_answers(
    calls: Iterable[CitizenCall], consultants: Callable[[str], str | None]
) -> list[CitizenCall]:
    """The calls, with those the events left unserved but the engine's call log shows a
    consultant on (``consultants``: uniqueid -> consultant) marked answered, time unknown."""
    out = []
    for call in calls:
        consultant = consultants(call.uniqueid) if call.outcome is Outcome.UNSERVED else None
        out.append(replace(call, answer_unseen=True, consultant=consultant) if consultant else call)
    return out
