"""Sampler, plot, stack checks, the CLI's errors and the bench runner's README table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmarks import run as bench_run
from dasan.cli import build_cli
from dasan.config import Settings
from dasan.load.profile import load_profile
from dasan.load.runner import RunData, TimelineRow
from dasan.load.sampler import ResourceSampler
from dasan.load.stack import Stack, StackError
from dasan.load.tracker import CallTracker, Counts
from tests.unit.load.load_support import citizen_events


def _burn(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        sum(i * i for i in range(1000))


def test_sampler_keeps_reaped_children_apart() -> None:
    sampler = ResourceSampler({"me": lambda: [os.getpid()]})
    sampler.sample()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import time\nt=time.process_time()+0.3\nwhile time.process_time()<t: pass",
        ],
        check=True,
    )
    sampler.sample()
    me = sampler.summary("me")
    assert isinstance(me["children_cpu_s"], float) and me["children_cpu_s"] >= 0.25
    assert isinstance(me["cpu_s"], float) and me["cpu_s"] >= me["children_cpu_s"]
    assert sampler.from_wall(time.time()) > 0


def test_sampler_counts_cpu_since_the_first_sample_only() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = ResourceSampler({"me": lambda: [os.getpid()], "gone": lambda: [child.pid]})
        sampler.sample()
        _burn(0.3)
        child.kill()
        child.wait()
        sampler.sample()
    finally:
        if child.poll() is None:
            child.kill()
    me = sampler.summary("me")
    assert isinstance(me["cpu_s"], float) and me["cpu_s"] >= 0.25
    assert isinstance(me["rss_mb_max"], float) and me["rss_mb_max"] > 10
    assert sampler.series("gone")[-1].rss_mb == 0  # vanished between samples: no error
    host = sampler.host_summary()
    assert host["cores"] == os.cpu_count()
    assert sampler.summary("me", since=1e9)["cpu_pct_mean"] is None


def _data_with_timeline() -> RunData:
    profile = load_profile("smoke")
    tracker = CallTracker({"120"})
    for e in citizen_events("p1", 0.0, moh_at=2.0, dial_at=3.0, answer_at=4.0, end_at=9.0):
        tracker.feed(e)
    data = RunData(profile=profile, started_at=datetime.now(UTC), tracker=tracker)
    data.timeline = [
        TimelineRow(
            float(t),
            t,
            Counts(offered=t, in_ivr=1, waiting=t % 3, talking=t % 5, answered=t),
            0,
            0,
            {"asterisk": 10.0 + t, "engine": 1.0, "sipp": 3.0},
            {"asterisk": 60.0, "engine": 120.0, "sipp": 7.0},
        )
        for t in range(1, 30)
    ]
    return data


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    from dasan.load.plot import write_plot

    path = write_plot(_data_with_timeline(), tmp_path / "out" / "load.png", "test run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _settings(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path / "state", cache_dir=tmp_path / "cache")


async def test_no_pbx_is_a_clear_error_and_nothing_is_started(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="dasan pbx up"):
        async with Stack(_settings(tmp_path)):
            pass


async def test_a_stale_engine_pid_file_is_not_an_engine(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.state_dir.mkdir(parents=True)
    (settings.state_dir / "dasan.pid").write_text("999999999", encoding="utf-8")
    assert Stack(settings).engine_pid() is None
    (settings.state_dir / "dasan.pid").write_text(str(os.getpid()), encoding="utf-8")
    assert Stack(settings).engine_pid() == os.getpid()


def test_cli_unknown_profile(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["load", "nope", "--json"])
    assert result.exit_code == 1
    assert "shipped" in result.output and "smoke" in result.output


def test_cli_without_a_pbx_prints_no_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASAN_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(build_cli(), ["load", "smoke", "--json", "--calls", "1"])
    assert result.exit_code == 1
    assert "PBX is not running" in result.output
    assert "{" not in result.output


def test_readme_markers_are_appended_once_and_only_their_block_changes(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Dasan\n\nIntro.\n", encoding="utf-8")
    assert bench_run.update_readme(readme, "| a | b |\n")
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Dasan\n\nIntro.\n")
    assert text.count(bench_run.START) == 1 and "| a | b |" in text
    readme.write_text(text + "\nAfter.\n", encoding="utf-8")
    assert bench_run.update_readme(readme, "| c | d |\n")
    text = readme.read_text(encoding="utf-8")
    assert "| a | b |" not in text and "| c | d |" in text and text.endswith("After.\n")
    assert not bench_run.update_readme(readme, "| c | d |\n")


def test_discovery_runs_benchmarks_with_a_main_and_pbx_ones_last() -> None:
    names = bench_run.discover()
    assert "run" not in names and "pbx_env" not in names
    assert names[-1].startswith("pbx_")
    assert all(not n.startswith("pbx_") for n in names[: names.index("pbx_capacity")])


def test_table_reads_partial_results_without_failing() -> None:
    results = {
        "pbx_capacity": {
            "benchmark": "pbx_capacity",
            "series": {"rate_dialplan": {"held_rate": 120.0}},
            "ratios": {"engine_cpu_vs_asterisk_concurrency_run": 0.05},
            "targets_met": {"engine_cpu_below_10pct_of_asterisk": True},
            "machine": {"cores": 2, "cpu_model": "Test CPU", "ram_gb": 8.0, "kernel": "6.1"},
            "measured_at": "2026-11-28T00:00:00+00:00",
            "git_commit": "abc1234",
        },
        "mystery": {"x": 1},
    }
    table = bench_run.render_table(json.loads(json.dumps(results)))
    assert "| `pbx_capacity` | PBX ceiling: pure dialplan (9001) | 120 calls/s |" in table
    assert "0.05" in table and "✅" in table
    assert "| `mystery` | see the results file |" in table
    assert "Measured on 2 cores, Test CPU, 8.0 GB RAM, Linux 6.1" in table


def test_the_two_node_check_runs_after_the_phase_costs_it_reads() -> None:
    names = bench_run.discover()
    assert names.index("pbx_phases") < names.index("pbx_cluster_check") == len(names) - 1


def test_phase_and_cluster_rows_in_the_table() -> None:
    results = {
        "pbx_phases": {
            "headroom": 0.7,
            "phases": {
                "talking": {
                    "raw": {"ms_per_call_s": 2.5},
                    "raw_recorded": {"ms_per_call_s": 8.0},
                    "engine": {
                        "ms_per_call_s": 8.5,
                        "calls_per_core": 117,
                        "calls_per_core_at_70pct": 82,
                    },
                },
                "waiting": {"raw": {"error": "RuntimeError: boom"}},
            },
        },
        "pbx_cluster_check": {
            "calls": 180,
            "rate": 1.5,
            "nodes": {
                "node1": {
                    "asterisk_cores_measured": 0.2,
                    "asterisk_cores_predicted": 0.19,
                    "measured_vs_predicted": 1.05,
                },
            },
            "littles_law": {
                "asterisk_cores_per_node": 0.21,
                "measured_mean_per_node": 0.2,
                "measured_vs_predicted": 0.95,
            },
        },
    }
    table = bench_run.render_table(results)
    assert (
        "talking to a consultant: raw / recorded / through the engine | 2.5 / 8 / 8.5 ms;" in table
    )
    assert "117 calls per core (82 at 70%)" in table
    assert "waiting with music: raw / recorded / through the engine | - / - / - ms; -" in table
    assert "node1 0.2 vs 0.19 (1.05x) | within 25 % | ✅" in table
    assert "0.2 vs 0.21 (0.95x) | within 25 % | ✅" in table
