"""The case store: cases, their versions and review, and the search index they feed.

Invariants:
- Every change is one ``Storage.write()`` transaction: a case, its version row and its index
  entries change together or not at all (an import of many rows is one transaction too).
- The index (``terms``/``fuzzy`` and, on SQLite, the FTS5 rows; on PostgreSQL the postings,
  which triggers keep in the same transaction) always describes the *published* content;
  publishing a version re-indexes the case, nothing else does.
- Versions are never changed after their review decision and never deleted: they are the
  case's history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.storage import Storage
from knowledge.analyze import Analyzer, fuzzy_form
from knowledge.cases import (
    Action,
    Case,
    CaseContent,
    CaseNotFound,
    InvalidTransition,
    ReviewState,
    Version,
    next_state,
)
from knowledge.models import KbCaseRow, KbVersionRow

Clock = Callable[[], datetime]
_CHUNK = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """One case version to write: ``case_id`` None creates a case (or with an id unknown so
    far, creates it under that id)."""

    content: CaseContent
    state: ReviewState = ReviewState.DRAFT
    case_id: int | None = None


def _content_json(content: CaseContent) -> str:
    return content.model_dump_json()


def _content_of(row: KbCaseRow) -> CaseContent | None:
    if row.published_version is None or row.title is None:
        return None
    return CaseContent(
        language=row.language,
        title=row.title,
        question=row.question or "",
        answer=row.answer or "",
        service=row.service or "",
        tags=tuple(json.loads(row.tags or "[]")),
        department=row.department or "",
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        translation_of=row.translation_of,
    )


def _published_values(content: CaseContent, terms: str, fuzzy: str) -> dict[str, Any]:
    return {
        "title": content.title,
        "question": content.question,
        "answer": content.answer,
        "service": content.service,
        "tags": json.dumps(list(content.tags), ensure_ascii=False),
        "department": content.department,
        "valid_from": content.valid_from,
        "valid_until": content.valid_until,
        "translation_of": content.translation_of,
        "terms": terms,
        "fuzzy": fuzzy,
    }


class _Plan:
    """The rows one ``write_many`` call writes, gathered first and then written in bulk."""

    def __init__(self, now: datetime, author: str) -> None:
        self.now, self.author = now, author
        self.ids: list[int] = []
        self.new_cases: dict[int, dict[str, Any]] = {}
        self.case_updates: dict[int, dict[str, Any]] = {}
        self.versions: list[dict[str, Any]] = []
        self.index: dict[int, tuple[str, str]] = {}

    def add(self, case_id: int, item: NewVersion, known: dict[int, tuple[str, int]]) -> None:
        language = item.content.language
        if case_id in known:
            if known[case_id][0] != language:
                raise ValueError(f"case {case_id} is in {known[case_id][0]}, not {language}")
            version = known[case_id][1] + 1
            known[case_id] = (language, version)
            row = self.case_updates.setdefault(case_id, {"id": case_id})
        else:
            version = 1
            known[case_id] = (language, version)
            row = self.new_cases.setdefault(
                case_id,
                {
                    "id": case_id,
                    "language": language,
                    "helped": 0,
                    "translation_of": item.content.translation_of,
                    "published_version": None,
                    **dict.fromkeys(_PUBLISHED_FIELDS),
                },
            )
        row.update(latest_version=version, latest_state=item.state.value, updated_at=self.now)
        decided = item.state is ReviewState.PUBLISHED
        if decided:
            row["published_version"] = version
        self.versions.append(
            {
                "case_id": case_id,
                "version": version,
                "state": item.state.value,
                "content": _content_json(item.content),
                "author": self.author,
                "created_at": self.now,
                "reviewer": self.author if decided else None,
                "decided_at": self.now if decided else None,
                "comment": "imported as published" if decided else None,
            }
        )
        self.ids.append(case_id)

    def publish(self, case_id: int, content: CaseContent, terms: str, fuzzy: str) -> None:
        row = self.case_updates.get(case_id) or self.new_cases[case_id]
        row.update(_published_values(content, terms, fuzzy))
        self.index[case_id] = (terms, fuzzy)

    async def apply(self, session: AsyncSession, dialect: str) -> None:
        new = list(self.new_cases.values())
        for start in range(0, len(new), _CHUNK):
            await session.execute(insert(KbCaseRow), new[start : start + _CHUNK])
        for values in self.case_updates.values():
            case_id = values.pop("id")
            await session.execute(update(KbCaseRow).where(KbCaseRow.id == case_id).values(**values))
        for start in range(0, len(self.versions), _CHUNK):
            await session.execute(insert(KbVersionRow), self.versions[start : start + _CHUNK])
        if dialect == "postgresql":
            if self.ids:
                await session.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('kb_cases', 'id'), "
                        "(SELECT max(id) FROM kb_cases))"
                    )
                )
        elif self.index:
            await write_fts(session, self.index)


async def write_fts(session: AsyncSession, index: dict[int, tuple[str, str]]) -> None:
    """SQLite: (re)write the FTS5 rows of these cases (terms, fuzzy form)."""
    ids = [{"id": case_id} for case_id in index]
    # Table and column names are the constants below; values are bound.
    for table, column, at in (("kb_fts", "terms", 0), ("kb_tri", "fuzzy", 1)):
        await session.execute(text(f"DELETE FROM {table} WHERE rowid = :id"), ids)  # noqa: S608
        await session.execute(
            text(f"INSERT INTO {table} (rowid, {column}) VALUES (:id, :v)"),  # noqa: S608
            [{"id": case_id, "v": pair[at]} for case_id, pair in index.items()],
        )


_PUBLISHED_FIELDS = (
    "title",
    "question",
    "answer",
    "service",
    "tags",
    "department",
    "valid_from",
    "valid_until",
    "terms",
    "fuzzy",
)


def case_of(row: KbCaseRow) -> Case:
    return Case(
        id=row.id,
        language=row.language,
        latest_version=row.latest_version,
        latest_state=ReviewState(row.latest_state),
        published_version=row.published_version,
        published=_content_of(row),
        helped=row.helped,
        updated_at=row.updated_at,
    )


def version_of(row: KbVersionRow) -> Version:
    return Version(
        case_id=row.case_id,
        version=row.version,
        state=ReviewState(row.state),
        content=CaseContent.model_validate_json(row.content),
        author=row.author,
        created_at=row.created_at,
        reviewer=row.reviewer,
        decided_at=row.decided_at,
        comment=row.comment,
    )


class CaseStore:
    def __init__(self, storage: Storage, analyzer: Analyzer, clock: Clock = utc_now) -> None:
        self.storage = storage
        self.analyzer = analyzer
        self._clock = clock

    # Reading -------------------------------------------------------------------------
    async def get(self, case_id: int) -> Case:
        async with self.storage.session() as session:
            row = await session.get(KbCaseRow, case_id)
        if row is None:
            raise CaseNotFound(f"no case {case_id}")
        return case_of(row)

    async def history(self, case_id: int) -> list[Version]:
        async with self.storage.session() as session:
            rows = await session.scalars(
                select(KbVersionRow)
                .where(KbVersionRow.case_id == case_id)
                .order_by(KbVersionRow.version)
            )
            found = [version_of(r) for r in rows]
        if not found:
            raise CaseNotFound(f"no case {case_id}")
        return found

    async def latest(self, case_id: int) -> Version:
        return (await self.history(case_id))[-1]

    async def queue(self, state: ReviewState, limit: int = 200) -> list[Case]:
        """Cases whose latest version is in ``state`` (the editor's work lists)."""
        async with self.storage.session() as session:
            rows = await session.scalars(
                select(KbCaseRow)
                .where(KbCaseRow.latest_state == state.value)
                .order_by(KbCaseRow.updated_at.desc(), KbCaseRow.id)
                .limit(limit)
            )
            return [case_of(r) for r in rows]

    async def count(self) -> int:
        async with self.storage.session() as session:
            return int(await session.scalar(select(func.count()).select_from(KbCaseRow)) or 0)

    async def latest_versions(self) -> list[Version]:
        """The latest version of every case, by case id (what an export writes)."""
        async with self.storage.session() as session:
            latest = select(KbCaseRow.id, KbCaseRow.latest_version).subquery()
            rows = await session.scalars(
                select(KbVersionRow)
                .join(
                    latest,
                    (latest.c.id == KbVersionRow.case_id)
                    & (latest.c.latest_version == KbVersionRow.version),
                )
                .order_by(KbVersionRow.case_id)
            )
            return [version_of(r) for r in rows]

    # Writing -------------------------------------------------------------------------
    async def create(self, content: CaseContent, author: str) -> Version:
        ids = await self.write_many([NewVersion(content)], author)
        return await self.latest(ids[0])

    async def edit(self, case_id: int, content: CaseContent, author: str) -> Version:
        await self.get(case_id)
        await self.write_many([NewVersion(content, case_id=case_id)], author)
        return await self.latest(case_id)

    async def write_many(self, items: Sequence[NewVersion], author: str) -> list[int]:
        """Write versions in one transaction; a published one is indexed at once (imports).

        Returns the case ids in order. Nothing is written if any item fails. Rows are written
        in bulk (one statement per table and chunk), so a 15,000-case import takes seconds."""
        analyzed = self._analyze([i.content for i in items if i.state is ReviewState.PUBLISHED])
        now = self._clock()
        async with self.storage.write() as session:
            if self.storage.dialect == "postgresql":
                await session.execute(text("LOCK TABLE kb_cases IN SHARE ROW EXCLUSIVE MODE"))
            known = await self._known(session, [i.case_id for i in items if i.case_id])
            next_id = int(await session.scalar(select(func.max(KbCaseRow.id))) or 0) + 1
            next_id = max([next_id, *(i.case_id + 1 for i in items if i.case_id)])
            plan = _Plan(now, author)
            for item in items:
                if item.case_id is None:
                    case_id, next_id = next_id, next_id + 1
                else:
                    case_id = item.case_id
                plan.add(case_id, item, known)
                if item.state is ReviewState.PUBLISHED:
                    plan.publish(case_id, item.content, *analyzed.pop(0))
            await plan.apply(session, self.storage.dialect)
        if self.storage.dialect == "postgresql" and len(items) >= _CHUNK:
            await self._settle_postings()
        return plan.ids

    async def _settle_postings(self) -> None:
        """PostgreSQL, after a bulk write: vacuum and analyze the postings (kept by triggers,
        migration 0007), so that search reads them from the index alone at once rather than
        after autovacuum's next round (until then every posting is checked in the table)."""
        async with self.storage.engine.connect() as conn:
            plain = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await plain.execute(text("VACUUM (ANALYZE) kb_postings"))

    async def _known(self, session: AsyncSession, ids: list[int]) -> dict[int, tuple[str, int]]:
        out: dict[int, tuple[str, int]] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = await session.execute(
                select(KbCaseRow.id, KbCaseRow.language, KbCaseRow.latest_version).where(
                    KbCaseRow.id.in_(ids[start : start + _CHUNK])
                )
            )
            out.update({r.id: (r.language, r.latest_version) for r in rows})
        return out

    def _analyze(self, contents: list[CaseContent]) -> list[tuple[str, str]]:
        out = []
        for content in contents:
            terms = self.analyzer.terms(content.index_text())
            out.append((" ".join(terms), fuzzy_form(f"{content.title} {content.question}")))
        return out

    async def act(
        self, case_id: int, version: int, action: Action, actor: str, comment: str | None = None
    ) -> Version:
        """Submit, return or publish one version (only the case's latest)."""
        now = self._clock()
        current = await self.latest(case_id)
        if current.version != version:
            raise InvalidTransition(f"version {version} is not the latest ({current.version})")
        state = next_state(current.state, action, author=current.author, actor=actor)
        analyzed = self._analyze([current.content]) if state is ReviewState.PUBLISHED else []
        async with self.storage.write() as session:
            values: dict[str, Any] = {"state": state.value, "comment": comment}
            if action is not Action.SUBMIT:
                values.update(reviewer=actor, decided_at=now)
            await session.execute(
                update(KbVersionRow)
                .where(KbVersionRow.case_id == case_id, KbVersionRow.version == version)
                .values(**values)
            )
            await session.execute(
                update(KbCaseRow)
                .where(KbCaseRow.id == case_id)
                .values(latest_state=state.value, updated_at=now)
            )
            if analyzed:
                terms, fuzzy = analyzed[0]
                await session.execute(
                    update(KbCaseRow)
                    .where(KbCaseRow.id == case_id)
                    .values(published_version=version)
                )
                await self._publish_row(session, case_id, current.content, terms, fuzzy)
        return await self.latest(case_id)

    async def _publish_row(
        self, session: AsyncSession, case_id: int, content: CaseContent, terms: str, fuzzy: str
    ) -> None:
        await session.execute(
            update(KbCaseRow)
            .where(KbCaseRow.id == case_id)
            .values(**_published_values(content, terms, fuzzy))
        )
        if self.storage.dialect == "sqlite":
            await write_fts(session, {case_id: (terms, fuzzy)})

    async def mark_helped(self, case_id: int) -> None:
        """A consultant said this case helped (feeds ranking)."""
        async with self.storage.write() as session:
            result = await session.execute(
                update(KbCaseRow).where(KbCaseRow.id == case_id).values(helped=KbCaseRow.helped + 1)
            )
            if getattr(result, "rowcount", 1) == 0:
                raise CaseNotFound(f"no case {case_id}")

    async def delete_all(self) -> None:
        """Empty the knowledge base (tests and benchmark set-up only)."""
        async with self.storage.write() as session:
            if self.storage.dialect == "sqlite":
                await session.execute(text("DELETE FROM kb_fts"))
                await session.execute(text("DELETE FROM kb_tri"))
            await session.execute(delete(KbVersionRow))
            await session.execute(delete(KbCaseRow))


__all__ = ["CaseStore", "NewVersion"]
