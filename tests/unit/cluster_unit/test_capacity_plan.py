"""The capacity model (``dasan cluster plan``): Little's law over measured phase costs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from dasan.cluster.cli import cluster
from dasan.cluster.plan import (
    SEED_CALLS_PER_S,
    SEED_SECONDS,
    PlanError,
    calls_per_core,
    costs_from_results,
    plan,
)

COSTS = {"ivr": 6.0, "speech_menu": 6.0, "waiting": 7.0, "talking": 9.0}


def test_littles_law_per_phase_and_cores() -> None:
    result = plan(2.0, {"ivr": 10, "talking": 100}, COSTS, cores_per_node=2, utilisation=0.5)
    by_phase = {p.phase: p for p in result.phases}
    assert set(by_phase) == {"ivr", "talking"}  # phases with no time are left out
    assert by_phase["ivr"].concurrent == pytest.approx(20.0)
    assert by_phase["talking"].concurrent == pytest.approx(200.0)
    assert result.concurrent == pytest.approx(220.0)
    # 20 x 6 ms + 200 x 9 ms = 1.92 cores of Asterisk; at 50 % 3.84 cores; 2-core nodes: 2.
    assert result.asterisk_cores == pytest.approx(1.92)
    assert result.cores_needed == pytest.approx(3.84)
    assert (result.nodes, result.spare, result.total_nodes) == (2, 1, 3)


def test_the_seed_peak_with_the_seed_defaults() -> None:
    result = plan(SEED_CALLS_PER_S, SEED_SECONDS, COSTS)
    seconds = sum(SEED_SECONDS.values())
    assert result.concurrent == pytest.approx(SEED_CALLS_PER_S * seconds)
    expected = sum(SEED_CALLS_PER_S * SEED_SECONDS[p] * COSTS[p] for p in COSTS) / 1000
    assert result.asterisk_cores == pytest.approx(expected)
    assert result.nodes == math.ceil(expected / 0.7 / 2.0)
    assert result.total_nodes == result.nodes + 1


def test_the_engine_share_adds_to_the_node_and_can_add_a_node() -> None:
    alone = plan(1.0, {"talking": 150}, {"talking": 9.0}, cores_per_node=2, utilisation=1.0)
    with_engine = plan(
        1.0, {"talking": 150}, {"talking": 9.0}, cores_per_node=2, utilisation=1.0, engine_share=0.6
    )
    assert alone.cores_needed == pytest.approx(1.35)
    assert with_engine.cores_needed == pytest.approx(1.35 * 1.6)
    assert (alone.nodes, with_engine.nodes) == (1, 2)
    assert with_engine.per_node(2) == {
        "concurrent": 75.0,
        "asterisk_cores": pytest.approx(0.675),
        "node_cores": pytest.approx(1.08),
    }


def test_an_exact_fit_needs_no_extra_node() -> None:
    # 100 calls x 14 ms = 1.4 cores = exactly one 2-core node at 70 %.
    result = plan(1.0, {"talking": 100}, {"talking": 14.0}, cores_per_node=2, utilisation=0.7)
    assert result.nodes == 1


def test_no_traffic_needs_only_the_spares_and_a_trickle_one_node() -> None:
    assert plan(0.0, SEED_SECONDS, COSTS).total_nodes == 1
    assert plan(0.001, {"ivr": 1}, COSTS, spare=0).nodes == 1


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"calls_per_s": -1.0}, "calls_per_s"),
        ({"calls_per_s": math.nan}, "calls_per_s"),
        ({"utilisation": 0.0}, "utilisation"),
        ({"utilisation": 1.5}, "utilisation"),
        ({"cores_per_node": 0.0}, "cores_per_node"),
        ({"spare": -1}, "spare"),
        ({"engine_share": -0.1}, "engine_share"),
        ({"seconds": {"ivr": -5.0}}, "seconds.ivr"),
        ({"seconds": {"lunch": 5.0}}, "lunch"),
        ({"costs": {"ivr": 6.0}}, "costs.talking"),
    ],
)
def test_bad_input_is_refused_naming_it(kwargs: dict[str, object], named: str) -> None:
    args: dict[str, object] = {
        "calls_per_s": 1.0,
        "seconds": {"ivr": 10.0, "talking": 60.0},
        "costs": COSTS,
    } | kwargs
    rate, seconds, costs = args.pop("calls_per_s"), args.pop("seconds"), args.pop("costs")
    with pytest.raises(PlanError, match=named.replace(".", r"\.")):
        plan(rate, seconds, costs, **args)  # type: ignore[arg-type]


def test_calls_per_core() -> None:
    assert calls_per_core(4.0) == 250
    assert calls_per_core(4.0, 0.7) == 175
    with pytest.raises(PlanError):
        calls_per_core(0.0)


def test_costs_from_a_results_file() -> None:
    data = {"model_costs": {"ivr": 6.5, "talking": 9, "other": 1.0, "waiting": "?"}}
    assert costs_from_results(data) == {"ivr": 6.5, "talking": 9.0}
    with pytest.raises(PlanError, match="model_costs"):
        costs_from_results({"phases": {}})


def test_the_command_reads_the_results_and_prints_json(tmp_path: Path) -> None:
    results = tmp_path / "pbx_phases.json"
    results.write_text(json.dumps({"measured_at": "then", "model_costs": COSTS}))
    runner = CliRunner()
    done = runner.invoke(
        cluster,
        [
            "plan",
            "--results",
            str(results),
            "--calls-per-s",
            "1",
            "--seconds",
            "talking=100",
            "--cost",
            "ivr=3",
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    phases = {p["phase"]: p for p in report["phases"]}
    assert phases["ivr"]["ms_per_call_s"] == 3.0  # --cost wins over the file
    assert phases["talking"]["concurrent"] == 100.0
    assert report["total_nodes"] == report["nodes"] + 1
    text = runner.invoke(cluster, ["plan", "--results", str(results)])
    assert text.exit_code == 0, text.output
    assert "nodes of 2 cores" in text.output


def test_the_command_explains_missing_costs_and_bad_pairs(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cluster, ["plan", "--results", str(tmp_path / "none.json")])
    assert missing.exit_code != 0
    assert "no per-phase costs measured yet" in missing.output
    bad = runner.invoke(cluster, ["plan", "--cost", "lunch=3"])
    assert bad.exit_code != 0
    assert "PHASE=NUMBER" in bad.output
    negative = runner.invoke(
        cluster,
        ["plan", "--calls-per-s", "-1"] + [f"--cost={p}=1" for p in COSTS],
    )
    assert negative.exit_code != 0
    assert "calls_per_s" in negative.output
