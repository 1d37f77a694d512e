"""The survey's FastAGI session: after the consultant hangs up, the citizen may rate the call.

The dialplan (``dialplans/survey.conf``) runs it on the citizen's channel once the engine has
served the call; the call log's id of a 120 call is its channel's uniqueid, so the answer is
stored with that call. Invariants: one key 1-5 within the timeout is stored, anything else
(no key, another key, a hang-up) stores nothing; the citizen is thanked only when an answer
was stored; no score is ever spoken back or shown to the consultant.
"""

from __future__ import annotations

import logging
from typing import Protocol

from care.errors import CareError
from care.survey import Survey

log = logging.getLogger("care.survey")
QUESTION = "survey_question"
THANKS = "survey_thanks"
_LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")


class SurveySession(Protocol):
    @property
    def uniqueid(self) -> str: ...

    async def get_variable(self, name: str) -> str | None: ...

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None: ...

    async def stream_file(self, file: str, escape_digits: str = "") -> tuple[str | None, int]: ...


class SurveyCall:
    def __init__(self, survey: Survey, prompts_dir: str, *, timeout_ms: int = 5000) -> None:
        self._survey = survey
        self._prompts = prompts_dir
        self._timeout_ms = timeout_ms

    async def handle(self, session: SurveySession) -> None:
        language = (await session.get_variable("CHANNEL(language)")) or "ko"
        if language not in _LANGUAGES:
            language = "ko"
        folder = f"{self._prompts}/{language}"
        key = await session.get_data(f"{folder}/{QUESTION}", self._timeout_ms, 1)
        if key is None or key not in "12345" or len(key) != 1:
            log.info("call %s: no survey answer", session.uniqueid)
            return
        try:
            await self._survey.answer(session.uniqueid, int(key), language)
        except CareError as exc:
            log.warning("call %s: survey answer not stored: %s", session.uniqueid, exc)
            return
        await session.stream_file(f"{folder}/{THANKS}")
