"""Sending SMS through Kannel's sendsms interface, with the outbox, opt-outs and delivery reports.

Invariants:
- Every send is written to the outbox before Kannel is asked and updated with Kannel's answer
  (``accepted`` or ``failed`` with the reason), so no send is lost or silent; each delivery
  report Kannel posts back is kept as a row and moves the outbox state.
- A number that opted out gets nothing but the confirmation of its opt-out
  (``SmsRefused("opted_out")``); numbers are kept only as keyed hashes here.
- Text is validated (``channels.sms.codec``) before anything is written.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
from sqlalchemy import select

from channels.models import SmsDeliveryReportRow, SmsOptOutRow, SmsOutboxRow
from channels.settings import KannelSettings
from channels.sms.codec import SmsRefused, encoding_for, normalize_number, outgoing_text
from common.alarms import Clock, utc_now
from common.storage import Storage
from recordings.keys import NumberProtector

log = logging.getLogger("dasan.sms")

# Kannel's delivery report types (dlr-mask bits).
DLR_STATES = {1: "delivered", 2: "failed", 4: "buffered", 8: "smsc_accepted", 16: "smsc_rejected"}
OPT_OUT_CONFIRMATION = "opt_out_confirmation"


class SmsGateway:
    def __init__(
        self,
        cfg: KannelSettings,
        storage: Storage,
        numbers: NumberProtector,
        clock: Clock = utc_now,
    ) -> None:
        self.cfg = cfg
        self._storage = storage
        self._numbers = numbers
        self._clock = clock
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            timeout = aiohttp.ClientTimeout(total=self.cfg.send_timeout_s)
            self._http = aiohttp.ClientSession(timeout=timeout)
        return self._http

    # Opt-out ----------------------------------------------------------------------------
    async def opted_out(self, number: str) -> bool:
        digest = self._numbers.lookup_hash(number)
        async with self._storage.session() as session:
            return await session.get(SmsOptOutRow, digest) is not None

    async def set_opt_out(self, number: str, out: bool) -> None:
        digest = self._numbers.lookup_hash(number)
        async with self._storage.write() as session:
            row = await session.get(SmsOptOutRow, digest)
            if out and row is None:
                session.add(SmsOptOutRow(number_hash=digest, at=self._clock()))
            elif not out and row is not None:
                await session.delete(row)

    # Sending ----------------------------------------------------------------------------
    async def send(
        self,
        number: str,
        text: str,
        *,
        purpose: str,
        conversation_id: str | None = None,
    ) -> int:
        """The outbox id once Kannel accepted the message; ``SmsRefused`` otherwise."""
        number = normalize_number(number)
        text = outgoing_text(text)
        encoding = encoding_for(text, self.cfg.max_parts)
        if purpose != OPT_OUT_CONFIRMATION and await self.opted_out(number):
            raise SmsRefused("opted_out", "this number asked for no more messages")
        outbox_id = await self._queue(
            number, conversation_id, purpose, encoding.parts, encoding.coding
        )
        params = {
            "username": self.cfg.username,
            "password": self.cfg.password.get_secret_value(),
            "from": self.cfg.sender,
            "to": number,
            "text": text,
            "charset": "UTF-8",
            "coding": str(encoding.coding),
            "dlr-mask": "31",
            "dlr-url": f"{self.cfg.engine_url}/api/sms/dlr?id={outbox_id}&status=%d&detail=%A",
        }
        url = f"http://{self.cfg.host}:{self.cfg.sendsms_port}/cgi-bin/sendsms"
        try:
            async with self._session().get(url, params=params) as answer:
                body = (await answer.text()).strip()
                ok = answer.status in (200, 202)
        except (aiohttp.ClientError, TimeoutError) as exc:
            await self._update(outbox_id, "failed", f"Kannel unreachable: {exc}")
            raise SmsRefused("gateway", f"the SMS gateway is unreachable: {exc}") from exc
        await self._update(outbox_id, "accepted" if ok else "failed", body[:500])
        if not ok:
            raise SmsRefused("gateway", f"Kannel refused the message: {body[:200]}")
        return outbox_id

    async def _queue(
        self, number: str, conversation_id: str | None, purpose: str, parts: int, coding: int
    ) -> int:
        now = self._clock()
        row = SmsOutboxRow(
            conversation_id=conversation_id,
            number_hash=self._numbers.lookup_hash(number),
            purpose=purpose,
            parts=parts,
            coding=coding,
            state="queued",
            created_at=now,
            updated_at=now,
        )
        async with self._storage.write() as session:
            session.add(row)
            await session.flush()
            return row.id

    async def _update(self, outbox_id: int, state: str, detail: str | None) -> None:
        async with self._storage.write() as session:
            row = await session.get(SmsOutboxRow, outbox_id)
            if row is not None:
                row.state, row.detail, row.updated_at = state, detail, self._clock()

    # Delivery reports -------------------------------------------------------------------
    async def delivery_report(self, outbox_id: int, status: int, detail: str) -> bool:
        """Keep one report; False when the outbox has no such message."""
        async with self._storage.write() as session:
            row = await session.get(SmsOutboxRow, outbox_id)
            if row is None:
                return False
            now = self._clock()
            session.add(
                SmsDeliveryReportRow(
                    outbox_id=outbox_id, at=now, status=status, detail=detail[:500]
                )
            )
            state = DLR_STATES.get(status)
            if state is not None and row.state != "delivered":
                row.state, row.updated_at = state, now
            return True

    async def outbox(self, conversation_id: str) -> list[dict[str, object]]:
        async with self._storage.session() as session:
            rows = await session.scalars(
                select(SmsOutboxRow)
                .where(SmsOutboxRow.conversation_id == conversation_id)
                .order_by(SmsOutboxRow.id)
            )
            return [
                {
                    "id": r.id,
                    "state": r.state,
                    "parts": r.parts,
                    "coding": r.coding,
                    "purpose": r.purpose,
                    "at": _iso(r.created_at),
                }
                for r in rows
            ]


def _iso(at: datetime) -> str:
    return at.isoformat()
