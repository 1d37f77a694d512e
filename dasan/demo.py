"""The demo: real citizen calls through the real PBX and engine, and a report of what happened.

Invariants:
- Uses what is running (a PBX brought up by ``dasan pbx up``; an engine started by
  ``dasan serve`` if one runs, else one started here for the demo and stopped after it).
- Consultants are one SIPp UAS on 127.0.0.1:5090 answering for every consultant endpoint;
  citizens are SIPp UACs dialing 120 with DTMF by RFC 2833 and SIP INFO.
- Everything reported comes from the system itself: AMI for who answered, the call log and
  the recordings catalog for language, service, consultant and recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.process import port_open, terminate
from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from dasan.config import Settings
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, SippResult, ensure_media, run_citizens
from ivr.hours import load_service_hours
from ivr.wiring import pid_file
from recordings.system import Recordings


@dataclass(frozen=True)
class DemoCall:
    label: str
    caller: str
    keys: str
    dtmf: str = "rfc2833"
    delay_s: float = 0.0

    def spec(self) -> CitizenCalls:
        # Keys typed ahead during the welcome (heard out, its keys kept): the caller is
        # handed over as soon as the recording notice has played (`dasan ivr budget`).
        digits = tuple(Dtmf(k, 1000 if i == 0 else 500) for i, k in enumerate(self.keys))
        return CitizenCalls(
            caller=self.caller,
            digits=digits,
            dtmf_mode=self.dtmf,  # type: ignore[arg-type]
            hangup_after_ms=180_000,
        )


def demo_calls(foreign_desks_open: bool) -> tuple[DemoCall, ...]:
    """Six callers. Outside the foreign desks' hours (09-22 Seoul) foreign callers hear so in
    their language and press 3 for the Korean line, which is open around the clock."""
    after_hours = "" if foreign_desks_open else "3"
    return (
        DemoCall("Korean, general inquiry", "0101200001", "11"),
        DemoCall("Korean, transport (SIP INFO keys)", "0101200002", "12", dtmf="info", delay_s=1),
        DemoCall("Korean, passports and documents", "0101200003", "13", delay_s=2),
        DemoCall("English", "0101200004", "2" + after_hours, delay_s=3),
        DemoCall(
            "Chinese (SIP INFO keys)", "0101200005", "3" + after_hours, dtmf="info", delay_s=4
        ),
        DemoCall("Vietnamese", "0101200006", "5" + after_hours, delay_s=5),
    )


def foreign_desks_open(settings: Settings) -> bool:
    ivr = settings.ivr
    hours = load_service_hours(ivr.timezone, ivr.service_hours_file, ivr.holidays_file)
    return hours.is_open("foreign_language", dt.datetime.now(dt.UTC))


@dataclass
class DemoRow:
    call: DemoCall
    sipp: SippResult | None = None
    uniqueid: str | None = None
    answered_by: str | None = None
    wait_s: float | None = None
    record: dict[str, Any] = field(default_factory=dict)


def engine_running(settings: Settings) -> bool:
    try:
        pid = int(pid_file(settings).read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


class DemoEngine:
    """Starts `dasan serve` for the demo unless an engine already runs."""

    def __init__(self, settings: Settings, config: str | None, log: Path) -> None:
        self._settings = settings
        self._config = config
        self._log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, say: Callable[[str], None]) -> None:
        if engine_running(self._settings):
            say("using the engine already running (dasan serve)")
            return
        args = [sys.executable, "-m", "dasan"]
        if self._config:
            args += ["--config", self._config]
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*args, "serve"], stdout=out, stderr=out, stdin=subprocess.DEVNULL
            )
        say(f"starting the engine (log: {self._log})")
        deadline = time.monotonic() + 90
        status = self._settings.state_dir / "engine-status.json"
        agi = (self._settings.agi.host, self._settings.agi.port)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the engine exited ({self.proc.returncode}); see {self._log}")
            if port_open(*agi) and status.is_file() and "speech" in status.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the engine did not come up in 90 s; see {self._log}")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)


async def place_calls(
    settings: Settings, workdir: Path, say: Callable[[str], None]
) -> list[DemoRow]:
    rows = [DemoRow(call) for call in demo_calls(foreign_desks_open(settings))]
    ami = AmiClient(settings.ami)
    await ami.start()
    events: list[AmiEvent] = []
    subscription = ami.subscribe(name="demo")

    async def record() -> None:
        async for item in subscription:
            if isinstance(item, AmiEvent):
                events.append(item)

    recorder = asyncio.create_task(record())
    try:
        await asyncio.to_thread(ensure_media, workdir / "media")
        async with ConsultantUas(workdir / "consultants", ring_ms=800, talk_ms=6000):
            say(f"consultants: one SIPp UAS on 127.0.0.1:5090; placing {len(rows)} calls")

            async def one(row: DemoRow) -> None:
                await asyncio.sleep(row.call.delay_s)  # staggered arrivals, like real traffic
                row.sipp = await run_citizens(
                    row.call.spec(), workdir / f"citizen-{row.call.caller}"
                )
                say(f"  done: {row.call.label}")

            await asyncio.gather(*(one(r) for r in rows))
    finally:
        subscription.close()
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
        await ami.stop()
    _match_events(rows, events)
    return rows


def _match_events(rows: list[DemoRow], events: list[AmiEvent]) -> None:
    for row in rows:
        for event in events:
            if event.name == "Newchannel" and event.get("CallerIDNum").startswith(row.call.caller):
                row.uniqueid = event.uniqueid
                break
        if row.uniqueid is None:
            continue
        start = next(e for e in events if e.name == "Newchannel" and e.uniqueid == row.uniqueid)
        for event in events:
            if (
                event.name == "DialEnd"
                and event.uniqueid == row.uniqueid
                and event.get("DialStatus") == "ANSWER"
            ):
                row.answered_by = event.get("DestChannel").split("/")[-1].split("-")[0]
                row.wait_s = float(event.get("Timestamp")) - float(start.get("Timestamp"))


async def collect_records(settings: Settings, rows: list[DemoRow], timeout_s: float = 60) -> None:
    """Wait for the recordings pipeline to catalog each call, then read the call log."""
    rec = await Recordings.open(settings)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            pending = False
            for row in rows:
                if row.uniqueid is None:
                    continue
                call = await rec.calls.get(row.uniqueid)
                found = await rec.catalog.for_calls([row.uniqueid], [row.uniqueid])
                recording = found[0] if found else None
                row.record = _record(call, recording, settings)
                pending = pending or row.record.get("state") != "archived"
            if not pending or time.monotonic() > deadline:
                return
            await asyncio.sleep(1)
    finally:
        await rec.close()


def _record(call: Any, recording: Any, settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if call is not None:
        out.update(language=call.language, service=call.service, consultant=call.consultant)
    if recording is not None:
        root = (
            settings.recordings_dir
            if recording.root == "primary"
            else settings.recordings_spare_dir
        )
        rel = recording.archive_rel_path or recording.rel_path
        out.update(
            state=recording.state.value,
            file=str(root / rel),
            duration_s=round(recording.duration_ms / 1000, 2),
        )
    return out
