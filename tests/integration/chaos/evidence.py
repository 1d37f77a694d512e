"""Evidence for a chaos case's verdict, read from what the PBX and the engine left (pure).

- Double-booking: two answered calls of one consultant whose talk overlaps (AMI times of
  ``DialEnd ANSWER`` on the citizen channel to its ``Hangup``).
- Resync: the first consultant rung by the engine itself (a ``DialBegin`` on a citizen
  channel that never joined an app_queue fallback queue) after the recovery.
- Engine logs: IVR handler crashes and the first error lines, to show why a case failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cti.ami.messages import AmiEvent
from dasan.load.tracker import CitizenCall

# One second of slack: AMI timestamps of the two legs are not taken at the same instant.
OVERLAP_SLACK_S = 0.5
_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")


def double_bookings(calls: Iterable[CitizenCall]) -> list[dict[str, Any]]:
    by_consultant: dict[str, list[CitizenCall]] = defaultdict(list)
    for call in calls:
        if call.answered is not None and call.consultant:
            by_consultant[call.consultant].append(call)
    found = []
    for consultant, mine in by_consultant.items():
        mine.sort(key=lambda c: c.answered or 0.0)
        for before, after in itertools.pairwise(mine):
            end = before.ended if before.ended is not None else math.inf
            if after.answered is not None and after.answered < end - OVERLAP_SLACK_S:
                found.append({"consultant": consultant, "calls": [before.uniqueid, after.uniqueid]})
    return found


def first_engine_dial_after(events: Iterable[AmiEvent], since: float | None) -> float | None:
    """Seconds from ``since`` to the first consultant the engine rang (None: never)."""
    if since is None:
        return None
    events = list(events)
    queued = {e.uniqueid for e in events if e.name == "QueueCallerJoin"}
    dials = [
        e.timestamp
        for e in events
        if e.name == "DialBegin"
        and e.uniqueid not in queued
        and e.timestamp is not None
        and e.timestamp >= since
    ]
    return round(min(dials) - since, 1) if dials else None


def ami_login_after(paths: Iterable[Path], since: float | None) -> float | None:
    """Seconds from ``since`` to the engine's first AMI login after it, from its log (whose
    times are local wall-clock times, as this process's)."""
    if since is None:
        return None
    logins = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if "AMI logged in" not in line:
                continue
            with contextlib.suppress(ValueError):
                when = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if when >= since:
                    logins.append(when)
    return round(min(logins) - since, 1) if logins else None


def engine_log_findings(paths: Iterable[Path], keep: int = 8) -> dict[str, Any]:
    crashes, errors = 0, list[str]()
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            if "handler crashed" in line:
                crashes += 1
            if _ERROR.search(line) and len(errors) < keep:
                errors.append(f"{path.name}: {line[:300]}")
    return {"handler_crashes": crashes, "errors": errors}
