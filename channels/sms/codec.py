"""SMS on the wire to and from Kannel (pure): coding, parts, numbers, inbound decoding, opt-out.

Invariants:
- Text that the GSM 7-bit default alphabet cannot carry (Korean, Chinese, Japanese,
  Vietnamese, Mongolian Cyrillic) goes as UCS-2 (``coding=2``): 70 characters in one SMS, 67
  per part of a concatenated one; GSM text 160/153. Longer than ``max_parts`` is refused.
- Inbound text is decoded from the raw bytes Kannel passes (``%b``) with the charset it
  names (``%C``); undecodable bytes are refused with the reason, never guessed.
- A number is digits with an optional leading ``+`` (3 to 15 digits); anything else (a
  hidden or alphanumeric sender) is refused as ``unknown_number``.
- Opt-out and opt-in are whole-message keywords (case and surrounding spaces ignored).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from channels.model import MAX_SMS_TEXT, MessageRefused, clean_text

_GSM = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = "^{}\\[~]|€"
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")
OPT_OUT = frozenset(
    {"stop", "수신거부", "거부", "unsubscribe", "退订", "停止", "配信停止", "huy", "hủy"}
)
OPT_IN = frozenset({"start", "수신동의", "subscribe"})


class SmsRefused(MessageRefused):
    """An SMS that is not sent or not accepted; ``reason`` is a short code."""


@dataclass(frozen=True, slots=True)
class Encoding:
    coding: int  # 0: GSM 7-bit, 2: UCS-2
    parts: int


def is_gsm(text: str) -> bool:
    return all(c in _GSM or c in _GSM_EXT for c in text)


def _gsm_length(text: str) -> int:
    return sum(2 if c in _GSM_EXT else 1 for c in text)


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


def encoding_for(text: str, max_parts: int) -> Encoding:
    if is_gsm(text):
        length, single, each, coding = _gsm_length(text), 160, 153, 0
    else:
        length, single, each, coding = _ucs2_units(text), 70, 67, 2
    parts = 1 if length <= single else -(-length // each)
    if parts > max_parts:
        raise SmsRefused("too_long", f"the text needs {parts} SMS parts; at most {max_parts}")
    return Encoding(coding, parts)


def normalize_number(number: object) -> str:
    if not isinstance(number, str):
        raise SmsRefused("unknown_number", "the number must be text")
    compact = re.sub(r"[\s\-().]", "", number)
    if not _NUMBER.match(compact):
        raise SmsRefused("unknown_number", f"not a phone number: {number[:32]!r}")
    return compact


def outgoing_text(text: object) -> str:
    try:
        return clean_text(text, MAX_SMS_TEXT)
    except MessageRefused as exc:
        raise SmsRefused(exc.reason, str(exc)) from exc


@dataclass(frozen=True, slots=True)
class InboundSms:
    sender: str
    receiver: str
    text: str
    kannel_id: str | None


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def decode_inbound(raw_query: str) -> InboundSms:
    """Parse the get-url query Kannel sends (``channels.sms.kannel.inbound_url``)."""
    # latin-1 keeps every percent-decoded byte as one character, so the bytes come back intact.
    fields = urllib.parse.parse_qs(raw_query, keep_blank_values=True, encoding="latin-1")
    sender = normalize_number(_one(fields, "from"))
    receiver = _one(fields, "to") or ""
    raw = (_one(fields, "text") or "").encode("latin-1")
    coding = _one(fields, "coding") or "0"
    charset = (_one(fields, "charset") or "").strip() or ("UTF-16BE" if coding == "2" else "UTF-8")
    try:
        text = raw.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise SmsRefused("malformed", f"the text does not decode as {charset}: {exc}") from exc
    try:
        clean = clean_text(text, MAX_SMS_TEXT)
    except MessageRefused as exc:
        raise SmsRefused(exc.reason, str(exc)) from exc
    return InboundSms(sender, receiver, clean, _one(fields, "id"))


def keyword(text: str) -> str | None:
    word = text.strip().lower()
    if word in OPT_OUT:
        return "opt_out"
    if word in OPT_IN:
        return "opt_in"
    return None


_SCRIPTS = (
    ("ko", re.compile(r"[\uac00-\ud7a3\u1100-\u11ff]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
    ("mn", re.compile(r"[\u0400-\u04ff]")),
    ("vi", re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)),
    ("en", re.compile(r"[a-zA-Z]")),
)


def guess_language(text: str) -> str:
    """The citizen's language from the script of their text (Korean by default; kana before
    Chinese characters, since Japanese text holds both)."""
    for language, pattern in _SCRIPTS:
        if pattern.search(text):
            return language
    return "ko"
