"""Issue 10: nothing lost. On the default storage (SQLite), with the database locked by another
process for the whole test, the ACD's AMI handler crashing and an IVR handler crashing, the
engine keeps answering real SIPp calls; the crashed call goes to the dialplan's fallback
queue; and every call-log write lands once the lock is gone."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.support import (
    AmiRecorder,
    EngineProcess,
    ItEnv,
    citizen_uniqueid,
    dasan_json,
    eventually,
)

CALLER = "0105100001"  # three ordinary calls
CRASHER = "0105109999"  # its IVR session crashes (a test-only fault)
AMI_CRASHES = 3
KEYS = (Dtmf("1", 1500), Dtmf("1", 8000))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("durable") / "dasan.sqlite3"


@pytest.fixture(scope="module")
def engine_env(database: Path) -> dict[str, str]:
    return {
        "DASAN_STORAGE__URL": f"sqlite+aiosqlite:///{database}",
        "DASAN_STORAGE__SQLITE_BUSY_TIMEOUT_S": "1",
        "DASAN_STORAGE__RETRY_MAX_S": "2",
        "DASAN_FAULTS__AMI_BRIDGE_CRASHES": str(AMI_CRASHES),
        "DASAN_FAULTS__IVR_CRASH_CALLERS": f'["{CRASHER}"]',
    }


_LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA busy_timeout=30000")
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@pytest.fixture
def locked(database: Path, engine: EngineProcess) -> Iterator[subprocess.Popen[str]]:
    """Another process holds SQLite's write lock until the test releases it."""
    with subprocess.Popen(
        [sys.executable, "-c", _LOCKER, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:  # the context closes its pipes
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(10)


@pytest.fixture(scope="module")
def sqlite_env(it_env: ItEnv, database: Path) -> ItEnv:
    """The shared installation's configuration, but on this module's SQLite database (for
    the `dasan calls` and `dasan alarms` commands)."""
    lines = [
        f'url = "sqlite+aiosqlite:///{database}"' if line.startswith("url = ") else line
        for line in it_env.config_path.read_text(encoding="utf-8").splitlines()
    ]
    path = database.with_suffix(".toml")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ItEnv(it_env.root, path, it_env.database)


def landed(rows: list[dict[str, object]], ordinary: set[str], rescued: str) -> bool:
    by_id = {str(r["id"]): r for r in rows}
    return rescued in by_id and all(
        u in by_id and by_id[u]["consultant"] and by_id[u]["ended_at"] for u in ordinary
    )


@pytest.mark.timeout(400)
async def test_engine_keeps_answering_through_faults_and_writes_land_after(
    engine: EngineProcess,
    locked: subprocess.Popen[str],
    recorder: AmiRecorder,
    sipp_dir: Path,
    sqlite_env: ItEnv,
) -> None:
    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=3000):
        ordinary, crashed = await asyncio.gather(
            run_citizens(
                CitizenCalls(calls=3, rate=1.0, caller=CALLER, digits=KEYS, hangup_after_ms=60_000),
                sipp_dir / "uac-ordinary",
            ),
            # No keys: its session crashes at once and the fallback queue answers it.
            run_citizens(
                CitizenCalls(caller=CRASHER, hangup_after_ms=60_000),
                sipp_dir / "uac-crash",
            ),
        )
    assert ordinary.ok and crashed.ok, (ordinary.errors, crashed.errors)
    assert engine.proc is not None and engine.proc.poll() is None, engine.tail()

    # The ordinary calls were routed by the engine and answered by consultants.
    ours = {
        e.uniqueid for e in recorder.named("Newchannel") if e.get("CallerIDNum").startswith(CALLER)
    }
    ours = {u for u in ours if recorder.where("Newchannel", Uniqueid=u)[0].get("Exten") == "120"}
    assert len(ours) == 3
    for uniqueid in ours:
        answered = recorder.where("DialEnd", Uniqueid=uniqueid, DialStatus="ANSWER")
        assert answered and answered[0].get("DestChannel").startswith("PJSIP/c"), uniqueid
        assert not recorder.where("QueueCallerJoin", Uniqueid=uniqueid)
    # The crashed session left its caller to the dialplan's fallback queue: answered there.
    rescued = citizen_uniqueid(recorder, CRASHER)
    assert recorder.where("QueueCallerJoin", Uniqueid=rescued)
    answered = recorder.where("DialEnd", Uniqueid=rescued, DialStatus="ANSWER")
    assert answered and answered[0].get("DestChannel").startswith("PJSIP/c")

    # The database was locked throughout: the writes failed, were kept and retried...
    log = engine.log_path.read_text(errors="replace")
    assert "database write of" in log and "failed" in log
    assert log.count("component acd-ami failed") == AMI_CRASHES
    assert "handler crashed" in log
    release(locked)
    # ...and land once it is free: every call with its route, consultant and end.
    rows = await eventually(
        lambda: asyncio.to_thread(dasan_json, sqlite_env, "calls", "--last", "50"),
        lambda found: landed(found, ours, rescued),
        60,
        "the call-log writes to land",
    )
    by_id = {r["id"]: r for r in rows}
    for uniqueid in ours:
        assert by_id[uniqueid]["language"] == "ko"
        assert str(by_id[uniqueid]["consultant"]).startswith("c")
    alarms = await asyncio.to_thread(dasan_json, sqlite_env, "alarms", "--history", "50")
    keys = {(a["source"], a["key"]) for a in alarms}
    assert ("storage", "writes") in keys
    assert ("engine", "component:acd-ami") in keys
    writes = [a for a in alarms if (a["source"], a["key"]) == ("storage", "writes")]
    assert all(a["cleared_at"] for a in writes)
