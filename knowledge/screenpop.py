"""Cases for the screen pop, from the call's IVR journey (before the first word is said).

The query is what the caller said to the speech menu when it was recognized, else the words
of the route the call took (``knowledge/data/journey.yaml``); a call routed to a foreign
language service (``foreign_xx``/``interp_xx``) or in a language other than Korean searches
that language's cases. Pure except for the search itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml

from knowledge.cases import LANGUAGES
from knowledge.search import Searcher, SearchHit


@cache
def routes() -> dict[str, dict[str, Any]]:
    text = resources.files("knowledge").joinpath("data/journey.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True, slots=True)
class JourneyQuery:
    text: str
    language: str
    services: tuple[str, ...]


def journey_query(journey: Any, service: str | None, language: str | None) -> JourneyQuery | None:
    """What to search for a call routed to ``service`` after ``journey`` (its JSON)."""
    spoken = []
    if isinstance(journey, dict):
        for entry in journey.get("entries") or []:
            if isinstance(entry, dict) and entry.get("event") == "speech" and entry.get("value"):
                spoken.append(str(entry["value"]))
    lang = language if language in LANGUAGES else "ko"
    if service and "_" in service and service.split("_")[-1] in LANGUAGES:
        lang = service.split("_")[-1]
    route = routes().get(service or "", routes()["general"])
    words = " ".join(spoken) or str(route["words"])
    if lang != "ko" and not spoken:
        return JourneyQuery("", lang, ())
    return JourneyQuery(words, lang, tuple(route["services"]))


async def suggest(
    searcher: Searcher, query: JourneyQuery | None, limit: int, day: date | None = None
) -> list[SearchHit]:
    if query is None or limit <= 0:
        return []
    if not query.text:  # a foreign-language call with nothing said: that language's cases
        return []
    hits = await searcher.search(query.text, language=query.language, limit=50, day=day)
    if query.services:
        hits = [h for h in hits if h.service in query.services] or hits
    return hits[:limit]
