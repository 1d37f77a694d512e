"""One safety call inside its FastAGI session (AGI path ``safety``, dialplans/safety.conf).

Invariants:
- The call is recorded from the answer (MixMonitor in the dialplan, before this runs); the
  greeting that opens the call carries the recording notice in the person's language.
- Check-in: "1" is "well"; "2", and every call of a person flagged for a personal call (and
  every escalation call-back), goes to a consultant through the ACD with the
  ``SAFETY_RETURN`` priority, after the recording is proven (the same guard as inbound calls);
  a refused guard reaches no consultant. No key after two prompts is "answered-no-key"
  (the person is told we will call again, and the campaign does).
- ``DASAN_DONE=1`` is set whenever this session served the call, so the dialplan's fallback
  only takes a person whose session failed (the engine died): nothing is lost.
- Every session ends in exactly one ``CallResult`` (the caller of ``run_session`` records it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import CallArrived
from acd.model import Language, Priority
from acd.waiting import WaitingRoom, WaitOutcome, wait_and_connect
from ivr.agi import AgiError, AgiHangup, AgiSession
from safety.escalation import Outcome

log = logging.getLogger("dasan.safety.call")

DONE_VARIABLE = "DASAN_DONE"
MODE_CHECKIN = "checkin"
MODE_CONSULTANT = "consultant"


@dataclass(frozen=True, slots=True)
class CallResult:
    outcome: Outcome
    pressed_two: bool = False
    consultant: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class CallDesk:
    """What a safety call needs from the engine."""

    acd: AcdDriver
    prompts_dir: str  # inside the PBX: <dir>/<lang>/<id>
    hangup_channel: Callable[[str], Awaitable[None]]
    confirm_recording: Callable[[AgiSession, str], Awaitable[bool]]
    on_connected: Callable[[str, str], Awaitable[None]]
    key_timeout_ms: int = 6000

    def prompt(self, language: str, prompt_id: str) -> str:
        return f"{self.prompts_dir}/{language}/{prompt_id}"

    def service_for(self, language: str) -> str:
        """The Korean general line, or the caller's language desk."""
        if language != "ko" and self.acd.state.catalog.get(f"foreign_{language}") is not None:
            return f"foreign_{language}"
        return "general"


async def _check_in(session: AgiSession, desk: CallDesk, language: str) -> str | None:
    for _ in range(2):
        digit = await session.get_data(
            desk.prompt(language, "safety_checkin"), desk.key_timeout_ms, 1
        )
        if digit in ("1", "2"):
            return digit
    return None


async def _to_consultant(
    session: AgiSession, desk: CallDesk, language: str, *, pressed_two: bool
) -> CallResult:
    call_id = session.uniqueid
    await session.stream_file(desk.prompt(language, "safety_connecting"))
    if not await desk.confirm_recording(session, language):
        return CallResult(Outcome.HELP_UNSERVED, pressed_two, detail="recording not proven")
    ticket = desk.acd.open_ticket(call_id)
    connected: list[str] = []

    async def joined(cid: str, consultant: str) -> None:
        connected.append(consultant)
        await desk.on_connected(cid, consultant)

    try:
        ticket.arrival = CallArrived(
            call_id,
            Language(language),
            desk.service_for(language),
            Priority.SAFETY_RETURN,
            frozenset({"safety=1"}),
        )
        desk.acd.feed(ticket.arrival)
        room = WaitingRoom(desk.prompts_dir, desk.hangup_channel, on_connected=joined)
        result = await wait_and_connect(
            session, desk.acd, ticket, room, language=language, caller_number=""
        )
    except (InvalidEvent, ValueError) as exc:
        log.error("safety call %s: the ACD refused it: %s", call_id, exc)
        return CallResult(Outcome.HELP_UNSERVED, pressed_two, detail=f"ACD refused: {exc}")
    except AgiHangup:
        if connected:
            return CallResult(Outcome.TALKED, pressed_two, connected[-1])
        return CallResult(Outcome.HELP_UNSERVED, pressed_two, detail="hung up while waiting")
    finally:
        desk.acd.close_ticket(call_id)
    if result is WaitOutcome.SERVED:
        consultant = connected[-1] if connected else ticket.consultant_id
        return CallResult(Outcome.TALKED, pressed_two, consultant)
    return CallResult(Outcome.HELP_UNSERVED, pressed_two, detail=result.value)


async def _closing(session: AgiSession, desk: CallDesk, language: str, prompt_id: str) -> None:
    """A last prompt; the person hanging up meanwhile changes nothing."""
    try:
        await session.stream_file(desk.prompt(language, prompt_id))
        await session.set_variable(DONE_VARIABLE, "1")
    except AgiHangup:
        pass


async def run_session(session: AgiSession, desk: CallDesk, language: str, mode: str) -> CallResult:
    """Greet (with the recording notice), then check in or connect; see the invariants."""
    try:
        await session.stream_file(desk.prompt(language, "safety_greeting"))
        digit = None if mode == MODE_CONSULTANT else await _check_in(session, desk, language)
    except AgiHangup:
        return CallResult(Outcome.NO_KEY, detail="hung up during the check-in")
    except AgiError as exc:
        log.error("safety call %s: AGI failure: %s", session.uniqueid, exc)
        return CallResult(Outcome.FAILED, detail=f"AGI failure: {exc}")
    if digit == "1":
        await _closing(session, desk, language, "safety_thanks")
        return CallResult(Outcome.WELL)
    if digit is None and mode != MODE_CONSULTANT:
        await _closing(session, desk, language, "safety_no_key")
        return CallResult(Outcome.NO_KEY)
    result = CallResult(Outcome.HELP_UNSERVED, digit == "2", detail="hung up before a consultant")
    try:
        result = await _to_consultant(session, desk, language, pressed_two=digit == "2")
        await session.set_variable(DONE_VARIABLE, "1")
    except AgiHangup:
        pass  # the outcome is known; the conversation ended with the person's hangup
    except AgiError as exc:
        log.error("safety call %s: AGI failure: %s", session.uniqueid, exc)
        return CallResult(Outcome.FAILED, digit == "2", detail=f"AGI failure: {exc}")
    return result
