"""Follow-ups by text message: a ticket update is "sent" only when the gateway accepted it
(else a call-back request, saying why); a safety emergency contact is marked told only then."""

from __future__ import annotations

from typing import Any, cast

from care.notify import Delivery, Notification
from care_unit.test_safety_tickets import person, request
from channels.sms.codec import SmsRefused
from dasan.sms_notify import EmergencyContactSms, TicketSms
from safety.notify import NotificationRequest


class Gateway:
    def __init__(self, refuse: str | None = None) -> None:
        self.refuse = refuse
        self.sent: list[tuple[str, str, str]] = []

    async def send_sms(self, number: str, text: str, language: str, purpose: str = "") -> int:
        if self.refuse:
            raise SmsRefused(self.refuse, f"refused: {self.refuse}")
        self.sent.append((number, text, language))
        return len(self.sent)


class Callback:
    async def notify(self, note: Notification, number: str) -> Delivery:
        return Delivery("callback-requested", "call-back 7", "7")


class Ticket:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def notify(self, request: NotificationRequest) -> None:
        self.asked.append(request.case_id)


NOTE = Notification(1, "T1", "resolved", "sms", "ko", "처리되었습니다")


async def test_an_accepted_text_is_sent() -> None:
    gateway = Gateway()
    delivery = await TicketSms(cast(Any, gateway), Callback()).notify(NOTE, "01012345678")
    assert delivery.state == "sent"
    assert gateway.sent == [("01012345678", "처리되었습니다", "ko")]


async def test_a_refused_text_falls_back_to_a_call_back_and_says_why() -> None:
    gateway = Gateway(refuse="opted_out")
    delivery = await TicketSms(cast(Any, gateway), Callback()).notify(NOTE, "01012345678")
    assert delivery.state == "callback-requested" and delivery.callback_id == "7"
    assert "opted_out" in delivery.detail


async def test_a_refused_text_without_fallback_fails() -> None:
    delivery = await TicketSms(cast(Any, Gateway(refuse="gateway")), None).notify(NOTE, "010")
    assert delivery.state == "failed" and "gateway" in delivery.detail


async def test_the_emergency_contact_is_told_only_by_an_accepted_text() -> None:
    for refuse, expected in ((None, [("n-ec", "sms")]), ("gateway", [])):
        delivered: list[tuple[str, str]] = []
        gateway, ticket = Gateway(refuse), Ticket()
        await EmergencyContactSms(cast(Any, gateway), ticket).notify(request(person(), delivered))
        assert delivered == expected
        assert ticket.asked == ["case-1"]  # the welfare ticket is opened either way
        if refuse is None:
            ((number, text, language),) = gateway.sent
            assert (number, language) == ("01012345678", "ko") and "김순자" in text
