"""The simulator on small days: sane statistics, determinism, the CLI contract, the plot."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from acd.model import Consultant, Language
from acd.roster import load_roster
from acd.services import ServiceCatalog, load_catalog
from acd.settings import AcdSettings
from acd.sim.plot import plot_day
from acd.sim.report import DayReport, gini
from acd.sim.scenarios import run_day, scenario
from acd.sim.traffic import TrafficProfile, generate
from dasan.cli import build_cli

CALLS = 1200


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return load_catalog()


@pytest.fixture(scope="module")
def roster(catalog: ServiceCatalog) -> tuple[Consultant, ...]:
    return load_roster(catalog)


@pytest.fixture(scope="module")
def day(catalog: ServiceCatalog, roster: tuple[Consultant, ...]) -> DayReport:
    return run_day(scenario("default"), catalog, roster, AcdSettings(), seed=7, calls=CALLS)


def _without_timing(report: DayReport) -> dict[str, object]:
    body = report.to_json()
    for policy in body["policies"].values():
        policy.pop("wall_s")
    return body


def test_traffic_is_deterministic_and_shaped(catalog: ServiceCatalog) -> None:
    profile = TrafficProfile(calls=5000)
    calls = generate(profile, catalog, 3)
    assert calls == generate(profile, catalog, 3)
    assert calls != generate(profile, catalog, 4)
    assert len(calls) == 5000
    assert [c.arrival for c in calls] == sorted(c.arrival for c in calls)
    foreign = [c for c in calls if c.language is not Language.KO]
    assert foreign and all(9 * 3600 <= c.arrival < 22 * 3600 for c in foreign)
    assert 0.9 < sum(1 for c in calls if c.language is Language.KO) / len(calls) < 0.99
    morning = sum(1 for c in calls if 9.5 * 3600 <= c.arrival < 10.5 * 3600)
    dawn = sum(1 for c in calls if 4 * 3600 <= c.arrival < 5 * 3600)
    late = sum(1 for c in calls if 22.5 * 3600 <= c.arrival < 23.5 * 3600)
    assert morning > 5 * dawn and late > 3 * dawn
    assert 150 < sum(c.handle_s for c in calls) / len(calls) < 220


def test_surge_unbalances_one_queue(catalog: ServiceCatalog) -> None:
    calls = generate(replace(scenario("unbalanced").traffic, calls=6000), catalog, 1)
    window = [c for c in calls if 8 * 3600 <= c.arrival < 12 * 3600 and c.language is Language.KO]
    share = sum(1 for c in window if c.service == "transport") / len(window)
    assert 0.5 < share < 0.65


def test_small_day_statistics_are_sane(day: DayReport) -> None:
    assert day.calls == CALLS
    assert set(day.policies) == {"dasan", "ringall", "leastrecent", "fewestcalls"}
    for policy in day.policies.values():
        assert policy.answered + policy.abandoned == CALLS
        assert 0.3 < policy.service_level <= 1.0
        assert 0 <= policy.abandon_rate < 0.5
        assert 0.2 < policy.occupancy < 1.0
        assert policy.asa_s >= 0 and 0 <= policy.fairness_gini < 1
        assert sum(q.calls for q in policy.queues.values()) == CALLS
        assert sum(c for c, _s, _a in policy.half_hours) == CALLS
    assert day.policies["dasan"].decisions >= day.policies["dasan"].answered
    assert 0 < day.erlang.service_level <= 1 and 0 < day.erlang.pooled_service_level <= 1
    assert day.erlang.service_level_c <= day.erlang.service_level + 0.05


def test_deterministic_with_a_seed(
    catalog: ServiceCatalog, roster: tuple[Consultant, ...], day: DayReport
) -> None:
    again = run_day(scenario("default"), catalog, roster, AcdSettings(), seed=7, calls=CALLS)
    assert _without_timing(again) == _without_timing(day)
    other = run_day(
        scenario("default"),
        catalog,
        roster,
        AcdSettings(),
        seed=8,
        calls=CALLS,
        policies=("dasan",),
    )
    assert other.policies["dasan"].service_level != day.policies["dasan"].service_level


def test_callbacks_keep_callers(catalog: ServiceCatalog, roster: tuple[Consultant, ...]) -> None:
    report = run_day(
        scenario("default"),
        catalog,
        roster,
        AcdSettings(callback_offer_min_wait_s=30.0),
        seed=7,
        calls=CALLS,
        policies=("dasan", "dasan_callback"),
    )
    plain, with_callbacks = report.policies["dasan"], report.policies["dasan_callback"]
    assert plain.callbacks == 0 < with_callbacks.callbacks
    assert with_callbacks.answered >= plain.answered


def test_gini() -> None:
    assert gini([1.0, 1.0, 1.0]) == 0.0
    assert gini([0.0, 0.0, 3.0]) == pytest.approx(2 / 3)
    assert gini([]) == 0.0


def test_plot_writes_a_png(day: DayReport, tmp_path: Path) -> None:
    path = plot_day(day, tmp_path / "plots" / "day.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_json_prints_one_object_on_stdout(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        build_cli(),
        [
            "sim",
            "--json",
            "--calls",
            "600",
            "--seed",
            "2",
            "--policy",
            "dasan",
            "--policy",
            "ringall",
        ],
        env={"DASAN_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["calls"] == 600
    assert set(body["policies"]) == {"dasan", "ringall"}
    for policy in body["policies"].values():
        assert {"service_level", "asa_s", "abandon_rate", "occupancy"} <= set(policy)
    assert 0 <= body["erlang"]["service_level"] <= 1


def test_cli_table_and_markdown(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DASAN_STATE_DIR": str(tmp_path)}
    args = ["sim", "--calls", "400", "--policy", "dasan", "--scenario", "unbalanced"]
    table = runner.invoke(build_cli(), args, env=env)
    assert table.exit_code == 0, table.output
    assert "dasan" in table.stdout and "Erlang A" in table.stdout
    markdown = runner.invoke(build_cli(), [*args, "--markdown"], env=env)
    assert sum(line.startswith("| dasan |") for line in markdown.stdout.splitlines()) == 1
    assert "|---|" in markdown.stdout


def test_cli_reports_a_bad_roster(tmp_path: Path) -> None:
    bad = tmp_path / "roster.csv"
    bad.write_text("nonsense\n", encoding="utf-8")
    result = CliRunner().invoke(
        build_cli(),
        ["sim", "--calls", "100"],
        env={"DASAN_ACD__ROSTER_FILE": str(bad), "DASAN_STATE_DIR": str(tmp_path)},
    )
    assert result.exit_code != 0
    assert "header must be" in result.output
