"""Fixtures for the CTI web edge: a manual clock, the fake center, cheap scrypt, a test client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common.principal import Role
from cti.auth import Authenticator, DemoUserStore, MemoryUserStore, ScryptParams, User, make_user
from cti.fake_center import FakeCenter, QueueSpec
from cti.web import create_app

CHEAP = ScryptParams(n=16, r=1, p=1)
DEMO_SECRET = "test-demo-secret"
CONSULTANTS = ("c0001", "c0002", "c0003", "c0004")


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
        self.unix = 1_800_000_000.0

    def __call__(self) -> datetime:
        return self.now

    def time(self) -> float:
        return self.unix

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.unix += seconds


def new_center(clock: ManualClock) -> FakeCenter:
    roster = [
        (cid, f"상담사 {cid}", ("ko", "vi") if cid == "c0001" else ("ko",)) for cid in CONSULTANTS
    ]
    queues = [
        QueueSpec("general", "일반 상담 · General", "ko"),
        QueueSpec("foreign-vi", "외국어 · vi", "vi"),
    ]
    return FakeCenter(clock, roster, queues, {"vi": 1, "en": 1})


def new_auth(clock: ManualClock) -> Authenticator:
    store = DemoUserStore(MemoryUserStore(), DEMO_SECRET, CONSULTANTS, CHEAP)
    return Authenticator(store, clock.time, session_ttl_s=3600, params=CHEAP)


@dataclass
class Edge:
    client: TestClient[web.Request, web.Application]
    center: FakeCenter
    auth: Authenticator
    clock: ManualClock

    def headers(self, user_id: str) -> dict[str, str]:
        user = self.auth.store.get(user_id)
        assert user is not None
        return {"Authorization": f"Bearer {self.auth.open_session(user).token}"}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def edge(clock: ManualClock) -> AsyncIterator[Edge]:
    center = new_center(clock)
    auth = new_auth(clock)
    app = create_app(center, auth)
    async with TestClient(TestServer(app)) as client:
        yield Edge(client, center, auth, clock)


def stored_user(user_id: str, role: Role, password: str) -> User:
    return make_user(user_id, role, password, CHEAP)
