"""A deterministic, realistic knowledge base for tests, demos and benchmarks (no real people).

``generate_cases(seed)`` builds Korean cases for Seoul city services (every topic x what is
asked about it, city-wide and per district for district-run services) and translations of
some of them into en/zh/ja/vi/mn, from ``knowledge/data/corpus.yaml``. ``labeled_queries``
writes how citizens would ask for them instead: other words (the topic's everyday names,
spoken question forms), typos (one vowel or final consonant wrong), words run together or cut
short, each with the set of cases that answer it.

Invariants:
- Same seed, same cases and queries, in the same order, with the same ids (1..N).
- Every case validates as ``CaseContent``; about 1 case in 50 has expired (``valid_until``
  before ``REFERENCE_DAY``) and is never a relevant answer of a labeled query.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from knowledge.cases import CaseContent

REFERENCE_DAY = date(2026, 12, 1)  # the day the benchmark queries are asked
_FEES = ["무료", "1,000", "2,000", "3,000", "5,000", "10,000", "15,000", "53,000"]
_VOWEL_SLIPS = {0: 4, 4: 0, 1: 5, 5: 1, 6: 2, 2: 6, 8: 13, 13: 8, 12: 17, 17: 12, 18: 20, 20: 18}


@cache
def vocabulary() -> dict[str, Any]:
    text = resources.files("knowledge").joinpath("data/corpus.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True, slots=True)
class GeneratedCase:
    id: int
    content: CaseContent
    topic: str
    intent: str
    district: str | None
    expired: bool


@dataclass(frozen=True, slots=True)
class LabeledQuery:
    query: str
    language: str | None
    kind: str
    relevant: tuple[int, ...]
    meta: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "language": self.language,
            "kind": self.kind,
            "relevant": list(self.relevant),
        }


def _validity(rng: random.Random, service: str) -> tuple[date | None, date | None, bool]:
    roll = rng.random()
    if roll < 0.02:
        return date(2025, 1, 1), date(2025, 12, 31), True
    if service in ("welfare", "culture") and roll < 0.3:
        return date(2026, 1, 1), date(2026, 12, 31), False
    return None, None, False


def _korean(
    rng: random.Random,
    *,
    service: dict[str, Any],
    topic: dict[str, Any],
    intent: dict[str, Any],
    district: str | None,
    online: list[str],
    voc: dict[str, Any],
) -> tuple[CaseContent, bool]:
    name = topic["name"]
    department = (
        f"{district}청 {service['local_department']}"
        if district
        else f"서울시 {service['department']}"
    )
    channels, docs = voc["channels"], voc["documents"]
    c1, c2 = rng.sample(channels, 2)
    d1, d2 = rng.sample(docs, 2)
    values = {
        "topic": name,
        "channel": c1,
        "channel2": c2,
        "doc": d1,
        "doc2": d2,
        "fee": rng.choice(_FEES),
        "days": rng.choice([3, 5, 7, 14, 30]),
        "department": department,
        "online": rng.choice(online),
    }
    question = rng.choice(intent["ask"]).format(**values)
    prefix = f"[{district}] " if district else ""
    valid_from, valid_until, expired = _validity(rng, service["code"])
    content = CaseContent(
        language="ko",
        title=f"{prefix}{name} {intent['title']}",
        question=(f"{district}에서 " if district else "") + question,
        answer=intent["answer"].format(**values),
        service=service["code"],
        tags=tuple(topic["tags"]) + ((district,) if district else ()),
        department=department,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    return content, expired


def generate_cases(seed: int = 120) -> list[GeneratedCase]:
    voc = vocabulary()
    rng = random.Random(seed)
    out: list[GeneratedCase] = []
    city_wide: dict[tuple[str, str], int] = {}
    for service in voc["services"]:
        for topic in service["topics"]:
            places = [None, *voc["districts"]] if topic.get("local") else [None]
            for intent in voc["intents"]:
                for district in places:
                    content, expired = _korean(
                        rng,
                        service=service,
                        topic=topic,
                        intent=intent,
                        district=district,
                        online=voc["online"],
                        voc=voc,
                    )
                    case = GeneratedCase(
                        len(out) + 1, content, topic["name"], intent["key"], district, expired
                    )
                    out.append(case)
                    if district is None:
                        city_wide[(topic["name"], intent["key"])] = case.id
    out.extend(_foreign(voc, city_wide, len(out)))
    return out


def _foreign(
    voc: dict[str, Any], city_wide: dict[tuple[str, str], int], start: int
) -> list[GeneratedCase]:
    out: list[GeneratedCase] = []
    for service in voc["services"]:
        for topic in service["topics"]:
            for language, name in (topic.get("i18n") or {}).items():
                forms = voc["foreign"][language]
                for intent in voc["intents"]:
                    values = {"topic": name, "intent": intent["i18n"][language]}
                    content = CaseContent(
                        language=language,
                        title=forms["title"].format(**values),
                        question=forms["question"].format(**values),
                        answer=forms["answer"].format(**values),
                        service=service["code"],
                        tags=(name,),
                        department=f"서울시 {service['department']}",
                        translation_of=city_wide[(topic["name"], intent["key"])],
                    )
                    out.append(
                        GeneratedCase(
                            start + len(out) + 1, content, topic["name"], intent["key"], None, False
                        )
                    )
    return out


# Labeled queries ---------------------------------------------------------------------------
def _compose(initial: int, medial: int, final: int) -> str:
    return chr(0xAC00 + (initial * 21 + medial) * 28 + final)


def typo(word: str, rng: random.Random) -> str:
    """One Hangul syllable of ``word`` with a slipped vowel or a dropped/added final."""
    spots = [i for i, ch in enumerate(word) if 0xAC00 <= ord(ch) <= 0xD7A3]
    if not spots:
        return word
    i = rng.choice(spots)
    initial, rest = divmod(ord(word[i]) - 0xAC00, 21 * 28)
    medial, final = divmod(rest, 28)
    if medial in _VOWEL_SLIPS and rng.random() < 0.6:
        medial = _VOWEL_SLIPS[medial]
    else:
        final = 0 if final else 4  # drop the final consonant, or add ㄴ
    return word[:i] + _compose(initial, medial, final) + word[i + 1 :]


def _query_text(
    kind: str, topic: dict[str, Any], intent: dict[str, Any], rng: random.Random
) -> str:
    if kind == "paraphrase":
        return str(rng.choice(intent["says"])).format(say=rng.choice(topic["says"]))
    name = topic["name"]
    if kind == "typo":
        return f"{typo(name.replace(' ', ''), rng)} {intent['title']}"
    if kind == "spacing":
        return f"{name}{intent['title']}".replace(" ", "")
    words = name.split()
    cut = " ".join([*words[:-1], words[-1][: max(2, len(words[-1]) - 1)]])
    return f"{cut} {intent['title']}"


def labeled_queries(
    cases: list[GeneratedCase], count: int = 240, seed: int = 2026
) -> list[LabeledQuery]:
    """``count`` queries (about 1 in 8 in a foreign language) with their relevant case ids."""
    voc = vocabulary()
    rng = random.Random(seed)
    topics = {t["name"]: t for s in voc["services"] for t in s["topics"]}
    intents = {i["key"]: i for i in voc["intents"]}
    groups: dict[tuple[str, str, str], list[GeneratedCase]] = {}
    for case in cases:
        if not case.expired:
            key = (case.content.language, case.topic, case.intent)
            groups.setdefault(key, []).append(case)
    korean = sorted(k for k in groups if k[0] == "ko")
    foreign = sorted(k for k in groups if k[0] != "ko")
    out: list[LabeledQuery] = []
    kinds = ["paraphrase", "paraphrase", "typo", "spacing", "partial"]
    while len(out) < count:
        if rng.random() < 0.125:
            language, topic_name, intent_key = rng.choice(foreign)
            query = rng.choice(groups[(language, topic_name, intent_key)]).content.title
            words = query.replace("：", " ").replace(":", " ").split()
            query = " ".join(w for w in words if rng.random() > 0.2) or query
            relevant = tuple(c.id for c in groups[(language, topic_name, intent_key)])
            out.append(LabeledQuery(query, language, "foreign", relevant))
            continue
        key = rng.choice(korean)
        kind = rng.choice(kinds)
        group = groups[key]
        query = _query_text(kind, topics[key[1]], intents[key[2]], rng)
        local = [c for c in group if c.district]
        if local and rng.random() < 0.3:
            pick = rng.choice(local)
            query = f"{pick.district} {query}"
            group = [c for c in group if c.district in (None, pick.district)]
        out.append(LabeledQuery(query, None, kind, tuple(sorted(c.id for c in group))))
    return out
