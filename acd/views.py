"""Read-only views of the core's state for the wallboard, the API and logs.

Invariant: pure functions of (state, now); they never mutate the state, so a driver may call
them between events at any rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from acd.model import ConsultantState, Language
from acd.state import AcdState


@dataclass(frozen=True, slots=True)
class QueueView:
    service: str
    language: Language
    waiting: int
    oldest_wait_s: float
    staffed: int  # logged in and routable (ready, ringing, talking, wrap-up), first stage
    ready: int  # of those, free right now


def queue_views(state: AcdState, now: float) -> list[QueueView]:
    """One row per (service, language) the catalog serves, in catalog order."""
    waiting: Counter[tuple[str, Language]] = Counter()
    oldest: dict[tuple[str, Language], float] = {}
    for (language, service, _priority), entries in state.queues.items():
        key = (service, language)
        waiting[key] += len(entries)
        oldest[key] = max(oldest.get(key, 0.0), now - entries[0][0])
    ready_agents = [a.profile for a in state.agents.values() if a.state is ConsultantState.READY]
    views = []
    for service_id, plan in state.plans.items():
        first = plan.stages[0]
        for language in sorted(plan.service.languages):
            ready = sum(
                1
                for c in ready_agents
                if language in c.languages and c.proficiency(first.skill) >= first.min_proficiency
            )
            views.append(
                QueueView(
                    service=service_id,
                    language=language,
                    waiting=waiting[(service_id, language)],
                    oldest_wait_s=round(oldest.get((service_id, language), 0.0), 1),
                    staffed=state.staff.staffed(language, first.skill, first.min_proficiency),
                    ready=ready,
                )
            )
    return views


def consultant_counts(state: AcdState) -> dict[ConsultantState, int]:
    """How many consultants are in each state (every state present, zero included)."""
    counts = Counter(a.state for a in state.agents.values())
    return {s: counts.get(s, 0) for s in ConsultantState}
