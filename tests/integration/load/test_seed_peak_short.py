"""The seed peak in 3 minutes (issue 10) on the default storage (SQLite), through the real
PBX and engine: the engine never exits, no IVR handler crashes, every offered call is
answered or abandoned by its caller, no SIPp failure, and the recordings audit is clean."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest

from cti.ami.client import AmiClient
from tests.integration.support import REPO, EngineProcess, ItEnv

# The longest a seed-peak-short caller chooses to stay before answered: the slow path of the
# IVR (~160 s) plus a patience of at most 120 s; only waiting out SIPp's own timeout (420 s)
# goes beyond.
PATIENT = 300.0


@pytest.fixture(scope="module")
def engine_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    sqlite = tmp_path_factory.mktemp("seed-peak-short") / "dasan.sqlite3"
    return {
        "DASAN_STORAGE__URL": f"sqlite+aiosqlite:///{sqlite}",
        # The cost of Korean speech is measured elsewhere; seed-peak callers press keys.
        "DASAN_IVR__SPEECH_ENABLED": "false",
    }


def _crashes(engine: EngineProcess) -> int:
    text = engine.log_path.read_text(encoding="utf-8", errors="replace")
    return text.count("handler crashed")


def _explain(audit: dict[str, object], engine: EngineProcess) -> str:
    """The audit, and what the engine logged about each gap's call (for a failure in CI)."""
    text = engine.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    ids = set(re.findall(r"\d{9,}\.\d+", json.dumps(audit.get("gaps", []))))
    lines = [line for line in text if any(i in line for i in ids)]
    return (
        json.dumps(audit, indent=1) + "\nengine log about those calls:\n" + "\n".join(lines[-60:])
    )


@pytest.mark.timeout(900)
async def test_seed_peak_short_on_sqlite(
    engine: EngineProcess,
    engine_env: dict[str, str],
    ami: AmiClient,
    it_env: ItEnv,
    tmp_path: Path,
) -> None:
    crashes_before = await asyncio.to_thread(_crashes, engine)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dasan",
        "--config",
        str(it_env.config_path),
        "load",
        "seed-peak-short",
        "--json",
        "--workdir",
        str(tmp_path / "load"),
        cwd=REPO,
        env={**os.environ, **engine_env},  # the load reads the same call log and catalog
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 870)
    assert stdout.strip(), f"no report on stdout:\n{stderr.decode(errors='replace')[-3000:]}"
    report = json.loads(stdout)

    assert engine.proc is not None and engine.proc.poll() is None, "the engine exited"
    assert await asyncio.to_thread(_crashes, engine) == crashes_before, engine.tail()
    assert report["sipp_failures"] == 0, report.get("sipp_errors")
    assert not report["timed_out"]
    assert report["offered"] == report["planned_calls"] > 0
    assert report["unserved"] == 0 and report["unfinished"] == 0, report["by_type"]
    assert report["answered"] + report["abandoned"] == report["offered"]
    assert report["audit_ok"] is True, _explain(report["audit"], engine)
    assert proc.returncode == 0, stderr.decode(errors="replace")[-2000:]
    # Abandoned by choice (patience at most 2 minutes), not after waiting out the SIPp
    # caller's timeout for a consultant who never came.
    report_file = tmp_path / "load" / "report.json"
    calls = json.loads(await asyncio.to_thread(report_file.read_text, "utf-8"))["calls"]
    gave_up = [c for c in calls if c["outcome"].startswith("abandoned") and c["ended"] > PATIENT]
    assert not gave_up, gave_up[:10]
