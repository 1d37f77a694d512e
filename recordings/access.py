"""Access to recordings: authorization, a stated reason, the access log, decrypted streams.

Who may do what (``authorize``):
- admin and supervisor: listen to and download any call's recording, search transcripts,
  read the access report;
- consultant: listen (never download) to calls they took part in (as consultant or
  interpreter), when ``consultants_listen_own`` is on — they may need to recall what was
  promised to a citizen; nothing else.

Invariants:
- Every attempt is written to the access log *before* any audio leaves — granted, denied
  or failed; if the log cannot be written the access fails (fail closed).
- A reason is required for listening, downloading and searching.
- Audio is served only after the stored file matched its catalog hash; sealed files are
  decrypted chunk by chunk (authenticated before each chunk is yielded) off the loop.
- Errors are domain errors (no HTTP codes); ``recordings.web`` maps them once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from common.principal import Principal, Role
from recordings.accesslog import AccessAction, AccessLog, AccessOutcome, AccessReport
from recordings.calllog import CallLog, CallRecord
from recordings.catalog import Catalog, Recording
from recordings.crypto import DecryptionError
from recordings.keys import KeyRing, WrongKeyError
from recordings.layout import Roots
from recordings.models import RecordingState
from recordings.settings import RecordingsSettings
from recordings.stored import StoredFile, StoredMismatch, check_stored, plain_chunks, stored_file
from recordings.transcription import TranscriptHit, Transcripts

_MAX_REASON = 500
_PRIVILEGED = (Role.ADMIN, Role.SUPERVISOR)


class AccessError(Exception):
    """Base of the access domain errors."""


class AccessDenied(AccessError):
    pass


class ReasonRequired(AccessError):
    pass


class RecordingNotFound(AccessError):
    pass


class RecordingGone(AccessError):
    """The recording existed but was purged at the end of its retention."""


class RecordingUnavailable(AccessError):
    """The recording's file is missing, altered or cannot be decrypted."""


def authorize(
    principal: Principal, action: AccessAction, call: CallRecord | None, cfg: RecordingsSettings
) -> str | None:
    """None when allowed, else why not."""
    if principal.role in _PRIVILEGED:
        return None
    if action is not AccessAction.LISTEN:
        return f"role {principal.role.value} may not {action.value}"
    if not cfg.consultants_listen_own:
        return "consultants may not listen to recordings"
    if call is None or principal.user_id not in {p.person_id for p in call.participants}:
        return "consultants may only listen to calls they took part in"
    return None


@dataclass(frozen=True, slots=True)
class AudioStream:
    call_id: str
    recording_id: int
    media_type: str
    filename: str
    chunks: AsyncIterator[bytes]


async def _stream(stored: StoredFile, ring: KeyRing | None, context: str) -> AsyncIterator[bytes]:
    chunks = plain_chunks(stored, ring, context)
    try:
        while True:
            block = await asyncio.to_thread(next, chunks, None)
            if block is None:
                return
            yield block
    finally:
        chunks.close()


class RecordingAccess:
    def __init__(
        self,
        *,
        log: AccessLog,
        catalog: Catalog,
        calls: CallLog,
        roots: Roots,
        ring: KeyRing | None,
        cfg: RecordingsSettings,
        transcripts: Transcripts | None = None,
    ) -> None:
        self.log = log
        self._catalog, self._calls, self._roots, self._ring = catalog, calls, roots, ring
        self._cfg = cfg
        self._transcripts = transcripts

    async def open_audio(
        self, principal: Principal, call_id: str, reason: str, *, download: bool = False
    ) -> AudioStream:
        action = AccessAction.DOWNLOAD if download else AccessAction.LISTEN
        reason = await self._require_reason(principal, action, reason, call_id)
        call = await self._calls.get(call_id)
        denial = authorize(principal, action, call, self._cfg)
        if denial is not None:
            await self._deny(principal, action, reason, call_id, denial)
            raise AccessDenied(denial)
        recording = await self._pick(principal, action, reason, call_id, call)
        stored = stored_file(self._roots, recording)
        try:
            await asyncio.to_thread(check_stored, stored)
        except (StoredMismatch, OSError) as exc:
            await self.log.record(
                principal,
                action,
                AccessOutcome.FAILED,
                reason,
                call_id=call_id,
                recording_id=recording.id,
                detail=str(exc),
            )
            raise RecordingUnavailable(str(exc)) from exc
        await self.log.record(
            principal,
            action,
            AccessOutcome.GRANTED,
            reason,
            call_id=call_id,
            recording_id=recording.id,
        )
        name = f"{call_id}.{recording.archive_format or 'wav'}"
        return AudioStream(
            call_id,
            recording.id,
            stored.media_type,
            name,
            _stream(stored, self._ring, recording.uniqueid),
        )

    async def read_audio(self, principal: Principal, call_id: str, reason: str) -> bytes:
        """The whole (decrypted) recording as a download; raises like ``open_audio``."""
        stream = await self.open_audio(principal, call_id, reason, download=True)
        try:
            return b"".join([chunk async for chunk in stream.chunks])
        except (DecryptionError, WrongKeyError) as exc:
            raise RecordingUnavailable(str(exc)) from exc

    async def _require_reason(
        self, principal: Principal, action: AccessAction, reason: str, call_id: str | None
    ) -> str:
        reason = (reason or "").strip()
        if not reason or len(reason) > _MAX_REASON:
            why = "no reason given" if not reason else "reason too long"
            await self._deny(principal, action, reason[:_MAX_REASON], call_id, why)
            raise ReasonRequired(f"a reason (1-{_MAX_REASON} characters) is required")
        return reason

    async def _pick(
        self,
        principal: Principal,
        action: AccessAction,
        reason: str,
        call_id: str,
        call: CallRecord | None,
    ) -> Recording:
        found = await self._catalog.find(call_id=call_id)
        if call is not None and not found:
            found = await self._catalog.find(uniqueid=call.uniqueid)
        live = [r for r in found if r.state is not RecordingState.PURGED]
        if not live:
            gone = bool(found)
            detail = "recording purged" if gone else "no recording"
            await self._deny(principal, action, reason, call_id, detail)
            raise (
                RecordingGone(detail)
                if gone
                else RecordingNotFound(f"no recording for call {call_id}")
            )
        return max(live, key=lambda r: r.duration_ms)

    async def _deny(
        self,
        principal: Principal,
        action: AccessAction,
        reason: str,
        call_id: str | None,
        detail: str,
    ) -> None:
        await self.log.record(
            principal, action, AccessOutcome.DENIED, reason, call_id=call_id, detail=detail
        )

    async def search(
        self, principal: Principal, keyword: str, reason: str, limit: int = 50
    ) -> list[TranscriptHit]:
        reason = await self._require_reason(principal, AccessAction.SEARCH, reason, None)
        denial = authorize(principal, AccessAction.SEARCH, None, self._cfg)
        if denial is not None:
            await self._deny(principal, AccessAction.SEARCH, reason, None, denial)
            raise AccessDenied(denial)
        if self._transcripts is None:
            raise RecordingUnavailable("transcription is not enabled")
        hits = await self._transcripts.search(keyword, limit)
        await self.log.record(
            principal,
            AccessAction.SEARCH,
            AccessOutcome.GRANTED,
            reason,
            detail=f"keyword={keyword!r} hits={len(hits)}",
        )
        return hits

    async def report(self, principal: Principal, month: str) -> AccessReport:
        denial = authorize(principal, AccessAction.REPORT, None, self._cfg)
        if denial is not None:
            await self._deny(principal, AccessAction.REPORT, "access report", None, denial)
            raise AccessDenied(denial)
        report = await self.log.report(month)  # ValueError for a malformed month
        await self.log.record(
            principal,
            AccessAction.REPORT,
            AccessOutcome.GRANTED,
            "access report",
            detail=f"month={month}",
        )
        return report
