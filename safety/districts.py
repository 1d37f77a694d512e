"""Seoul's 25 districts, as data (``safety/data/districts.yaml``).

Invariants: exactly 25 districts with unique codes and Korean names; ``resolve`` accepts a
code or the Korean name (case and surrounding spaces ignored) and returns the code, or None.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

SEOUL_DISTRICTS = 25


@dataclass(frozen=True, slots=True)
class District:
    code: str
    ko: str
    en: str


@lru_cache(maxsize=1)
def districts() -> tuple[District, ...]:
    text = resources.files("safety.data").joinpath("districts.yaml").read_text(encoding="utf-8")
    rows = yaml.safe_load(text)["districts"]
    found = tuple(District(str(r["code"]), str(r["ko"]), str(r["en"])) for r in rows)
    if len(found) != SEOUL_DISTRICTS or len({d.code for d in found}) != SEOUL_DISTRICTS:
        raise ValueError(f"districts.yaml must list {SEOUL_DISTRICTS} distinct districts")
    return found


def resolve(text: str) -> str | None:
    wanted = text.strip()
    for district in districts():
        if wanted.lower() == district.code or wanted == district.ko:
            return district.code
    return None
