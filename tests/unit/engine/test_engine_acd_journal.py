"""The ACD journal has its own writer: a journal that cannot be written is reported (and
reported again when it recovers), routing and the timer go on, and no line is lost."""

from __future__ import annotations

import json
from pathlib import Path

from engine_support import eventually

from acd.commands import OfferCall
from acd.driver import AcdDriver
from acd.events import CallArrived, ConsultantLoggedIn
from acd.model import ConsultantState, Language, Priority
from acd.settings import AcdSettings


async def test_journal_failure_is_reported_and_routing_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "acd"
    folder.write_text("not a folder")  # every append fails (NotADirectoryError)
    driver = AcdDriver(AcdSettings(logged_in=()), folder)
    journal = driver.journal
    assert journal is not None
    problems: list[str | None] = []
    journal.on_problem = problems.append
    try:
        driver.feed(ConsultantLoggedIn("c0001", ready=True))
        commands = driver.feed(CallArrived("call-1", Language("ko"), "general", Priority.NORMAL))
        assert [c.consultant_id for c in commands if isinstance(c, OfferCall)] == ["c0001"]
        await eventually(lambda: bool(problems), "the failure reported")
        assert problems[0] is not None and "cannot be written" in problems[0]
        # Routing goes on while the journal is down: another call, another consultant.
        driver.feed(ConsultantLoggedIn("c0002", ready=True))
        driver.feed(CallArrived("call-2", Language("ko"), "general", Priority.NORMAL))
        assert driver.state.consultant_state("c0002") is ConsultantState.RINGING
        folder.unlink()  # the disk is back
        await eventually(lambda: problems[-1] is None, "the recovery reported")
    finally:
        driver.close()
    lines = [json.loads(x) for p in folder.glob("acd-*.jsonl") for x in p.read_text().splitlines()]
    arrivals = [
        r["event"]["call_id"] for r in lines if r.get("event", {}).get("type") == "CallArrived"
    ]
    assert arrivals == ["call-1", "call-2"]  # nothing lost, in order
    assert journal.dropped == 0


async def test_journal_lines_are_written_in_order(tmp_path: Path) -> None:
    driver = AcdDriver(AcdSettings(logged_in=None), tmp_path / "acd")
    driver.log_in_roster()
    driver.close()  # writes what is queued
    lines = [
        json.loads(x)
        for p in (tmp_path / "acd").glob("*.jsonl")
        for x in p.read_text().splitlines()
    ]
    logins = [r["event"]["consultant_id"] for r in lines if r["kind"] == "event"]
    assert logins == list(driver.state.agents)
