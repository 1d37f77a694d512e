"""The consultant roster: who can take which calls, and when they work.

File format (CSV, UTF-8, one consultant per line, header required)::

    id,team,languages,skills,shift_start,shift_hours,meal_after_h,days
    c0001,korean,ko,general:4;transport:5,09:00,9,4,mon;tue;wed;thu;fri

- ``languages``: ISO 639-1 codes separated by ``;`` (ko, en, zh, ja, vi, mn).
- ``skills``: ``service:proficiency`` pairs separated by ``;``; proficiency 1..5; services
  from the catalog. A consultant holding a skill speaks all of the service's staff languages
  and at least one of the languages it serves.
- ``shift_start`` ``HH:MM``; ``shift_hours`` 1..16; ``meal_after_h`` empty (no meal break) or
  hours into the shift; ``days`` of mon..sun separated by ``;``. Shift columns may all be empty.

Invariants: ids are unique and safe as SIP user names (``[A-Za-z0-9_-]{1,32}``); a loaded
roster is a tuple of validated, immutable :class:`acd.model.Consultant`; any problem raises
:class:`acd.errors.AcdConfigError` naming the file, the line and the field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from acd.errors import AcdConfigError
from acd.model import (
    PROFICIENCY_MAX,
    PROFICIENCY_MIN,
    WEEKDAYS,
    Consultant,
    Language,
    Shift,
)
from acd.services import ServiceCatalog, load_catalog
from acd.settings import AcdSettings
from acd.tenants import Tenants, load_tenants

COLUMNS = (
    "id",
    "team",
    "languages",
    "skills",
    "shift_start",
    "shift_hours",
    "meal_after_h",
    "days",
)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
SHIPPED = "data/roster.csv"


def _fail(where: str, line: int, message: str) -> AcdConfigError:
    return AcdConfigError(f"{where} line {line}: {message}")


def _languages(text: str) -> frozenset[Language]:
    codes = [c.strip() for c in text.split(";") if c.strip()]
    if not codes:
        raise ValueError("languages: at least one language is required")
    try:
        return frozenset(Language(c) for c in codes)
    except ValueError:
        bad = next(c for c in codes if c not in {x.value for x in Language})
        known = ", ".join(x.value for x in Language)
        raise ValueError(f"languages: unknown language {bad!r} (expected one of {known})") from None


def _skills(text: str, catalog: ServiceCatalog) -> dict[str, int]:
    skills: dict[str, int] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, level = part.partition(":")
        if not sep:
            raise ValueError(f"skills: {part!r} is not service:proficiency")
        if name not in catalog:
            raise ValueError(f"skills: unknown service {name!r}")
        if name in skills:
            raise ValueError(f"skills: service {name!r} listed twice")
        if not level.strip().isdigit() or not PROFICIENCY_MIN <= int(level) <= PROFICIENCY_MAX:
            raise ValueError(f"skills: proficiency of {name!r} must be 1..5, got {level!r}")
        skills[name] = int(level)
    if not skills:
        raise ValueError("skills: at least one skill is required")
    return skills


def _shift(row: dict[str, str]) -> Shift | None:
    start, hours, meal, days = (
        row[k].strip() for k in ("shift_start", "shift_hours", "meal_after_h", "days")
    )
    if not (start or hours or meal or days):
        return None
    match = _TIME.match(start)
    if match is None:
        raise ValueError(f"shift_start: {start!r} is not HH:MM")
    try:
        length = float(hours)
    except ValueError:
        raise ValueError(f"shift_hours: {hours!r} is not a number") from None
    if not 1 <= length <= 16:
        raise ValueError(f"shift_hours: {length:g} is outside 1..16")
    meal_after: float | None = None
    if meal:
        try:
            meal_after = float(meal)
        except ValueError:
            raise ValueError(f"meal_after_h: {meal!r} is not a number") from None
        if not 0 < meal_after < length - 1:
            raise ValueError("meal_after_h: the meal break must lie inside the shift")
    day_set = frozenset(d.strip() for d in days.split(";") if d.strip())
    if not day_set or not day_set <= set(WEEKDAYS):
        raise ValueError(f"days: {days!r} must be one or more of {';'.join(WEEKDAYS)}")
    start_s = int(match.group(1)) * 3600 + int(match.group(2)) * 60
    return Shift(start_s=float(start_s), hours=length, days=day_set, meal_after_h=meal_after)


def _check_languages(consultant: Consultant, catalog: ServiceCatalog) -> None:
    for skill in consultant.skills:
        service = catalog[skill]
        missing = service.staff_languages - consultant.languages
        if missing:
            raise ValueError(f"skill {skill!r} requires speaking {', '.join(sorted(missing))}")
        if not service.languages & consultant.languages:
            raise ValueError(
                f"skill {skill!r} serves {', '.join(sorted(service.languages))}, not spoken"
            )


def parse_roster(
    text: str, catalog: ServiceCatalog, where: str = "roster"
) -> tuple[Consultant, ...]:
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(reader.fieldnames or ())
    if header != COLUMNS:
        raise AcdConfigError(
            f"{where} line 1: header must be {','.join(COLUMNS)}, got {','.join(header)}"
        )
    consultants: list[Consultant] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise _fail(where, line, f"expected {len(COLUMNS)} fields")
        cid = row["id"].strip()
        if not _ID.match(cid):
            raise _fail(where, line, f"id {cid!r} must match [A-Za-z0-9_-]{{1,32}}")
        if cid in seen:
            raise _fail(where, line, f"id {cid!r} already used on line {seen[cid]}")
        seen[cid] = line
        try:
            consultant = Consultant(
                id=cid,
                languages=_languages(row["languages"]),
                skills=_skills(row["skills"], catalog),
                team=row["team"].strip() or "general",
                shift=_shift(row),
            )
            _check_languages(consultant, catalog)
        except ValueError as exc:
            raise _fail(where, line, f"consultant {cid!r}: {exc}") from None
        consultants.append(consultant)
    if not consultants:
        raise AcdConfigError(f"{where}: the roster lists no consultant")
    return tuple(consultants)


def load_roster(catalog: ServiceCatalog, path: Path | None = None) -> tuple[Consultant, ...]:
    """Load ``path`` or, when None, the shipped demo roster (c0001..c0471)."""
    if path is None:
        text = resources.files("acd").joinpath(SHIPPED).read_text(encoding="utf-8")
        return parse_roster(text, catalog, f"acd/{SHIPPED}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AcdConfigError(f"{path}: cannot read the roster: {exc}") from exc
    return parse_roster(text, catalog, str(path))


def load_configured(settings: AcdSettings) -> tuple[ServiceCatalog, tuple[Consultant, ...]]:
    """The catalog and roster named by ``settings`` (shipped ones for None), with the
    districts' queues and skills when ``tenants_file`` is set, or AcdConfigError."""
    catalog, roster, _tenants = load_with_tenants(settings)
    return catalog, roster


def load_with_tenants(
    settings: AcdSettings,
) -> tuple[ServiceCatalog, tuple[Consultant, ...], Tenants | None]:
    """As :func:`load_configured`, plus the districts (None without ``tenants_file``)."""
    catalog = load_catalog(Path(settings.services_file) if settings.services_file else None)
    roster = load_roster(catalog, Path(settings.roster_file) if settings.roster_file else None)
    if settings.tenants_file is None:
        return catalog, roster, None
    tenants = load_tenants(Path(settings.tenants_file), catalog, roster)
    catalog, roster = tenants.apply(catalog, roster)
    return catalog, roster, tenants


def format_roster(consultants: Iterable[Consultant]) -> str:
    """The CSV text of a roster (inverse of :func:`parse_roster`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for c in consultants:
        shift = c.shift
        writer.writerow(
            [
                c.id,
                c.team,
                ";".join(lang.value for lang in Language if lang in c.languages),
                ";".join(f"{k}:{v}" for k, v in c.skills.items()),
                ""
                if shift is None
                else f"{int(shift.start_s) // 3600:02d}:{int(shift.start_s) % 3600 // 60:02d}",
                "" if shift is None else f"{shift.hours:g}",
                "" if shift is None or shift.meal_after_h is None else f"{shift.meal_after_h:g}",
                "" if shift is None else ";".join(d for d in WEEKDAYS if d in shift.days),
            ]
        )
    return buffer.getvalue()


def members_by_language(
    roster: Iterable[Consultant], endpoints: Iterable[str]
) -> dict[str, tuple[str, ...]]:
    """Consultant ids per language (roster order) for the PBX's static fallback queues.

    Every language gets an entry, empty when nobody on the roster speaks it; only consultants
    with a PBX endpoint are listed (a queue member without one would never ring).
    """
    reachable = set(endpoints)
    members: dict[str, list[str]] = {lang.value: [] for lang in Language}
    for consultant in roster:
        if consultant.id not in reachable:
            continue
        for lang in Language:
            if lang in consultant.languages:
                members[lang.value].append(consultant.id)
    return {lang: tuple(ids) for lang, ids in members.items()}
