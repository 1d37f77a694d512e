"""Chat and SMS threads in the simulated day: traffic, and the desk that hands them out.

The product routes text threads beside the voice core (``channels.routing``): a consultant has
3 units of attention, a call costs 3 and a thread 1 (``acd.capacity``), and while they hold a
thread the voice core sees them NOT_READY with reason ``text``. The simulator replays the same
rule so a day can be run with the text channels mixed in (scenario ``texts``).

Invariants:
- :func:`generate_texts` is deterministic for a (profile, seed) pair, draws from its own random
  generator (the voice traffic of the same seed is unchanged) and returns threads sorted by
  arrival, all within the text channels' hours.
- :class:`TextDesk` offers a waiting thread only to a consultant who speaks its language, has
  the service's skill, is READY or NOT_READY for text, and has room (``Capacity.fits``); the
  least loaded first, then the longest in their state, then the id. Waiting threads are served
  in arrival order. A chat whose citizen's patience runs out is abandoned; an SMS waits.
- The desk tells the voice core only what the product's link does: NOT_READY(text) when a READY
  consultant takes a first thread, READY when their last thread ends and they are still
  NOT_READY(text).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from acd.capacity import TEXT_REASON, Capacity, text_available
from acd.events import ConsultantNotReady, ConsultantReady, Event
from acd.model import Consultant, ConsultantState, Language
from acd.sim.traffic import SEED_CURVE, _lognormal, _minute_weights, _sample_times

TEXT_WITHIN_S = 60.0  # a thread answered within this counts for the text service level
CHANNELS = ("chat", "sms")


@dataclass(frozen=True, slots=True)
class TextProfile:
    """A day's chat and SMS threads (the seed gives no count: an assumption, stated)."""

    threads: int = 1_500
    chat_share: float = 0.7
    hours: tuple[float, float] = (9.0, 22.0)  # the seed's chat hours on weekdays
    # Share of threads per language other than Korean.
    foreign: tuple[tuple[Language, float], ...] = (
        (Language.EN, 0.03),
        (Language.ZH, 0.03),
        (Language.JA, 0.01),
        (Language.VI, 0.02),
        (Language.MN, 0.01),
    )
    handle_mean_s: float = 480.0  # a consultant's time on a thread, start to end
    handle_cv: float = 0.8
    chat_patience_mean_s: float = 300.0  # SMS citizens do not wait on a page: no abandonment

    def scaled(self, ratio: float) -> TextProfile:
        return TextProfile(
            max(0, round(self.threads * ratio)),
            self.chat_share,
            self.hours,
            self.foreign,
            self.handle_mean_s,
            self.handle_cv,
            self.chat_patience_mean_s,
        )


@dataclass(frozen=True, slots=True)
class TextThread:
    idx: int
    channel: str  # chat | sms
    arrival: float
    language: Language
    service: str
    handle_s: float
    patience_s: float | None  # None: waits as long as it takes (SMS)


@dataclass(slots=True)
class TextOutcome:
    answered_at: float | None = None
    abandoned_at: float | None = None
    consultant_id: str | None = None


def generate_texts(profile: TextProfile, seed: int) -> list[TextThread]:
    rng = random.Random(seed ^ 0x7E47)
    start, end = (int(h * 60) for h in profile.hours)
    weights = [w if start <= m < end else 0.0 for m, w in enumerate(_minute_weights(SEED_CURVE))]
    threads = []
    for idx, t in enumerate(_sample_times(rng, weights, profile.threads)):
        channel = "chat" if rng.random() < profile.chat_share else "sms"
        language = Language.KO
        x = rng.random()
        for candidate, share in profile.foreign:
            x -= share
            if x < 0:
                language = candidate
                break
        service = "general" if language is Language.KO else f"foreign_{language.value}"
        patience = (
            rng.expovariate(1.0 / profile.chat_patience_mean_s) if channel == "chat" else None
        )
        handle = max(30.0, _lognormal(rng, profile.handle_mean_s, profile.handle_cv))
        threads.append(TextThread(idx, channel, t, language, service, handle, patience))
    return threads


@dataclass(slots=True)
class _Seat:
    """What the desk knows of one consultant: who they are and the threads they hold."""

    consultant: Consultant
    holding: dict[str, int] = field(default_factory=dict)

    def held(self) -> int:
        return sum(self.holding.values())


class TextDesk:
    """The text side of a simulated day (see the module's invariants)."""

    def __init__(
        self,
        threads: list[TextThread],
        consultants: Iterable[Consultant],
        capacity: Capacity | None = None,
    ) -> None:
        self.threads = threads
        self.outcomes = [TextOutcome() for _ in threads]
        self.capacity = capacity or Capacity()
        self.seats = {c.id: _Seat(c) for c in consultants}
        self.waiting: list[int] = []  # thread indexes, in arrival order
        self.open = len(threads)

    def arrive(self, idx: int) -> None:
        self.waiting.append(idx)

    def abandon(self, idx: int, now: float) -> bool:
        """The chat's citizen leaves, if still waiting; True when they did."""
        if idx not in self.waiting:
            return False
        self.waiting.remove(idx)
        self.outcomes[idx].abandoned_at = now
        self.open -= 1
        return True

    def end(self, idx: int, state: ConsultantState, reason: str | None) -> Event | None:
        """The thread is over; READY for its consultant when it was their last text thread."""
        cid = self.outcomes[idx].consultant_id
        assert cid is not None
        seat = self.seats[cid]
        channel = self.threads[idx].channel
        seat.holding[channel] -= 1
        self.open -= 1
        if seat.held() == 0 and state is ConsultantState.NOT_READY and reason == TEXT_REASON:
            return ConsultantReady(cid)
        return None

    def holds(self, cid: str) -> bool:
        seat = self.seats.get(cid)
        return seat is not None and seat.held() > 0

    def assign(
        self, now: float, states: Mapping[str, tuple[ConsultantState, str | None, float]]
    ) -> list[tuple[int, str, Event | None]]:
        """Hand out waiting threads: (thread, consultant, the event for the voice core)."""
        given: list[tuple[int, str, Event | None]] = []
        for idx in list(self.waiting):
            thread = self.threads[idx]
            cid = self._choose(thread, states)
            if cid is None:
                continue
            self.waiting.remove(idx)
            outcome = self.outcomes[idx]
            outcome.answered_at, outcome.consultant_id = now, cid
            seat = self.seats[cid]
            first = seat.held() == 0
            seat.holding[thread.channel] = seat.holding.get(thread.channel, 0) + 1
            state, _reason, _since = states[cid]
            ready = first and state is ConsultantState.READY
            given.append((idx, cid, ConsultantNotReady(cid, TEXT_REASON) if ready else None))
            if ready:  # the caller feeds the core before the next thread is placed
                states = {**states, cid: (ConsultantState.NOT_READY, TEXT_REASON, now)}
        return given

    def _choose(
        self, thread: TextThread, states: Mapping[str, tuple[ConsultantState, str | None, float]]
    ) -> str | None:
        best: tuple[int, float, str] | None = None
        for cid, seat in self.seats.items():
            consultant = seat.consultant
            state, reason, since = states.get(cid, (ConsultantState.LOGGED_OUT, None, 0.0))
            if (
                thread.language not in consultant.languages
                or consultant.skills.get(thread.service, 0) <= 0
                or not text_available(state, reason)
                or not self.capacity.fits(seat.holding, thread.channel)
            ):
                continue
            key = (self.capacity.used(seat.holding), since, cid)
            if best is None or key < best:
                best = key
        return None if best is None else best[2]
