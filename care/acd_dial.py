"""The engine's way to dial a kept call-back: through the ACD's virtual hold and the
existing call-back Originate path.

A request becomes a call waiting in the ACD core that already carries its call-back number
(``CallArrived(callback_number=...)``); the core offers it only when a consultant is free and
reserves them; the engine's call-back path (``accepted`` = ``Callbacks.accepted``) originates
the citizen into ``dasan-callback``, where the call is recorded before the consultant is rung.

Invariants:
- The offer handler is registered before the call reaches the core (an immediate offer is
  never lost).
- Every dial ends: answered (``CallbackAnswered``; the dialed call is found in the call log by
  its ``linkedid``), failed (``CallbackFailed``, or the core dropped the call when the
  consultant's reservation expired), or not offered within ``wait_s`` (the call is taken out
  of the core with ``CallAbandoned`` and the request waits for its next attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from sqlalchemy import select

from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import CallAbandoned, CallArrived, CallbackAnswered, CallbackFailed, Event
from acd.model import ConsultantState, Language
from acd.views import consultant_counts
from care.dialer import DialOutcome, DialRequest
from common.storage import Storage
from recordings.models import CallRow

_POLL_S = 0.5


def service_for(kind: str, language: str) -> str:
    if kind == "ticket-update":
        return "care129"
    return "general" if language == "ko" else f"foreign_{language}"


def free_consultants(acd: AcdDriver) -> Callable[[], int]:
    return lambda: consultant_counts(acd.state).get(ConsultantState.READY, 0)


class AcdCallbackDial:
    def __init__(
        self,
        acd: AcdDriver,
        accepted: Callable[[str, str], None],
        storage: Storage,
        *,
        wait_s: float = 600.0,
        link_s: float = 10.0,
    ) -> None:
        self._acd = acd
        self._accepted = accepted
        self._storage = storage
        self._wait_s = wait_s
        self._link_s = link_s
        self._outcomes: dict[str, asyncio.Future[bool]] = {}
        acd.on_event(self._heard)

    def _heard(self, event: Event) -> None:
        if isinstance(event, CallbackAnswered | CallbackFailed):
            future = self._outcomes.get(event.call_id)
            if future is not None and not future.done():
                future.set_result(isinstance(event, CallbackAnswered))

    async def dial(self, request: DialRequest) -> DialOutcome:
        call_id = f"care-{request.callback_id}-{uuid.uuid4().hex[:6]}"
        language = request.language if request.language in Language._value2member_map_ else "ko"
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._outcomes[call_id] = future
        try:
            self._accepted(call_id, language)
            self._acd.feed(
                CallArrived(
                    call_id,
                    Language(language),
                    service_for(request.kind, language),
                    callback_number=request.number,
                )
            )
            answered = await self._outcome(call_id, future)
        except InvalidEvent as exc:
            return DialOutcome(False, f"refused by the ACD: {exc}")
        finally:
            self._outcomes.pop(call_id, None)
        if answered is None:
            self._drop(call_id)
            return DialOutcome(False, f"no consultant free within {self._wait_s:g} s")
        if not answered:
            return DialOutcome(False, "not answered", None)
        return DialOutcome(True, "answered", await self._dialed_call(call_id))

    async def _outcome(self, call_id: str, future: asyncio.Future[bool]) -> bool | None:
        """True answered, False failed, None not offered in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while loop.time() < deadline:
            try:
                return await asyncio.wait_for(asyncio.shield(future), _POLL_S)
            except TimeoutError:
                if call_id not in self._acd.state.calls:  # reservation expired: dropped
                    return future.result() if future.done() else False
        return None

    def _drop(self, call_id: str) -> None:
        self._acd.forget_offer_handler(call_id)
        if call_id in self._acd.state.calls:
            with contextlib.suppress(InvalidEvent):  # already gone
                self._acd.feed(CallAbandoned(call_id))

    async def _dialed_call(self, call_id: str) -> str | None:
        """The call log's id of the answered call-back (its linkedid is our call id)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._link_s
        while True:
            async with self._storage.session() as session:
                found = await session.scalar(select(CallRow.id).where(CallRow.linkedid == call_id))
            if found is not None or loop.time() >= deadline:
                return found
            await asyncio.sleep(_POLL_S)  # the engine's writer lands it within moments
