"""Care data as rules: districts, categories, departments and routing, all read from YAML.

Invariants:
- The data is validated when loaded: every rule's department exists once ``{district}`` is
  filled in for every district it can match, and every (category, district) pair has a rule,
  so ``route`` never fails for a known category and district.
- ``route``, ``due_at`` and ``overdue`` are pure (the clock is an argument).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CITY = "seoul"
URGENCIES = ("low", "normal", "high", "urgent")
# Part of the category's due time an urgency leaves (urgent: a quarter).
_URGENCY_SHARE = {"low": 1.0, "normal": 1.0, "high": 0.5, "urgent": 0.25}


class RulesError(ValueError):
    """The care data file is not consistent; the message says where."""


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    district: str
    department: str

    def matches(self, category: str, district: str) -> bool:
        return self.category in ("*", category) and self.district in ("*", district)


@dataclass(frozen=True, slots=True)
class CareRules:
    districts: Mapping[str, Mapping[str, str]]
    categories: Mapping[str, Mapping[str, Any]]
    departments: frozenset[str]
    rules: tuple[Rule, ...]

    def route(self, category: str, district: str) -> str:
        """The department of a (known) category and district."""
        for rule in self.rules:
            if rule.matches(category, district):
                return rule.department.format(district=district)
        raise RulesError(f"no rule for {category} in {district}")

    def due_at(self, category: str, urgency: str, created: dt.datetime) -> dt.datetime:
        hours = float(self.categories[category]["due_hours"]) * _URGENCY_SHARE[urgency]
        return created + dt.timedelta(hours=hours)

    def district_of(self, department: str) -> str:
        return department.split(".", 1)[0]


def overdue(
    tickets: Iterable[tuple[str, dt.datetime, dt.datetime | None]], now: dt.datetime
) -> list[str]:
    """Ids of open tickets past due and not escalated since they fell due.

    Each item is (ticket id, due at, escalated at or None)."""
    return [
        ticket_id
        for ticket_id, due, escalated in tickets
        if due <= now and (escalated is None or escalated < due)
    ]


def load_rules(path: Path | None = None) -> CareRules:
    if path is None:
        text = resources.files("care.data").joinpath("care.yaml").read_text(encoding="utf-8")
        where = "care/data/care.yaml"
    else:
        text, where = path.read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
        return _build(data)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise RulesError(f"{where}: {exc}") from exc
    except RulesError as exc:
        raise RulesError(f"{where}: {exc}") from exc


def _build(data: dict[str, Any]) -> CareRules:
    districts = {str(k): dict(v) for k, v in data["districts"].items()}
    if CITY not in districts:
        raise RulesError(f"the city ({CITY}) must be a district")
    categories = {str(k): dict(v) for k, v in data["categories"].items()}
    for name, cat in categories.items():
        if float(cat["due_hours"]) <= 0:
            raise RulesError(f"category {name}: due_hours must be positive")
    departments = {f"{CITY}.{u}" for u in data["city_units"]}
    departments |= {f"{d}.{u}" for d in districts if d != CITY for u in data["district_units"]}
    rules = tuple(
        Rule(str(r["category"]), str(r["district"]), str(r["department"])) for r in data["rules"]
    )
    rules_obj = CareRules(districts, categories, frozenset(departments), rules)
    for category in categories:
        for district in districts:
            department = rules_obj.route(category, district)
            if department not in departments:
                raise RulesError(f"{category} x {district} -> unknown department {department}")
    return rules_obj
