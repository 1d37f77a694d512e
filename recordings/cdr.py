"""Asterisk CDR CSV (cdr_csv's Master.csv): what the PBX says it handled.

Column order as written by cdr_csv: accountcode, src, dst, dcontext, clid, channel,
dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags,
then uniqueid (loguniqueid=yes), userfield (loguserfield=yes) and, with newcdrcolumns=yes,
peeraccount, linkedid, sequence. Our PBX writes the same columns with cdr_custom
(``asterisk-config/cdr_custom.conf``) followed directly by linkedid. Times are UTC, either
formatted (``YYYY-MM-DD HH:MM:SS``, cdr_csv) or raw epoch seconds with microseconds (our
cdr_custom, ``CDR(end,u)``: a call closed from the CDR then has its length to the ms).

Invariants:
- Parsing is tolerant: short or malformed lines are counted in ``skipped``, never fatal.
  A line without a uniqueid column cannot be matched to a recording and is skipped.
- A channel may have several CDR rows (IVR leg, then each bridge); ``citizen_calls`` folds
  them into one call per uniqueid: earliest answer, latest end, the queues it was placed in
  (``Queue`` rows' first argument, in order) and the last consultant bridged to it.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

_BASE_COLUMNS = 16
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class CdrRow:
    src: str
    dst: str
    dcontext: str
    channel: str
    dstchannel: str
    lastapp: str
    start: datetime | None
    answer: datetime | None
    end: datetime | None
    duration_s: int
    billsec: int
    disposition: str
    uniqueid: str
    userfield: str = ""
    linkedid: str = ""
    lastdata: str = ""


@dataclass(frozen=True, slots=True)
class CdrCall:
    uniqueid: str
    answer: datetime
    end: datetime
    rows: int
    src: str = ""
    queues: tuple[str, ...] = ()
    consultant: str | None = None
    consultant_at: datetime | None = None
    # Answer and end from the PBX's channel events (recordings.cel), not the CDR's stamps.
    precise: bool = False

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.end - self.answer).total_seconds() * 1000))


def pbx_time(text: str) -> datetime | None:
    """A PBX time column: raw epoch seconds ("1795915582.526123"; 0: never) or formatted."""
    text = text.strip()
    if not text:
        return None
    if text[0].isdigit() and "-" not in text:  # raw epoch "1795915582.526123"; 0: never
        try:
            epoch = float(text)
        except ValueError:
            return None
        return datetime.fromtimestamp(epoch, UTC) if epoch > 0 else None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _int(text: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError:
        return 0


def _linkedid(extra: list[str]) -> str:
    if len(extra) == 3:  # cdr_custom: uniqueid, userfield, linkedid
        return extra[2].strip()
    if len(extra) >= 5:  # cdr_csv newcdrcolumns: ..., peeraccount, linkedid, sequence
        return extra[3].strip()
    return ""


def parse_line(fields: list[str]) -> CdrRow | None:
    if len(fields) <= _BASE_COLUMNS or not fields[16].strip():
        return None
    extra = fields[16:]
    return CdrRow(
        src=fields[1],
        dst=fields[2],
        dcontext=fields[3],
        channel=fields[5],
        dstchannel=fields[6],
        lastapp=fields[7],
        start=pbx_time(fields[9]),
        answer=pbx_time(fields[10]),
        end=pbx_time(fields[11]),
        duration_s=_int(fields[12]),
        billsec=_int(fields[13]),
        disposition=fields[14].strip().upper(),
        uniqueid=extra[0].strip(),
        userfield=extra[1] if len(extra) > 1 else "",
        linkedid=_linkedid(extra),
        lastdata=fields[8],
    )


@dataclass
class ParsedCdr:
    rows: list[CdrRow] = field(default_factory=list)
    skipped: int = 0


def parse_text(text: str, into: ParsedCdr | None = None) -> ParsedCdr:
    parsed = into or ParsedCdr()
    for fields in csv.reader(io.StringIO(text)):
        if not fields:
            continue
        row = parse_line(fields)
        if row is None:
            parsed.skipped += 1
        else:
            parsed.rows.append(row)
    return parsed


def citizen_calls(
    rows: Iterable[CdrRow],
    numbers: Iterable[str],
    contexts: Iterable[str],
    userfields: Iterable[str] = (),
) -> dict[str, CdrCall]:
    """Answered calls into the center, one per uniqueid (rows of the same channel folded).

    A channel counts when any of its rows has a wanted dst, dcontext or userfield (the 120
    dialplan marks citizen channels with CDR(userfield)=citizen).
    """
    wanted_numbers, wanted_contexts = set(numbers), set(contexts)
    wanted_fields = {f for f in userfields if f}
    grouped: dict[str, list[CdrRow]] = {}
    for row in rows:
        grouped.setdefault(row.uniqueid, []).append(row)
    calls: dict[str, CdrCall] = {}
    for uniqueid, group in grouped.items():
        if not any(
            r.dst in wanted_numbers or r.dcontext in wanted_contexts or r.userfield in wanted_fields
            for r in group
        ):
            continue
        answers = [r.answer for r in group if r.answer is not None and r.disposition == "ANSWERED"]
        ends = [r.end for r in group if r.end is not None]
        if answers and ends:
            consultant, consultant_at = _consultant(group)
            calls[uniqueid] = CdrCall(
                uniqueid,
                min(answers),
                max(ends),
                len(group),
                src=group[0].src,
                queues=_queues(group),
                consultant=consultant,
                consultant_at=consultant_at,
            )
    return calls


def _queues(group: list[CdrRow]) -> tuple[str, ...]:
    names = [r.lastdata.split(",", 1)[0].strip() for r in group if r.lastapp == "Queue"]
    return tuple(dict.fromkeys(n for n in names if n))


_CONSULTANT = re.compile(r"^PJSIP/(c\d{4})-[0-9a-f]+$")


def _consultant(group: list[CdrRow]) -> tuple[str | None, datetime | None]:
    """The consultant of the last answered bridge (``PJSIP/c0042-0000001a``) and its answer."""
    found: tuple[str | None, datetime | None] = (None, None)
    for row in group:
        match = _CONSULTANT.match(row.dstchannel.strip())
        if match and row.disposition == "ANSWERED" and row.answer is not None:
            found = (match.group(1), row.answer)
    return found


def existing_texts(*paths: Path) -> Iterator[str]:
    """The text of every one of ``paths`` that exists (the PBX's CSV logs)."""
    for path in paths:
        if os.path.exists(path):
            yield path.read_text(encoding="utf-8", errors="replace")


def read_cdr(*paths: Path) -> ParsedCdr:
    """Rows of every CDR file that exists (none: an empty result)."""
    parsed = ParsedCdr()
    for text in existing_texts(*paths):
        parse_text(text, parsed)
    return parsed
