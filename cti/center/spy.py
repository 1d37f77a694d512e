"""Supervisors listen to, whisper to, or barge into a consultant's calls (ChanSpy).

The supervisor's phone is called (AMI ``Originate``) and, once answered, runs
``ChanSpy(PJSIP/<consultant>-,q<mode>)``: it follows whatever call the consultant's phone is
on, without joining the call's bridge (ChanSpy listens through audiohooks, so the
citizen-consultant bridge keeps its two members and the recording is untouched). Listen has
no option, whisper ``w`` (only the consultant hears the supervisor), barge ``B`` (both do).

The supervisor's phone (``device``) is addressed as:
- a PJSIP endpoint id known to the PBX (a consultant phone such as ``c0470``),
- or a dialable number (digits, optional leading +), dialed like any outside number,
- or, when omitted, the endpoint named like the supervisor's own user id (a supervisor who
  signs in as ``c0470`` is called at ``PJSIP/c0470``); otherwise the request is refused.

Invariants: a session exists from the request until its phone hangs up (or the call to it
fails); each change is published as ``SpyChanged`` (active, then inactive), exactly once.
"""

from __future__ import annotations

import logging
import re

from common.principal import Principal
from cti.center.core import CenterCore
from cti.center.parties import new_channel_id
from cti.center.pbx import Originate
from cti.control import (
    ConsultantState,
    InvalidState,
    NotFound,
    SpyChanged,
    SpyMode,
    SpySession,
)

log = logging.getLogger("dasan.cti.center")
_NUMBER = re.compile(r"^\+?[0-9]{2,20}$")
_OPTIONS = {SpyMode.LISTEN: "q", SpyMode.WHISPER: "qw", SpyMode.BARGE: "qB"}
_RING_S = 30.0


class Supervision:
    def __init__(self, core: CenterCore) -> None:
        self._core = core
        self._sessions: dict[str, SpySession] = {}

    async def start(
        self, by: Principal, consultant_id: str, mode: SpyMode, device: str | None
    ) -> SpySession:
        core = self._core
        if core.board.view(consultant_id).state is ConsultantState.LOGGED_OUT:
            raise InvalidState(f"{consultant_id} is logged out")
        label, dial = self._phone(by, device)
        if label == consultant_id:
            raise InvalidState("a consultant's own phone cannot listen to them")
        spy_id = new_channel_id("spy")
        session = SpySession(spy_id, by.user_id, consultant_id, mode, label, core.clock())
        self._sessions[spy_id] = session
        spec = Originate(
            dial=dial,
            app="ChanSpy",
            data=f"PJSIP/{consultant_id}-,{_OPTIONS[mode]}",
            channel_id=spy_id,
            ring_s=_RING_S,
            caller_id=f"Dasan {mode.value} <{consultant_id}>",
        )
        try:
            await core.pbx.originate(spec)
        except BaseException:
            del self._sessions[spy_id]
            raise
        log.info("%s: %s %s from %s", spy_id, by.user_id, mode.value, label)
        core.hub.publish(SpyChanged(session, active=True))
        return session

    async def stop(self, spy_id: str) -> None:
        if spy_id not in self._sessions:
            raise NotFound("spy session", spy_id)
        await self._core.pbx.hangup(spy_id)
        self.ended(spy_id)

    def sessions(self) -> list[SpySession]:
        return list(self._sessions.values())

    # --- what the PBX reports ---------------------------------------------------------------
    def originated(self, spy_id: str, success: bool) -> None:
        if not success:
            self.ended(spy_id)

    def ended(self, spy_id: str) -> None:
        session = self._sessions.pop(spy_id, None)
        if session is not None:
            self._core.hub.publish(SpyChanged(session, active=False))

    # --- internals --------------------------------------------------------------------------
    def _phone(self, by: Principal, device: str | None) -> tuple[str, str]:
        """(label, dial string) of the supervisor's phone."""
        endpoints = self._core.config.endpoints
        wanted = device if device is not None else by.user_id
        if wanted in endpoints:
            return wanted, f"PJSIP/{wanted}"
        if device is not None and _NUMBER.match(device):
            return device, self._core.config.outside_dial.format(number=device)
        if device is None:
            raise InvalidState(f"no phone is known for {by.user_id}; give a device")
        raise InvalidState(f"unknown device {device!r}: give an endpoint id or a number")
