"""Safety calls through the real PBX (issue 17), with the campaign's clock injected (a file):
SIPp plays four elderly people on the outside gateway. One answers and presses 1 (recorded,
marked well); one presses 2 (a consultant is connected, with the SAFETY_RETURN priority);
one flagged for a personal call goes straight to a consultant; one never answers (retried once the clock moves on, then a priority call-back, then the
emergency contact and the welfare officer are to be told: pending, nothing delivers yet).
Pacing: never more safety channels up than the trunk limit (from AMI)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dasan.sipp import DTMF_PCAP_DIR, ConsultantUas, ensure_media, fill_scenario, scenarios_dir
from tests.integration.acd.journal import events
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    dasan_json,
    eventually,
)

SEOUL = ZoneInfo("Asia/Seoul")
WELL, HELP, SILENT, PERSONAL = "0107100001", "0107100002", "0107100003", "0107100004"
TRUNK_LIMIT = 2
CONSULTANTS = ["c0001", "c0002", "c0003"]
CSV = (
    "name,number,district,language,hours,emergency_name,emergency_number,officer_name,"
    "officer_number,personal_call\n"
    f"김순자,{WELL},종로구,ko,10:00-12:00,김민수,010-2222-3333,박주무관,02-2148-1234,no\n"
    f"이영희,{HELP},mapo,ko,10:00-12:00,이철수,010-4444-5555,최주무관,02-3153-8000,no\n"
    f"박말순,{SILENT},gangnam,ko,10:00-12:00,박지훈,010-6666-7777,정주무관,02-3423-5114,no\n"
    f"최복례,{PERSONAL},nowon,ko,10:00-12:00,최민호,010-8888-9999,한주무관,02-2116-3114,yes\n"
)


def _clock_file(env: ItEnv) -> Path:
    return env.root / "safety-clock.txt"


def _set_clock(env: ItEnv, at: dt.datetime) -> None:
    path = _clock_file(env)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(at.isoformat(), encoding="utf-8")
    tmp.replace(path)


@pytest.fixture(scope="module")
def engine_env(it_env: ItEnv) -> dict[str, str]:
    # Sunday evening: the week before is over, nothing is due until the test moves the clock.
    _set_clock(it_env, dt.datetime(2026, 12, 6, 20, 0, tzinfo=SEOUL))
    csv = it_env.root / "safety-people.csv"
    csv.write_text(CSV, encoding="utf-8")
    report = dasan_json(it_env, "safety", "import", str(csv))
    assert report["stored"] and report["accepted"] == 4, report
    return {
        "DASAN_ACD__LOGGED_IN": json.dumps(CONSULTANTS),
        "DASAN_SAFETY__ENABLED": "true",
        "DASAN_SAFETY__CLOCK_FILE": str(_clock_file(it_env)),
        "DASAN_SAFETY__TRUNK_LIMIT": str(TRUNK_LIMIT),
        "DASAN_SAFETY__KEEP_FREE": "0",
        "DASAN_SAFETY__CONSULTANT_SHARE": "1.0",
        "DASAN_SAFETY__RING_S": "6",
        "DASAN_SAFETY__ATTEMPTS_BEFORE_ESCALATION": "2",
        "DASAN_SAFETY__RETRY_AFTER_MIN": "30",
        "DASAN_SAFETY__CALLBACK_ATTEMPTS": "1",
        "DASAN_SAFETY__TICK_S": "0.5",
    }


class ElderlyUas:
    """The elderly people's phones: one SIPp UAS on the outside gateway (127.0.0.1:5092)."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> ElderlyUas:
        self._workdir.mkdir(parents=True, exist_ok=True)
        audio, _ = await asyncio.to_thread(ensure_media, self._workdir.parent / "media")
        template = (scenarios_dir() / "safety_elderly_uas.xml").read_text(encoding="utf-8")
        scenario = self._workdir / "elderly.xml"
        scenario.write_text(
            fill_scenario(
                template,
                ring_ms=800,
                audio=audio,
                no_answer_regex=SILENT,
                press_two_regex=HELP,
                key_at_ms=4500,
                key_again_ms=5000,
                pcap_one=DTMF_PCAP_DIR / "dtmf_2833_1.pcap",
                pcap_two=DTMF_PCAP_DIR / "dtmf_2833_2.pcap",
            ),
            encoding="utf-8",
        )
        self._proc = await asyncio.create_subprocess_exec(
            "sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", "5092",
            "-nostdin", "-aa", "-trace_err", "-max_recv_loops", "1000",
            cwd=self._workdir, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await asyncio.wait_for(self._proc.wait(), 10)


def _attempts(env: ItEnv) -> dict[str, list[dict[str, Any]]]:
    people = {p["id"]: p["number"] for p in dasan_json(env, "safety", "people", "--show")}
    by_number: dict[str, list[dict[str, Any]]] = {n: [] for n in people.values()}
    for person_id, number in people.items():
        for entry in dasan_json(env, "safety", "timeline", person_id):
            by_number[number].append(entry)
    return by_number


def _outcomes(timeline: list[dict[str, Any]]) -> list[str]:
    return [e["detail"]["outcome"] for e in timeline if e["kind"] == "call-ended"]


def _max_concurrent(recorder: AmiRecorder) -> int:
    """Safety channels up at once on the outside trunk, from Newchannel / Hangup."""
    up: set[str] = set()
    peak = 0
    for event in recorder.named("Newchannel", "Hangup"):
        if not event.uniqueid.startswith("dasan-sf-"):
            continue
        if event.name == "Newchannel":
            up.add(event.uniqueid)
        else:
            up.discard(event.uniqueid)
        peak = max(peak, len(up))
    return peak


def _desk_never_short(recorder: AmiRecorder) -> None:
    """At every safety call placed (its Newchannel), the consultants' channels up plus the
    safety calls up (the new one included) fit in the logged-in consultants: each safety
    call could still be given a consultant (keep_free is 0 here)."""
    safety: set[str] = set()
    desk: set[str] = set()
    for event in recorder.named("Newchannel", "Hangup"):
        channel, uid = event.get("Channel"), event.uniqueid
        is_desk = any(channel.startswith(f"PJSIP/{c}-") for c in CONSULTANTS)
        group = safety if uid.startswith("dasan-sf-") else desk if is_desk else None
        if group is None:
            continue
        if event.name == "Hangup":
            group.discard(uid)
            continue
        group.add(uid)
        if group is safety:
            assert len(safety) + len(desk) <= len(CONSULTANTS), (sorted(safety), sorted(desk))


@pytest.mark.timeout(420)
async def test_well_help_and_silent_through_the_pbx(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    async with (
        ConsultantUas(sipp_dir / "consultants", ring_ms=300, talk_ms=3000),
        ElderlyUas(sipp_dir / "elderly"),
    ):
        # Monday 10:50 in Seoul: each person's first call of the week is due.
        _set_clock(it_env, dt.datetime(2026, 12, 7, 10, 50, tzinfo=SEOUL))
        found = await eventually(
            lambda: asyncio.to_thread(_attempts, it_env),
            lambda t: (
                len(_outcomes(t[WELL])) == 1
                and len(_outcomes(t[HELP])) == 1
                and len(_outcomes(t[SILENT])) == 1
                and len(_outcomes(t[PERSONAL])) == 1
            ),
            180,
            "the first call to each person",
        )
        assert _outcomes(found[WELL]) == ["well"]
        assert _outcomes(found[HELP]) == ["talked"]
        assert _outcomes(found[SILENT]) == ["no-answer"]
        # Flagged for a personal call: a consultant at once, no check-in.
        assert _outcomes(found[PERSONAL]) == ["talked"]
        # The retry waits for the clock (30 minutes); then retry, call-back, notification.
        _set_clock(it_env, dt.datetime(2026, 12, 7, 11, 21, tzinfo=SEOUL))
        found = await eventually(
            lambda: asyncio.to_thread(_attempts, it_env),
            lambda t: any(e["kind"] == "notification-pending" for e in t[SILENT]),
            180,
            "the silent person's escalation",
        )
    silent = found[SILENT]
    assert _outcomes(silent) == ["no-answer"] * 3
    kinds = [e["detail"]["kind"] for e in silent if e["kind"] == "call-placed"]
    assert kinds == ["scheduled", "retry", "callback"]
    opened = [e for e in silent if e["kind"] == "escalation-opened"]
    assert [e["detail"]["reason"] for e in opened] == ["no-contact"]
    told = next(e for e in silent if e["kind"] == "notification-pending")
    assert told["detail"]["tell"] == ["emergency_contact", "welfare_officer"]
    # The welfare officer's department got a care ticket (delivered); no SMS gateway runs in
    # this test, so the emergency contact's notification stays pending, never "delivered".
    report = dasan_json(it_env, "safety", "report")
    assert report["total"]["notifications"] == {"pending": 1, "delivered": 1}
    assert report["total"]["people_reached"] == 3
    assert report["total"]["escalations_open"] == 1
    assert report["districts"]["gangnam"]["escalations_open"] == 1
    # The well person's call was recorded (from the answer) and is in the call log.
    well_attempt = next(e for e in found[WELL] if e["kind"] == "call-ended")["detail"]["attempt"]
    assert list(it_env.settings.recordings_dir.rglob(f"{well_attempt}.*"))
    calls = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "20")}
    assert calls[well_attempt]["service"] == "safety"
    # The person who pressed 2 reached a consultant through the ACD with priority.
    help_attempt = next(e for e in found[HELP] if e["kind"] == "call-ended")["detail"]["attempt"]
    arrivals = [
        e for e in events(it_env.settings.state_dir, "CallArrived") if e["call_id"] == help_attempt
    ]
    assert arrivals and all(a["priority"] == 2 for a in arrivals), arrivals
    answered = await recorder.wait_event("DialEnd", Uniqueid=help_attempt, DialStatus="ANSWER")
    assert answered.get("DestChannel").split("/")[1].split("-")[0] in CONSULTANTS
    assert (
        "pressed-2" in next(e for e in found[HELP] if e["kind"] == "call-ended")["detail"]["detail"]
    )
    # Pacing, from AMI: never more safety channels than the trunk limit, never a call
    # placed that a consultant could not take.
    assert 0 < _max_concurrent(recorder) <= TRUNK_LIMIT
    _desk_never_short(recorder)
    # The no-answer was told apart by the PBX's reason (ringing, then the originate timeout).
    responses = recorder.named("OriginateResponse")
    assert any(r.get("Reason") == "3" for r in responses if r.uniqueid.startswith("dasan-sf-"))


MORE = [f"01071001{n:02d}" for n in range(6)]


@pytest.mark.timeout(300)
async def test_a_campaign_is_paced_under_the_trunk_limit(
    engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    """Six more people enrolled; the next Monday the campaign calls all ten with at most
    TRUNK_LIMIT safety channels up at once (from AMI) and every new person answers well."""
    csv = it_env.root / "safety-more.csv"
    rows = "".join(
        f"P{n},{number},seocho,ko,10:00-12:00,E,010-2222-3333,O,02-2155-6114,no\n"
        for n, number in enumerate(MORE)
    )
    csv.write_text(CSV.splitlines(keepends=True)[0] + rows, encoding="utf-8")
    assert dasan_json(it_env, "safety", "import", str(csv))["stored"]
    async with (
        ConsultantUas(sipp_dir / "consultants", ring_ms=300, talk_ms=3000),
        ElderlyUas(sipp_dir / "elderly"),
    ):
        _set_clock(it_env, dt.datetime(2026, 12, 14, 11, 50, tzinfo=SEOUL))
        found = await eventually(
            lambda: asyncio.to_thread(_attempts, it_env),
            lambda t: all(_outcomes(t[n]) for n in MORE),
            240,
            "a call to every new person",
        )
    assert all(_outcomes(found[n]) == ["well"] for n in MORE), {
        n: _outcomes(found[n]) for n in MORE
    }
    assert 0 < _max_concurrent(recorder) <= TRUNK_LIMIT
    _desk_never_short(recorder)
