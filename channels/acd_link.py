"""The text channels' view of the voice ACD: who may take text, and keeping calls off them.

Invariants:
- Reads the ACD driver's state only to list candidates; changes it only through events
  (``ConsultantNotReady`` with ``acd.capacity.TEXT_REASON`` when a consultant takes their
  first text thread, ``ConsultantReady`` when the last one ends and they are still not ready
  for that reason), so the voice core stays the one authority on consultant states.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from acd.capacity import TEXT_REASON
from acd.driver import AcdDriver
from acd.errors import InvalidEvent
from acd.events import ConsultantNotReady, ConsultantReady
from acd.model import ConsultantState
from channels.routing import Candidate


class VoiceCore(Protocol):
    def candidates(self, holding: Mapping[str, Mapping[str, int]]) -> list[Candidate]: ...

    def text_busy(self, consultant_id: str, busy: bool) -> None: ...


class AcdLink:
    def __init__(self, driver: AcdDriver) -> None:
        self._driver = driver

    def candidates(self, holding: Mapping[str, Mapping[str, int]]) -> list[Candidate]:
        return [
            Candidate(
                agent.profile.id,
                frozenset(lang.value for lang in agent.profile.languages),
                agent.profile.skills,
                agent.state,
                agent.reason,
                agent.idle_since,
                holding.get(agent.profile.id, {}),
            )
            for agent in self._driver.state.agents.values()
        ]

    def text_busy(self, consultant_id: str, busy: bool) -> None:
        try:
            agent = self._driver.state.agent(consultant_id)
        except InvalidEvent:
            return
        if busy and agent.state is ConsultantState.READY:
            self._driver.feed(ConsultantNotReady(consultant_id, TEXT_REASON))
        elif not busy and agent.state is ConsultantState.NOT_READY and agent.reason == TEXT_REASON:
            self._driver.feed(ConsultantReady(consultant_id))
