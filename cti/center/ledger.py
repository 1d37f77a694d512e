"""Today's figures: per queue (answered, abandoned, within target) and per consultant (calls,
transfers, seconds in each state), plus the wallboard's last-hour samples. Pure.

Invariants:
- "Today" is the calendar day in the center's time zone; the first fact of a new day starts
  every tally from zero (samples are kept across days, bounded to ``max_samples``).
- Time in a state is counted when a consultant leaves it (``left_state``), plus the running
  stretch when figures are read, so the totals always add up to the time observed.
- Seeding from the call log (``seed``) happens once at start, before live facts arrive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo

from cti.control import (
    CenterSample,
    ConsultantState,
    ConsultantStats,
    ConsultantView,
    QueueStats,
)

Clock = Callable[[], datetime]


@dataclass(slots=True)
class QueueTally:
    answered: int = 0
    within_target: int = 0
    abandoned: int = 0

    @property
    def service_level(self) -> float | None:
        offered = self.answered + self.abandoned
        return self.within_target / offered if offered else None


@dataclass(slots=True)
class _Work:
    answered: int = 0
    transferred: int = 0
    seconds: dict[ConsultantState, float] = field(default_factory=lambda: defaultdict(float))


class Ledger:
    def __init__(
        self,
        clock: Clock,
        zone: tzinfo,
        targets_s: dict[str, float],
        max_samples: int = 240,
    ) -> None:
        self._clock = clock
        self._zone = zone
        self._targets = targets_s
        self._max_samples = max_samples
        self._day: date = clock().astimezone(zone).date()
        self._queues: dict[str, QueueTally] = defaultdict(QueueTally)
        self._work: dict[str, _Work] = defaultdict(_Work)
        self._samples: list[CenterSample] = []

    # --- facts ------------------------------------------------------------------------------
    def answered(self, queue_id: str | None, consultant_id: str, waited_s: float) -> None:
        self._roll()
        self._work[consultant_id].answered += 1
        if queue_id is not None:
            tally = self._queues[queue_id]
            tally.answered += 1
            tally.within_target += waited_s <= self._targets.get(queue_id, 20.0)

    def abandoned(self, queue_id: str | None) -> None:
        self._roll()
        if queue_id is not None:
            self._queues[queue_id].abandoned += 1

    def transferred(self, consultant_id: str) -> None:
        self._roll()
        self._work[consultant_id].transferred += 1

    def left_state(self, old: ConsultantView, now: datetime) -> None:
        self._roll()
        start = max(old.since, self._midnight())
        self._work[old.consultant_id].seconds[old.state] += max(0.0, (now - start).total_seconds())

    def seed(self, queue_id: str | None, consultant_id: str | None, waited_s: float | None) -> None:
        """One of today's earlier calls from the call log (answered when a consultant joined)."""
        if consultant_id is not None and waited_s is not None:
            self.answered(queue_id, consultant_id, waited_s)
        elif queue_id is not None:
            self.abandoned(queue_id)

    def add_sample(self, sample: CenterSample) -> None:
        self._samples = [*self._samples[-(self._max_samples - 1) :], sample]

    # --- figures ----------------------------------------------------------------------------
    def queue(self, queue_id: str) -> QueueTally:
        self._roll()
        return self._queues.get(queue_id) or QueueTally()

    def queue_stats(
        self, queue_id: str, name: str, language: str, waiting: int, longest_wait_s: float
    ) -> QueueStats:
        """Today's figures of a queue, with how many calls wait in it now and the longest wait."""
        tally = self.queue(queue_id)
        return QueueStats(
            queue_id=queue_id,
            name=name,
            language=language,
            waiting=waiting,
            longest_wait_s=longest_wait_s,
            service_level=tally.service_level,
            service_level_target_s=round(self._targets.get(queue_id, 20.0)),
            answered=tally.answered,
            abandoned=tally.abandoned,
            as_of=self._clock(),
        )

    def consultant(self, view: ConsultantView) -> ConsultantStats:
        self._roll()
        now = self._clock()
        work = self._work.get(view.consultant_id) or _Work()
        seconds = dict(work.seconds)
        start = max(view.since, self._midnight())
        running = max(0.0, (now - start).total_seconds())
        seconds[view.state] = seconds.get(view.state, 0.0) + running
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

    def samples_since(self, since: datetime) -> Sequence[CenterSample]:
        return [s for s in self._samples if s.at >= since]

    # --- internals --------------------------------------------------------------------------
    def _midnight(self) -> datetime:
        local = self._clock().astimezone(self._zone)
        return local.replace(hour=0, minute=0, second=0, microsecond=0)

    def _roll(self) -> None:
        today = self._clock().astimezone(self._zone).date()
        if today != self._day:
            self._day = today
            self._queues.clear()
            self._work.clear()
