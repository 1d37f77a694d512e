"""Screen-pop cases from the IVR journey: spoken words first, else the route's words."""

from __future__ import annotations

from knowledge.screenpop import journey_query, routes


def _journey(*entries: dict[str, object]) -> dict[str, object]:
    return {"started_at": "2026-12-01T09:00:00+00:00", "entries": list(entries)}


def test_spoken_words_are_the_query() -> None:
    journey = _journey(
        {"t_ms": 10, "node": "main_menu", "event": "speech", "value": "여권"},
        {"t_ms": 20, "node": "route_documents", "event": "route", "value": "documents"},
    )
    query = journey_query(journey, "documents", "ko")
    assert query is not None
    assert (query.text, query.language, query.services) == ("여권", "ko", ("passport", "civil"))


def test_keys_only_use_the_route_words() -> None:
    journey = _journey({"t_ms": 10, "node": "main_menu", "event": "digits", "value": "4"})
    query = journey_query(journey, "water_tax", "ko")
    assert query is not None and query.text == routes()["water_tax"]["words"]
    assert query.services == ("water", "tax")


def test_unknown_routes_and_bad_journeys_fall_back_to_general() -> None:
    for journey in (None, "junk", {"entries": "junk"}, _journey("junk")):
        query = journey_query(journey, "no_such_route", None)
        assert query is not None and query.text == routes()["general"]["words"]


def test_foreign_routes_search_their_language() -> None:
    query = journey_query(_journey(), "foreign_vi", "vi")
    assert query is not None and query.language == "vi" and query.text == ""
    spoken = journey_query(
        _journey({"t_ms": 1, "node": "x", "event": "speech", "value": "hộ chiếu"}),
        "foreign_vi",
        "vi",
    )
    assert spoken is not None and spoken.text == "hộ chiếu" and spoken.language == "vi"
