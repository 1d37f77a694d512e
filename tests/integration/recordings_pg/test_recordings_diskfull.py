"""A real, small tmpfs as the recordings folder fills up: an alarm within seconds, the
recording kept (not lost silently) and archived once space is back. Runs the scenario in a
private mount namespace so the mount never leaks into the host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common.storage import Storage

SCENARIO = Path(__file__).with_name("diskfull_scenario.py")


def test_full_recordings_disk_raises_an_alarm_and_loses_nothing(
    tmp_path: Path, pg_url: str, pg_storage: Storage
) -> None:
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            str(SCENARIO),
            str(tmp_path),
            pg_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["alarms_before"] == 0
    assert result["alarm_after_s"] < 3.0
    assert "low" in result["alarm_keys"] and "write" in result["alarm_keys"]
    assert result["archive_error"] == "No space left on device"
    assert result["wav_kept"] is True
    assert result["states_while_full"] == ["cataloged"]
    assert result["cleared_after_s"] < 3.0
    assert result["recovered"] == 1
    assert result["archived"] is True
