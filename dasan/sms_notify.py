"""Text messages through the SMS gateway (channels/) for the follow-ups of care and safety.

Invariants:
- "sent" means the gateway (Kannel) accepted the message; delivery reports are kept by the
  channels package. A refusal (no gateway, opted out, bad number, too long) is never reported as
  sent: a ticket update falls back to a recorded call-back request, saying why; a safety
  notification stays pending.
- Numbers are in clear only in memory, on their way to the gateway; they are never logged.
"""

from __future__ import annotations

import logging

from care.notify import Delivery, Notification, Notifier
from channels.model import MessageRefused
from channels.service import ChannelsService
from safety.notify import NotificationRequest
from safety.notify import Notifier as SafetyNotifier

log = logging.getLogger("dasan.sms")


class TicketSms:
    """A care notifier for tickets whose citizen chose text messages."""

    def __init__(self, channels: ChannelsService, fallback: Notifier | None) -> None:
        self._channels = channels
        self._fallback = fallback

    async def notify(self, note: Notification, number: str) -> Delivery:
        try:
            message_id = await self._channels.send_sms(
                number, note.message, note.language, purpose="ticket"
            )
        except MessageRefused as exc:
            why = f"sms refused ({exc.reason}: {exc})"
            log.warning("ticket %s: %s", note.ticket_id, why)
            if self._fallback is None:
                return Delivery("failed", why)
            delivery = await self._fallback.notify(note, number)
            return Delivery(delivery.state, f"{why}; {delivery.detail}", delivery.callback_id)
        return Delivery("sent", f"sms {message_id} accepted by the gateway")


# To the emergency contact of a person the safety calls could not reach, in that person's
# language: who, and that the district's welfare office was told.
_EMERGENCY_TEXT = {
    "ko": "[다산콜센터] {name}님과 안부 전화 연락이 닿지 않았습니다. 구청 복지 담당에게도 "
    "알렸습니다. 확인을 부탁드립니다. 문의 120",
    "en": "[Dasan 120] We could not reach {name} for their safety call. The district welfare "
    "office has been told. Please check on them. Questions: 120",
    "zh": "[茶山120] 我们无法联系到{name}进行安全问候电话，已通知区福利部门。请您确认。咨询：120",
    "ja": "[ダサン120] {name}様に安否確認のお電話がつながりませんでした。区の福祉担当にも"
    "連絡しました。ご確認をお願いします。お問い合わせ：120",
    "vi": "[Dasan 120] Chúng tôi không liên lạc được với {name} trong cuộc gọi hỏi thăm. "
    "Phòng phúc lợi quận đã được thông báo. Xin hãy kiểm tra. Hỏi đáp: 120",
    "mn": "[Dasan 120] {name}-тай эргэн тойрон лавлах дуудлагаар холбогдож чадсангүй. "
    "Дүүргийн нийгмийн халамжид мэдэгдсэн. Шалгана уу. Лавлах: 120",
}


class EmergencyContactSms:
    """A safety notifier: the emergency contact by SMS, then the next notifier (the ticket)."""

    def __init__(self, channels: ChannelsService, then: SafetyNotifier) -> None:
        self._channels = channels
        self._then = then

    async def notify(self, request: NotificationRequest) -> None:
        contact = request.notifications.get("emergency_contact")
        person = request.person
        if contact is not None and person.emergency_number:
            template = _EMERGENCY_TEXT.get(person.language, _EMERGENCY_TEXT["ko"])
            try:
                await self._channels.send_sms(
                    person.emergency_number,
                    template.format(name=person.name),
                    person.language,
                    purpose="safety",
                )
            except MessageRefused as exc:
                log.warning(
                    "safety case %s: emergency contact not texted (%s: %s); kept pending",
                    request.case_id,
                    exc.reason,
                    exc,
                )
            else:
                await request.delivered(contact, "sms")
        await self._then.notify(request)
