"""Access: roles, reasons, the tamper-evident access log, decrypted streams, HTTP handlers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from rec_support import recorded_call
from sqlalchemy import delete, update

from common.principal import Principal, Role
from recordings.access import (
    AccessDenied,
    ReasonRequired,
    RecordingGone,
    RecordingNotFound,
    RecordingUnavailable,
)
from recordings.accesslog import AccessAction, AccessOutcome, month_range
from recordings.audio import decoded_duration_ms
from recordings.cli import recordings as recordings_group
from recordings.models import AccessLogRow
from recordings.system import Recordings
from recordings.web import routes

PRINCIPAL = web.RequestKey("principal", Principal)
ADMIN = Principal("admin1", Role.ADMIN, "10.0.0.5")
SUPERVISOR = Principal("s0001", Role.SUPERVISOR, "10.0.0.6")
OWNER = Principal("c0001", Role.CONSULTANT, "10.0.0.7")
STRANGER = Principal("c0002", Role.CONSULTANT, "10.0.0.8")


@pytest.fixture
async def archived_call(system: Recordings, call_start: datetime) -> str:
    wav = await recorded_call(system, "call-1", call_start, 2.0, consultant="c0001")
    await system.pipeline.process(wav)
    return "call-1"


async def read(
    system: Recordings, who: Principal, call_id: str, reason: str = "citizen complaint 2026-118"
) -> bytes:
    stream = await system.access.open_audio(who, call_id, reason)
    return b"".join([chunk async for chunk in stream.chunks])


async def test_supervisor_listens_and_is_logged(system: Recordings, archived_call: str) -> None:
    audio = await read(system, SUPERVISOR, archived_call)
    assert audio[:4] == b"OggS"
    assert await asyncio.to_thread(decoded_duration_ms, audio, 8000) == 2000
    [entry] = await system.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert (entry.user_id, entry.role, entry.origin) == ("s0001", "supervisor", "10.0.0.6")
    assert (entry.action, entry.outcome, entry.call_id) == (
        AccessAction.LISTEN,
        AccessOutcome.GRANTED,
        "call-1",
    )
    assert entry.reason == "citizen complaint 2026-118"


async def test_consultant_may_listen_to_own_calls_only(
    system: Recordings, archived_call: str
) -> None:
    assert (await read(system, OWNER, archived_call))[:4] == b"OggS"
    with pytest.raises(AccessDenied):
        await read(system, STRANGER, archived_call)
    with pytest.raises(AccessDenied):
        await system.access.open_audio(OWNER, archived_call, "keep a copy", download=True)
    with pytest.raises(AccessDenied):
        await system.access.search(OWNER, "여권", "curious")
    entries = await system.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert [(e.user_id, e.outcome.value) for e in entries] == [
        ("c0001", "granted"),
        ("c0002", "denied"),
        ("c0001", "denied"),
        ("c0001", "denied"),
    ]


async def test_reason_is_required(system: Recordings, archived_call: str) -> None:
    with pytest.raises(ReasonRequired):
        await read(system, ADMIN, archived_call, reason="   ")
    [entry] = await system.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert entry.outcome is AccessOutcome.DENIED


async def test_unknown_and_purged_calls(system: Recordings, archived_call: str) -> None:
    with pytest.raises(RecordingNotFound):
        await read(system, ADMIN, "no-such-call")
    [rec] = await system.catalog.find(call_id=archived_call)
    await system.catalog.purged(rec.id, {"reason": "test"})
    with pytest.raises(RecordingGone):
        await read(system, ADMIN, archived_call)


async def test_altered_file_is_not_served(system: Recordings, archived_call: str) -> None:
    [rec] = await system.catalog.find(call_id=archived_call)
    stored = system.settings.recordings_dir / (rec.archive_rel_path or "")
    data = bytearray(stored.read_bytes())
    data[-5] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(RecordingUnavailable):
        await read(system, ADMIN, archived_call)
    [entry] = await system.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert entry.outcome is AccessOutcome.FAILED


async def test_access_log_tampering_is_detected(system: Recordings, archived_call: str) -> None:
    for _ in range(3):
        await read(system, ADMIN, archived_call)
    assert await system.access_log.verify() == []
    async with system.storage.write() as session:
        await session.execute(
            update(AccessLogRow)
            .where(AccessLogRow.seq == 2)
            .values(content=AccessLogRow.content + " ")
        )
    assert await system.access_log.verify() == []  # whitespace outside the JSON is not content
    async with system.storage.write() as session:
        row = await session.get(AccessLogRow, 2)
        assert row is not None
        row.content = row.content.replace("admin1", "nobody")
    assert [b.seq for b in await system.access_log.verify()] == [2]
    async with system.storage.write() as session:
        await session.execute(delete(AccessLogRow).where(AccessLogRow.seq == 1))
    assert {b.seq for b in await system.access_log.verify()} >= {2}
    report = await system.access.report(ADMIN, datetime.now(UTC).strftime("%Y-%m"))
    assert report.chain_breaks


def test_month_range() -> None:
    assert month_range("2026-12") == ("2026-12", "2027-01")
    assert month_range("2026-02") == ("2026-02", "2026-03")
    with pytest.raises(ValueError):
        month_range("2026-13")


async def test_access_report_cli(system: Recordings, archived_call: str) -> None:
    await read(system, SUPERVISOR, archived_call)
    month = datetime.now(UTC).strftime("%Y-%m")
    obj = {"settings": system.settings}
    result = await asyncio.to_thread(
        CliRunner().invoke, recordings_group, ["access-report", "--month", month, "--json"], obj=obj
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["chain_intact"] is True
    assert report["by_user"] == {"s0001": 1}
    table = await asyncio.to_thread(
        CliRunner().invoke, recordings_group, ["access-report", "--month", month], obj=obj
    )
    assert table.exit_code == 0
    assert "s0001" in table.output
    bad = await asyncio.to_thread(
        CliRunner().invoke, recordings_group, ["access-report", "--month", "26-1"], obj=obj
    )
    assert bad.exit_code != 0


async def test_export_cli_logs_a_download(
    system: Recordings, archived_call: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("export") / "call.opus"
    result = await asyncio.to_thread(
        CliRunner().invoke,
        recordings_group,
        ["export", archived_call, "--reason", "court order 12", "-o", str(out)],
        obj={"settings": system.settings},
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:4] == b"OggS"
    [entry] = await system.access_log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert (entry.action, entry.origin) == (AccessAction.DOWNLOAD, "cli")


# HTTP -------------------------------------------------------------------------------------
ClientFactory = Callable[[], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def client(system: Recordings) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    people = {p.user_id: p for p in (ADMIN, SUPERVISOR, OWNER, STRANGER)}

    @web.middleware
    async def fake_auth(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        user = request.headers.get("X-Test-User")
        if user in people:
            request[PRINCIPAL] = people[user]
        return await handler(request)

    app = web.Application(middlewares=[fake_auth])
    app.add_routes(routes(system.access, principal_key=PRINCIPAL))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_http_listen_streams_decrypted_audio(
    client: TestClient[web.Request, web.Application], archived_call: str
) -> None:
    response = await client.get(
        f"/api/recordings/calls/{archived_call}/audio",
        headers={"X-Test-User": "s0001", "X-Access-Reason": "quality review"},
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "audio/ogg"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert (await response.read())[:4] == b"OggS"


@pytest.mark.parametrize(
    "case",
    [
        (None, "calls/call-1/audio", "r", 401),
        ("s0001", "calls/call-1/audio", "", 400),
        ("c0002", "calls/call-1/audio", "r", 403),
        ("c0001", "calls/call-1/download", "r", 403),
        ("s0001", "calls/nope/audio", "r", 404),
        ("c0001", "search?q=x", "r", 403),
        ("admin1", "access-report?month=bad", "r", 400),
    ],
)
async def test_http_errors_are_mapped_once(
    client: TestClient[web.Request, web.Application],
    archived_call: str,
    case: tuple[str | None, str, str, int],
) -> None:
    user, path, reason, status = case
    headers = {"X-Access-Reason": reason} | ({"X-Test-User": user} if user else {})
    response = await client.get(f"/api/recordings/{path}", headers=headers)
    assert response.status == status
    if status != 401:
        assert "error" in await response.json()


async def test_http_download_search_and_report(
    client: TestClient[web.Request, web.Application], system: Recordings, archived_call: str
) -> None:
    download = await client.get(
        f"/api/recordings/calls/{archived_call}/download?reason=audit",
        headers={"X-Test-User": "admin1"},
    )
    assert download.status == 200
    assert download.headers["Content-Disposition"] == f'attachment; filename="{archived_call}.opus"'
    await download.read()
    await system.transcripts.transcribe_pending()
    search = await client.get(
        "/api/recordings/search?q=여권&reason=trend", headers={"X-Test-User": "s0001"}
    )
    assert search.status == 200
    body = await search.json()
    assert [h["call_id"] for h in body["hits"]] == [archived_call]
    month = (datetime.now(UTC) + timedelta(seconds=0)).strftime("%Y-%m")
    report = await client.get(
        f"/api/recordings/access-report?month={month}", headers={"X-Test-User": "admin1"}
    )
    assert report.status == 200
    assert (await report.json())["by_action"] == {"download": 1, "search": 1}


async def test_access_log_pruning_keeps_the_chain_provable(
    system: Recordings, archived_call: str
) -> None:
    log = system.access_log
    for _ in range(4):
        await read(system, ADMIN, archived_call)
    entries = await log.month(datetime.now(UTC).strftime("%Y-%m"))
    cut = datetime.fromisoformat(entries[2].at)  # entries 1 and 2 are older than this
    assert await log.prune(cut) == 2
    assert await log.verify() == []
    left = await log.month(datetime.now(UTC).strftime("%Y-%m"))
    assert [e.seq for e in left] == [3, 4]
    assert await log.prune(cut) == 0  # nothing older left
    # Deleting more of the oldest entries is not mistaken for pruning.
    async with system.storage.write() as session:
        await session.execute(delete(AccessLogRow).where(AccessLogRow.seq == 3))
    first = (await log.verify())[0]
    assert (first.seq, first.kind.value) == (4, "sequence-gap")
