"""Fixtures for care's unit tests: SQLite in a tmp dir, a key, a clock the test moves."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import care.models  # noqa: F401  (registers the care tables on Base)
from care.callbacks import CallbackList
from care.notify import CallbackNotifier, Outbox
from care.officials import set_official
from care.rules import CareRules, load_rules
from care.tickets import Tickets
from common.principal import Principal, Role
from common.storage import Storage
from recordings.keys import KeyRing, NumberProtector


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC))


@pytest.fixture
def rules() -> CareRules:
    return load_rules()


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'care.sqlite3'}")
    yield store
    await store.close()


@pytest.fixture
def protector() -> NumberProtector:
    return NumberProtector(KeyRing.generate())


@pytest.fixture
async def tickets(
    storage: Storage, rules: CareRules, protector: NumberProtector, clock: Clock
) -> Tickets:
    await set_official(storage, rules, "kim.gangnam", "gangnam.construction")
    await set_official(storage, rules, "lee.mapo", "mapo.construction")
    return Tickets(storage, rules, protector, clock)


@pytest.fixture
def callbacks(storage: Storage, protector: NumberProtector, clock: Clock) -> CallbackList:
    return CallbackList(storage, protector, clock, max_attempts=2, retry_s=300)


@pytest.fixture
def outbox(storage: Storage, tickets: Tickets, callbacks: CallbackList, clock: Clock) -> Outbox:
    return Outbox(storage, tickets, {"callback": CallbackNotifier(callbacks)}, clock)


CONSULTANT = Principal("c0001", Role.CONSULTANT)
SUPERVISOR = Principal("supervisor", Role.SUPERVISOR)
GANGNAM = Principal("kim.gangnam", Role.OFFICIAL)
MAPO = Principal("lee.mapo", Role.OFFICIAL)
