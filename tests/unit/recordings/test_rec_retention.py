"""Retention: per-service periods, dry runs, purge with proof in the chain, leftovers."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from rec_support import FakeTranscriber, make_settings, recorded_call

from common.principal import Principal, Role
from recordings.accesslog import AccessAction, AccessOutcome
from recordings.catalog import catalog_problems
from recordings.cli import recordings as recordings_group
from recordings.models import RecordingState
from recordings.retention import RetentionPolicy
from recordings.system import Recordings


def test_policy_per_service() -> None:
    policy = RetentionPolicy(default_days=1096, per_service={"129-report": 365})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert policy.expires_at("129-report", start) == start + timedelta(days=365)
    assert policy.expires_at("general", start) == start + timedelta(days=1096)
    assert policy.expires_at(None, start) == start + timedelta(days=1096)
    assert policy.shortest_days == 365


async def open_system(tmp_path: Path) -> Recordings:
    settings = make_settings(tmp_path, retention_days={"short": 30})
    return await Recordings.open(settings, load_transcriber=FakeTranscriber)


async def test_purge_deletes_expired_with_proof(tmp_path: Path) -> None:
    system = await open_system(tmp_path)
    try:
        now = datetime.now(UTC)
        old = now - timedelta(days=40)
        wavs = {
            "old-short": await recorded_call(system, "old-short", old, 1.0, service="short"),
            "old-general": await recorded_call(system, "old-general", old, 1.0, service="general"),
            "new-short": await recorded_call(
                system, "new-short", now - timedelta(days=1), 1.0, service="short"
            ),
        }
        for wav in wavs.values():
            await system.pipeline.process(wav)
        await system.transcripts.transcribe_pending()
        assert await system.transcripts.search("여권") != []

        dry = await system.retention.purge(now, dry_run=True)
        assert [i.call_id for i in dry.purged] == ["old-short"]
        assert (await system.catalog.find(call_id="old-short"))[0].state is RecordingState.ARCHIVED

        result = await system.retention.purge(now)
        assert [i.call_id for i in result.purged] == ["old-short"]
        [gone] = await system.catalog.find(call_id="old-short")
        assert gone.state is RecordingState.PURGED
        assert gone.purged_at is not None
        assert not (system.settings.recordings_dir / (gone.archive_rel_path or "")).exists()
        assert [h.call_id for h in await system.transcripts.search("여권")] == [
            "new-short",
            "old-general",
        ]
        proof = (await system.catalog.links())[-1]
        assert proof.kind == "purged"
        assert proof.content["retention_days"] == 30
        assert proof.content["deleted"][-1]["sha256"] == gone.stored_sha256
        assert catalog_problems(await system.catalog.find(), await system.catalog.links()) == []
        # Purging again finds nothing new.
        assert (await system.retention.purge(now)).purged == []
    finally:
        await system.close()


async def test_purge_retries_a_deletion_interrupted_after_the_proof(tmp_path: Path) -> None:
    system = await open_system(tmp_path)
    try:
        now = datetime.now(UTC)
        wav = await recorded_call(system, "c1", now - timedelta(days=31), 1.0, service="short")
        rec = await system.pipeline.process(wav)
        assert rec is not None
        # The proof was written, then the process died before deleting the file.
        await system.catalog.purged(rec.id, {"reason": "retention"})
        leftover = system.settings.recordings_dir / (rec.archive_rel_path or "")
        assert leftover.exists()
        result = await system.retention.purge(now)
        assert result.purged == []
        assert result.leftovers_removed == [rec.archive_rel_path]
        assert not leftover.exists()
    finally:
        await system.close()


async def test_purge_cli_json(tmp_path: Path) -> None:
    system = await open_system(tmp_path)
    try:
        now = datetime.now(UTC)
        wav = await recorded_call(system, "c1", now - timedelta(days=31), 1.0, service="short")
        await system.pipeline.process(wav)
    finally:
        await system.close()
    runner = CliRunner()
    obj = {"settings": system.settings}
    dry = await asyncio.to_thread(
        runner.invoke, recordings_group, ["purge", "--dry-run", "--json"], obj=obj
    )
    assert dry.exit_code == 0, dry.output
    assert [i["call_id"] for i in json.loads(dry.output)["purged"]] == ["c1"]
    real = await asyncio.to_thread(runner.invoke, recordings_group, ["purge"], obj=obj)
    assert real.exit_code == 0, real.output
    assert "1 recording(s) purged" in real.output
    again = await asyncio.to_thread(runner.invoke, recordings_group, ["purge", "--json"], obj=obj)
    assert json.loads(again.output)["purged"] == []


async def test_purge_prunes_access_log_only_after_two_years(tmp_path: Path) -> None:
    system = await open_system(tmp_path)
    try:
        who = Principal("s1", Role.SUPERVISOR, "10.0.0.9")
        for n in range(3):
            await system.access_log.record(who, AccessAction.LISTEN, AccessOutcome.DENIED, f"r{n}")
        now = datetime.now(UTC)
        assert (await system.retention.purge(now + timedelta(days=365))).access_entries_pruned == 0
        later = await system.retention.purge(now + timedelta(days=800))
        assert later.access_entries_pruned == 2  # the newest entry always stays
        assert await system.access_log.verify() == []
    finally:
        await system.close()
