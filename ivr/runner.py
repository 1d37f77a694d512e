"""Run one call's menu over an AGI session: the stepper decides, this module only acts.

Invariants:
- All menu logic lives in the pure stepper; ``run_menu`` executes its actions in order and
  answers the last waiting action with exactly one event (see ``ivr.menu.events``).
- Every AGI await goes through the session, which bounds it with a timeout; recognition runs
  off the loop with its own timeout. A hangup raises ``AgiHangup`` (never swallowed).
- The caller's language is always set on the channel (``CHANNEL(language)``) before the call
  leaves the IVR, and prompts are played as ``<prompts_pbx_dir>/<lang>/<id>``.
- Speech failures (no file, unreadable audio, slow recognizer) count as no input: the stepper
  re-prompts and keys keep working. The recording is deleted once recognized.
- Type-ahead: every key (a prompt stopped by it, a prompt heard out while it was pressed,
  digits collected, and with a witness keys pressed between AGI commands) joins one queue in
  the order pressed (``ivr.keys``); the next action that waits for input takes from that
  queue before playing anything, and each key is taken once. Prompts that must be heard (the
  notice) listen for keys all along and resume where a key stopped them.
- Spoken answers are recorded for at most the node's timeout (and ``max_record_s``): a line
  carrying noise or a tone is no input when the menu's time is up.
- ``on_progress`` (if given) sees the state after every step, as it happens (the live journey);
  it must not block (the caller is waiting).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ivr.agi import AgiHangup
from ivr.keys import KeyQueue
from ivr.listen import ListeningCall, ListenRequest, StopRecording, listen
from ivr.menu.events import (
    Action,
    Collect,
    DigitsReceived,
    EndCall,
    Event,
    NoInput,
    PlayPrompts,
    PromptFinished,
    PromptRef,
    RouteTo,
    SetLanguage,
    SpeechRecognized,
    Started,
    TagPairs,
)
from ivr.menu.loader import Menu
from ivr.menu.state import MenuState, journey_to_json
from ivr.menu.stepper import ALL_KEYS, initial_state, step
from ivr.speech import FileRecognizer, SpeechInputError
from ivr.speech_pool import SpeechPool
from ivr.targets import DEFAULT_LANGUAGE, DEFAULT_PRIORITY, TAG_PRIORITY, TAG_SERVICE, TAG_SKILL

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Progress = Callable[[MenuState], None]
LANGUAGE_VARIABLE = "CHANNEL(language)"
NATIVE_FORMAT_VARIABLE = "CHANNEL(audionativeformat)"
_WIDEBAND = ("slin16", "g722", "opus", "siren14", "speex16", "silk16")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class AgiCall(ListeningCall, Protocol):
    """What the IVR needs from a FastAGI session (``ivr.agi.session.AgiSession``): what
    listening needs (``ivr.listen.ListeningCall``) and the rest of the menu's commands."""

    hungup: asyncio.Event

    async def stream_file(
        self, file: str, escape_digits: str = "", offset: int = 0
    ) -> tuple[str | None, int]: ...

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None: ...

    async def exec(self, app: str, *args: str) -> int: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class PromptPaths:
    """Where the PBX finds prompts: ``<pbx_dir>/<lang>/<id>`` (Asterisk picks the format)."""

    pbx_dir: str

    def file(self, ref: PromptRef) -> str:
        return ref.path(self.pbx_dir)


@dataclass(frozen=True)
class SpeechInput:
    """Korean speech for one call: the folder the PBX records into (``pbx_dir`` inside the PBX
    is ``host_dir`` here) and either the worker ``pool`` that recognizes while the PBX records
    (``ivr.listen``; ``stop_recording`` ends a recording early) or, without a pool, a
    ``stream`` that recognizes each finished recording."""

    stream: FileRecognizer | None
    host_dir: Path
    pbx_dir: str
    max_record_s: float = 4.0
    silence_s: int = 1
    timeout_s: float = 5.0
    executor: Executor | None = None
    pool: SpeechPool | None = None
    stop_recording: StopRecording | None = None


@dataclass(frozen=True)
class IvrOutcome:
    """What the IVR hands to the ACD (``target`` None: the caller chose to end the call)."""

    language: str
    target: str | None
    service: str | None
    skill: str | None
    priority: int
    tags: TagPairs
    state: MenuState = field(repr=False)

    @property
    def journey(self) -> dict[str, Any]:
        return journey_to_json(self.state)

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "target": self.target,
            "service": self.service,
            "skill": self.skill,
            "priority": self.priority,
            "tags": dict(self.tags),
            "journey": self.journey,
        }


def outcome_of(state: MenuState, final: Action | None) -> IvrOutcome:
    tags = dict(final.tags) if isinstance(final, RouteTo) else state.tag_map()
    priority = tags.get(TAG_PRIORITY, "")
    return IvrOutcome(
        language=state.language,
        target=final.target if isinstance(final, RouteTo) else None,
        service=tags.get(TAG_SERVICE),
        skill=tags.get(TAG_SKILL),
        priority=int(priority) if priority.isdigit() else DEFAULT_PRIORITY,
        tags=tuple(sorted(tags.items())),
        state=state,
    )


async def run_menu(
    session: AgiCall,
    menu: Menu,
    prompts: PromptPaths,
    recognizer: SpeechInput | None,
    clock: Clock,
    *,
    language: str = DEFAULT_LANGUAGE,
    entry: str = "",
    on_progress: Progress | None = None,
    keys: KeyQueue | None = None,
    tags: Mapping[str, str] | None = None,
) -> IvrOutcome:
    """Walk ``menu`` with the caller until it routes the call or the caller chose to end it.

    ``language`` is the caller's language until the menu sets one (IvrSettings.default_language);
    ``entry`` (e.g. the dialed number, ``agi_dnid``) picks one of the menu's ``entries``;
    ``on_progress`` sees each new state (language, tags, journey) as it happens; ``keys`` is
    the call's key queue when a witness (AMI) feeds it; ``tags`` are the call's tags before
    the menu starts (what the engine can offer this caller, e.g. an SMS).
    """
    # Not ``keys or KeyQueue()``: an empty queue is falsy, and the caller's witnessed queue
    # would be swapped for a private one (every witnessed key then "left unused").
    runner = _Runner(session, prompts, recognizer, KeyQueue() if keys is None else keys)
    start = initial_state(menu, language).with_tags(dict(tags or {}))
    state, actions = step(menu, start, Started(entry), clock())
    while True:
        if on_progress is not None:
            on_progress(state)
        event = await runner.execute(actions)
        if event is None:
            break
        state, actions = step(menu, state, event, clock())
    if runner.language != state.language:
        await session.set_variable(LANGUAGE_VARIABLE, state.language)
    outcome = outcome_of(state, actions[-1] if actions else None)
    log.info(
        "ivr %s: %s -> %s (language %s, %d steps)",
        session.uniqueid,
        menu.id,
        outcome.target or "end",
        outcome.language,
        len(state.journey),
    )
    return outcome


class _Runner:
    def __init__(
        self,
        session: AgiCall,
        prompts: PromptPaths,
        speech: SpeechInput | None,
        keys: KeyQueue,
    ) -> None:
        self.session = session
        self.prompts = prompts
        self.speech = speech
        self.language: str | None = None
        self._record_format: str | None = None
        self._recordings = 0
        # Keys pressed and not yet used, in the order pressed (type-ahead).
        self.typed = keys

    def _check_alive(self) -> None:
        if self.session.hungup.is_set():
            raise AgiHangup("the caller hung up during the IVR")

    async def execute(self, actions: tuple[Action, ...]) -> Event | None:
        """Perform the actions; the event answering the last one, None once the IVR is over."""
        for index, action in enumerate(actions):
            self._check_alive()
            last = index == len(actions) - 1
            if isinstance(action, SetLanguage):
                await self.session.set_variable(LANGUAGE_VARIABLE, action.code)
                self.language = action.code
            elif isinstance(action, PlayPrompts):
                keys = action.interruptible if last else ""
                digit = None
                if keys:
                    digit = await self._play(action.prompts, keys)
                else:
                    await self._hear_out(action)
                if last:
                    return DigitsReceived(digit) if digit else PromptFinished()
            elif isinstance(action, Collect):
                return await self._collect(action)
            elif isinstance(action, EndCall):
                await self._play(action.prompts, "")
                return None
            elif isinstance(action, RouteTo):
                return None
        return None

    async def _hear_out(self, action: PlayPrompts) -> None:
        """Play prompts to the end; keys pressed meanwhile are kept for the next menu."""
        for ref in action.prompts:
            file = self.prompts.file(ref)
            digit, position = await self.session.stream_file(file, ALL_KEYS)
            while digit:
                await self.typed.read(digit)
                self._check_alive()
                digit, position = await self.session.stream_file(file, ALL_KEYS, position)

    def _take(self) -> str | None:
        return self.typed.take()

    async def _got(self, digits: str) -> str:
        """Digits an AGI command returned: queued (once), then the oldest as many come out."""
        for digit in digits:
            await self.typed.read(digit)
        return "".join(self._take() or "" for _ in digits)

    async def _play(self, refs: tuple[PromptRef, ...], keys: str) -> str | None:
        """Play until a key stops it; a key typed ahead stops it before it starts."""
        if self.typed:
            return self._take()
        for ref in refs:
            digit, _ = await self.session.stream_file(self.prompts.file(ref), keys)
            if digit:
                return await self._got(digit)
        return None

    async def _more_digits(self, first: str, action: Collect) -> str:
        digits = first
        while len(digits) < action.max_digits and not digits.endswith("#"):
            digit = self._take()
            if digit is None:
                waited = await self.session.wait_for_digit(action.timeout_ms)
                digit = await self._got(waited) if waited else None
            if not digit:
                break
            digits += digit
        return digits.rstrip("#") if len(digits) > 1 else digits

    async def _collect(self, action: Collect) -> Event:
        if action.speech and self.speech is not None:
            return await self._collect_with_speech(action, self.speech)
        *lead, last = action.prompts
        digit = await self._play(tuple(lead), ALL_KEYS)
        if digit:
            return DigitsReceived(await self._more_digits(digit, action))
        digits = await self.session.get_data(
            self.prompts.file(last), action.timeout_ms, action.max_digits
        )
        return DigitsReceived(await self._got(digits)) if digits else NoInput()

    async def _collect_with_speech(self, action: Collect, speech: SpeechInput) -> Event:
        digit = await self._play(action.prompts, ALL_KEYS)
        if digit:
            return DigitsReceived(await self._more_digits(digit, action))
        fmt = await self._format()
        self._recordings += 1
        name = _SAFE_NAME.sub("_", f"{self.session.uniqueid or 'call'}-{self._recordings}")
        if speech.pool is not None:
            request = ListenRequest(name, fmt, action.grammar, action.timeout_ms, ALL_KEYS)
            heard = await listen(self.session, speech, request)
            if heard.digit:
                first = await self._got(heard.digit)
                return DigitsReceived(await self._more_digits(first, action))
            if heard.recognition is None:
                return NoInput()
            return SpeechRecognized(heard.recognition.word, heard.recognition.confidence)
        result = await self.session.record_file(
            f"{speech.pbx_dir.rstrip('/')}/{name}",
            fmt,
            ALL_KEYS,
            min(int(speech.max_record_s * 1000), action.timeout_ms),
            speech.silence_s,
        )
        if result.reason == "hangup":
            raise AgiHangup("the caller hung up while speaking")
        if result.digit:
            first = await self._got(result.digit)
            return DigitsReceived(await self._more_digits(first, action))
        return await self._recognize(speech.host_dir / f"{name}.{fmt}", action, speech)

    async def _recognize(self, path: Path, action: Collect, speech: SpeechInput) -> Event:
        if speech.stream is None:
            return NoInput()
        try:
            found = await speech.stream.recognize_file(
                path,
                action.grammar,
                timeout_s=speech.timeout_s,
                executor=speech.executor,
                delete=True,
            )
        except (OSError, SpeechInputError, TimeoutError) as exc:
            log.warning("ivr %s: speech not recognized: %r", self.session.uniqueid, exc)
            return NoInput()
        if found is None:
            return NoInput()
        return SpeechRecognized(found.word, found.confidence)

    async def _format(self) -> str:
        if self._record_format is None:
            native = (await self.session.get_variable(NATIVE_FORMAT_VARIABLE) or "").lower()
            wide = any(codec in native for codec in _WIDEBAND)
            self._record_format = "wav16" if wide else "wav"
        return self._record_format
