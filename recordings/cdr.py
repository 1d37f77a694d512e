"""Asterisk CDR CSV (cdr_csv's Master.csv): what the PBX says it handled.

Column order as written by cdr_csv: accountcode, src, dst, dcontext, clid, channel,
dstchannel, lastapp, lastdata, start, answer, end, duration, billsec, disposition, amaflags,
then uniqueid (loguniqueid=yes), userfield (loguserfield=yes) and, with newcdrcolumns=yes,
peeraccount, linkedid, sequence. Times are UTC with usegmtime=yes (our configuration).

Invariants:
- Parsing is tolerant: short or malformed lines are counted in ``skipped``, never fatal.
  A line without a uniqueid column cannot be matched to a recording and is skipped.
- A channel may have several CDR rows (IVR leg, then each bridge); ``citizen_calls`` folds
  them into one call per uniqueid: earliest answer, latest end.
- ``CdrIndex`` reads the file incrementally (offset and inode remembered) and starts over
  if the file was rotated or truncated.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
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


@dataclass(frozen=True, slots=True)
class CdrCall:
    uniqueid: str
    answer: datetime
    end: datetime
    rows: int

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.end - self.answer).total_seconds() * 1000))


def _time(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _int(text: str) -> int:
    try:
        return int(text.strip() or 0)
    except ValueError:
        return 0


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
        start=_time(fields[9]),
        answer=_time(fields[10]),
        end=_time(fields[11]),
        duration_s=_int(fields[12]),
        billsec=_int(fields[13]),
        disposition=fields[14].strip().upper(),
        uniqueid=extra[0].strip(),
        userfield=extra[1] if len(extra) > 1 else "",
        linkedid=extra[3].strip() if len(extra) > 3 else "",
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
    rows: Iterable[CdrRow], numbers: Iterable[str], contexts: Iterable[str]
) -> dict[str, CdrCall]:
    """Answered calls into the center, one per uniqueid (rows of the same channel folded)."""
    wanted_numbers, wanted_contexts = set(numbers), set(contexts)
    grouped: dict[str, list[CdrRow]] = {}
    for row in rows:
        grouped.setdefault(row.uniqueid, []).append(row)
    calls: dict[str, CdrCall] = {}
    for uniqueid, group in grouped.items():
        if not any(r.dst in wanted_numbers or r.dcontext in wanted_contexts for r in group):
            continue
        answers = [r.answer for r in group if r.answer is not None and r.disposition == "ANSWERED"]
        ends = [r.end for r in group if r.end is not None]
        if answers and ends:
            calls[uniqueid] = CdrCall(uniqueid, min(answers), max(ends), len(group))
    return calls


class CdrIndex:
    """Incremental reader of Master.csv (call ``refresh`` before reading ``rows``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._inode: int | None = None
        self._pending = b""
        self.parsed = ParsedCdr()

    def refresh(self) -> ParsedCdr:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return self.parsed
        if info.st_ino != self._inode or info.st_size < self._offset:
            self._offset, self._inode, self._pending = 0, info.st_ino, b""
            self.parsed = ParsedCdr()
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = self._pending + handle.read()
            self._offset = handle.tell()
        complete, newline, rest = data.rpartition(b"\n")
        self._pending = rest
        if newline:
            parse_text(complete.decode("utf-8", errors="replace") + "\n", self.parsed)
        return self.parsed

    def uniqueids(self) -> set[str]:
        return {r.uniqueid for r in self.parsed.rows}


def read_cdr(path: Path) -> ParsedCdr:
    if not os.path.exists(path):
        return ParsedCdr()
    return parse_text(path.read_text(encoding="utf-8", errors="replace"))
