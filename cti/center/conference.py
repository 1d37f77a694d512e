"""Video calls with an interpreter: a ConfBridge conference that relays video (issue 14).

Why: a third channel added to the citizen's bridge (``BridgeAdd``) turns Asterisk's basic
bridge into a mixing bridge whose video mode is none, so a sign-language call would lose its
picture the moment the interpreter joins. A video call's interpreter therefore joins a
ConfBridge conference whose bridge profile relays the speaker's video
(``video_mode = follow_talker`` in asterisk-config/confbridge.conf).

How, around the citizen's channel (it sits in the engine's FastAGI ``Dial`` and cannot move
without ending that session):
1. A Local channel is originated with ``BridgeAdd(<citizen channel>)``: its ``;1`` side joins
   the citizen's bridge, its ``;2`` side enters the conference on the citizen's behalf (the
   only marked user). It is requested with the citizen's video codec, so it carries video.
2. The consultant's leg is redirected into the conference (``dasan-cti-conf``); the
   citizen's bridge is back to two members, the citizen and the Local channel.
3. The interpreter is originated straight into the conference (``ConfBridge``), offered only
   the citizen's video codec (passthrough: Asterisk has no video transcoder).

Invariants:
- Recording: the citizen's channel never moves, so its MixMonitor keeps writing the one file
  it started before the menu: the citizen's own audio and everything the citizen hears, which
  in the conference is the mix of the consultant and the interpreter. Video is not recorded.
- The conference ends with the citizen (consultant and interpreter have ``end_marked``); when
  the consultant hangs up, the watch hangs up the helpers, the Local channel among them, so the
  citizen's ``Dial`` returns exactly as in a two-party call.
- Opening is all or nothing: a Local channel that did not reach the citizen's bridge is hung
  up, a consultant's leg that did not reach the conference is sent back into the citizen's
  bridge, and the consultant is told ``Unavailable``; a call is opened at most once.
- A voice call never gets a conference: ``open`` returns None and nothing is sent to the PBX
  but one ``Getvar``.
"""

from __future__ import annotations

import asyncio
import logging

from cti.center.core import CenterCore
from cti.center.model import (
    CONF_BRIDGE_PROFILE,
    CONF_CITIZEN_CONTEXT,
    CONF_PARTY_CONTEXT,
    CONF_PARTY_PROFILE,
    CONF_VAR,
    JOIN_VAR,
    REJOIN_CONTEXT,
    CallRec,
    Helper,
    HelperKind,
    Leg,
)
from cti.center.pbx import STEP_S, Originate
from cti.control import Unavailable
from ivr.video import VIDEO_FORMATS_VARIABLE, video_codecs

log = logging.getLogger("dasan.cti.center")
_AUDIO = "ulaw"  # what the citizens' and consultants' endpoints carry (pjsip.conf)


def conference_name(call_id: str) -> str:
    """The conference of a call: ``vid-<call id>``, which the ``_vid-.`` extension of
    ``dasan-cti-conf-citizen`` matches (a prefix free of the pattern letters N, X and Z)."""
    return f"vid-{call_id}"


def party_data(call: CallRec) -> str:
    """``ConfBridge`` arguments for a consultant or interpreter of ``call``'s conference."""
    assert call.conference is not None
    return f"{call.conference},{CONF_BRIDGE_PROFILE},{CONF_PARTY_PROFILE}"


def party_codecs(call: CallRec) -> tuple[str, ...]:
    """Formats an interpreter is offered: audio and the conference's one video codec."""
    return (_AUDIO, *call.conference_codecs[:1])


class VideoConference:
    def __init__(self, core: CenterCore) -> None:
        self._core = core
        # call id -> (lock held while it is opened, how many requests use the lock)
        self._opening: dict[str, tuple[asyncio.Lock, int]] = {}

    async def open(self, call: CallRec) -> str | None:
        """The call's conference, opened now if the citizen has video; None for voice.
        Concurrent requests for one call (interpreter and outside party) open it once."""
        lock, users = self._opening.get(call.call_id, (asyncio.Lock(), 0))
        self._opening[call.call_id] = (lock, users + 1)
        try:
            async with lock:
                return await self._open(call)
        finally:
            lock, users = self._opening[call.call_id]
            if users == 1:
                del self._opening[call.call_id]
            else:
                self._opening[call.call_id] = (lock, users - 1)

    async def _open(self, call: CallRec) -> str | None:
        if call.conference is not None:
            return call.conference
        citizen, agent = call.citizen, call.agent
        if citizen is None or agent is None:
            raise Unavailable(f"the channels of call {call.call_id} are not known")
        codecs = await self._video_codecs(citizen)
        if not codecs:
            return None
        name = conference_name(call.call_id)
        uid = await self._citizen_side(call, citizen, name, codecs[0])
        try:
            await self._move_agent(agent, citizen, name)
        except Unavailable:
            self._core.book.helper_gone(uid)
            await self._core.pbx.hangup(uid)
            raise
        call.conference, call.conference_codecs = name, codecs[:1]
        log.info("call %s: video conference %s (%s)", call.call_id, name, codecs[0])
        return name

    async def _video_codecs(self, citizen: Leg) -> tuple[str, ...]:
        return video_codecs(await self._core.pbx.getvar(citizen.name, VIDEO_FORMATS_VARIABLE))

    async def _citizen_side(self, call: CallRec, citizen: Leg, name: str, codec: str) -> str:
        """Originate the Local channel carrying the citizen into the conference; its uid."""
        core = self._core
        uid = f"dasan-conf-{call.call_id}"
        core.book.add_helper(call, Helper(uid, HelperKind.CONFERENCE), None, "", None)
        spec = Originate(
            dial=f"Local/{name}@{CONF_CITIZEN_CONTEXT}/n",
            app="BridgeAdd",
            data=citizen.name,
            channel_id=uid,
            ring_s=STEP_S,
            other_id=f"{uid}-2",
            codecs=(_AUDIO, codec),
        )
        async with core.pbx.expect(
            lambda e: e.name == "BridgeEnter" and e.uniqueid == uid
        ) as entered:
            try:
                await core.pbx.originate(spec)
            except Unavailable:
                core.book.helper_gone(uid)
                raise
            if await entered.wait(STEP_S) is None:
                core.book.helper_gone(uid)
                await core.pbx.hangup(uid)
                raise Unavailable("the citizen's side of the conference did not start")
        return uid

    async def _move_agent(self, agent: Leg, citizen: Leg, name: str) -> None:
        """Redirect the consultant's leg into the conference and wait until it is in."""
        pbx = self._core.pbx
        await pbx.setvar(agent.name, **{CONF_VAR: name})
        async with pbx.expect(
            lambda e: e.name == "ConfbridgeJoin" and e.uniqueid == agent.uniqueid
        ) as joined:
            await pbx.redirect(agent.name, CONF_PARTY_CONTEXT)
            if await joined.wait(STEP_S) is not None:
                return
        log.warning("consultant leg %s did not join conference %s; back to the call", agent, name)
        await pbx.setvar(agent.name, **{JOIN_VAR: citizen.name})
        await pbx.redirect(agent.name, REJOIN_CONTEXT)
        raise Unavailable(f"{agent.name} did not join the video conference")
