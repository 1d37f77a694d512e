"""Generator of the shipped demo roster ``acd/data/roster.csv`` (471 consultants).

Run ``python -m acd.roster_gen [PATH]`` to (re)write it; a unit test checks that the shipped
file equals the generator's output, so the file and this code never drift apart.

Invariants:
- Deterministic (fixed seed); ids ``c0001``..``c0471``; every skill respects the catalog's
  language rules (so :func:`acd.roster.parse_roster` accepts the result).
- Mix: mostly Korean generalists with specialties (some bilingual), a small foreign-language
  team per language, a few sign-language consultants and a pool of interpreters per language.
  As the foreign-language teams interpret their language (``interp_en`` ...), the
  sign-language team is the Korean Sign Language interpreter pool (``interp_sign``, video
  endpoints on the PBX); that skill draws no number from the seeded generator.
- Shifts: 9 hours with a one-hour meal, five days a week; the Korean shifts that work the seed
  weekday (tuesday) are laid out greedily over the day so that staffing follows the seed
  traffic curve (Erlang A requirement per half hour at ``REQUIREMENT_TARGET``), which makes the
  day tight on purpose: the Erlang figure lands between 0.75 and 0.95, not at 1.0.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

from acd.erlang import agents_needed
from acd.model import SIGN_INTERPRETER, WEEKDAYS, Consultant, Language, Shift, interpreter_service
from acd.roster import format_roster
from acd.services import ServiceCatalog, load_catalog
from acd.sim.traffic import SEED_CALLS, SEED_CURVE, rate_at

TOTAL = 471
SEED = 120
SEED_DAY = "tue"
SHIFT_HOURS = 9.0
REQUIREMENT_TARGET = 0.7  # answered within 20 s, per half hour, Erlang A
PATIENCE_S = 180.0
KOREAN_AHT_S = 180.0 + 21.0 + 2.0  # talk + wrap-up + ring
KOREAN_SHARE = 1.0 - 0.0155 - 0.003  # of the seed traffic (foreign and sign calls excluded)
SPECIALTIES = (
    ("transport", 32),
    ("documents", 20),
    ("water_tax", 18),
    ("welfare", 18),
    ("care129", 12),
)
FOREIGN_TEAM = (
    (Language.EN, 7),
    (Language.ZH, 7),
    (Language.JA, 4),
    (Language.VI, 4),
    (Language.MN, 3),
)
INTERPRETERS_PER_LANGUAGE = 2
SIGN_TEAM = 8
BILINGUAL = ((Language.EN, 0.06), (Language.ZH, 0.03), (Language.JA, 0.02))
# Days off per consultant: pairs that keep tuesday a working day, and pairs that do not.
WORKS_TUESDAY = (("sat", "sun"), ("sun", "mon"), ("wed", "thu"), ("thu", "fri"), ("fri", "sat"))
OFF_TUESDAY = (("mon", "tue"), ("tue", "wed"))


def _days(off: tuple[str, str]) -> frozenset[str]:
    return frozenset(d for d in WEEKDAYS if d not in off)


def requirement(calls: int = SEED_CALLS) -> list[int]:
    """Korean consultants needed on the phones per half hour of the seed day."""
    total = sum(rate_at(SEED_CURVE, m * 60.0 + 30.0) for m in range(1440)) * 60.0
    needed = []
    for half in range(48):
        mid = half * 1800.0 + 900.0
        rate = calls * KOREAN_SHARE * rate_at(SEED_CURVE, mid) / total
        needed.append(
            agents_needed(rate, KOREAN_AHT_S, REQUIREMENT_TARGET, 20.0, patience_s=PATIENCE_S)
        )
    return needed


def _covers(start_h: int, meal_after_h: float) -> list[int]:
    halves = []
    for k in range(int(SHIFT_HOURS * 2)):
        if meal_after_h * 2 <= k < meal_after_h * 2 + 2:
            continue
        halves.append((start_h * 2 + k) % 48)
    return halves


def _meal(start_h: int, n: int) -> float:
    return (3.5, 4.0, 4.5)[(start_h + n) % 3]


def lay_out_shifts(needed: list[int], limit: int) -> list[tuple[int, float]]:
    """Greedy cover of the requirement: (start hour, meal after hours) per shift."""
    deficit = list(needed)
    shifts: list[tuple[int, float]] = []
    while any(d > 0 for d in deficit) and len(shifts) < limit:
        best: tuple[tuple[int, int], int, float] | None = None
        for start in range(24):
            meal = _meal(start, len(shifts))
            halves = _covers(start, meal)
            gain = (
                sum(1 for h in halves if deficit[h] > 0),
                sum(max(deficit[h], 0) for h in halves),
            )
            if best is None or gain > best[0]:
                best = (gain, start, meal)
        assert best is not None
        _, start, meal = best
        for h in _covers(start, meal):
            deficit[h] -= 1
        shifts.append((start, meal))
    return sorted(shifts)


def _korean(rng: random.Random, cid: str, shift: Shift) -> Consultant:
    skills = {"general": rng.choices((5, 4, 3, 2), (15, 35, 35, 15))[0]}
    count = rng.choices((0, 1, 2), (25, 55, 20))[0]
    names = [s for s, _ in SPECIALTIES]
    weights = [w for _, w in SPECIALTIES]
    while len(skills) < count + 1:
        skills.setdefault(rng.choices(names, weights)[0], rng.choices((3, 4, 5), (30, 40, 30))[0])
    languages = {Language.KO}
    for language, share in BILINGUAL:
        if rng.random() < share and len(languages) == 1:
            languages.add(language)
            skills[f"foreign_{language.value}"] = 1
    return Consultant(cid, frozenset(languages), skills, "korean", shift)


def _daytime(rng: random.Random, n: int, works: bool) -> Shift:
    off = rng.choice(WORKS_TUESDAY if works else OFF_TUESDAY)
    start = 9 if n % 2 == 0 else 13
    return Shift(start * 3600.0, SHIFT_HOURS, _days(off), meal_after_h=(3.5, 4.0, 4.5)[n % 3])


def _specialists(rng: random.Random) -> list[Consultant]:
    people: list[Consultant] = []
    for n in range(SIGN_TEAM):
        skills = {"sign_language": rng.choice((3, 4, 5)), "general": 1}
        skills[interpreter_service(SIGN_INTERPRETER)] = 4
        people.append(
            Consultant("", frozenset({Language.KO}), skills, "sign", _daytime(rng, n, n < 6))
        )
    for language, size in FOREIGN_TEAM:
        for n in range(size):
            skills = {
                f"foreign_{language.value}": rng.choice((4, 5)),
                f"interp_{language.value}": rng.choice((3, 4, 5)),
            }
            shift = _daytime(rng, n, n < size - 1)
            people.append(
                Consultant("", frozenset({Language.KO, language}), skills, "foreign", shift)
            )
    for language, _size in FOREIGN_TEAM:
        for n in range(INTERPRETERS_PER_LANGUAGE):
            skills = {f"interp_{language.value}": rng.choice((4, 5))}
            shift = _daytime(rng, n, True)
            people.append(
                Consultant("", frozenset({Language.KO, language}), skills, "interpreter", shift)
            )
    return people


def generate_roster(catalog: ServiceCatalog | None = None) -> tuple[Consultant, ...]:
    del catalog  # the layout only depends on the seed traffic; kept for symmetry with loaders
    rng = random.Random(SEED)
    specialists = _specialists(rng)
    korean_total = TOTAL - len(specialists)
    working = lay_out_shifts(requirement(), korean_total)
    people: list[Consultant] = []
    for n in range(korean_total):
        if n < len(working):
            start, meal = working[n]
            off = rng.choice(WORKS_TUESDAY)
        else:
            start, meal = rng.choice(working)
            off = rng.choice(OFF_TUESDAY)
        shift = Shift(start * 3600.0, SHIFT_HOURS, _days(off), meal_after_h=meal)
        people.append(_korean(rng, "", shift))
    order = list(range(len(people)))
    rng.shuffle(order)
    mixed = [people[i] for i in order] + specialists
    return tuple(
        Consultant(f"c{n + 1:04d}", c.languages, c.skills, c.team, c.shift)
        for n, c in enumerate(mixed)
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path(__file__).parent / "data" / "roster.csv"
    path.write_text(format_roster(generate_roster(load_catalog())), encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
