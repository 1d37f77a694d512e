"""Which department each official belongs to (``care_officials``); set by an admin or the CLI.

Invariant: an official is in exactly one department, and it must be a known department.
"""

from __future__ import annotations

from sqlalchemy import select

from care.errors import InvalidInput
from care.models import OfficialRow
from care.rules import CareRules
from common.storage import Storage


async def set_official(storage: Storage, rules: CareRules, user_id: str, department: str) -> None:
    if department not in rules.departments:
        raise InvalidInput(f"department: unknown department {department!r}")
    async with storage.write() as session:
        row = await session.get(OfficialRow, user_id)
        if row is None:
            session.add(OfficialRow(user_id=user_id, department=department))
        else:
            row.department = department


async def officials(storage: Storage) -> dict[str, str]:
    async with storage.session() as session:
        rows = await session.scalars(select(OfficialRow).order_by(OfficialRow.user_id))
        return {r.user_id: r.department for r in rows}


async def department_of(storage: Storage, user_id: str) -> str | None:
    async with storage.session() as session:
        row = await session.get(OfficialRow, user_id)
        return row.department if row else None
