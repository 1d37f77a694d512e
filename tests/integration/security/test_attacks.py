"""Attacks repelled (issue 13), short form (``make attack`` runs the full one): sipvicious and a
REGISTER flood from an attacker namespace while the carrier's calls go on. No attacker
registration or call succeeds, svwar cannot tell consultants from unknown names, the source
is banned within 5 s (AMI security events) and unbanned after the set time, and the carrier's
calls keep succeeding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(900)
def test_attacks_are_repelled(tmp_path: Path) -> None:
    work = Path(os.environ.get("DASAN_ATTACK_DIR") or tmp_path / "attack")
    shutil.rmtree(work, ignore_errors=True)
    full = ["--full"] if os.environ.get("ATTACK_FULL") == "1" else []
    done = subprocess.run(
        [
            "unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
            sys.executable, "-m", "tests.integration.security.attack", str(work), *full,
        ],
        cwd=REPO, capture_output=True, text=True, timeout=880, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    # The figures outlive pytest's temporary folders (README, NOTE).
    figures = REPO / "var" / "security" / ("attack-full.json" if full else "attack.json")
    figures.parent.mkdir(parents=True, exist_ok=True)
    figures.write_text(json.dumps(result, indent=1), encoding="utf-8")
    assert "error" not in result, json.dumps(result, indent=1)[-6000:]
    assert result["svwar_found"] == [], result["svwar"]
    assert not result["svcrack_found"], result["svcrack"]
    assert result["ban_after_svcrack_s"] is not None and result["ban_after_svcrack_s"] <= 5
    assert result["ban_after_flood_s"] is not None and result["ban_after_flood_s"] <= 5
    assert result["unbanned_after_s"] is not None
    assert result.get("answered_while_banned") is False, result["flood"]
    carrier = result["carrier"]
    assert carrier["success_rate"] >= 0.999, carrier
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    assert "dsec-" not in listed.stdout
