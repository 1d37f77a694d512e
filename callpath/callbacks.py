"""Call-backs: citizens on virtual hold are called back when their turn comes.

Invariants:
- A caller who accepts the call-back keeps their place in the core (``CallbackAccepted``);
  when the core offers that call, the consultant is reserved and we originate the citizen's
  number (AMI Originate, our own ChannelId) into ``dasan-callback``, where it is recorded like
  any call before the engine's FastAGI session rings the reserved consultant.
- Every originate ends in exactly one report to the core, journaled with the ACD's events:
  ``CallbackAnswered`` (the session started) or ``CallbackFailed`` (Asterisk says it failed,
  the action or its answer timed out, the task crashed or was cancelled). The core also
  expires the consultant's reservation on its own (``callback_reserve_grace_s``), so no
  consultant stays reserved forever; a session that starts after that is not served here
  (DASAN_DONE unset: the dialplan's fallback takes the citizen).
- Originate tasks are tracked (never garbage-collected mid-flight).
- A request that cannot be queued now (the recording could not be proven), and a call-back an
  earlier engine left pending when it died or stopped (found in the ACD journal at start), is
  kept in ``<state>/callbacks/requests.jsonl`` for the supervisors; nothing is dropped silently.
- Built from ``CallbackSetup`` (the ACD, AMI, the call log, the pipeline, the alarm queue and
  a few settings), never from the engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from acd.commands import OfferCall
from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import CallbackAnswered, CallbackFailed
from acd.leftover import pending_callbacks
from acd.settings import AcdSettings
from acd.waiting import WaitingRoom, WaitOutcome, wait_and_connect
from callpath.ports import (
    AmiLink,
    CallRecords,
    ConsultantConnected,
    HangupChannel,
    RaiseAlarmSoon,
    RecordingSink,
)
from common.alarms import Severity
from common.dialstring import dialable_number
from cti.ami.client import AmiEventSource, AmiSubscription
from cti.ami.messages import AmiError, AmiEvent
from ivr.agi import AgiError, AgiHangup, AgiSession

log = logging.getLogger("dasan.callbacks")


@dataclass(frozen=True)
class CallbackSetup:
    """What call-backs need."""

    acd: AcdDriver
    ami: AmiLink
    calls: CallRecords
    recordings: RecordingSink
    # outside_dial and callback_ring_s
    acd_settings: AcdSettings
    default_language: str
    # The PBX-side prompts folder (``<dir>/<lang>/<id>``).
    prompts_dir: str
    # Where requests kept for later go (``requests.jsonl``): ``<state>/callbacks``.
    requests_dir: Path
    hangup_channel: HangupChannel
    alarm: RaiseAlarmSoon
    # Where the wait for the call-back's OriginateResponse reads AMI events (the engine: the
    # live model's feed, subscribed before the Originate is sent); None: ``ami``.
    events: AmiEventSource | None = None


class Callbacks:
    def __init__(self, setup: CallbackSetup) -> None:
        self._setup = setup
        # call id -> the reserved offer, while the citizen is being called back
        self._pending: dict[str, OfferCall] = {}
        self._languages: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # Virtual hold -------------------------------------------------------------------------
    def accepted(self, call_id: str, language: str) -> None:
        """The caller took the offer: the core will offer this call through us."""
        self._languages[call_id] = language
        self._setup.acd.handle_offers_for(call_id, self._on_offer)

    def _on_offer(self, offer: OfferCall) -> None:
        if offer.callback_number is None:  # back in the queue with the citizen on the line
            ticket = self._setup.acd.ticket(offer.call_id)
            if ticket is not None:
                ticket.consultant_id = offer.consultant_id
                ticket.inbox.put_nowait(offer)
            return
        self._pending[offer.call_id] = offer
        task = asyncio.get_running_loop().create_task(self._originate(offer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _originate(self, offer: OfferCall) -> None:
        """Call the citizen; any way this ends other than an answer is ``CallbackFailed``."""
        failure: str | None = "cancelled"
        try:
            failure = await self._try_originate(offer)
        except (AmiError, TimeoutError) as exc:
            failure = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug must not leave the consultant reserved
            log.exception("call %s: call-back task crashed", offer.call_id)
            failure = f"crashed: {exc}"
        finally:
            if failure is not None:
                log.warning("call %s: call-back failed: %s", offer.call_id, failure)
                self._pending.pop(offer.call_id, None)
                self._feed(CallbackFailed(offer.call_id))

    async def _try_originate(self, offer: OfferCall) -> str | None:
        """None when the citizen answered, else why not."""
        setup = self._setup
        settings = setup.acd_settings
        number = dialable_number(offer.callback_number)
        if number is None:  # a caller id must never shape the dial string or the caller id
            return f"call-back number {offer.callback_number!r} is not dialable"
        channel_id = f"dasan-cb-{uuid.uuid4().hex[:12]}"
        language = self._languages.get(offer.call_id, setup.default_language)
        source = setup.ami if setup.events is None else setup.events
        subscription = source.subscribe(name=f"callback-{offer.call_id}")
        try:
            await setup.ami.action(
                "Originate",
                Channel=settings.outside_dial.format(number=number),
                Context="dasan-callback",
                Exten="s",
                Priority="1",
                ChannelId=channel_id,
                CallerID=f"120 <{number}>",
                Timeout=str(settings.callback_ring_s * 1000),
                Variable=f"DASAN_CALL={offer.call_id},DASAN_LANG={language}",
                Async="true",
            )
            if not await self._originate_succeeded(subscription, channel_id):
                return f"call-back to {offer.callback_number} was not answered"
            return None
        finally:
            subscription.close()

    async def _originate_succeeded(self, subscription: AmiSubscription, channel_id: str) -> bool:
        deadline = self._setup.acd_settings.callback_ring_s + 10
        async with asyncio.timeout(deadline):
            async for item in subscription:
                if (
                    isinstance(item, AmiEvent)
                    and item.name == "OriginateResponse"
                    and item.uniqueid == channel_id
                ):
                    return item.get("Response") == "Success"
        return False

    def _feed(self, event: CallbackAnswered | CallbackFailed) -> None:
        try:
            self._setup.acd.feed(event)
        except InvalidEvent as exc:
            log.warning("call-back report refused: %s", exc)

    # The called-back citizen's FastAGI session ---------------------------------------------
    async def handle(self, session: AgiSession) -> None:
        setup = self._setup
        call_id = (await session.get_variable("DASAN_CALL")) or ""
        offer = self._pending.pop(call_id, None)
        if offer is None:
            log.error("call-back session %s for unknown call %r", session.uniqueid, call_id)
            return
        record = setup.acd.state.calls.get(call_id)
        if record is None or not record.calling_back or record.consultant_id != offer.consultant_id:
            # The reservation expired (or was released) before the citizen answered: the
            # consultant may be busy with someone else. The dialplan's fallback serves them.
            log.error("call-back %s answered after its reservation ended", call_id)
            setup.acd.forget_offer_handler(call_id)
            return
        language = self._languages.pop(call_id, setup.default_language)
        setup.acd.forget_offer_handler(call_id)
        # Read now: the dialplan runs AGI() with AGIEXITONHANGUP, so after the citizen hangs
        # up no command reaches the channel any more.
        rec = await _safe_variable(session, "DASAN_REC")
        await setup.calls.call_started(
            session.uniqueid, session.uniqueid, call_id, offer.callback_number, _now()
        )
        ticket = setup.acd.open_ticket(call_id)
        ticket.consultant_id = offer.consultant_id
        self._feed(CallbackAnswered(call_id))
        room = WaitingRoom(setup.prompts_dir, setup.hangup_channel, self._connected(session))
        prompts = setup.prompts_dir
        try:
            await session.stream_file(f"{prompts}/{language}/callback_greeting")
            ticket.inbox.put_nowait(offer)
            outcome = await wait_and_connect(
                session, setup.acd, ticket, room, language=language, caller_number=""
            )
            if outcome is WaitOutcome.SERVED:
                await session.set_variable("DASAN_DONE", "1")
        except AgiHangup:
            log.info("call-back %s: citizen hung up", call_id)
        except AgiError as exc:
            log.error("call-back %s: AGI failure: %s", call_id, exc)
        finally:
            setup.acd.close_ticket(call_id)
            await setup.calls.call_ended(session.uniqueid, _now())
            if rec:
                await setup.recordings.recording_closed(session.uniqueid, rec)

    def _connected(self, session: AgiSession) -> ConsultantConnected:
        async def joined(_call_id: str, consultant: str) -> None:
            await self._setup.calls.consultant_joined(session.uniqueid, consultant)

        return joined

    # Requests kept for later -----------------------------------------------------------
    async def keep_left_pending(self, journal: list[tuple[Path, int]]) -> int:
        """Call-backs an earlier engine accepted and never placed (it died or stopped with them
        pending) are kept in ``requests.jsonl`` with reason ``engine-stopped`` and an alarm,
        once each (a call id already kept is not kept again); the call-back list dials them.
        Nothing promised to a citizen is dropped silently. Returns how many were new."""
        folder = self._setup.requests_dir
        requests = folder / "requests.jsonl"

        def keep() -> int:
            found = pending_callbacks(_read_upto(journal))
            kept = _kept_ids(requests)
            new = [p for p in found.pending if p.call_id not in kept]
            if new:
                folder.mkdir(parents=True, exist_ok=True)
                with requests.open("a", encoding="utf-8") as handle:
                    for pending in new:
                        record = {
                            "call_id": pending.call_id,
                            "kind": "callback",
                            "number": pending.number,
                            "language": "",
                            "requested_at": _now().isoformat(),
                            "reason": "engine-stopped",
                        }
                        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            return len(new)

        count = await asyncio.to_thread(keep)
        if count:
            message = f"{count} call-back(s) left pending by an earlier engine, kept in {requests}"
            log.warning(message)
            self._setup.alarm("callbacks", "left-pending", Severity.WARNING, message)
        return count

    async def request_later(
        self,
        session: AgiSession,
        language: str,
        *,
        reason: str = "recording-unavailable",
        kind: str = "callback",
    ) -> None:
        """Keep a request (a call-back, or an SMS answer) for the next open hours."""
        folder = self._setup.requests_dir
        record = {
            "call_id": session.uniqueid,
            "kind": kind,
            "number": dialable_number(session.variables.get("agi_callerid")) or "",
            "language": language,
            "requested_at": _now().isoformat(),
            "reason": reason,
        }

        def append() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            with (folder / "requests.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

        await asyncio.to_thread(append)
        log.warning(
            "call %s: %s request kept for later (%s, %s)", session.uniqueid, kind, reason, language
        )


def journal_sizes(folder: Path) -> list[tuple[Path, int]]:
    """The ACD journal files and their sizes now: what an earlier engine wrote before this one
    started (taken before this engine routes anything)."""
    return [(path, path.stat().st_size) for path in sorted(folder.glob("acd-*.jsonl"))[-2:]]


def _read_upto(files: list[tuple[Path, int]]) -> list[str]:
    lines: list[str] = []
    for path, size in files:
        with path.open("rb") as handle:
            lines += handle.read(size).decode("utf-8", errors="replace").splitlines()
    return lines


def _kept_ids(requests: Path) -> set[str]:
    if not requests.exists():
        return set()
    kept = set()
    for line in requests.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            kept.add(str(json.loads(line)["call_id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return kept


async def _safe_variable(session: AgiSession, name: str) -> str | None:
    try:
        return await session.get_variable(name)
    except AgiError:
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
