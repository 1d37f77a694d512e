"""IVR (issue 11) through the real PBX: a silent caller streaming a tone reaches a consultant
within 20 s of answer; keys typed ahead ("1 1" at 1 s and 1.5 s, and at 0.3 s and 0.5 s, by
RFC 2833 and SIP INFO) reach the general queue as soon as the welcome (which carries the
recording notice) has played; the call log shows the chosen language while the caller is still
in the menu. Times come from AMI event timestamps and the journey, never from wall sleeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from ivr.prompts.build import wav_seconds
from tests.integration.ivr.conftest import ALWAYS_OPEN, hours_env
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
)

SILENT_BUDGET_S = 20.0
# Keys typed ahead: (caller, first key's delay after answer, second key's delay, DTMF mode).
EXPERTS = [
    ("0103110101", 1000, 500, "rfc2833"),
    ("0103110102", 1000, 500, "info"),
    ("0103110103", 300, 200, "rfc2833"),
    ("0103110104", 300, 200, "info"),
]
SILENT = "0103110201"


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return hours_env(tmp_path_factory.mktemp("hours"), ALWAYS_OPEN)


def tone_media(folder: Path) -> None:
    """The citizen's line carries a steady 440 Hz tone (no speech, no keys)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-e", "u-law",
         str(folder / "citizen-ulaw.wav"), "synth", "10", "sine", "440", "vol", "0.3"],
        check=True,
    )  # fmt: skip
    ensure_media(folder)  # the consultant's side; the citizen's tone is kept


def stamp(event: Any) -> float:
    return float(event.get("Timestamp"))


def answered_at(recorder: AmiRecorder, uniqueid: str) -> float:
    up = recorder.where("Newstate", Uniqueid=uniqueid, ChannelStateDesc="Up")
    assert up, f"no answer seen for {uniqueid}"
    return stamp(up[0])


def consultant_answered_at(recorder: AmiRecorder, uniqueid: str) -> float:
    answered = recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
    assert answered, f"no consultant answered {uniqueid}"
    return stamp(answered[0])


def route_ms(call: dict[str, Any]) -> int:
    entries = call["journey"]["entries"]
    return int(next(e["t_ms"] for e in entries if e["event"] == "route"))


async def watch_language(it_env: ItEnv, deadline_s: float) -> dict[str, Any] | None:
    """The newest call as `dasan calls --json --last 1` shows it, once it has a language
    but has not been routed yet (the caller is still in the menu)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        rows = await asyncio.to_thread(dasan_json, it_env, "calls", "--last", "1")
        if rows:
            row = rows[0]
            events = [e["event"] for e in (row.get("journey") or {}).get("entries", [])]
            if row.get("language") and "route" not in events:
                return dict(row)
            if "route" in events:
                return None
        await asyncio.sleep(0.2)
    return None


@pytest.mark.timeout(300)
async def test_silent_and_expert_callers_are_handed_over_fast(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(tone_media, sipp_dir / "media")
    welcome_s = wav_seconds(it_env.settings.prompts_dir / "ko" / "welcome.wav")
    calls = [
        run_citizens(
            CitizenCalls(
                caller=number,
                digits=(Dtmf("1", first), Dtmf("1", second)),
                dtmf_mode=mode,  # type: ignore[arg-type]
                hangup_after_ms=30_000,
            ),
            sipp_dir / f"uac-{number}",
        )
        for number, first, second, mode in EXPERTS
    ]
    calls.append(
        run_citizens(CitizenCalls(caller=SILENT, hangup_after_ms=45_000), sipp_dir / "uac-silent")
    )
    results = await asyncio.gather(*calls)
    assert all(r.ok for r in results), [r.errors for r in results]

    log = {c["id"]: c for c in dasan_json(it_env, "calls", "--last", "50")}
    silent = citizen_uniqueid(recorder, SILENT)
    answer = answered_at(recorder, silent)
    waited = consultant_answered_at(recorder, silent) - answer
    journey = log[silent]["journey"]
    ivr_start = dt.datetime.fromisoformat(journey["started_at"]).timestamp() - answer
    dialed = [stamp(e) - answer for e in recorder.where("DialBegin", Uniqueid=silent)]
    why = {"ivr_start_s": ivr_start, "route_s": ivr_start + route_ms(log[silent]) / 1000,
           "dial_s": dialed, "answered_s": waited}  # fmt: skip
    assert waited <= SILENT_BUDGET_S, why
    assert (log[silent]["language"], log[silent]["service"]) == ("ko", "general")

    for number, first, _, mode in EXPERTS:
        uniqueid = citizen_uniqueid(recorder, number)
        call = log[uniqueid]
        why = (number, mode, first, call["journey"])
        assert (call["language"], call["service"]) == ("ko", "general"), why
        digits = [
            (e["node"], e["value"]) for e in call["journey"]["entries"] if e["event"] == "digits"
        ]
        assert digits == [("language", "1"), ("main_menu", "1")], why  # each key once, in order
        # Routed right after the welcome with its notice: no menu prompt was waited out.
        assert route_ms(call) <= (welcome_s + 1.0) * 1000, why


@pytest.mark.timeout(180)
async def test_the_call_log_shows_the_language_while_the_caller_is_in_the_menu(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(tone_media, sipp_dir / "media")
    number = "0103110301"
    # Korean by "1" during the welcome, then nothing: the service menu plays for several
    # seconds before silence hands the caller on.
    call = asyncio.create_task(
        run_citizens(
            CitizenCalls(caller=number, digits=(Dtmf("1", 1000),), hangup_after_ms=30_000),
            sipp_dir / "uac-live",
        )
    )
    seen = await watch_language(it_env, deadline_s=25)
    result = await call
    assert result.ok, result.errors
    assert seen is not None, "the language never showed before the routing"
    uniqueid = citizen_uniqueid(recorder, number)
    assert seen["id"] == uniqueid
    assert seen["language"] == "ko" and seen["consultant"] is None
    entries = seen["journey"]["entries"]
    assert {"node": "language", "event": "digits", "value": "1"} in [
        {k: e.get(k) for k in ("node", "event", "value")} for e in entries
    ]
