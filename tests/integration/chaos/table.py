"""Render the chaos results (``$CHAOS_RESULTS_DIR/*.json``) as the README's fault table.

``python -m tests.integration.chaos.table`` rewrites the text between ``<!-- chaos:start -->``
and ``<!-- chaos:end -->`` in README.md (``make chaos`` runs it after the matrix); nothing
else in the file changes. A case that failed says so in its row, with its first problem.

Rows of cases with no result in ``$CHAOS_RESULTS_DIR`` (not run in this invocation, e.g. one
case run with ``-k``) are kept as the README had them, in the matrix's order, and the notes
under the table say which rows this run measured.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from tests.integration.chaos.harness import RESULTS_DIR
from tests.integration.support import REPO

START, END = "<!-- chaos:start -->", "<!-- chaos:end -->"
ORDER = (
    "engine_kill_ivr",
    "engine_kill_waiting",
    "engine_kill_talking",
    "engine_kill_callbacks",
    "engine_restart",
    "ami_drop",
    "ami_slow",
    "ami_flood",
    "agi_half_open",
    "asterisk_restart",
    "pg_stopped",
    "pg_slow",
    "disk_full",
    "loss5",
    "loss15",
    "clock_forward",
    "clock_back",
)


def _observed(r: dict[str, Any]) -> str:
    if not r["lost"]:
        return str(r["citizen"])
    kinds = Counter(
        f"{c['type']} {c['outcome'].replace('_', ' ')}"
        + (f" ({'/'.join(c['queues'])})" if c.get("queues") else "")
        for c in r["lost_calls"]
    )
    seen = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    return f"{r['citizen']}. **Observed:** {seen}"


def _recovery(r: dict[str, Any]) -> str:
    up = (r.get("notes") or {}).get("engine_up_s")
    parts = [f"engine up in {up} s"] if up is not None else []
    if r.get("ami_login_s") is not None:
        parts.append(f"AMI logged in again after {r['ami_login_s']} s")
    if r.get("resync_bound_s") is not None:
        ring = f"{r['resync_s']} s" if r["resync_s"] is not None else "never"
        parts.append(f"rings a consultant again after {ring} (bound {r['resync_bound_s']:.0f} s)")
    return "; ".join(parts) or "routing never stopped"


def _verdict(r: dict[str, Any]) -> str:
    if not r["problems"]:
        return "pass"
    if r.get("expected_failure"):
        return f"**fails as expected**: {r['expected_failure']}"
    return f"**fails**: {r['problems'][0][:160]}"


def _busy(r: dict[str, Any]) -> str:
    busy = r.get("host_busy_pct")
    return "-" if busy is None else f"{busy:.0f} %"


def row(r: dict[str, Any]) -> str:
    if r.get("skipped"):
        cells = (r["fault"], r["citizen"], "-", "-", "-", "-", f"skipped: {r['skipped']}")
        return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"
    calls = f"{r['offered']} / {r['answered']} / {r['lost']}"
    missing = r["recordings_missing"] if r["recordings_missing"] is not None else "-"
    cells = (r["fault"], _observed(r), calls, str(missing), _recovery(r), _busy(r), _verdict(r))
    return "| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |"


HEADER = (
    "| fault | what the citizen experiences | offered / answered / lost "
    "| recordings missing | recovery | host busy | result |",
    "| --- | --- | --- | --- | --- | --- | --- |",
)


def render(
    results: dict[str, dict[str, Any]],
    commit: str,
    branch: str = "chaos",
    kept: str = "",
    faults: dict[str, str] | None = None,
) -> str:
    """The table: this run's rows, and the rows of ``kept`` (the README's table before) for
    every case this run has no result for. ``faults`` names each case's fault column (to
    place a kept row in the matrix's order; a row of an unknown fault goes last)."""
    names_by_fault = {v: k for k, v in (faults or {}).items()}
    names_by_fault.update({str(r["fault"]): n for n, r in results.items()})
    rows: dict[str, str] = {}
    for line in _table_rows(kept):
        fault = line.strip("|").split("|", 1)[0].strip()
        name = names_by_fault.get(fault, f"~{fault}")
        if name not in results:
            rows[name] = line
    rows.update({n: row(r) for n, r in results.items()})
    names = [n for n in ORDER if n in rows] + sorted(set(rows) - set(ORDER))
    lines = [*HEADER, *(rows[n] for n in names), ""]
    ran = ", ".join(f"`{n}`" for n in names if n in results)
    if len(results) == len(rows):
        lines.append(f"Measured on branch `{branch}`, commit {commit}; evidence in `var/chaos/`.")
    else:
        lines.append(
            f"This run measured {ran} on branch `{branch}`, commit {commit}; the other rows are"
            " kept from earlier runs (see the notes below)."
        )
        # What the table said of the runs its kept rows come from.
        lines += [
            line
            for line in kept.splitlines()
            if line.strip()
            and not line.startswith("|")
            and line not in lines
            and not _superseded(line, results)
        ]
    return "\n".join(lines) + "\n"


def _superseded(note: str, results: dict[str, dict[str, Any]]) -> bool:
    """An earlier run's note whose every named case ran again now."""
    if not note.startswith("This run measured"):
        return False
    named = re.findall(r"`([a-z0-9_]+)`", note.split(" on branch ", maxsplit=1)[0])
    return bool(named) and set(named) <= set(results)


def _table_rows(block: str) -> list[str]:
    """The data rows of a rendered table (no header, no separator, no notes)."""
    rows = [line for line in block.splitlines() if line.startswith("| ")]
    return [line for line in rows if line not in HEADER]


def current_table(readme: Path) -> str:
    """What the README has between the markers now ("" if nothing)."""
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return ""
    return text.split(START, 1)[1].split(END, 1)[0]


def known_faults() -> dict[str, str]:
    """Every case of the matrix and its fault column, from the test modules."""
    from tests.integration.chaos import (  # the test modules: only when rendering
        test_chaos_callbacks,
        test_chaos_clock,
        test_chaos_engine,
        test_chaos_links,
        test_chaos_pbx,
        test_chaos_storage,
    )

    cases = {test_chaos_callbacks.CASE.name: test_chaos_callbacks.CASE}
    for module in (
        test_chaos_clock,
        test_chaos_engine,
        test_chaos_links,
        test_chaos_pbx,
        test_chaos_storage,
    ):
        cases.update(module.CASES)
    return {name: case.fault_text for name, case in cases.items()}


def load(folder: Path) -> dict[str, dict[str, Any]]:
    """Each case's evidence, with the host's mean CPU busy share during its load (from the
    run's load report): recordings come out short when the host is saturated."""
    out = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        report = folder / "runs" / str(data["case"]) / "report.json"
        if report.exists():
            host = json.loads(report.read_text(encoding="utf-8")).get("resources", {}).get("host")
            data["host_busy_pct"] = (host or {}).get("busy_pct_mean")
        out[str(data["case"])] = data
    return out


def update_readme(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    readme.write_text(f"{before}{START}\n{table.rstrip()}\n{END}{after}", encoding="utf-8")


if __name__ == "__main__":

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, check=False)
        return done.stdout.strip()

    results = load(RESULTS_DIR)
    if not results:
        sys.exit(f"no chaos results in {RESULTS_DIR}")
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    readme = REPO / "README.md"
    commit = git("rev-parse", "--short", "HEAD")
    table = render(results, commit, branch, current_table(readme), known_faults())
    update_readme(readme, table)
