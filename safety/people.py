"""People enrolled for safety calls, and the pure validation of an import CSV.

Invariants:
- ``parse_csv`` never touches storage: it returns the accepted people and every rejected row
  with its line number and reasons (all reasons of a row, not only the first).
- A number is kept normalized (digits only); it must look like a Korean number (a leading 0,
  9 to 11 digits). A number seen twice in the file, or already enrolled (``is_known``),
  is a duplicate: the later row is rejected, naming the earlier one.
- The import is all or nothing: the caller stores the accepted people only when no row was
  rejected (see ``safety.store``), so a file is never half imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from safety.districts import resolve

LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")
REQUIRED_COLUMNS = (
    "name",
    "number",
    "district",
    "language",
    "hours",
    "emergency_name",
    "emergency_number",
    "officer_name",
    "officer_number",
)
OPTIONAL_COLUMNS = ("personal_call", "calls_per_week")
_NUMBER = re.compile(r"^0\d{8,10}$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_TRUE = {"1", "yes", "y", "true", "예", "o"}
_FALSE = {"", "0", "no", "n", "false", "아니오", "x"}
MIN_WINDOW = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str
    number: str
    district: str
    language: str
    window_start: dt.time  # preferred hours, Seoul time
    window_end: dt.time
    emergency_name: str
    emergency_number: str
    officer_name: str
    officer_number: str
    personal_call: bool = False
    calls_per_week: int = 3


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImportReport:
    accepted: tuple[Person, ...] = ()
    rejected: tuple[RejectedRow, ...] = ()
    problems: tuple[str, ...] = ()  # about the whole file (missing columns, encoding)
    stored: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "stored": self.stored,
            "accepted": len(self.accepted),
            "rejected": [{"line": r.line, "reasons": list(r.reasons)} for r in self.rejected],
            "problems": list(self.problems),
        }


def normalize_number(text: str) -> str:
    """Digits only; separators (spaces, hyphens, dots, brackets) are dropped."""
    return re.sub(r"[\s\-.()]", "", text.strip())


def valid_number(number: str) -> bool:
    return bool(_NUMBER.match(number))


def parse_hours(text: str) -> tuple[dt.time, dt.time]:
    """``"09:30-12:00"`` -> (09:30, 12:00); raise ValueError with the reason."""
    found = _HOURS.match(text.strip())
    if found is None:
        raise ValueError(f"hours {text!r} are not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"hours {text!r} are not times of day")
    start, end = dt.time(h1, m1), dt.time(h2, m2)
    length = dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)
    if length < MIN_WINDOW:
        raise ValueError(f"hours {text!r}: the window must last at least 30 minutes")
    return start, end


@dataclass
class _Row:
    values: dict[str, str]
    reasons: list[str] = field(default_factory=list)

    def text(self, column: str, *, required: bool = True, limit: int = 100) -> str:
        value = (self.values.get(column) or "").strip()
        if required and not value:
            self.reasons.append(f"{column}: missing")
        elif len(value) > limit:
            self.reasons.append(f"{column}: longer than {limit} characters")
        return value

    def number(self, column: str) -> str:
        raw = self.text(column)
        number = normalize_number(raw)
        if raw and not valid_number(number):
            self.reasons.append(f"{column}: malformed number {raw!r}")
        return number


def _person(row: _Row, new_id: Callable[[], str]) -> Person:
    name = row.text("name")
    number = row.number("number")
    district_text = row.text("district")
    district = resolve(district_text) if district_text else None
    if district_text and district is None:
        row.reasons.append(f"district: unknown district {district_text!r} (not one of Seoul's 25)")
    language = row.text("language").lower()
    if language and language not in LANGUAGES:
        row.reasons.append(f"language: {language!r} is not one of {' '.join(LANGUAGES)}")
    start, end = dt.time(10), dt.time(12)
    hours = row.text("hours")
    if hours:
        try:
            start, end = parse_hours(hours)
        except ValueError as exc:
            row.reasons.append(f"hours: {exc}")
    personal = row.text("personal_call", required=False).lower()
    if personal not in _TRUE | _FALSE:
        row.reasons.append(f"personal_call: {personal!r} is not yes or no")
    per_week_text = row.text("calls_per_week", required=False) or "3"
    if per_week_text not in ("2", "3"):
        row.reasons.append(f"calls_per_week: {per_week_text!r} is not 2 or 3")
    return Person(
        id=new_id(),
        name=name,
        number=number,
        district=district or "",
        language=language,
        window_start=start,
        window_end=end,
        emergency_name=row.text("emergency_name"),
        emergency_number=row.number("emergency_number"),
        officer_name=row.text("officer_name"),
        officer_number=row.number("officer_number"),
        personal_call=personal in _TRUE,
        calls_per_week=int(per_week_text) if per_week_text in ("2", "3") else 3,
    )


def new_person_id() -> str:
    return f"p{uuid.uuid4().hex[:15]}"


def _never_known(_number: str) -> bool:
    return False


def parse_csv(
    text: str,
    is_known: Callable[[str], bool] = _never_known,
    new_id: Callable[[], str] = new_person_id,
) -> ImportReport:
    """Validate every row of an import file (header line first); see the invariants."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown columns: {', '.join(unknown)}")
        return ImportReport(problems=tuple(problems))
    seen: dict[str, int] = {}
    accepted: list[Person] = []
    rejected: list[RejectedRow] = []
    for raw in reader:
        line = reader.line_num
        values = {(k or "").strip(): v or "" for k, v in raw.items() if k is not None}
        row = _Row(values)
        if None in raw:
            row.reasons.append("more fields than columns")
        person = _person(row, new_id)
        if valid_number(person.number):
            if is_known(person.number):
                row.reasons.append("number: this person is already enrolled")
            elif person.number in seen:
                row.reasons.append(f"number: duplicate of line {seen[person.number]}")
            else:
                seen[person.number] = line
        if row.reasons:
            rejected.append(RejectedRow(line, tuple(row.reasons)))
        else:
            accepted.append(person)
    if not accepted and not rejected:
        return ImportReport(problems=("no rows after the header",))
    return ImportReport(tuple(accepted), tuple(rejected))
