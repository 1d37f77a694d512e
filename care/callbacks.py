"""The call-back list: every promise to call a citizen back, kept in the database until it
is answered or given up, with each attempt.

Invariants:
- A request is added once per ``source_key`` (importing ``requests.jsonl`` again, or a
  ticket's update queued twice, changes nothing).
- States: ``waiting`` -> ``dialing`` -> ``answered`` | ``waiting`` (retry later) |
  ``given_up`` (after ``max_attempts``). ``next_step`` decides, purely; nothing is ever
  dropped: a request that is not answered ends ``given_up`` with its attempts and outcomes,
  visible to supervisors.
- Numbers are stored as a lookup hash plus ciphertext bound to the request id; lists show
  only the last two digits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from care.errors import InvalidInput, NotFound, WrongState
from care.models import CallbackAttemptRow, CallbackRow
from common.alarms import Clock, utc_now
from common.storage import Storage
from recordings.keys import NumberProtector

STATES = ("waiting", "dialing", "answered", "given_up")


@dataclass(frozen=True, slots=True)
class Attempt:
    started_at: dt.datetime
    ended_at: dt.datetime | None
    outcome: str
    dialed_call_id: str | None


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: str
    call_id: str | None
    ticket_id: str | None
    kind: str
    reason: str
    language: str
    number_tail: str
    requested_at: dt.datetime
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_outcome: str
    answered_call_id: str | None
    history: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    state: str
    next_attempt_at: dt.datetime | None


def next_step(
    attempts: int, answered: bool, now: dt.datetime, *, max_attempts: int, retry_s: float
) -> Step:
    """After an attempt (``attempts`` counts it): answered, retry later or give up."""
    if answered:
        return Step("answered", None)
    if attempts >= max_attempts:
        return Step("given_up", None)
    return Step("waiting", now + dt.timedelta(seconds=retry_s))


class CallbackList:
    def __init__(
        self,
        storage: Storage,
        protector: NumberProtector | None,
        clock: Clock = utc_now,
        *,
        max_attempts: int = 3,
        retry_s: float = 600.0,
    ) -> None:
        self._storage = storage
        self._protector = protector
        self._clock = clock
        self.max_attempts = max_attempts
        self.retry_s = retry_s

    async def add(
        self,
        *,
        source_key: str,
        number: str,
        language: str,
        reason: str,
        kind: str = "callback",
        call_id: str | None = None,
        ticket_id: str | None = None,
        requested_at: dt.datetime | None = None,
    ) -> str:
        """The request's id (the existing one when ``source_key`` is known)."""
        if not number:
            raise InvalidInput("number: a call-back needs the citizen's number")
        if self._protector is None:
            raise InvalidInput("number: no key loaded to protect the citizen's number")
        try:
            return await self._insert(
                source_key=source_key,
                number=number,
                language=language,
                reason=reason,
                kind=kind,
                call_id=call_id,
                ticket_id=ticket_id,
                requested_at=requested_at,
            )
        except IntegrityError:  # another process (the CLI, the engine) added it meanwhile
            async with self._storage.session() as session:
                found = await session.scalar(
                    select(CallbackRow.id).where(CallbackRow.source_key == source_key[:160])
                )
            if found is None:
                raise
            return found

    async def _insert(
        self,
        *,
        source_key: str,
        number: str,
        language: str,
        reason: str,
        kind: str,
        call_id: str | None,
        ticket_id: str | None,
        requested_at: dt.datetime | None,
    ) -> str:
        assert self._protector is not None
        now = self._clock()
        async with self._storage.write() as session:
            found = await session.scalar(
                select(CallbackRow.id).where(CallbackRow.source_key == source_key[:160])
            )
            if found is not None:
                return found
            callback_id = f"cb-{secrets.token_hex(6)}"
            session.add(
                CallbackRow(
                    id=callback_id,
                    source_key=source_key[:160],
                    call_id=call_id,
                    ticket_id=ticket_id,
                    kind=kind,
                    reason=reason[:32],
                    language=language if len(language) == 2 else "ko",
                    number_hash=self._protector.lookup_hash(number),
                    number_enc=self._protector.encrypt(number, callback_id),
                    key_id=self._protector.key_id,
                    requested_at=requested_at or now,
                    state="waiting",
                    attempts=0,
                    next_attempt_at=None,
                    last_outcome="",
                    updated_at=now,
                )
            )
        return callback_id

    async def import_jsonl(self, path: Path) -> tuple[int, int]:
        """Requests the engine kept in ``requests.jsonl`` (after hours, engine stopped...):
        (lines read as requests, lines that could not be). Idempotent."""
        lines = await asyncio.to_thread(_lines, path)
        good = bad = 0
        for line in lines:
            try:
                record = json.loads(line)
                await self.add(
                    source_key=f"jsonl:{record['call_id']}:{record['requested_at']}",
                    number=str(record["number"]),
                    language=str(record.get("language") or "ko"),
                    reason=str(record.get("reason") or "unknown"),
                    kind=str(record.get("kind") or "callback")[:16],
                    call_id=str(record["call_id"]),
                    requested_at=dt.datetime.fromisoformat(record["requested_at"]),
                )
                good += 1
            except (ValueError, KeyError, TypeError, InvalidInput):
                bad += 1
        return good, bad

    async def entries(self, states: tuple[str, ...] = STATES) -> list[CallbackView]:
        async with self._storage.session() as session:
            rows = list(
                await session.scalars(
                    select(CallbackRow)
                    .where(CallbackRow.state.in_(states))
                    .order_by(CallbackRow.requested_at, CallbackRow.id)
                )
            )
            history: dict[str, list[Attempt]] = {r.id: [] for r in rows}
            if rows:
                attempts = await session.scalars(
                    select(CallbackAttemptRow)
                    .where(CallbackAttemptRow.callback_id.in_(list(history)))
                    .order_by(CallbackAttemptRow.id)
                )
                for a in attempts:
                    history[a.callback_id].append(
                        Attempt(a.started_at, a.ended_at, a.outcome, a.dialed_call_id)
                    )
        return [self._view(r, history[r.id]) for r in rows]

    async def count(self, state: str) -> int:
        async with self._storage.session() as session:
            found = await session.scalar(
                select(func.count()).select_from(CallbackRow).where(CallbackRow.state == state)
            )
        return int(found or 0)

    async def get(self, callback_id: str) -> CallbackView:
        for view in await self.entries():
            if view.id == callback_id:
                return view
        raise NotFound(f"no call-back request {callback_id!r}")

    async def due(self) -> list[CallbackView]:
        """Waiting requests whose time has come, oldest first."""
        now = self._clock()
        return [
            v
            for v in await self.entries(("waiting",))
            if v.next_attempt_at is None or v.next_attempt_at <= now
        ]

    async def number(self, callback_id: str) -> str:
        async with self._storage.session() as session:
            row = await session.get(CallbackRow, callback_id)
        if row is None or row.number_enc is None or row.key_id is None:
            raise NotFound(f"no call-back request {callback_id!r}")
        if self._protector is None:
            raise InvalidInput("no key loaded to reveal the citizen's number")
        return self._protector.decrypt(row.number_enc, callback_id, row.key_id)

    async def attempt_started(self, callback_id: str) -> None:
        now = self._clock()
        async with self._storage.write() as session:
            row = await session.get(CallbackRow, callback_id)
            if row is None:
                raise NotFound(f"no call-back request {callback_id!r}")
            if row.state != "waiting":
                raise WrongState(f"call-back {callback_id} is {row.state}")
            row.state, row.updated_at = "dialing", now
            session.add(CallbackAttemptRow(callback_id=callback_id, started_at=now, outcome=""))

    async def attempt_ended(
        self, callback_id: str, *, answered: bool, outcome: str, dialed_call_id: str | None
    ) -> CallbackView:
        now = self._clock()
        async with self._storage.write() as session:
            row = await session.get(CallbackRow, callback_id)
            if row is None:
                raise NotFound(f"no call-back request {callback_id!r}")
            if row.state != "dialing":
                raise WrongState(f"call-back {callback_id} is {row.state}, not dialing")
            attempt = await session.scalar(
                select(CallbackAttemptRow)
                .where(CallbackAttemptRow.callback_id == callback_id)
                .order_by(CallbackAttemptRow.id.desc())
                .limit(1)
            )
            if attempt is not None:
                attempt.ended_at, attempt.outcome = now, outcome[:200]
                attempt.dialed_call_id = dialed_call_id
            row.attempts += 1
            step = next_step(
                row.attempts, answered, now, max_attempts=self.max_attempts, retry_s=self.retry_s
            )
            row.state, row.next_attempt_at = step.state, step.next_attempt_at
            row.last_outcome, row.updated_at = outcome[:200], now
            if answered:
                row.answered_call_id = dialed_call_id
        return await self.get(callback_id)

    async def recover_dialing(self) -> int:
        """Requests left ``dialing`` by an engine that stopped: the attempt counts as failed."""
        async with self._storage.session() as session:
            ids = list(
                await session.scalars(select(CallbackRow.id).where(CallbackRow.state == "dialing"))
            )
        for callback_id in ids:
            await self.attempt_ended(
                callback_id, answered=False, outcome="engine stopped mid-call", dialed_call_id=None
            )
        return len(ids)

    def _view(self, row: CallbackRow, history: list[Attempt]) -> CallbackView:
        tail = ""
        if row.number_enc is not None and row.key_id is not None and self._protector is not None:
            tail = "…" + self._protector.decrypt(row.number_enc, row.id, row.key_id)[-2:]
        return CallbackView(
            id=row.id,
            call_id=row.call_id,
            ticket_id=row.ticket_id,
            kind=row.kind,
            reason=row.reason,
            language=row.language,
            number_tail=tail,
            requested_at=row.requested_at,
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_outcome=row.last_outcome,
            answered_call_id=row.answered_call_id,
            history=tuple(history),
        )


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines()
