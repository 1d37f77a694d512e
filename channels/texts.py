"""What the text channels tell citizens, in the six languages (Korean first).

Every sentence here describes only what the system does: the hours are the configured chat
hours, the opt-out confirmation follows a stored opt-out.
"""

from __future__ import annotations

HOURS = {
    "ko": "채팅 상담 시간은 평일 09:00-22:00, 주말과 공휴일 09:00-18:00입니다.",
    "en": "Chat is open 09:00-22:00 on weekdays and 09:00-18:00 on weekends and holidays.",
    "zh": "在线咨询时间：工作日 09:00-22:00，周末及节假日 09:00-18:00。",
    "ja": "チャット相談は平日09:00-22:00、土日祝日09:00-18:00です。",
    "vi": "Tư vấn trò chuyện: ngày thường 09:00-22:00, cuối tuần và ngày lễ 09:00-18:00.",
    "mn": "Чат зөвлөгөө: ажлын өдөр 09:00-22:00, амралт, баярын өдөр 09:00-18:00.",
}
CLOSED = {
    "ko": "지금은 채팅 상담 시간이 아닙니다.",
    "en": "Chat is closed now.",
    "zh": "现在不是在线咨询时间。",
    "ja": "現在はチャット相談の時間外です。",
    "vi": "Hiện không phải giờ tư vấn trò chuyện.",
    "mn": "Одоо чат зөвлөгөөний цаг биш байна.",
}
OPTED_OUT = {
    "ko": "120다산콜센터 문자 수신이 거부되었습니다. 다시 받으시려면 '수신동의'를 보내 주세요.",
    "en": "You will get no more texts from the 120 Dasan Call Center. Send START to receive them again.",
    "zh": "您已退订120茶山呼叫中心的短信。发送 START 可重新接收。",
    "ja": "120茶山コールセンターからのSMSを停止しました。再開するには START を送信してください。",
    "vi": "Bạn sẽ không nhận tin nhắn từ Trung tâm 120 Dasan nữa. Gửi START để nhận lại.",
    "mn": "120 Дасан төвөөс мессеж ирэхгүй болно. Дахин авах бол START илгээнэ үү.",
}
OPTED_IN = {
    "ko": "120다산콜센터 문자 수신에 동의하셨습니다.",
    "en": "You will receive texts from the 120 Dasan Call Center again.",
    "zh": "您已重新订阅120茶山呼叫中心的短信。",
    "ja": "120茶山コールセンターからのSMS受信を再開しました。",
    "vi": "Bạn sẽ nhận lại tin nhắn từ Trung tâm 120 Dasan.",
    "mn": "120 Дасан төвийн мессежийг дахин хүлээн авна.",
}
IDLE_ENDED = {
    "ko": "{minutes}분 동안 대화가 없어 채팅을 종료했습니다. 필요하시면 언제든 새 채팅을 시작해 주세요.",
    "en": "This chat was ended after {minutes} minutes without messages. You can start a new chat at any time.",
    "zh": "由于{minutes}分钟内没有消息，本次咨询已结束。如有需要，请随时开始新的咨询。",
    "ja": "{minutes}分間メッセージがなかったため、チャットを終了しました。必要なときはいつでも新しいチャットを始めてください。",
    "vi": "Cuộc trò chuyện đã kết thúc vì không có tin nhắn trong {minutes} phút. Bạn có thể bắt đầu cuộc trò chuyện mới bất cứ lúc nào.",
    "mn": "{minutes} минутын турш мессеж ирээгүй тул чатыг дуусгалаа. Хэрэгтэй үедээ шинэ чат эхлүүлээрэй.",
}
CHAT_LINK = {
    "ko": "120다산콜센터 채팅 상담: {url}",
    "en": "120 Dasan Call Center chat: {url}",
    "zh": "120茶山呼叫中心在线咨询：{url}",
    "ja": "120茶山コールセンター チャット相談：{url}",
    "vi": "Trò chuyện với Trung tâm 120 Dasan: {url}",
    "mn": "120 Дасан төвийн чат: {url}",
}


def _pick(table: dict[str, str], language: str) -> str:
    return table.get(language, table["ko"])


def chat_closed(language: str) -> str:
    return f"{_pick(CLOSED, language)} {_pick(HOURS, language)}"


def opted_out(language: str) -> str:
    return _pick(OPTED_OUT, language)


def opted_in(language: str) -> str:
    return _pick(OPTED_IN, language)


def chat_link(language: str, url: str) -> str:
    """The chat link and the hours (the IVR's "send me a text" offer)."""
    return f"{_pick(CHAT_LINK, language).format(url=url)} {_pick(HOURS, language)}"


def idle_ended(language: str, idle_s: float) -> str:
    """Told to a citizen whose chat was ended for lack of messages (rounded up minutes)."""
    minutes = max(1, -(-int(idle_s) // 60))
    return _pick(IDLE_ENDED, language).format(minutes=minutes)
