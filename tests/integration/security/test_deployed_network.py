"""A network you can deploy on (issue 13): in network namespaces with veth links made and
removed by the test, Debian's baresip registers as consultant c0002 from the consultants' LAN
over TLS with SRTP, a citizen call from the carrier's host (SIPp) is offered to it, answered and
recorded; no unregistered consultant is dialed (ACD decision log). The PBX host is a network
namespace of its own (``unshare --net``), so its ports never meet another test's PBX."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(420)
def test_baresip_over_tls_and_srtp_answers_a_carrier_call(tmp_path: Path) -> None:
    work = tmp_path / "deployed"
    done = subprocess.run(
        [
            "unshare",
            "--net",
            "--",
            "sh",
            "-c",
            'ip link set lo up && exec "$0" "$@"',
            sys.executable,
            "-m",
            "tests.integration.security.deployed",
            str(work),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    kept = REPO / "var" / "security" / "deployed.json"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_text(json.dumps(result, indent=1), encoding="utf-8")
    assert "error" not in result, json.dumps(result, indent=1)[-6000:]
    assert result["audit"].get("passed") is True, result["audit"]
    assert "transport=tls" in result["registrar"].lower(), result["registrar"]
    assert re.search(r"media_encryption\s*:\s*sdes", result["endpoint"])
    assert re.search(r"media_address\s*:\s*198\.51\.100\.1", result["endpoint"])
    assert re.search(r"media_address\s*:\s*198\.51\.100\.1", result["citizens_endpoint"])
    assert result["sipp"]["ok"], result["sipp"]
    assert result["decisions"] and set(result["decisions"]) == {"c0002"}, result["decisions"]
    assert "c0002" in result["accepted"]
    assert result["recordings"], result
    # The namespaces and links are gone with the run.
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    assert "dsec-" not in listed.stdout
