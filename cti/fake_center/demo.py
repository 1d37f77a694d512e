"""A deterministic demo population for the fake center, and synthetic traffic to animate it.

For page development and the unit tier only. Same seed, same clock -> same story.
Invariants: every consultant speaks Korean; every queue's language is spoken by someone;
consultants in ``manual`` have their ringing calls answered (as a softphone would) but are
never hung up on, wrapped up or set ready by the traffic: a person drives them from the desktop.
"""

from __future__ import annotations

import random
from datetime import timedelta

from common.principal import Principal, Role
from cti.control import (
    CallState,
    CenterSample,
    ConsultantState,
    IvrStep,
    NotReadyReason,
)
from cti.fake_center.center import FakeCenter
from cti.fake_center.state import Clock, QueueSpec

_SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
_GIVEN = "민서지현우준도윤하은수영예진성호태희나연"
_FOREIGN = ("en", "zh", "ja", "vi", "mn")
# Per traffic step: a talking citizen ends the call, a waiting one gives up.
_HANG_UP_CHANCE = {CallState.TALKING: 0.08, CallState.WAITING: 0.01}
_MENU = {"1": "transport", "2": "documents", "3": "welfare", "4": "taxes", "0": "general"}


def demo_roster(count: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """``c0001``.. with Korean names; about one in four also speaks a foreign language."""
    roster = []
    for n in range(1, count + 1):
        name = _SURNAMES[n % len(_SURNAMES)] + _GIVEN[n % 17] + _GIVEN[(n * 7) % len(_GIVEN)]
        extra = (_FOREIGN[(n // 4) % len(_FOREIGN)],) if n % 4 == 1 else ()
        roster.append((f"c{n:04d}", name, ("ko", *extra)))
    return roster


def demo_queues() -> list[QueueSpec]:
    return [
        QueueSpec("general", "일반 상담 · General", "ko"),
        QueueSpec("transport", "교통 · Transport", "ko"),
        QueueSpec("documents", "민원서류 · Documents", "ko"),
        QueueSpec("welfare", "복지 · Welfare", "ko"),
        QueueSpec("taxes", "세금 · Taxes", "ko"),
        *(QueueSpec(f"foreign-{lang}", f"외국어 · {lang}", lang) for lang in _FOREIGN),
        QueueSpec("sign", "수어 · Sign language", "ko"),
        QueueSpec("care129", "129 보건복지 · Care", "ko"),
    ]


def demo_center(clock: Clock, count: int = 471) -> FakeCenter:
    interpreters = {"en": 2, "zh": 2, "ja": 1, "vi": 2, "mn": 1, "sign": 1}
    return FakeCenter(clock, demo_roster(count), demo_queues(), interpreters)


class DemoTraffic:
    """Moves the fake center one small step at a time, like a quiet afternoon at 120."""

    def __init__(self, center: FakeCenter, clock: Clock, seed: int, manual: frozenset[str]):
        self._center = center
        self._clock = clock
        self._rng = random.Random(seed)
        self._manual = manual
        self._by = Principal("demo-traffic", Role.ADMIN, "preview")
        self._numbers = [f"010-{self._rng.randrange(10**4):04d}-{n:04d}" for n in range(40)]
        self._last_sample = clock() - timedelta(minutes=1)

    async def staff(self) -> None:
        """Log everyone but the manual consultants in and make them ready; seed an hour."""
        for view in await self._center.consultants():
            if view.consultant_id not in self._manual:
                await self._center.log_in(self._by, view.consultant_id)
                await self._center.set_ready(self._by, view.consultant_id)
        now = self._clock()
        staff = len(await self._center.consultants())
        for minute in range(60, 0, -1):
            wave = (6 + 5 * abs((minute % 20) - 10) / 10) * staff / 471
            talking = int(staff * 0.12 + 2 * wave)
            ready = max(0, int(staff * 0.78 - 2 * wave))
            at = now - timedelta(minutes=minute)
            sample = CenterSample(at, int(wave), talking, ready, staff - talking - ready)
            self._center.add_sample(sample)

    async def step(self) -> None:
        rng = self._rng
        if rng.random() < 0.6:
            self._arrive()
        await self._route()
        for call in await self._center.live_calls():
            if call.state is CallState.RINGING and rng.random() < 0.5:
                self._center.answer(call.call_id)  # the softphone answers, also for a person
            elif call.consultant_id in self._manual:
                continue
            elif rng.random() < _HANG_UP_CHANCE.get(call.state, 0.0):
                self._center.citizen_hangs_up(call.call_id)
        await self._settle()
        if self._clock() - self._last_sample >= timedelta(minutes=1):
            self._last_sample = self._clock()
            self._center.sample()

    def _arrive(self) -> None:
        rng = self._rng
        language = "ko" if rng.random() < 0.85 else rng.choice(_FOREIGN)
        digit = rng.choice(sorted(_MENU))
        queue = _MENU[digit] if language == "ko" else f"foreign-{language}"
        now = self._clock()
        journey = (
            IvrStep(now - timedelta(seconds=40), "language", f"language: {language}", "1"),
            IvrStep(now - timedelta(seconds=25), "menu", f"service: {queue}", digit),
        )
        self._center.arrive(rng.choice(self._numbers), language, queue, journey)

    async def _route(self) -> None:
        ready = [
            v
            for v in await self._center.consultants()
            if v.state is ConsultantState.READY
            and (v.consultant_id not in self._manual or self._rng.random() < 0.3)
        ]
        for waiting in await self._center.waiting_calls():
            match = next((v for v in ready if waiting.language in v.languages), None)
            if match is not None:
                ready.remove(match)
                self._center.offer(waiting.call_id, match.consultant_id)

    async def _settle(self) -> None:
        rng = self._rng
        for view in await self._center.consultants():
            if view.consultant_id in self._manual:
                continue
            if view.state is ConsultantState.WRAP_UP and rng.random() < 0.2:
                await self._center.finish_wrap_up(self._by, view.consultant_id)
            elif view.state is ConsultantState.READY and rng.random() < 0.002:
                reason = rng.choice([NotReadyReason.BREAK, NotReadyReason.MEETING])
                await self._center.set_not_ready(self._by, view.consultant_id, reason)
            elif view.state is ConsultantState.NOT_READY and rng.random() < 0.02:
                await self._center.set_ready(self._by, view.consultant_id)
