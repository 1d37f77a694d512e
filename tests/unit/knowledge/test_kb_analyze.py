"""Analysis: Korean stems shared across inflections, jamo romanization, CJK pairs."""

from __future__ import annotations

from knowledge.analyze import Analyzer, fuzzy_form, romanize_syllable, trigrams


def test_inflected_questions_share_their_content_stems(analyzer: Analyzer) -> None:
    a = set(analyzer.terms("여권을 재발급받으려면 어떻게 하나요?"))
    b = set(analyzer.terms("여권 재발급"))
    assert {"여권", "재", "발급"} <= a
    assert b <= a


def test_particles_and_common_stems_are_not_terms(analyzer: Analyzer) -> None:
    terms = analyzer.terms("대형폐기물은 어디에 버려야 하나요?")
    assert "은" not in terms and "하" not in terms and "어디" not in terms
    assert "폐기물" in terms


def test_terms_are_plain_words(analyzer: Analyzer) -> None:
    for term in analyzer.terms('여권 "재발급" OR (passport) -- 护照; NEAR/2 *'):
        assert term.isalnum(), term


def test_other_languages(analyzer: Analyzer) -> None:
    assert analyzer.terms("How do I renew my passport?") == ["renew", "passport"]
    assert "护照" in analyzer.terms("如何办理护照续签")
    assert "hộ" in analyzer.terms("gia hạn hộ chiếu")
    assert "паспорт" in analyzer.terms("Паспорт сунгах")


def test_romanized_jamo() -> None:
    assert romanize_syllable("여") == "yeo"
    assert romanize_syllable("권") == "gwon"
    assert fuzzy_form("여권 재발급!") == "yeogwon jaebalgeub"
    assert fuzzy_form("Hộ chiếu") == "ho chieu"


def test_one_wrong_jamo_keeps_most_trigrams() -> None:
    right = set(trigrams(fuzzy_form("음식물쓰레기")))
    typo = set(trigrams(fuzzy_form("음식물쓰래기")))
    assert len(right & typo) / len(right) > 0.6
