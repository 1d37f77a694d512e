"""Builds the knowledge area for the running engine from parts the composition root owns.

``open_for_engine`` takes the engine's storage, master key, call log and access log (never
Dasan's settings object) and returns the web handlers plus, when ``require_note`` is on, the
wrap-up gate for the CTI center.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.storage import Storage
from knowledge.analyze import Analyzer
from knowledge.history import CitizenHistory
from knowledge.notes import CallNotes, WrapUpNoteGate, shipped_dispositions
from knowledge.settings import KnowledgeSettings
from knowledge.system import KnowledgeBase
from knowledge.web import KnowledgeWeb, PrincipalKey, build_web
from recordings.accesslog import AccessLog
from recordings.calllog import CallLog
from recordings.keys import KeyRing


@dataclass
class EngineKnowledge:
    kb: KnowledgeBase
    notes: CallNotes
    web: KnowledgeWeb
    gate: WrapUpNoteGate | None


async def open_for_engine(
    settings: KnowledgeSettings,
    *,
    storage: Storage,
    ring: KeyRing,
    calls: CallLog,
    access_log: AccessLog,
    principal_key: PrincipalKey,
    analyzer: Analyzer | None = None,
) -> EngineKnowledge:
    kb = await KnowledgeBase.open(settings, storage=storage, analyzer=analyzer)
    codes = settings.dispositions or shipped_dispositions()
    notes = CallNotes(storage, ring, codes, max_chars=settings.note_max_chars)
    history = CitizenHistory(calls, notes, access_log)
    web = build_web(kb, calls, notes, history, principal_key)
    gate = WrapUpNoteGate(storage, notes) if settings.require_note else None
    return EngineKnowledge(kb, notes, web, gate)
