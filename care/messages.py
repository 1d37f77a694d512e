"""What the citizen is told about their ticket, in their language (Korean first, all six).

Invariant: every message kind exists in every language (a unit test checks); the text only
states what happened to the ticket, never promises a time the system does not keep.
"""

from __future__ import annotations

LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")

_TEXTS: dict[str, dict[str, str]] = {
    "accepted": {
        "ko": "120다산콜재단: 접수하신 민원 {ticket}을(를) 담당 부서가 맡았습니다.",
        "en": "Seoul 120: your report {ticket} has been taken by the responsible department.",
        "zh": "首尔120：您的投诉 {ticket} 已由负责部门受理。",
        "ja": "ソウル120：ご報告 {ticket} は担当部署が受け付けました。",
        "vi": "Seoul 120: phản ánh {ticket} của bạn đã được bộ phận phụ trách tiếp nhận.",
        "mn": "Сөүл 120: таны гомдол {ticket}-ийг хариуцсан хэлтэс хүлээн авлаа.",
    },
    "progress": {
        "ko": "120다산콜재단: 민원 {ticket} 처리 경과: {text}",
        "en": "Seoul 120: progress on your report {ticket}: {text}",
        "zh": "首尔120：您的投诉 {ticket} 处理进展：{text}",
        "ja": "ソウル120：ご報告 {ticket} の進捗：{text}",
        "vi": "Seoul 120: tiến độ xử lý phản ánh {ticket}: {text}",
        "mn": "Сөүл 120: таны гомдол {ticket}-ийн явц: {text}",
    },
    "resolved": {
        "ko": "120다산콜재단: 민원 {ticket}이(가) 처리되었습니다: {text}",
        "en": "Seoul 120: your report {ticket} has been resolved: {text}",
        "zh": "首尔120：您的投诉 {ticket} 已处理完毕：{text}",
        "ja": "ソウル120：ご報告 {ticket} は解決しました：{text}",
        "vi": "Seoul 120: phản ánh {ticket} của bạn đã được giải quyết: {text}",
        "mn": "Сөүл 120: таны гомдол {ticket} шийдвэрлэгдлээ: {text}",
    },
}


def kinds() -> tuple[str, ...]:
    return tuple(_TEXTS)


def message(kind: str, language: str, ticket: str, text: str = "") -> str:
    by_language = _TEXTS[kind]
    template = by_language.get(language, by_language["ko"])
    return template.format(ticket=ticket, text=text)
