"""The running campaign with a fake PBX (AMI and AGI) and a real database: calls placed at
their time under the trunk limit, outcomes told apart by the PBX's reason, escalation kept
in the timeline, notifications pending (never delivered by nobody), state rebuilt at start."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from acd.driver import AcdDriver
from acd.model import ConsultantState
from common.storage import Storage
from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent, Headers
from ivr.agi import AgiSession
from recordings.keys import KeyRing
from safety.call import CallDesk
from safety.protect import PersonalData
from safety.service import SafetyCampaign
from safety.settings import SafetySettings
from safety.store import SafetyStore

SEOUL = ZoneInfo("Asia/Seoul")
HEADER = (
    "name,number,district,language,hours,emergency_name,emergency_number,"
    "officer_name,officer_number\n"
)
ROWS = "".join(
    f"P{n},0107100{n:03d},jung,ko,10:00-14:00,E,010-2222-3333,O,02-2148-1234\n" for n in range(6)
)


class FakeSession:
    def __init__(self, uniqueid: str, variables: dict[str, str], digit: str | None) -> None:
        self.uniqueid = uniqueid
        self._vars = variables
        self._digit = digit
        self.played: list[str] = []

    async def get_variable(self, name: str) -> str | None:
        return self._vars.get(name)

    async def set_variable(self, name: str, value: str) -> None:
        self._vars[name] = value

    async def stream_file(self, file: str, *_: Any, **__: Any) -> tuple[None, int]:
        self.played.append(file.rsplit("/", 1)[-1])
        return None, 0

    async def get_data(self, file: str, *_: Any, **__: Any) -> str | None:
        self.played.append(file.rsplit("/", 1)[-1])
        return self._digit


class FakePbx:
    """AMI: Originate answers by the number's last digit (0 presses 1, 1 presses nothing,
    5 busy, others no answer; call-backs to a consultant are not answered); an answered call
    runs the campaign's FastAGI handler with a fake session."""

    def __init__(self) -> None:
        self.campaign: SafetyCampaign | None = None
        self.queues: list[asyncio.Queue[AmiEvent]] = []
        self.up = 0
        self.peak = 0
        self.originated: list[str] = []

    def subscribe(self, **_: Any) -> Any:
        queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self.queues.append(queue)
        pbx = self

        class Sub:
            def __aiter__(self) -> Sub:
                return self

            async def __anext__(self) -> AmiEvent:
                return await queue.get()

            def close(self) -> None:
                pbx.queues.remove(queue)

        return Sub()

    async def action(self, name: str, timeout: float | None = None, **headers: str) -> None:
        assert name == "Originate"
        self.originated.append(headers["Channel"])
        asyncio.get_running_loop().create_task(self._call(headers))

    async def _call(self, headers: dict[str, str]) -> None:
        self.up += 1
        self.peak = max(self.peak, self.up)
        number = headers["Channel"].split(":")[1].split("@")[0]
        attempt = headers["ChannelId"]
        await asyncio.sleep(0.05)
        last = number[-1]
        checkin = "DASAN_SAFETY_MODE=checkin" in headers["Variable"]
        if last in ("0", "1") and checkin:
            variables = dict(v.split("=", 1) for v in headers["Variable"].split(","))
            session = FakeSession(attempt, variables, "1" if last == "0" else None)
            self._emit(attempt, "Success", "4")
            assert self.campaign is not None
            await self.campaign.handle(cast(AgiSession, session))
            self._emit(attempt, "", "", name="Hangup")
        else:
            self._emit(attempt, "Failure", "5" if last == "5" else "3")
        self.up -= 1

    def _emit(
        self, attempt: str, response: str, reason: str, name: str = "OriginateResponse"
    ) -> None:
        event = AmiEvent(
            name,
            Headers([("Uniqueid", attempt), ("Response", response), ("Reason", reason)]),
        )
        for queue in self.queues:
            queue.put_nowait(event)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SafetyStore]:
    storage = await Storage.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    safety = SafetyStore(storage, PersonalData(KeyRing.generate()))
    report = await safety.import_csv(HEADER + ROWS, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert report.stored
    yield safety
    await storage.close()


def _campaign(store: SafetyStore, pbx: FakePbx, clock: Clock, ready: int) -> SafetyCampaign:
    agents = {f"c{n}": SimpleNamespace(state=ConsultantState.READY) for n in range(ready)}
    acd = SimpleNamespace(state=SimpleNamespace(agents=agents))

    async def nothing(*_: Any) -> None:
        return None

    async def proven(*_: Any) -> bool:
        return True

    desk = CallDesk(cast(AcdDriver, acd), "/p", nothing, proven, nothing)
    settings = SafetySettings(
        enabled=True,
        trunk_limit=2,
        keep_free=1,
        consultant_share=1.0,
        attempts_before_escalation=2,
        callback_attempts=1,
        retry_after_min=30,
    )
    campaign = SafetyCampaign(
        settings,
        store=store,
        ami=cast(AmiClient, pbx),
        desk=desk,
        notifier=_Recorder(),
        clock=clock,
        zone=SEOUL,
        is_holiday=lambda _d: False,
        dial="PJSIP/outside/sip:{number}@gw",
    )
    pbx.campaign = campaign
    return campaign


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    async def notify(self, request: Any) -> None:
        self.requests.append(request)


async def _settle(campaign: SafetyCampaign, rounds: int = 200) -> None:
    """Tick until no call is up or being recorded and nothing more is due now."""
    for _ in range(rounds):
        await campaign.tick()
        await asyncio.sleep(0.02)
        if not campaign._tasks:
            await campaign.tick()
            if not campaign._tasks:
                return
    raise AssertionError(f"the campaign did not settle: {campaign.status} {campaign._tasks}")


async def test_a_day_of_calls_paced_outcomes_and_escalation(store: SafetyStore) -> None:
    pbx = FakePbx()
    clock = Clock(dt.datetime(2026, 12, 6, 20, tzinfo=SEOUL))  # Sunday evening: nothing due
    campaign = _campaign(store, pbx, clock, ready=3)
    await campaign.tick()
    assert pbx.originated == []
    clock.at = dt.datetime(2026, 12, 7, 11, 50, tzinfo=SEOUL)  # Monday: all six due
    await _settle(campaign)
    assert len(pbx.originated) == 6
    assert pbx.peak <= 2  # trunk 2, and 3 ready consultants keeping 1 free
    attempts = {a.person_id: a for a in await store.attempts()}
    by_number = {p.number[-1]: p.id for p in await store.people()}
    assert attempts[by_number["0"]].outcome == "well"
    assert attempts[by_number["1"]].outcome == "answered-no-key"
    assert attempts[by_number["5"]].outcome == "busy"
    assert attempts[by_number["2"]].outcome == "no-answer"
    # No retry before its time; 30 minutes later the misses are retried, then escalated.
    clock.at += dt.timedelta(minutes=31)
    await _settle(campaign)
    await _settle(campaign)
    escalations = await store.escalations()
    assert {e.person_id for e in escalations} == {by_number[d] for d in "12345"}
    assert all(e.stage == "notified" for e in escalations)
    notes = await store.notifications()
    assert {n["state"] for n in notes} == {"pending"} and len(notes) == 10
    # A notifier that delivered one marks only that one; the others stay pending.
    notifier = cast(_Recorder, campaign._notifier)
    first = notifier.requests[0]
    assert set(first.notifications) == {"emergency_contact", "welfare_officer"}
    await first.delivered(first.notifications["welfare_officer"], "ticket")
    states = {(n["id"], n["state"], n["channel"]) for n in await store.notifications()}
    assert (first.notifications["welfare_officer"], "delivered", "ticket") in states
    assert sum(1 for _, state, _ in states if state == "pending") == 9
    timeline = await store.timeline(by_number["2"])
    kinds = [e["detail"].get("kind") for e in timeline if e["kind"] == "call-placed"]
    assert kinds == ["scheduled", "retry", "callback"]
    # A restarted engine rebuilds the same cases and places nothing new on its own.
    again = _campaign(store, FakePbx(), clock, ready=3)
    await again._restore()
    assert {p for p, t in again._escalation.tracks.items() if t.case is not None} == {
        by_number[d] for d in "12345"
    }


async def test_no_consultant_free_means_no_call(store: SafetyStore) -> None:
    pbx = FakePbx()
    clock = Clock(dt.datetime(2026, 12, 7, 11, 30, tzinfo=SEOUL))
    campaign = _campaign(store, pbx, clock, ready=1)  # the one ready consultant is kept free
    await campaign.tick()
    await asyncio.sleep(0.1)
    assert pbx.originated == []
    assert campaign.status.last_pacing == {"due": 6, "ready": 1, "live": 0}
