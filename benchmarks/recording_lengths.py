"""Recording lengths against the PBX's records of the calls, for one Dasan state folder
(after `dasan load` or a benchmark kept with DASAN_BENCH_KEEP=1): every WAV in the spools
(a call's parts added up) against its call's answer-to-end from the CDR and, when the PBX
wrote them, the channel events (CEL). Calls still running when the run stopped are left
out (their last file was written after the CDR's end).

It also groups the calls by the 5 s in which they ended: if the CDR stamps ends late (its
engine behind on a saturated PBX), the calls ending together share the same offset, which a
recorder losing audio would not produce.

    python -m benchmarks.recording_lengths var/ [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import wave
from pathlib import Path
from typing import Any

from recordings.cdr import CdrCall, citizen_calls, read_cdr
from recordings.cel import read_cel, refine

TOLERANCE_RATIO = 0.01
TOLERANCE_MIN_S = 0.5
WINDOW_S = 5
# A call's last file closed within this of the CDR's end: the call was over, not cut off.
CLOSED_WITHIN_S = 3.0


def files(state: Path) -> dict[str, list[tuple[float, float]]]:
    """uniqueid -> [(seconds, mtime)] of each WAV part (primary and spare spools)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for root in ("recordings", "recordings-spare"):
        for path in (state / root).rglob("*.wav"):
            try:
                with wave.open(str(path)) as wav:
                    seconds = wav.getnframes() / wav.getframerate()
            except (OSError, EOFError, wave.Error):
                continue
            out.setdefault(path.stem, []).append((seconds, path.stat().st_mtime))
    return out


def calls(state: Path) -> dict[str, CdrCall]:
    log = state / "pbx" / "log"
    cdr = citizen_calls(read_cdr(log / "cdr-custom" / "Master.csv").rows, ["120"], [], ["citizen"])
    return refine(cdr, read_cel(log / "cel-custom" / "Master.csv"))


def compare(state: Path) -> dict[str, Any]:
    parts, known = files(state), calls(state)
    rows = []
    for uniqueid, found in parts.items():
        call = known.get(uniqueid)
        if call is None or abs(max(m for _, m in found) - call.end.timestamp()) > CLOSED_WITHIN_S:
            continue
        call_s = call.duration_ms / 1000
        rec_s = sum(s for s, _ in found)
        rows.append((call.end.timestamp(), rec_s - call_s, call_s, len(found), call.precise))
    offsets = sorted(r[1] for r in rows)
    over = [r for r in rows if abs(r[1]) > max(TOLERANCE_RATIO * r[2], TOLERANCE_MIN_S)]
    windows: dict[int, list[float]] = {}
    for end, offset, *_ in rows:
        windows.setdefault(int(end // WINDOW_S), []).append(offset)
    spreads = [max(v) - min(v) for v in windows.values() if len(v) >= 3]
    shared = [
        {"window_start": k * WINDOW_S, "calls": len(v), "min_s": min(v), "max_s": max(v)}
        for k, v in sorted(windows.items())
        if len(v) >= 3 and abs(statistics.median(v)) > 1
    ]

    def pct(q: float) -> float | None:
        return round(offsets[min(len(offsets) - 1, int(q * len(offsets)))], 3) if offsets else None

    return {
        "calls": len(rows),
        "reference": "cel" if rows and all(r[4] for r in rows) else "cdr (cel where present)",
        "several_parts": sum(1 for r in rows if r[3] > 1),
        "over_tolerance": len(over),
        "over_tolerance_several_parts": sum(1 for r in over if r[3] > 1),
        "offset_s": {"min": pct(0), "p1": pct(0.01), "median": pct(0.5), "p99": pct(0.99)}
        | {"max": round(offsets[-1], 3) if offsets else None},
        "end_windows": len(windows),
        "spread_within_window_median_s": round(statistics.median(spreads), 3) if spreads else None,
        "windows_with_a_shared_offset": shared[:20],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state", type=Path, help="a Dasan state folder (var/ by default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = compare(args.state)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    off = result["offset_s"]
    print(
        f"{result['calls']} finished calls ({result['several_parts']} in several parts), "
        f"{result['over_tolerance']} over the tolerance; recording minus call: "
        f"median {off['median']} s, p1 {off['p1']} s, p99 {off['p99']} s"
    )
    for window in result["windows_with_a_shared_offset"]:
        print(f"  calls ending together share an offset: {window}")


if __name__ == "__main__":
    main()
