"""Call-back list: import from requests.jsonl, attempts, retries, give-ups; the outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from care.callbacks import CallbackList, next_step
from care.errors import WrongState
from care.messages import LANGUAGES, kinds, message
from care.notify import Outbox
from care.settings import CareSettings
from care.system import Care
from care.tickets import NewTicket, Tickets
from common.storage import Storage
from recordings.keys import NumberProtector

from .conftest import CONSULTANT, GANGNAM, SUPERVISOR, Clock


def _requests(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    lines = [
        {
            "call_id": "1700000000.1",
            "kind": "callback",
            "number": "0212345678",
            "language": "en",
            "requested_at": "2026-12-01T13:00:00+00:00",
            "reason": "after-hours",
        },
        {
            "call_id": "1700000000.2",
            "kind": "callback",
            "number": "0298765432",
            "language": "",
            "requested_at": "2026-12-01T13:05:00+00:00",
            "reason": "engine-stopped",
        },
    ]
    text = "".join(json.dumps(x) + "\n" for x in lines) + '{"cut by a kill\n'
    path.write_text(text, encoding="utf-8")
    return path


async def test_requests_jsonl_becomes_a_list_once(callbacks: CallbackList, tmp_path: Path) -> None:
    path = _requests(tmp_path)
    assert await callbacks.import_jsonl(path) == (2, 1)
    assert await callbacks.import_jsonl(path) == (2, 1)
    listed = await callbacks.entries()
    assert [(v.reason, v.language, v.state, v.number_tail) for v in listed] == [
        ("after-hours", "en", "waiting", "…78"),
        ("engine-stopped", "ko", "waiting", "…32"),
    ]
    assert await callbacks.number(listed[0].id) == "0212345678"


async def test_retried_then_given_up_with_every_attempt(
    callbacks: CallbackList, tmp_path: Path, clock: Clock
) -> None:
    await callbacks.import_jsonl(_requests(tmp_path))
    first = (await callbacks.due())[0]
    await callbacks.attempt_started(first.id)
    with pytest.raises(WrongState):
        await callbacks.attempt_started(first.id)
    after = await callbacks.attempt_ended(
        first.id, answered=False, outcome="no answer", dialed_call_id="x1"
    )
    assert after.state == "waiting" and after.attempts == 1
    assert first.id not in [v.id for v in await callbacks.due()]  # retry in 300 s
    clock.advance(seconds=300)
    assert first.id in [v.id for v in await callbacks.due()]
    await callbacks.attempt_started(first.id)
    gone = await callbacks.attempt_ended(
        first.id, answered=False, outcome="busy", dialed_call_id="x2"
    )
    assert gone.state == "given_up"
    assert [a.outcome for a in gone.history] == ["no answer", "busy"]


async def test_answered_links_the_call(callbacks: CallbackList, tmp_path: Path) -> None:
    await callbacks.import_jsonl(_requests(tmp_path))
    first = (await callbacks.due())[0]
    await callbacks.attempt_started(first.id)
    done = await callbacks.attempt_ended(
        first.id, answered=True, outcome="answered", dialed_call_id="cb-call-7"
    )
    assert (done.state, done.answered_call_id, done.call_id) == (
        "answered",
        "cb-call-7",
        "1700000000.1",
    )


async def test_a_stopped_engine_leaves_no_request_dialing(
    callbacks: CallbackList, tmp_path: Path
) -> None:
    await callbacks.import_jsonl(_requests(tmp_path))
    first = (await callbacks.due())[0]
    await callbacks.attempt_started(first.id)
    assert await callbacks.recover_dialing() == 1
    assert (await callbacks.get(first.id)).state == "waiting"


def test_next_step_is_pure(clock: Clock) -> None:
    now = clock()
    assert next_step(1, True, now, max_attempts=3, retry_s=60).state == "answered"
    assert next_step(3, False, now, max_attempts=3, retry_s=60).state == "given_up"
    assert next_step(1, False, now, max_attempts=3, retry_s=60).next_attempt_at is not None


def test_every_message_in_every_language() -> None:
    for kind in kinds():
        for language in LANGUAGES:
            assert "T1" in message(kind, language, "T1", "x")


async def test_updates_become_call_back_requests_never_claimed_sent(
    tickets: Tickets, outbox: Outbox, callbacks: CallbackList
) -> None:
    new = NewTicket(
        category="road",
        district="gangnam",
        address="a",
        description="b",
        consent=True,
        language="vi",
        channel="sms",  # no SMS gateway registered: carried by a call-back, and said so
        number="01011112222",
    )
    view = await tickets.create(new, CONSULTANT)
    await tickets.accept(view.id, GANGNAM)
    await tickets.resolve(view.id, GANGNAM, "đã sửa")
    assert await outbox.dispatch() == 2
    assert await outbox.dispatch() == 0
    states = [(n["kind"], n["state"]) for n in await outbox.notifications(view.id)]
    assert states == [("accepted", "callback-requested"), ("resolved", "callback-requested")]
    assert all("sms unavailable" in str(n["detail"]) for n in await outbox.notifications(view.id))
    requested = await callbacks.entries()
    assert [(c.ticket_id, c.kind, c.language) for c in requested] == [
        (view.id, "ticket-update", "vi"),
        (view.id, "ticket-update", "vi"),
    ]
    timeline = await tickets.timeline(view.id, SUPERVISOR)
    assert [e.kind for e in timeline].count("notification") == 2


async def test_given_up_requests_raise_an_alarm_once(
    storage: Storage, protector: NumberProtector, clock: Clock, tmp_path: Path
) -> None:
    told: list[str] = []
    care = Care.open(
        CareSettings(callback_max_attempts=1), storage, protector, tmp_path / "r", clock
    )
    care.on_given_up = told.append
    await care.tick()
    callback_id = await care.callbacks.add(
        source_key="x", number="0212345678", language="ko", reason="after-hours"
    )
    await care.callbacks.attempt_started(callback_id)
    await care.callbacks.attempt_ended(
        callback_id, answered=False, outcome="busy", dialed_call_id=None
    )
    await care.tick()
    await care.tick()
    assert len(told) == 1 and "1 call-back request(s) given up" in told[0]
