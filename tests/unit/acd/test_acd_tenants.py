"""Districts as tenants: the file's errors, the queues and skills it adds, and the routing of a
district's calls (own consultants first, the city after the overflow delay or at once when the
district has nobody staffed), with the journal saying why a call overflowed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from acd_support import Harness, offers, person, records, tiny_catalog

from acd.errors import AcdConfigError
from acd.events import (
    CallArrived,
    CallEnded,
    ConsultantLoggedIn,
    ConsultantLoggedOut,
    OfferAccepted,
    Tick,
)
from acd.model import Language
from acd.tenants import CITY, Tenants, parse_tenants, split_queue
from ivr.closed_days import HolidayCalendar
from ivr.hours import ServiceHours

KO = Language.KO

GOOD = """
districts:
  - id: gangnam
    name: {ko: 강남구, en: Gangnam-gu}
    dial: ["12001"]
    consultants: [g1]
    shared: [g2]
    services: [general]
    overflow_after_s: 30
  - id: mapo
    name: {ko: 마포구, en: Mapo-gu}
    dial: ["12002", "12003"]
    consultants: [m1, g1]
    services: [general, welfare]
    overflow_after_s: 10
    unstaffed_to_city: false
"""


def roster() -> list:
    return [
        person("g1", general=4, welfare=2),
        person("g2", general=3),
        person("m1", general=2, welfare=5),
        person("city1", general=5),
    ]


def tenants(text: str = GOOD) -> Tenants:
    return parse_tenants(text, "tenants.yaml", tiny_catalog(), roster())


def harness(text: str = GOOD) -> Harness:
    catalog, people = tenants(text).apply(tiny_catalog(), roster())
    return Harness(people, catalog=catalog)


def test_a_good_file_adds_district_queues_and_skills() -> None:
    t = tenants()
    assert t.ids() == (CITY, "gangnam", "mapo")
    assert t.by_dial("12003") == "mapo" and t.by_dial("120") is None
    assert t.queue_for("gangnam", "general") == "general__gangnam"
    # Gangnam runs no welfare queue: its welfare calls wait in the city's.
    assert t.queue_for("gangnam", "welfare") == "welfare"
    assert t.queue_for(None, "general") == "general"
    assert split_queue("welfare__mapo") == ("welfare", "mapo")
    catalog, people = t.apply(tiny_catalog(), roster())
    assert {"general__gangnam", "general__mapo", "welfare__mapo"} <= set(catalog)
    stages = catalog["general__gangnam"].stages
    assert [(s.after_s, s.via_service, s.when_unstaffed) for s in stages] == [
        (0.0, None, False),
        (30.0, "general", True),
        (35.0, "general", False),  # the city's own later stage, shifted by the delay
    ]
    skills = {c.id: dict(c.skills) for c in people}
    # g1 serves two districts and not the city; g2 is shared; m1 lacks nothing it holds.
    assert skills["g1"] == {"general__gangnam": 4, "general__mapo": 4, "welfare__mapo": 2}
    assert skills["g2"] == {"general": 3, "general__gangnam": 3}
    assert skills["m1"] == {"general__mapo": 2, "welfare__mapo": 5}
    assert skills["city1"] == {"general": 5}
    assert t.consultant_tenants("g1") == ("gangnam", "mapo")
    assert t.consultant_tenants("g2") == ("gangnam", CITY)
    assert t.consultant_tenants("city1") == (CITY,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("districts: [\n  {id: x,\n", "not valid YAML"),
        (GOOD.replace("overflow_after_s: 30", "overflow_after_s: -1"), "line 9: districts.0."),
        (
            GOOD.replace("[g1]\n    shared", "[nobody]\n    shared"),
            "line 6: districts.0.consultants",
        ),
        (GOOD.replace("[general, welfare]", "[general, tax]"), "line 14: districts.1.services"),
        (GOOD.replace('["12002", "12003"]', '["12001"]'), "'12001' already belongs to 'gangnam'"),
        (GOOD.replace("id: mapo", "id: gangnam"), "duplicate district 'gangnam'"),
        (GOOD.replace("id: mapo", "id: city"), "districts.1.id"),
        (GOOD.replace('    dial: ["12001"]\n', ""), "districts.0.dial: Field required"),
        (GOOD.replace("overflow_after_s: 10", "overflow_after: 10"), "districts.1.overflow_after"),
    ],
)
def test_bad_files_name_the_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(AcdConfigError) as caught:
        tenants(text)
    assert "tenants.yaml" in str(caught.value)
    assert expected in str(caught.value)


def test_a_district_call_goes_to_its_own_consultant_first() -> None:
    h = harness()
    for cid in ("city1", "g1"):
        h.feed(ConsultantLoggedIn(cid), 0)
    commands = h.feed(CallArrived("k1", KO, "general__gangnam"), 1)
    assert offers(commands) == [("k1", "g1")]
    assert "overflow" not in records(commands)[0].reason


def test_a_busy_district_overflows_to_the_city_after_its_delay() -> None:
    h = harness()
    for cid in ("city1", "g1"):
        h.feed(ConsultantLoggedIn(cid), 0)
    h.feed(CallArrived("k1", KO, "general__gangnam"), 1)
    h.feed(OfferAccepted("k1", "g1"), 2)
    # g1 is talking: k2 waits for Gangnam while the city's consultant stays free.
    assert offers(h.feed(CallArrived("k2", KO, "general__gangnam"), 3)) == []
    assert h.wakeup == 33.0  # the overflow stage's opening is a timer, not a poll
    assert offers(h.feed(Tick(), 32.9)) == []
    commands = h.feed(Tick(), 33.0)
    assert offers(commands) == [("k2", "city1")]
    reason = records(commands)[0].reason
    assert "overflow to general: waited 30.0 s >= 30 s" in reason


def test_a_district_with_nobody_staffed_goes_to_the_city_at_once() -> None:
    h = harness()
    h.feed(ConsultantLoggedIn("city1"), 0)
    commands = h.feed(CallArrived("k1", KO, "general__gangnam"), 1)
    assert offers(commands) == [("k1", "city1")]
    assert "no consultant of general__gangnam staffed (waited 0.0 s of 30 s)" in (
        records(commands)[0].reason
    )


def test_a_district_consultant_logging_out_opens_the_city_for_its_waiting_calls() -> None:
    h = harness()
    for cid in ("g1", "city1"):
        h.feed(ConsultantLoggedIn(cid), 0)
    h.feed(CallArrived("k1", KO, "general__gangnam"), 1)
    h.feed(OfferAccepted("k1", "g1"), 1)
    h.feed(ConsultantLoggedIn("g2"), 1)
    h.feed(CallArrived("k2", KO, "general__gangnam"), 2)  # g2 (shared) takes it
    h.feed(OfferAccepted("k2", "g2"), 2)
    assert offers(h.feed(CallArrived("k3", KO, "general__gangnam"), 3)) == []
    # Both district consultants leave after their calls: nobody of Gangnam is staffed.
    h.feed(ConsultantLoggedOut("g1"), 4)
    h.feed(ConsultantLoggedOut("g2"), 4)
    h.feed(CallEnded("k1"), 5)
    # Still staffed while in wrap-up (10 s): the district may yet take k3.
    assert offers(h.feed(CallEnded("k2"), 6)) == []
    assert offers(h.feed(Tick(), 15.5)) == []
    assert offers(h.feed(Tick(), 16)) == [("k3", "city1")]


def test_a_district_may_keep_its_calls_when_nobody_is_staffed() -> None:
    h = harness()
    h.feed(ConsultantLoggedIn("city1"), 0)
    # Mapo does not send calls to the city at once: only after its 10 s.
    assert offers(h.feed(CallArrived("k1", KO, "welfare__mapo"), 1)) == []
    assert h.wakeup == 11.0


def test_city_calls_never_reach_district_only_consultants() -> None:
    h = harness()
    h.feed(ConsultantLoggedIn("g1"), 0)
    assert offers(h.feed(CallArrived("c1", KO, "general"), 1)) == []
    assert offers(h.feed(Tick(), 100)) == []
    assert offers(h.feed(ConsultantLoggedIn("g2"), 101)) == [("c1", "g2")]


HOURS = GOOD.replace(
    "    overflow_after_s: 30\n",
    '    overflow_after_s: 30\n    hours:\n      weekdays: ["09:00-18:00"]\n      weekends: []\n',
)
SEOUL = ServiceHours(ZoneInfo("Asia/Seoul"), {}, HolidayCalendar())


def seoul(day: int, hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def test_a_closed_district_sends_its_calls_to_the_city() -> None:
    t = tenants(HOURS)
    thursday, saturday = 3, 5  # December 2026
    assert t.is_open("gangnam", SEOUL, seoul(thursday, 10))
    assert not t.is_open("gangnam", SEOUL, seoul(thursday, 18))  # windows are half-open
    assert not t.is_open("gangnam", SEOUL, seoul(saturday, 10))
    assert not t.is_open("gangnam", SEOUL, seoul(25, 10))  # Christmas: a holiday, no window
    # Hours are the center's zone: 01:00 UTC is 10:00 in Seoul.
    assert t.is_open("gangnam", SEOUL, dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC))
    assert t.is_open("mapo", SEOUL, seoul(saturday, 3))  # no hours: always open
    assert t.is_open(None, SEOUL, seoul(saturday, 3))
    assert t.queue_for("gangnam", "general", open_now=False) == "general"


def test_bad_district_hours_name_the_line() -> None:
    with pytest.raises(AcdConfigError, match=r"line 11: districts\.0\.hours\.weekdays: .*HH:MM"):
        tenants(HOURS.replace("09:00-18:00", "9h-18h"))
