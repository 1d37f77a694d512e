"""Asterisk CEL (cel_custom's Master.csv): when each channel was answered and hung up.

Columns as our PBX writes them (``asterisk-config/cel_custom.conf``): eventtype, eventtime
(epoch seconds with microseconds), uniqueid, linkedid, channel name. A CEL event's time is
the moment the channel published the change; the CDR's answer and end are stamped when the
CDR engine processes it, which on a saturated PBX is seconds later (the same offset for
every call ending in that moment). So the audit takes a call's length from CEL when it has
both ends of it, and from the CDR or the call log otherwise.

Invariants:
- Parsing is tolerant: short or malformed lines are counted in ``skipped``, never fatal.
- Per uniqueid: the first ANSWER and the last HANGUP; a call is refined only when it has
  both and the hang-up is not before the answer.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from recordings.cdr import CdrCall, existing_texts, pbx_time


@dataclass(frozen=True, slots=True)
class CelTimes:
    answered: datetime | None = None
    hung_up: datetime | None = None


@dataclass
class ParsedCel:
    channels: dict[str, CelTimes] = field(default_factory=dict)
    skipped: int = 0


def parse_text(text: str, into: ParsedCel | None = None) -> ParsedCel:
    parsed = into or ParsedCel()
    for fields in csv.reader(io.StringIO(text)):
        if not fields:
            continue
        if len(fields) < 3 or not fields[2].strip():
            parsed.skipped += 1
            continue
        kind, at, uniqueid = fields[0].strip().upper(), pbx_time(fields[1]), fields[2].strip()
        if at is None or kind not in ("ANSWER", "HANGUP"):
            parsed.skipped += kind in ("ANSWER", "HANGUP")
            continue
        seen = parsed.channels.get(uniqueid, CelTimes())
        if kind == "ANSWER" and seen.answered is None:
            seen = dataclasses.replace(seen, answered=at)
        elif kind == "HANGUP" and (seen.hung_up is None or at > seen.hung_up):
            seen = dataclasses.replace(seen, hung_up=at)
        parsed.channels[uniqueid] = seen
    return parsed


def read_cel(*paths: Path) -> ParsedCel:
    """Events of every CEL file that exists (none: an empty result)."""
    parsed = ParsedCel()
    for text in existing_texts(*paths):
        parse_text(text, parsed)
    return parsed


def refine(calls: Mapping[str, CdrCall], cel: ParsedCel) -> dict[str, CdrCall]:
    """The CDR's calls with their answer and end from CEL where it has both (``precise``)."""
    out: dict[str, CdrCall] = {}
    for uniqueid, call in calls.items():
        times = cel.channels.get(uniqueid)
        if (
            times is not None
            and times.answered is not None
            and times.hung_up is not None
            and times.hung_up >= times.answered
        ):
            out[uniqueid] = dataclasses.replace(
                call, answer=times.answered, end=times.hung_up, precise=True
            )
        else:
            out[uniqueid] = call
    return out
