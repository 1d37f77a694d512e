"""Import and export of cases as JSON or CSV.

Row fields: ``id`` (optional: a known id adds a version to that case, an unknown one creates
the case under it), ``language``, ``title``, ``question``, ``answer``, ``service``, ``tags``
(a JSON list, or ``|``-separated in CSV), ``department``, ``valid_from``/``valid_until``
(YYYY-MM-DD, optional), ``translation_of`` (optional), ``state`` (draft, review or published;
default published: an import is an editor's release, written with the importing user as both
author and reviewer).

Invariants:
- Every row is validated before anything is written; any bad row rejects the whole file with
  one error per problem (row number as in the file: CSV counts its header as row 1, JSON
  counts list items from 1), and the database is left untouched. The write itself is one
  transaction, so a failure there leaves nothing half-imported either.
- Export writes the latest version of every case (with its state), in the same shape, so an
  export imports again into an empty knowledge base unchanged.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from knowledge.cases import CaseContent, ReviewState, Version
from knowledge.store import CaseStore, NewVersion

FIELDS = (
    "id",
    "language",
    "title",
    "question",
    "answer",
    "service",
    "tags",
    "department",
    "valid_from",
    "valid_until",
    "translation_of",
    "state",
)
_MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.message}"


class ImportRejected(ValueError):
    """The file has bad rows; nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} problem(s), nothing imported: {shown}{more}")


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def parse_row(
    number: int, raw: dict[str, Any], csv_tags: bool
) -> tuple[NewVersion | None, list[RowError]]:
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        return None, [RowError(number, k, "unknown field") for k in unknown]
    data = {k: _blank_to_none(v) for k, v in raw.items() if k not in ("id", "state")}
    tags = data.get("tags")
    if csv_tags and isinstance(tags, str):
        data["tags"] = [t for t in tags.split("|") if t.strip()]
    elif tags is None:
        data.pop("tags", None)
    errors: list[RowError] = []
    case_id: int | None = None
    raw_id = _blank_to_none(raw.get("id"))
    if raw_id is not None:
        try:
            case_id = int(raw_id)
            if case_id < 1:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(RowError(number, "id", "must be a positive whole number"))
    state_text = _blank_to_none(raw.get("state")) or ReviewState.PUBLISHED.value
    try:
        state = ReviewState(state_text)
    except ValueError:
        errors.append(RowError(number, "state", "must be draft, review or published"))
        state = ReviewState.DRAFT
    try:
        content = CaseContent.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "row"
            errors.append(RowError(number, where, err["msg"]))
        return None, errors
    if errors:
        return None, errors
    return NewVersion(content, state, case_id), []


def parse_rows(rows: list[dict[str, Any]], *, first_row: int, csv_tags: bool) -> list[NewVersion]:
    if len(rows) > _MAX_ROWS:
        raise ImportRejected([RowError(0, "file", f"more than {_MAX_ROWS} rows")])
    items: list[NewVersion] = []
    errors: list[RowError] = []
    seen: dict[int, int] = {}
    for offset, raw in enumerate(rows):
        number = first_row + offset
        if not isinstance(raw, dict):
            errors.append(RowError(number, "row", "not an object"))
            continue
        item, problems = parse_row(number, raw, csv_tags)
        errors.extend(problems)
        if item is not None and item.case_id is not None:
            if item.case_id in seen:
                errors.append(
                    RowError(number, "id", f"id {item.case_id} repeats row {seen[item.case_id]}")
                )
            seen[item.case_id] = number
        if item is not None:
            items.append(item)
    if errors:
        raise ImportRejected(errors)
    return items


def parse_json(text: str) -> list[NewVersion]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected([RowError(0, "file", f"not valid JSON: {exc}")]) from exc
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        data = data["cases"]
    if not isinstance(data, list):
        raise ImportRejected([RowError(0, "file", "expected a list of cases")])
    return parse_rows(data, first_row=1, csv_tags=False)


def parse_csv(text: str) -> list[NewVersion]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [
        f for f in ("title", "question", "answer", "service", "department") if f not in header
    ]
    if missing:
        raise ImportRejected([RowError(1, f, "missing column") for f in missing])
    rows: list[dict[str, Any]] = []
    for raw in reader:
        if None in raw:  # more cells than header columns
            rows.append({"__extra__": raw.pop(None)})
            continue
        rows.append(dict(raw))
    return parse_rows(rows, first_row=2, csv_tags=True)


def parse(text: str, fmt: str) -> list[NewVersion]:
    if fmt == "json":
        return parse_json(text)
    if fmt == "csv":
        return parse_csv(text)
    raise ValueError(f"unknown format {fmt!r} (json or csv)")


async def import_text(store: CaseStore, text: str, fmt: str, user: str) -> list[int]:
    """Validate every row, then write them all in one transaction; returns the case ids."""
    items = parse(text, fmt)
    try:
        return await store.write_many(items, user)
    except ValueError as exc:  # a row that contradicts the database (e.g. its language)
        raise ImportRejected([RowError(0, "database", str(exc))]) from exc


def export_row(version: Version) -> dict[str, Any]:
    c = version.content
    return {
        "id": version.case_id,
        "language": c.language,
        "title": c.title,
        "question": c.question,
        "answer": c.answer,
        "service": c.service,
        "tags": list(c.tags),
        "department": c.department,
        "valid_from": c.valid_from.isoformat() if c.valid_from else None,
        "valid_until": c.valid_until.isoformat() if c.valid_until else None,
        "translation_of": c.translation_of,
        "state": version.state.value,
    }


def render(versions: list[Version], fmt: str) -> str:
    rows = [export_row(v) for v in versions]
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (json or csv)")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: ("|".join(v) if k == "tags" else ("" if v is None else v)) for k, v in row.items()}
        )
    return out.getvalue()
