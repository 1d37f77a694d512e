"""Events fed to the routing core: facts that already happened (past tense, immutable).

Invariants:
- Events carry ids, never objects from the driver; the core resolves them against its state.
- An event about a call or consultant the core no longer knows (a race between the PBX and the
  core) is harmless: the core answers it with ``EventIgnored`` and changes nothing.
- :func:`event_to_json` / :func:`event_from_json` round-trip every event, so a driver can
  journal ``(now, event)`` pairs and any routing can be replayed through ``decide``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from acd.model import Language, Priority


@dataclass(frozen=True, slots=True)
class CallArrived:
    """A caller finished the IVR and waits for a consultant. ``enqueued_at`` (default: now)
    lets a transferred or retried call keep an earlier place."""

    call_id: str
    language: Language
    service: str
    priority: Priority = Priority.NORMAL
    tags: frozenset[str] = frozenset()
    enqueued_at: float | None = None
    # A call that starts on virtual hold (a kept call-back request worked through later):
    # its offer starts by calling this number back.
    callback_number: str | None = None


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller hung up before talking to a consultant."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallbackAccepted:
    """The caller chose to be called back at ``number``; they keep their place (virtual hold)
    and may hang up without the call being abandoned."""

    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class CallbackAnswered:
    """The citizen answered our call-back; the driver now rings the reserved consultant."""

    call_id: str


@dataclass(frozen=True, slots=True)
class CallbackFailed:
    """The citizen did not answer the call-back; the call ends, the consultant is freed."""

    call_id: str


@dataclass(frozen=True, slots=True)
class ConsultantLoggedIn:
    consultant_id: str
    ready: bool = True


@dataclass(frozen=True, slots=True)
class ConsultantReachable:
    """The consultant's phone registered (``reachable``) or its registration ended or
    expired; only a reachable consultant is ever READY."""

    consultant_id: str
    reachable: bool


@dataclass(frozen=True, slots=True)
class ConsultantLoggedOut:
    consultant_id: str


@dataclass(frozen=True, slots=True)
class ConsultantReady:
    consultant_id: str


@dataclass(frozen=True, slots=True)
class ConsultantNotReady:
    consultant_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    """The consultant answered; caller and consultant are bridged."""

    call_id: str
    consultant_id: str


@dataclass(frozen=True, slots=True)
class OfferRejected:
    """The consultant declined or the dial failed (busy, unreachable)."""

    call_id: str
    consultant_id: str


@dataclass(frozen=True, slots=True)
class OfferTimedOut:
    """The consultant did not answer within the ring timeout."""

    call_id: str
    consultant_id: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """A connected call hung up; the consultant starts wrap-up."""

    call_id: str


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """The consultant finished after-call work early (the core also ends it on time)."""

    consultant_id: str


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; feed it at (or after) the latest ``ScheduleWakeup.at``."""


Event = (
    CallArrived
    | CallAbandoned
    | CallbackAccepted
    | CallbackAnswered
    | CallbackFailed
    | ConsultantLoggedIn
    | ConsultantReachable
    | ConsultantLoggedOut
    | ConsultantReady
    | ConsultantNotReady
    | OfferAccepted
    | OfferRejected
    | OfferTimedOut
    | CallEnded
    | WrapUpEnded
    | Tick
)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        CallArrived,
        CallAbandoned,
        CallbackAccepted,
        CallbackAnswered,
        CallbackFailed,
        ConsultantLoggedIn,
        ConsultantReachable,
        ConsultantLoggedOut,
        ConsultantReady,
        ConsultantNotReady,
        OfferAccepted,
        OfferRejected,
        OfferTimedOut,
        CallEnded,
        WrapUpEnded,
        Tick,
    )
}


def event_to_json(event: Event) -> dict[str, Any]:
    body = asdict(event)
    if isinstance(event, CallArrived):
        body["tags"] = sorted(event.tags)
        body["priority"] = int(event.priority)
        body["language"] = event.language.value
    return {"type": type(event).__name__, **body}


def event_from_json(data: dict[str, Any]) -> Event:
    """Inverse of :func:`event_to_json`; raises ValueError on an unknown type or field."""
    body = dict(data)
    cls = EVENT_TYPES.get(str(body.pop("type", "")))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    names = {f.name for f in fields(cls)}
    unknown = set(body) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
    if cls is CallArrived:
        body["language"] = Language(body["language"])
        body["priority"] = Priority(body.get("priority", 0))
        body["tags"] = frozenset(body.get("tags", ()))
    return cls(**body)
