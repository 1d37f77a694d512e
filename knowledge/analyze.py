"""Text analysis for the knowledge base: index terms for full-text search, a fuzzy form for
trigram matching.

``terms``: Korean is analyzed morphologically (kiwipiepy, its model ships in the package):
content morphemes only (nouns, roots, verb and adjective stems, prefixes such as 재-), so
"여권을 재발급받으려면" and "여권 재발급" share 여권, 재, 발급. Latin-script words (English,
Vietnamese) are lower-cased with their diacritics kept; Chinese and Japanese runs, which
have no spaces, become overlapping character pairs; Cyrillic (Mongolian) words are lower-cased.

``fuzzy``: the same text with each Hangul syllable spelled out as its jamo in Latin letters
(여권 -> "yeogweon"), other letters lower-cased and diacritics dropped, so one wrong jamo or a
missing syllable changes only a few trigrams. PostgreSQL's pg_trgm and SQLite's FTS5 trigram
tokenizer both read this form.

Invariants:
- Pure functions of the text (and the tokenizer's model): indexing and querying analyze alike.
- Terms never contain whitespace or FTS/tsquery syntax characters (only letters and digits).
- The Kiwi model is loaded once per ``Analyzer`` (about 1.5 s); analysis itself is ~0.3 ms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

# Kiwi part-of-speech tags kept as index terms (Sejong tag set).
_CONTENT_TAGS = frozenset(
    {"NNG", "NNP", "NR", "SL", "SH", "SN", "XR", "VV", "VA", "XPN", "SW", "W_SERIAL"}
)
# Tags whose form is the stem of a word that inflects (kept as the stem).
_STEMS = frozenset({"VV", "VA"})
# Stems and words too common in questions to tell cases apart (kept out of the terms).
STOPWORDS = frozenset(
    [
        "하",
        "되",
        "있",
        "없",
        "받",
        "어떻",
        "이",
        "그렇",
        "않",
        "주",
        "알",
        "싶",
        "보",
        "같",
        "드리",
        "어디",
        "언제",
        "무엇",
        "뭐",
        "왜",
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "is",
        "are",
        "was",
        "be",
        "do",
        "does",
        "did",
        "i",
        "my",
        "me",
        "we",
        "you",
        "your",
        "it",
        "how",
        "what",
        "where",
        "when",
        "can",
        "could",
        "should",
        "would",
        "please",
    ]
)
_HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"\w+", re.UNICODE)

_INITIALS = [
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "_",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
]
_MEDIALS = [
    "a",
    "ae",
    "ya",
    "yae",
    "eo",
    "e",
    "yeo",
    "ye",
    "o",
    "wa",
    "wae",
    "oe",
    "yo",
    "u",
    "wo",
    "we",
    "wi",
    "yu",
    "eu",
    "ui",
    "i",
]
_FINALS = [
    "",
    "g",
    "kk",
    "gs",
    "n",
    "nj",
    "nh",
    "d",
    "l",
    "lg",
    "lm",
    "lb",
    "ls",
    "lt",
    "lp",
    "lh",
    "m",
    "b",
    "bs",
    "s",
    "ss",
    "ng",
    "j",
    "ch",
    "k",
    "t",
    "p",
    "h",
]
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3


def romanize_syllable(char: str) -> str:
    code = ord(char) - _HANGUL_FIRST
    initial, rest = divmod(code, 21 * 28)
    medial, final = divmod(rest, 28)
    head = _INITIALS[initial].replace("_", "")
    return head + _MEDIALS[medial] + _FINALS[final]


def fuzzy_form(text: str) -> str:
    """Lower-case words with Hangul spelled as Latin jamo and diacritics removed."""
    words = []
    for word in _WORD.findall(text.lower()):
        out = []
        for char in word:
            if _HANGUL_FIRST <= ord(char) <= _HANGUL_LAST:
                out.append(romanize_syllable(char))
            elif unicodedata.name(char, "").startswith("LATIN"):
                # Drop diacritics: Vietnamese is often typed without them.
                out.append(_strip_marks(char))
            else:
                out.append(char)
        words.append("".join(out).replace("_", ""))
    return " ".join(w for w in words if w)


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")


def trigrams(fuzzy: str) -> list[str]:
    """Distinct 3-character pieces of each word (words shorter than 3 count whole)."""
    seen: dict[str, None] = {}
    for word in fuzzy.split():
        if len(word) < 3:
            seen.setdefault(word, None)
            continue
        for i in range(len(word) - 2):
            seen.setdefault(word[i : i + 3], None)
    return list(seen)


def _cjk_pairs(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _clean(term: str) -> str:
    return "".join(_WORD.findall(unicodedata.normalize("NFC", term.lower())))


class Analyzer:
    """Turns text into index terms; one per process (the tokenizer model is large)."""

    def __init__(self) -> None:
        from kiwipiepy import Kiwi

        self._kiwi: Any = Kiwi()
        # Kiwi's tokenizer is not documented as thread-safe; searches may run in threads.
        self._lock = threading.Lock()

    def terms(self, text: str) -> list[str]:
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        out: list[str] = []
        for token in tokens:
            tag = str(token.tag).split("-")[0]
            if tag not in _CONTENT_TAGS:
                continue
            form = str(token.form)
            if _HAN_KANA.fullmatch(form):
                out.extend(_cjk_pairs(form))
                continue
            term = _clean(form)
            if term and term not in STOPWORDS:
                out.append(term)
        return out

    def terms_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.terms(text) for text in texts]
