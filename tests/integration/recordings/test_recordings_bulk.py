"""Recordings (issue 5): 200 SIPp calls through the real PBX and engine yield 200 recordings
that pass the audit; deleting or altering a file, or editing a catalog row, is caught."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from common.storage import Storage
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from recordings.audit import AuditReport, audit
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, eventually

CALLS = 200


async def _audit(env: ItEnv, since: dt.datetime) -> AuditReport:
    return await asyncio.to_thread(audit, env.settings, since=since)


@pytest.mark.timeout(600)
async def test_200_calls_200_recordings_audit_clean_and_tampering_caught(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    since = dt.datetime.now(dt.UTC)
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    result = await run_citizens(
        CitizenCalls(
            calls=CALLS,
            rate=2.5,
            limit=120,
            caller="0105",
            digits=(Dtmf("1", 1500), Dtmf("1", 500)),
            hangup_after_ms=120_000,
        ),
        sipp_dir / "uac",
        timeout_s=400,
    )
    assert result.ok and result.successful == CALLS, result.errors
    answered = {e.uniqueid for e in recorder.where("DialEnd", DialStatus="ANSWER")}
    assert len(answered) == CALLS

    report = await eventually(
        lambda: _audit(it_env, since),
        lambda r: r.ok and not r.in_progress and r.recordings_checked >= CALLS,
        240,
        "every recording archived and the audit clean",
    )
    assert report.calls_checked >= CALLS and report.hashes_verified >= CALLS
    await _tampering_is_caught(it_env, since, sorted(answered)[:3])


async def _tampering_is_caught(env: ItEnv, since: dt.datetime, victims: list[str]) -> None:
    settings = env.settings
    archives = {v: next(settings.recordings_dir.rglob(f"{v}.*.enc")) for v in victims}
    backup = {v: archives[v].read_bytes() for v in victims}
    deleted, altered, edited = victims
    storage = await Storage.open(settings.storage_url, migrate=False)
    try:
        archives[deleted].unlink()
        blob = bytearray(backup[altered])
        blob[len(blob) // 2] ^= 0xFF
        archives[altered].write_bytes(bytes(blob))
        async with storage.write() as session:
            await session.execute(
                text("UPDATE recordings SET duration_ms = duration_ms + 1 WHERE uniqueid = :u"),
                {"u": edited},
            )
        report = await _audit(env, since)
        found = {(g.kind.value, g.subject) for g in report.gaps}
        text_of_gaps = "\n".join(str(g) for g in report.gaps)
        assert any(kind == "file-missing" and deleted in subject for kind, subject in found), (
            text_of_gaps
        )
        assert any(
            kind in ("hash-mismatch", "unreadable") and altered in subject
            for kind, subject in found
        ), text_of_gaps
        assert any(kind == "catalog-tampered" for kind, _ in found), text_of_gaps
    finally:
        # Put everything back: later tests audit this installation too.
        for victim, data in backup.items():
            archives[victim].write_bytes(data)
        async with storage.write() as session:
            await session.execute(
                text("UPDATE recordings SET duration_ms = duration_ms - 1 WHERE uniqueid = :u"),
                {"u": edited},
            )
        await storage.close()
    assert (await _audit(env, since)).ok
