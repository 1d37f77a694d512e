"""The wall-clock step preload of the clock cases, on its own (no PBX, a few seconds): it
shifts wall-clock reads by the offset in its file and nothing else, so a stepped process
still sleeps, times out its subprocesses and reads its monotonic clock truly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.chaos.test_chaos_clock import build_shim

pytestmark = pytest.mark.chaos_short

# Steps its own clock by rewriting the offset file, as the test does the engine's.
CHILD = """
import json, subprocess, sys, time
control = sys.argv[1]
wall0, mono0 = time.time(), time.monotonic()
open(control, "w").write("+1h\\n")
time.sleep(1.5)  # past the shim's 1 s cache: the new offset is read
wall1, mono1 = time.time(), time.monotonic()
open(control, "w").write("not an offset\\n")
time.sleep(1.5)
wall2, mono2 = time.time(), time.monotonic()
open(control, "w").write("+1h\\n")  # a fresh process reads the file at its first wall read
ran = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.1); print(time.time())"],
                     capture_output=True, text=True, timeout=30, check=True)
print(json.dumps({"step": (wall1 - wall0) - (mono1 - mono0),
                  "kept": (wall2 - wall1) - (mono2 - mono1),
                  "child_wall": float(ran.stdout)}))
"""


def test_only_the_wall_clock_steps(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is missing: the wall-clock step preload cannot be built")
    library = build_shim(tmp_path)
    control = tmp_path / "offset"
    control.write_text("+0\n", encoding="utf-8")
    env = os.environ | {"LD_PRELOAD": str(library), "WALLCLOCK_STEP_FILE": str(control)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(control)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr  # time.sleep and subprocess timeouts work
    seen = json.loads(done.stdout)
    # The wall clock moved an hour more than the monotonic one (give or take a preemption
    # between two reads); a malformed file kept the offset.
    assert abs(seen["step"] - 3600) < 5, seen
    assert abs(seen["kept"]) < 5, seen
    # A child process inherits the stepped wall clock (as every process of a stepped host).
    assert seen["child_wall"] - time.time() > 3000, seen
