"""Which consultant gets a text conversation (pure; the ACD's capacity rule decides room).

Invariants:
- Language is a hard constraint; the consultant needs a skill in the conversation's service.
- Only consultants the voice core sees READY, or NOT_READY because of text threads, are
  offered text; a consultant ringing, talking or in wrap-up on a call gets none.
- ``acd.capacity.Capacity.fits`` must hold after the offer (at most 3 threads by default).
- Ties: the least loaded first, then the longest idle, then the id (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from acd.capacity import Capacity, text_available
from acd.model import ConsultantState


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    languages: frozenset[str]
    skills: Mapping[str, int]
    state: ConsultantState
    reason: str | None
    idle_since: float
    holding: Mapping[str, int]  # channel -> threads held now


def service_for(language: str, korean_service: str) -> str:
    return korean_service if language == "ko" else f"foreign_{language}"


def choose(
    candidates: Iterable[Candidate], channel: str, language: str, service: str, capacity: Capacity
) -> str | None:
    fit = [
        c
        for c in candidates
        if language in c.languages
        and c.skills.get(service, 0) > 0
        and text_available(c.state, c.reason)
        and capacity.fits(c.holding, channel)
    ]
    if not fit:
        return None
    best = min(fit, key=lambda c: (capacity.used(c.holding), c.idle_since, c.id))
    return best.id
