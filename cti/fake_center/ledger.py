"""Today's counters of the fake center: queue tallies, consultant work time, timeline samples.

Invariants: time in a state is credited when the consultant leaves it (plus the running
stretch when asked); a queue's service level is answered-within-target over answered plus
abandoned, None before its first answered or abandoned call; at most 240 samples are kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cti.control import CenterSample, ConsultantState, ConsultantStats, ConsultantView, QueueStats

_MAX_SAMPLES = 240


@dataclass(frozen=True, slots=True)
class QueueSpec:
    queue_id: str
    name: str
    language: str


@dataclass(slots=True)
class _Tally:
    answered: int = 0
    within_target: int = 0
    abandoned: int = 0


@dataclass(slots=True)
class _Work:
    answered: int = 0
    transferred: int = 0
    seconds: dict[ConsultantState, float] = field(default_factory=lambda: defaultdict(float))


class Ledger:
    def __init__(self, queue_ids: Sequence[str], consultant_ids: Sequence[str], target_s: int):
        self._tally = {qid: _Tally() for qid in queue_ids}
        self._work = {cid: _Work() for cid in consultant_ids}
        self._target_s = target_s
        self._samples: list[CenterSample] = []

    def left_state(self, old: ConsultantView, now: datetime) -> None:
        self._work[old.consultant_id].seconds[old.state] += (now - old.since).total_seconds()

    def answered(self, queue_id: str | None, consultant_id: str, waited_s: float) -> None:
        self._work[consultant_id].answered += 1
        if queue_id is not None:
            tally = self._tally[queue_id]
            tally.answered += 1
            tally.within_target += waited_s <= self._target_s

    def abandoned(self, queue_id: str) -> None:
        self._tally[queue_id].abandoned += 1

    def transferred(self, consultant_id: str) -> None:
        self._work[consultant_id].transferred += 1

    def queue_stats(self, spec: QueueSpec, waits: Sequence[float], now: datetime) -> QueueStats:
        tally = self._tally[spec.queue_id]
        offered = tally.answered + tally.abandoned
        return QueueStats(
            queue_id=spec.queue_id,
            name=spec.name,
            language=spec.language,
            waiting=len(waits),
            longest_wait_s=max(waits, default=0.0),
            service_level=tally.within_target / offered if offered else None,
            service_level_target_s=self._target_s,
            answered=tally.answered,
            abandoned=tally.abandoned,
            as_of=now,
        )

    def consultant_stats(self, view: ConsultantView, now: datetime) -> ConsultantStats:
        work = self._work[view.consultant_id]
        seconds = dict(work.seconds)
        seconds[view.state] = seconds.get(view.state, 0.0) + (now - view.since).total_seconds()
        talk = seconds.get(ConsultantState.TALKING, 0.0)
        wrap = seconds.get(ConsultantState.WRAP_UP, 0.0)
        return ConsultantStats(
            consultant_id=view.consultant_id,
            answered=work.answered,
            transferred=work.transferred,
            talk_s=talk,
            wrap_up_s=wrap,
            ready_s=seconds.get(ConsultantState.READY, 0.0),
            not_ready_s=seconds.get(ConsultantState.NOT_READY, 0.0),
            average_handle_s=(talk + wrap) / work.answered if work.answered else None,
        )

    def add_sample(self, sample: CenterSample) -> None:
        self._samples = [*self._samples[-(_MAX_SAMPLES - 1) :], sample]

    def samples_since(self, since: datetime) -> list[CenterSample]:
        return [s for s in self._samples if s.at >= since]
