"""The README's chaos table is rewritten from the results of the cases that ran; the rows of
cases that did not run in this invocation are kept, in the matrix's order."""

from __future__ import annotations

from typing import Any

from tests.integration.chaos.table import render


def _result(name: str, fault: str, lost: int = 0) -> dict[str, Any]:
    return {
        "case": name,
        "fault": fault,
        "citizen": "nothing",
        "offered": 35,
        "answered": 35 - lost,
        "lost": lost,
        "lost_calls": [],
        "recordings_missing": 0,
        "resync_s": 1.0,
        "resync_bound_s": 30.0,
        "problems": [] if not lost else [f"{lost} calls not answered (allowed 0)"],
    }


FAULTS = {"engine_kill_ivr": "engine killed, IVR", "agi_half_open": "FastAGI half-open"}


def test_rows_of_cases_not_run_now_are_kept_in_order() -> None:
    before = render(
        {
            "engine_kill_ivr": _result("engine_kill_ivr", "engine killed, IVR"),
            "agi_half_open": _result("agi_half_open", "FastAGI half-open", lost=6),
            "zz_custom": _result("zz_custom", "an extra fault"),
        },
        "aaa1111",
    )
    after = render(
        {"agi_half_open": _result("agi_half_open", "FastAGI half-open")},
        "bbb2222",
        "chaos",
        before,
        FAULTS,
    )
    rows = [line for line in after.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows[1:]] == [
        "engine killed, IVR",
        "FastAGI half-open",
        "an extra fault",
    ]
    (half_open,) = [r for r in rows if "half-open" in r]
    assert "35 / 35 / 0" in half_open and half_open.endswith("| pass |")
    assert [r for r in rows if "engine killed" in r] == [
        r for r in before.splitlines() if "engine killed" in r
    ]
    assert "This run measured `agi_half_open` on branch `chaos`, commit bbb2222" in after
    assert "Measured on branch `chaos`, commit aaa1111" in after  # where the kept rows are from
    again = render(
        {"agi_half_open": _result("agi_half_open", "FastAGI half-open")}, "ccc3333", "chaos",
        after, FAULTS,
    )  # fmt: skip
    assert "commit bbb2222" not in again  # the earlier run of the same case: superseded
    assert "commit ccc3333" in again and "commit aaa1111" in again


def test_a_full_run_replaces_every_row() -> None:
    old = render({"agi_half_open": _result("agi_half_open", "FastAGI half-open", 6)}, "a")
    new = render(
        {"agi_half_open": _result("agi_half_open", "FastAGI half-open")}, "b", "x", old, FAULTS
    )
    assert "35 / 29 / 6" not in new and "35 / 35 / 0" in new
    assert "Measured on branch `x`, commit b" in new
