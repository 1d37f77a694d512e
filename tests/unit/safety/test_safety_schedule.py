"""Schedules (2-3 calls a week in preferred hours, spread, holidays skipped) and pacing
(trunk limit and free consultants), with an injected clock."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections import Counter
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from ivr.closed_days import HolidayCalendar
from safety.pacing import Capacity, DueCall, choose, room
from safety.schedule import Enrollee, calling_days, next_in_window, plan_week, week_of

ZONE = ZoneInfo("Asia/Seoul")
WEEKDAYS = (0, 1, 2, 3, 4)
MONDAY = dt.date(2026, 12, 7)


def _people(count: int, seed: int = 1) -> list[Enrollee]:
    rng = random.Random(seed)
    people = []
    for n in range(count):
        start = rng.choice([9, 10, 13, 14, 16])
        people.append(Enrollee(f"p{n:04d}", dt.time(start), dt.time(start + 2), rng.choice([2, 3])))
    return people


def test_each_person_gets_their_calls_in_their_hours_on_spread_days() -> None:
    people = _people(200)
    plan = plan_week(people, MONDAY, ZONE, WEEKDAYS, lambda _d: False)
    by_person: dict[str, list[dt.datetime]] = {}
    for call in plan:
        by_person.setdefault(call.person_id, []).append(call.at.astimezone(ZONE))
    for person in people:
        times = sorted(by_person[person.id])
        assert len(times) == person.calls_per_week
        days = [t.date() for t in times]
        assert len(set(days)) == len(days)
        assert all(b - a >= dt.timedelta(days=2) for a, b in itertools.pairwise(days))
        for t in times:
            assert person.window_start <= t.time() and t.time() < person.window_end
            assert t.weekday() in WEEKDAYS


def test_load_is_spread_over_days_and_slots() -> None:
    people = _people(500)
    plan = plan_week(people, MONDAY, ZONE, WEEKDAYS, lambda _d: False)
    per_day = Counter(c.at.astimezone(ZONE).date() for c in plan)
    assert len(per_day) == 5
    assert max(per_day.values()) - min(per_day.values()) <= 0.35 * max(per_day.values())
    per_slot = Counter(c.at for c in plan)
    # 500 people, ~1250 calls over 5 windows of 8 slots on 5 days: never a pile-up in one slot.
    assert max(per_slot.values()) <= 2 * (len(plan) / len(per_slot)) + 1


def test_holidays_are_skipped() -> None:
    # 2026-09-24..26 is Chuseok (Thursday-Saturday): that week has 3 weekday calling days.
    calendar = HolidayCalendar()
    week = dt.date(2026, 9, 21)
    days = calling_days(week, WEEKDAYS, calendar.__contains__)
    assert dt.date(2026, 9, 24) not in days and dt.date(2026, 9, 25) not in days
    plan = plan_week(_people(50), week, ZONE, WEEKDAYS, calendar.__contains__)
    assert not {c.at.astimezone(ZONE).date() for c in plan} & {
        dt.date(2026, 9, 24),
        dt.date(2026, 9, 25),
    }


def test_a_retry_waits_for_the_next_window() -> None:
    person = Enrollee("p1", dt.time(10), dt.time(12))
    friday_evening = dt.datetime(2026, 12, 11, 18, tzinfo=ZONE)
    at, until = next_in_window(friday_evening, person, ZONE, WEEKDAYS, lambda _d: False)
    assert at.astimezone(ZONE) == dt.datetime(2026, 12, 14, 10, tzinfo=ZONE)
    assert until.astimezone(ZONE) == dt.datetime(2026, 12, 14, 12, tzinfo=ZONE)
    inside = dt.datetime(2026, 12, 14, 11, tzinfo=ZONE)
    assert next_in_window(inside, person, ZONE, WEEKDAYS, lambda _d: False)[0] == inside
    assert week_of(inside, ZONE) == MONDAY + dt.timedelta(days=7)


CAP = Capacity(trunk_limit=10, keep_free=1, consultant_share=0.5)


@given(
    in_progress=st.integers(0, 30),
    ready=st.integers(0, 60),
    due=st.integers(0, 40),
    limit=st.integers(1, 20),
    keep=st.integers(0, 5),
    share=st.floats(0.05, 1.0),
)
def test_pacing_never_exceeds_the_trunk_or_the_free_consultants(
    *, in_progress: int, ready: int, due: int, limit: int, keep: int, share: float
) -> None:
    capacity = Capacity(limit, keep, share)
    now = dt.datetime(2026, 12, 7, 1, tzinfo=dt.UTC)
    calls = [DueCall(f"p{n}", now) for n in range(due)]
    chosen = choose(
        calls, now, in_progress=in_progress, ready_consultants=ready,
        busy_people=frozenset(), capacity=capacity,
    )  # fmt: skip
    after = in_progress + len(chosen)
    if chosen:
        assert after <= limit
        assert ready - after >= keep
        assert after <= ready * share
    assert len(chosen) == min(due, room(in_progress, ready, capacity))


def test_callbacks_go_first_and_one_call_per_person() -> None:
    now = dt.datetime(2026, 12, 7, 1, tzinfo=dt.UTC)
    due = [
        DueCall("a", now - dt.timedelta(hours=1)),
        DueCall("b", now, kind="callback"),
        DueCall("a", now, kind="retry"),
        DueCall("c", now + dt.timedelta(minutes=1)),
    ]
    chosen = choose(
        due, now, in_progress=0, ready_consultants=20, busy_people=frozenset({"x"}), capacity=CAP
    )
    assert [(c.person_id, c.kind) for c in chosen] == [("b", "callback"), ("a", "scheduled")]
    busy = choose(
        due, now, in_progress=0, ready_consultants=20, busy_people=frozenset({"b"}), capacity=CAP
    )
    assert [c.person_id for c in busy] == ["a"]
    late = [DueCall("d", now - dt.timedelta(hours=2), until=now)]
    none = choose(
        late, now, in_progress=0, ready_consultants=9, busy_people=frozenset(), capacity=CAP
    )
    assert none == []  # never outside the person's hours


def test_a_campaign_of_500_never_floods_the_trunk_or_the_desk() -> None:
    """Monday of a 500-person campaign, second by second with an injected clock: calls last
    20-90 s, a fifth of the people press 2 and keep a consultant 2 minutes, inbound 120
    callers take and free consultants at random. Every placement is checked."""
    rng = random.Random(7)
    plan = plan_week(_people(500, seed=3), MONDAY, ZONE, WEEKDAYS, lambda _d: False)
    monday = [c for c in plan if c.at.astimezone(ZONE).date() == MONDAY]
    capacity = Capacity(trunk_limit=8, keep_free=2, consultant_share=0.5)
    staff = 20
    inbound_busy = 0
    live: list[tuple[dt.datetime, str]] = []  # (ends, person)
    consultants_on_safety: list[dt.datetime] = []
    pending = [DueCall(c.person_id, c.at) for c in monday]
    placed = 0
    peak = 0
    now = dt.datetime.combine(MONDAY, dt.time(9), ZONE).astimezone(dt.UTC)
    end = now + dt.timedelta(hours=10)
    while now < end and (pending or live):
        live = [(t, p) for t, p in live if t > now]
        consultants_on_safety = [t for t in consultants_on_safety if t > now]
        inbound_busy = max(
            0, min(staff - len(consultants_on_safety), inbound_busy + rng.choice([-1, 0, 0, 1]))
        )
        ready = staff - inbound_busy - len(consultants_on_safety)
        chosen = choose(
            pending, now, in_progress=len(live), ready_consultants=ready,
            busy_people=frozenset(p for _, p in live), capacity=capacity,
        )  # fmt: skip
        for call in chosen:
            pending.remove(call)
            placed += 1
            assert len(live) + 1 <= capacity.trunk_limit
            # a consultant is free for this call and every other one in progress
            assert ready - (len(live) + 1) >= capacity.keep_free
            length = dt.timedelta(seconds=rng.randint(20, 90))
            live.append((now + length, call.person_id))
            if rng.random() < 0.2:
                consultants_on_safety.append(now + length + dt.timedelta(minutes=2))
        peak = max(peak, len(live))
        now += dt.timedelta(seconds=1)
    assert placed == len(monday) and not pending
    assert 0 < peak <= capacity.trunk_limit


def test_the_simulator_day_with_a_campaign_serves_every_safety_call() -> None:
    from acd.settings import AcdSettings
    from safety.simday import CampaignLoad, compare_day

    data = compare_day(AcdSettings(), CampaignLoad(people=300, inbound_calls=3000))
    assert data["safety_consultant_calls"] == data["safety_answered"] > 0
    without, with_campaign = data["without_campaign"], data["with_campaign"]
    assert isinstance(without, dict) and isinstance(with_campaign, dict)
    assert without["inbound_offered"] == with_campaign["inbound_offered"] == 3000
