"""Wiring of live suggestions (agent assist): the speech pool, the knowledge search and the
CTI center's event hub, joined.

``start_assist`` returns the task that follows the center's call changes (which calls talk to
which consultant, in which language) into ``knowledge.assist.LiveAssist`` and pushes its
suggestions to the consultants' desktops as ``SuggestionsChanged`` (``/ws`` message
``suggestions``); None when speech is disabled or no assist language is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from cti.center import LiveCenter
from cti.control import (
    CallChanged,
    CallState,
    CallSummary,
    Resync,
    SuggestedCase,
    SuggestionsChanged,
)
from knowledge.assist import AssistCall, LiveAssist, Suggestions, find_recording, title_words
from knowledge.search import SearchHit
from knowledge.system import KnowledgeBase

if TYPE_CHECKING:
    from dasan.app import Engine

log = logging.getLogger("dasan.assist")


def start_assist(
    engine: Engine, center: LiveCenter, kb: KnowledgeBase
) -> asyncio.Task[None] | None:
    settings = engine.settings
    languages = frozenset(settings.knowledge.assist_languages)
    if engine.speech is None or not languages:
        return None

    async def search(text: str, language: str, limit: int) -> list[SearchHit]:
        return await kb.search.search(text, language=language, limit=limit)

    def publish(found: Suggestions) -> None:
        cases = tuple(SuggestedCase(h.id, h.title, round(h.score, 4)) for h in found.cases)
        now = datetime.now(UTC)
        center.publish_suggestions(
            SuggestionsChanged(found.call_id, found.consultant_id, found.heard, cases, now)
        )

    roots = (settings.recordings_dir, settings.recordings_spare_dir)
    assist = LiveAssist(
        transcriber=engine.speech,
        search=search,
        vocabulary=partial(title_words, kb.storage),
        locate=partial(find_recording, roots),
        publish=publish,
        languages=languages,
        limit=settings.knowledge.assist_cases,
    )
    return asyncio.get_running_loop().create_task(_follow(center, assist), name="assist")


def _assist_call(call: CallSummary) -> AssistCall:
    return AssistCall(
        call.call_id,
        call.consultant_id,
        call.language,
        talking=call.state is CallState.TALKING,
        ended=call.state is CallState.ENDED,
    )


async def _follow(center: LiveCenter, assist: LiveAssist) -> None:
    """Map the center's call changes to what assist needs, until cancelled."""
    runner = asyncio.create_task(assist.run())
    try:
        async with contextlib.aclosing(center.subscribe()) as events:
            async for event in events:
                if isinstance(event, CallChanged):
                    assist.observe(_assist_call(event.call))
                elif isinstance(event, Resync):
                    # Changes were lost (a call's end among them, maybe): match the live calls.
                    live = await center.live_calls()
                    assist.retain({c.call_id for c in live})
                    for call in live:
                        assist.observe(_assist_call(call))
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
