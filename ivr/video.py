"""Video callers: how the IVR tells a sign-language video call from a voice call.

A citizen whose softphone negotiated video with the PBX (H.264 or VP8, relayed as is) is most
likely deaf or hard of hearing: the audio menu would only keep them waiting. The call flow
asks the channel for its negotiated video formats once, before the menu starts, and a video
call enters the menu at its ``video`` entry (in ``dasan120.yaml``: the recording notice, then
the sign-language team) instead of the dialed number's.

Invariants:
- Only the channel decides: ``CHANNEL(videonativeformat)`` after the answer lists the video
  codecs the PBX agreed with the caller; anything else (empty, ``(nothing)``, an audio codec, an
  unreadable answer) is a voice call, so a doubtful call hears the ordinary menu.
- The check is one AGI command and never raises for a hung-up or failing channel: the call
  flow then goes on as for a voice call and meets the hangup where it always does.
"""

from __future__ import annotations

import logging
import re
from typing import Final, Protocol

from ivr.agi import AgiError

log = logging.getLogger(__name__)

VIDEO_ENTRY: Final = "video"
VIDEO_FORMATS_VARIABLE: Final = "CHANNEL(videonativeformat)"
# Video codecs the PBX relays (asterisk-config/pjsip_video.conf); Asterisk names them so.
VIDEO_CODECS: Final = frozenset({"h264", "vp8", "vp9", "h263", "h263p", "h261", "mpeg4"})
_SPLIT = re.compile(r"[|,\s()]+")


class VariableReader(Protocol):
    async def get_variable(self, name: str) -> str | None: ...


def video_codecs(formats: str | None) -> tuple[str, ...]:
    """The video codecs in a channel's ``videonativeformat`` value, e.g. ``"(vp8|h264)"``."""
    if not formats:
        return ()
    names = (name.lower() for name in _SPLIT.split(formats) if name)
    return tuple(name for name in names if name in VIDEO_CODECS)


def menu_entry(dialed: str, codecs: tuple[str, ...]) -> str:
    """The menu entry a call starts at: ``video`` for any video call, else the dialed number."""
    return VIDEO_ENTRY if codecs else dialed


async def negotiated_video(call: VariableReader, uniqueid: str = "") -> tuple[str, ...]:
    """The video codecs of the caller's channel; () for a voice call or when unknown."""
    try:
        value = await call.get_variable(VIDEO_FORMATS_VARIABLE)
    except AgiError as exc:
        log.info("call %s: video formats unknown (%s); treated as voice", uniqueid, exc)
        return ()
    codecs = video_codecs(value)
    if codecs:
        log.info("call %s: video call (%s)", uniqueid, ",".join(codecs))
    return codecs
