"""The shipped roster and services, and the errors an operator's files get."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from acd.errors import AcdConfigError
from acd.model import Language
from acd.roster import COLUMNS, format_roster, load_roster, parse_roster
from acd.roster_gen import generate_roster
from acd.services import ServiceCatalog, load_catalog, parse_catalog
from acd.sim.staffing import plan_day

HEADER = ",".join(COLUMNS)


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_catalog()


def test_shipped_catalog_has_every_queue(catalog: ServiceCatalog) -> None:
    expected = {
        "general",
        "transport",
        "documents",
        "water_tax",
        "welfare",
        "care129",
        "sign_language",
        "interp_sign",
    }
    for lang in ("en", "zh", "ja", "vi", "mn"):
        expected |= {f"foreign_{lang}", f"interp_{lang}"}
    assert set(catalog) == expected
    assert all(s.target.fraction == 0.8 or s.id.startswith("interp_") for s in catalog.values())
    assert catalog["interp_en"].staff_languages == {Language.KO, Language.EN}


def test_shipped_roster_is_the_demo_roster(catalog: ServiceCatalog) -> None:
    roster = load_roster(catalog)
    assert [c.id for c in roster] == [f"c{n:04d}" for n in range(1, 472)]
    teams = {
        t: sum(1 for c in roster if c.team == t)
        for t in ("korean", "foreign", "interpreter", "sign")
    }
    assert teams["korean"] > 400 and teams["sign"] >= 4
    assert sum(teams.values()) == 471
    for lang in ("en", "zh", "ja", "vi", "mn"):
        assert any(f"foreign_{lang}" in c.skills and c.team == "foreign" for c in roster)
        assert (
            sum(1 for c in roster if c.team == "interpreter" and f"interp_{lang}" in c.skills) >= 2
        )
    # The Korean Sign Language interpreters: the sign-language team (video endpoints, Korean).
    sign = [c for c in roster if "interp_sign" in c.skills]
    assert [c.id for c in sign] == [f"c{n:04d}" for n in range(429, 437)]
    assert all(c.team == "sign" and c.languages == {Language.KO} for c in sign)
    assert catalog["interp_sign"].languages == {Language.KO}
    korean_only = sum(1 for c in roster if c.languages == {Language.KO})
    assert korean_only / len(roster) > 0.8
    assert all(c.shift is not None and len(c.shift.days) == 5 for c in roster)


def test_shipped_roster_matches_its_generator(catalog: ServiceCatalog) -> None:
    shipped = resources.files("acd").joinpath("data/roster.csv").read_text(encoding="utf-8")
    assert format_roster(generate_roster(catalog)) == shipped


def test_seed_day_has_korean_consultants_around_the_clock(catalog: ServiceCatalog) -> None:
    plans = plan_day(load_roster(catalog), "tue")
    korean = [p for p in plans if p.consultant.team == "korean"]
    for half in range(48):
        assert any(p.available_at(half * 1800 + 900) for p in korean)
    assert 250 < len(plans) < 474  # days off: not everybody works the seed weekday


def test_round_trip(catalog: ServiceCatalog, tmp_path: Path) -> None:
    text = (
        f"{HEADER}\nx1,desk,ko;en,general:4;foreign_en:3,22:30,9,4,mon;sun\nx2,,ko,general:1,,,,\n"
    )
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    roster = load_roster(catalog, path)
    assert roster[0].shift is not None and roster[0].shift.start_s == 22.5 * 3600
    assert roster[1].shift is None and roster[1].team == "general"
    assert parse_roster(format_roster(roster), catalog) == roster


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x1,t,kr,general:3,,,,", "line 2: consultant 'x1': languages: unknown language 'kr'"),
        ("x1,t,ko,nope:3,,,,", "unknown service 'nope'"),
        ("x1,t,ko,general:7,,,,", "proficiency of 'general' must be 1..5"),
        ("x1,t,ko,general,,,,", "is not service:proficiency"),
        ("x1,t,ko,,,,,", "at least one skill"),
        ("x1,t,ko,foreign_en:3,,,,", "requires speaking en"),
        ("x1,t,en,interp_en:3,,,,", "requires speaking ko"),
        ("x1,t,ko,general:3,25:00,9,4,mon", "shift_start: '25:00' is not HH:MM"),
        ("x1,t,ko,general:3,09:00,30,,mon", "shift_hours: 30 is outside 1..16"),
        ("x1,t,ko,general:3,09:00,9,9,mon", "meal break must lie inside the shift"),
        ("x1,t,ko,general:3,09:00,9,4,funday", "days:"),
        ("bad id,t,ko,general:3,,,,", "id 'bad id' must match"),
        ("x1,t,ko,general:3", "expected 8 fields"),
    ],
)
def test_roster_errors_name_the_line_and_the_problem(
    catalog: ServiceCatalog, row: str, message: str
) -> None:
    with pytest.raises(AcdConfigError, match="line 2") as error:
        parse_roster(f"{HEADER}\n{row}\n", catalog, "ops.csv")
    assert message in str(error.value)
    assert str(error.value).startswith("ops.csv line 2: ")


def test_roster_file_level_errors(catalog: ServiceCatalog, tmp_path: Path) -> None:
    with pytest.raises(AcdConfigError, match="header must be"):
        parse_roster("id,languages\nx1,ko\n", catalog, "r.csv")
    with pytest.raises(AcdConfigError, match="no consultant"):
        parse_roster(HEADER + "\n", catalog, "r.csv")
    with pytest.raises(AcdConfigError, match="already used on line 2"):
        parse_roster(f"{HEADER}\nx1,t,ko,general:3,,,,\nx1,t,ko,general:3,,,,\n", catalog, "r.csv")
    with pytest.raises(AcdConfigError, match="cannot read"):
        load_roster(catalog, tmp_path / "missing.csv")


def _services(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "general",
        "name": "General",
        "languages": ["ko"],
        "staff_languages": ["ko"],
        "target": {"fraction": 0.8, "within_s": 20},
        "wrap_up_s": 10,
        "handle_s": 100,
        "overflow": [{"after_s": 0, "min_proficiency": 3}],
    }
    base.update(changes)
    return {"services": [base]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_services(overflow=[{"after_s": 5}]), "first overflow stage must open at after_s 0"),
        (_services(overflow=[{"after_s": 0}, {"after_s": 9}, {"after_s": 4}]), "sorted by after_s"),
        (
            _services(overflow=[{"after_s": 0}, {"after_s": 9, "via_service": "x"}]),
            "unknown service 'x'",
        ),
        (_services(languages=["xx"]), "languages.0"),
        (_services(target={"fraction": 1.5, "within_s": 20}), "target.fraction"),
        (_services(id="Bad Id"), "id must match"),
        (_services(colour="red"), "colour"),
        ({"services": []}, "services"),
    ],
)
def test_service_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(AcdConfigError, match=r"ops\.yaml") as error:
        parse_catalog(data, "ops.yaml")
    assert message in str(error.value)


def test_via_stage_cannot_drop_languages() -> None:
    data = yaml.safe_load(
        """
services:
  - {id: general, name: G, languages: [ko], staff_languages: [ko], target: {fraction: 0.8, within_s: 20},
     wrap_up_s: 1, handle_s: 1, overflow: [{after_s: 0}]}
  - {id: foreign_en, name: E, languages: [en], staff_languages: [en], target: {fraction: 0.8, within_s: 20},
     wrap_up_s: 1, handle_s: 1, overflow: [{after_s: 0}, {after_s: 9, via_service: general}]}
"""
    )
    with pytest.raises(AcdConfigError, match="would drop staff languages"):
        parse_catalog(data, "s.yaml")


def test_services_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("services: [\n", encoding="utf-8")
    with pytest.raises(AcdConfigError, match="not valid YAML"):
        load_catalog(bad)
    with pytest.raises(AcdConfigError, match="cannot read"):
        load_catalog(tmp_path / "none.yaml")
