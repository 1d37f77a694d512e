"""The call log: lifecycle, protected numbers, bad input, and `dasan calls --json`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rec_support import recorded_call
from sqlalchemy import text

from common.storage import Storage
from dasan.calls_cli import calls as calls_command
from dasan.config import Settings
from recordings.calllog import CallLog, CallLogError
from recordings.keys import NumberProtector
from recordings.system import Recordings

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


async def test_call_lifecycle(storage: Storage, protector: NumberProtector) -> None:
    log = CallLog(storage, protector)
    await log.call_started("call-1", "1764320400.1", "1764320400.1", "010-1234-5678", START)
    await log.call_routed("call-1", "en", "transport", '{"nodes": ["lang", "transport"]}')
    await log.consultant_joined("call-1", "c0042")
    await log.consultant_joined("call-1", "i0007", role="interpreter")
    await log.consultant_joined("call-1", "c0042")  # repeated event: no duplicate
    await log.call_ended("call-1", START + timedelta(seconds=95, milliseconds=250))
    call = await log.get("call-1")
    assert call is not None
    assert (call.language, call.service, call.consultant) == ("en", "transport", "c0042")
    assert [p.person_id for p in call.participants] == ["c0042", "i0007"]
    assert call.journey == {"nodes": ["lang", "transport"]}
    assert call.duration_ms == 95_250
    assert await log.caller_number("call-1") == "010-1234-5678"
    assert [c.id for c in await log.by_caller("01012345678")] == ["call-1"]


async def test_caller_number_is_never_stored_in_clear(
    storage: Storage, protector: NumberProtector
) -> None:
    log = CallLog(storage, protector)
    await log.call_started("call-1", "u1", None, "010-9876-5432", START)
    async with storage.session() as session:
        dump = repr((await session.execute(text("SELECT * FROM calls"))).all())
    assert "9876" not in dump
    assert "5432" not in dump


async def test_restarted_engine_may_announce_again(
    storage: Storage, protector: NumberProtector
) -> None:
    log = CallLog(storage, protector)
    await log.call_started("call-1", "u1", None, None, START)
    await log.call_started("call-1", "u1", None, None, START)
    with pytest.raises(CallLogError, match="already has uniqueid"):
        await log.call_started("call-1", "u2", None, None, START)
    with pytest.raises(CallLogError, match="another call"):
        await log.call_started("call-2", "u1", None, None, START)


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("call_routed", ("nope", "ko", "general"), "unknown call"),
        ("call_routed", ("call-1", "kor", "general"), "ISO 639-1"),
        ("call_routed", ("call-1", "ko", "general", "{not json"), "not valid JSON"),
        ("consultant_joined", ("call-1", "c0001", "janitor"), "role"),
        ("call_ended", ("call-1", datetime(2026, 11, 28, 10, 0)), "timezone-aware"),
    ],
)
async def test_bad_input_is_refused_and_stores_nothing(
    storage: Storage,
    protector: NumberProtector,
    method: str,
    args: tuple[object, ...],
    message: str,
) -> None:
    log = CallLog(storage, protector)
    await log.call_started("call-1", "u1", None, None, START)
    with pytest.raises(CallLogError, match=message):
        await getattr(log, method)(*args)
    call = await log.get("call-1")
    assert call is not None
    assert (call.language, call.ended_at, call.participants) == (None, None, ())


async def test_calls_cli_json(system: Recordings, settings: Settings) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    await recorded_call(system, "call-a", start, 1.0, language="ko", service="passport")
    await recorded_call(
        system, "call-b", start + timedelta(minutes=1), 1.0, language="vi", consultant=None
    )
    wav = (
        settings.recordings_dir
        / start.strftime("%Y/%m/%d")
        / f"{int(start.timestamp())}.call-a.wav"
    )
    await system.pipeline.process(wav)
    result = await asyncio.to_thread(
        CliRunner().invoke, calls_command, ["--json", "--last", "5"], obj={"settings": settings}
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == ["call-b", "call-a"]
    newest, oldest = rows
    assert newest["recording"] is None
    assert newest["consultant"] is None
    assert oldest["language"] == "ko"
    assert oldest["service"] == "passport"
    assert oldest["consultant"] == "c0001"
    assert oldest["journey"] == {"nodes": ["lang", "menu"]}
    assert datetime.fromisoformat(oldest["started_at"]) == start
    assert oldest["recording"]["state"] == "archived"
    assert oldest["recording"]["format"] == "opus"
    table = await asyncio.to_thread(
        CliRunner().invoke, calls_command, ["--last", "5"], obj={"settings": settings}
    )
    assert table.exit_code == 0
    assert "call-a" in table.output


def test_calls_cli_on_an_empty_install(tmp_path: Path, settings: Settings) -> None:
    result = CliRunner().invoke(calls_command, ["--json"], obj={"settings": settings})
    assert result.exit_code == 0
    assert json.loads(result.output) == []


async def test_progress_while_in_the_menu_then_routing(
    storage: Storage, protector: NumberProtector
) -> None:
    log = CallLog(storage, protector)
    await log.call_started("call-p", "1764320400.9", "1764320400.9", "010-1234-5678", START)
    await log.call_progress("call-p", journey_json={"entries": [{"node": "welcome"}]})
    call = await log.get("call-p")
    assert call is not None and (call.language, call.routed_at) == (None, None)
    await log.call_progress("call-p", "vi", journey_json={"entries": [{"node": "language"}]})
    call = await log.get("call-p")
    assert call is not None and call.language == "vi" and call.routed_at is None
    assert call.journey == {"entries": [{"node": "language"}]}
    with pytest.raises(CallLogError):
        await log.call_progress("call-p", "vietnamese")
    await log.call_routed("call-p", "vi", "foreign_vi", {"entries": []})
    call = await log.get("call-p")
    assert call is not None and call.service == "foreign_vi" and call.routed_at is not None


async def test_calls_carry_their_tenant_and_filter_by_it(
    storage: Storage, protector: NumberProtector, settings: Settings
) -> None:
    log = CallLog(storage, protector)
    start = datetime.now(UTC) - timedelta(minutes=10)
    await log.call_started("g1", "u-g1", None, None, start, tenant="gangnam")
    await log.call_started("m1", "u-m1", None, None, start + timedelta(seconds=1), tenant="mapo")
    await log.call_started("c1", "u-c1", None, None, start + timedelta(seconds=2))
    with pytest.raises(CallLogError, match="not a district id"):
        await log.call_started("x1", "u-x1", None, None, start, tenant="Gangnam Gu")
    assert [c.id for c in await log.last(10, tenant="gangnam")] == ["g1"]
    assert [c.id for c in await log.last(10, tenant="city")] == ["c1"]
    assert [c.id for c in await log.all(tenant="mapo")] == ["m1"]
    assert [(c.id, c.tenant) for c in await log.all()] == [
        ("g1", "gangnam"),
        ("m1", "mapo"),
        ("c1", None),
    ]
    result = await asyncio.to_thread(
        CliRunner().invoke,
        calls_command,
        ["--json", "--tenant", "gangnam"],
        obj={"settings": settings},
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["id"], r["tenant"]) for r in rows] == [("g1", "gangnam")]
    # The keys scripts rely on are all still there.
    assert {"id", "started_at", "language", "service", "consultant", "journey", "recording"} <= set(
        rows[0]
    )
    result = await asyncio.to_thread(
        CliRunner().invoke, calls_command, ["--json"], obj={"settings": settings}
    )
    assert [r["tenant"] for r in json.loads(result.output)] == ["city", "mapo", "gangnam"]
