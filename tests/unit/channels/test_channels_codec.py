"""SMS on the wire: UCS-2 for Korean, parts of long messages, inbound bytes, numbers, opt-out."""

from __future__ import annotations

import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.sms.codec import (
    SmsRefused,
    decode_inbound,
    encoding_for,
    guess_language,
    keyword,
    normalize_number,
)


def test_korean_goes_as_ucs2_and_long_text_is_split() -> None:
    assert encoding_for("안녕하세요", 6).coding == 2
    assert encoding_for("가" * 70, 6).parts == 1
    assert encoding_for("가" * 71, 6).parts == 2  # 67 per part once concatenated
    assert encoding_for("a" * 160, 6).parts == 1
    assert encoding_for("a" * 161, 6).parts == 2
    assert encoding_for("hello", 6).coding == 0


def test_text_needing_too_many_parts_is_refused() -> None:
    with pytest.raises(SmsRefused) as refused:
        encoding_for("가" * 500, 6)
    assert refused.value.reason == "too_long"


def test_inbound_ucs2_as_kannel_sends_it() -> None:
    # The query Kannel's get-url produced for a fakesmsc "ucs2" message (recorded).
    raw = (
        "key=k&from=01099998888&to=120&coding=2&charset=UTF-16BE"
        "&text=%C5H%B1U%D5X%C18%C6%94%00+%BC%84%C2%A4%00+%BB8%C7X&id=e39e9001"
    )
    sms = decode_inbound(raw)
    assert (sms.sender, sms.text, sms.kannel_id) == (
        "01099998888",
        "안녕하세요 버스 문의",
        "e39e9001",
    )


def test_inbound_gsm_text() -> None:
    sms = decode_inbound(
        "from=%2B821012345678&to=120&coding=0&charset=UTF-8&text=hello%2Bthere+STOP"
    )
    assert (sms.sender, sms.text) == ("+821012345678", "hello+there STOP")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("from=&to=120&coding=0&text=hi", "unknown_number"),
        ("from=Dasan&to=120&coding=0&text=hi", "unknown_number"),
        ("from=0101234&to=120&coding=2&charset=UTF-16BE&text=%D8%00", "malformed"),
        ("from=0101234&to=120&coding=0&charset=nonsense-9&text=hi", "malformed"),
        ("from=0101234&to=120&coding=0&text=", "empty"),
        ("from=0101234&to=120&coding=0&text=a%00b", "control"),
    ],
)
def test_bad_inbound_is_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(SmsRefused) as refused:
        decode_inbound(raw)
    assert refused.value.reason == reason


@given(st.text(min_size=1, max_size=300))
def test_inbound_round_trips_or_is_refused(text: str) -> None:
    quoted = urllib.parse.quote_from_bytes(text.encode("utf-16-be", "surrogatepass"))
    try:
        sms = decode_inbound(f"from=01012345678&to=120&coding=2&charset=UTF-16BE&text={quoted}")
    except SmsRefused:
        return
    assert sms.text.strip()


def test_numbers() -> None:
    assert normalize_number("010-1234-5678") == "01012345678"
    for bad in ("", "12", "call me", "+82 10 1234 5678 9999 1"):
        with pytest.raises(SmsRefused):
            normalize_number(bad)


def test_keywords_and_languages() -> None:
    assert keyword(" 수신거부 ") == "opt_out"
    assert keyword("STOP") == "opt_out"
    assert keyword("start") == "opt_in"
    assert keyword("stop the bus") is None
    assert guess_language("버스 문의") == "ko"
    assert guess_language("バスの時刻表を教えて") == "ja"
    assert guess_language("公交车") == "zh"
    assert guess_language("Автобус") == "mn"
    assert guess_language("Xe buýt số mấy?") == "vi"
    assert guess_language("Which bus?") == "en"
