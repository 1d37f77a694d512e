"""`dasan load smoke` through the real PBX and engine: the CI gate of issue 7.

Any SIPp failure or recordings-audit gap fails the build. The run is the shipped smoke
profile with its placing time shortened to fit CI (about 20 calls in 40 s, every call type:
Korean services by RFC 2833 and SIP INFO, foreign languages, impatient callers).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from cti.ami.client import AmiClient
from tests.integration.support import REPO, EngineProcess, ItEnv

PLACING_S = "40"


@pytest.mark.timeout(360)
async def test_smoke_profile_has_no_sipp_failure_and_no_audit_gap(
    engine: EngineProcess, ami: AmiClient, it_env: ItEnv, tmp_path: Path
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dasan",
        "--config",
        str(it_env.config_path),
        "load",
        "smoke",
        "--json",
        "--duration",
        PLACING_S,
        "--workdir",
        str(tmp_path / "load"),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 330)
    assert stdout.strip(), f"no report on stdout:\n{stderr.decode(errors='replace')[-3000:]}"
    report = json.loads(stdout)  # exactly one JSON object, nothing else on stdout

    assert report["sipp_failures"] == 0, report.get("sipp_errors")
    assert report["audit_ok"] is True, json.dumps(report["audit"], indent=1)
    assert not report["timed_out"]
    assert report["offered"] == report["planned_calls"] > 0  # AMI saw every call SIPp placed
    assert report["answered"] > 0
    finished = report["answered"] + report["abandoned"] + report["unserved"]
    assert finished == report["offered"]
    assert report["setup_ms_p99"] is not None
    assert proc.returncode == 0, stderr.decode(errors="replace")[-2000:]
