"""The catalog proves every change in its chain; tampering with rows or links is found."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import delete, update

from common.storage import Storage
from recordings.catalog import ArchiveFacts, Catalog, NewRecording, catalog_problems
from recordings.models import CatalogLinkRow, RecordingRow, RecordingState

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def new(n: int) -> NewRecording:
    return NewRecording(
        uniqueid=f"1764320400.{n}",
        call_id=f"call-{n}",
        root="primary",
        rel_path=f"2026/11/28/1764320400.{n}.wav",
        format="wav",
        sample_rate=8000,
        size_bytes=44 + 16000 * n,
        duration_ms=1000 * n,
        sha256=f"{n:064x}",
        started_at=START,
    )


async def filled(storage: Storage) -> Catalog:
    catalog = Catalog(storage)
    for n in range(1, 5):
        rec = await catalog.add(new(n))
        if n % 2 == 0:
            await catalog.archived(
                rec.id,
                ArchiveFacts(
                    "opus",
                    rec.rel_path.replace(".wav", ".opus.enc"),
                    "a" * 64,
                    1000 * n,
                    100,
                    "b" * 64,
                    True,
                    "k",
                ),
            )
    return catalog


async def problems(catalog: Catalog) -> list[str]:
    found = catalog_problems(await catalog.find(), await catalog.links())
    return [p.kind for p in found]


async def test_untouched_catalog_has_no_problems(storage: Storage) -> None:
    catalog = await filled(storage)
    assert await problems(catalog) == []
    assert len(await catalog.links()) == 6
    archived = await catalog.find(states=[RecordingState.ARCHIVED])
    assert [r.id for r in archived] == [2, 4]


async def test_add_is_idempotent_per_file(storage: Storage) -> None:
    catalog = Catalog(storage)
    first = await catalog.add(new(1))
    again = await catalog.add(new(1))
    assert first == again
    assert len(await catalog.links()) == 1


async def test_edited_row_is_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        await session.execute(
            update(RecordingRow).where(RecordingRow.id == 3).values(sha256="e" * 64)
        )
    found = catalog_problems(await catalog.find(), await catalog.links())
    assert [(p.kind, p.recording_id) for p in found] == [("row-edited", 3)]
    assert "sha256" in found[0].detail


async def test_deleted_row_is_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        await session.execute(delete(RecordingRow).where(RecordingRow.id == 2))
    assert await problems(catalog) == ["row-deleted"]


async def test_row_inserted_behind_the_catalog_is_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        extra = {"closed_at": START, "state": "cataloged", "encrypted": False}
        session.add(RecordingRow(**asdict(new(9)), **extra))
    assert await problems(catalog) == ["row-unproven"]


async def test_deleted_link_is_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        await session.execute(delete(CatalogLinkRow).where(CatalogLinkRow.seq == 2))
    kinds = await problems(catalog)
    assert "chain-sequence-gap" in kinds
    assert "chain-prev-mismatch" in kinds


async def test_edited_link_is_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        link = await session.get(CatalogLinkRow, 1)
        assert link is not None
        link.content = link.content.replace('"duration_ms": 1000', '"duration_ms": 9000')
    kinds = await problems(catalog)
    assert "chain-hash-mismatch" in kinds
    assert "row-edited" in kinds


async def test_reordered_links_are_detected(storage: Storage) -> None:
    catalog = await filled(storage)
    async with storage.write() as session:
        a, b = await session.get(CatalogLinkRow, 2), await session.get(CatalogLinkRow, 3)
        assert a is not None and b is not None
        fields = ("at", "kind", "recording_id", "content", "prev_hash", "hash")
        saved = {f: getattr(a, f) for f in fields}
        for f in fields:
            setattr(a, f, getattr(b, f))
            setattr(b, f, saved[f])
    assert "chain-prev-mismatch" in await problems(catalog)


async def test_concurrent_appends_keep_one_chain(storage: Storage) -> None:
    catalog = Catalog(storage)
    await asyncio.gather(*(catalog.add(new(n)) for n in range(1, 21)))
    links = await catalog.links()
    assert [link.seq for link in links] == list(range(1, 21))
    assert await problems(catalog) == []
