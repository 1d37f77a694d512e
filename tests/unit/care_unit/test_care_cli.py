"""`dasan tickets list --json`, `dasan callbacks list --json` (importing the engine's kept
requests) and `dasan report` work on a fresh state folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dasan.cli import build_cli


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DASAN_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("DASAN_CONFIG", raising=False)
    return tmp_path


def _run(*args: str) -> str:
    result = CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_lists_and_reports(state: Path) -> None:
    assert json.loads(_run("tickets", "list", "--json")) == []
    assert json.loads(_run("tickets", "list", "--overdue", "--json")) == []
    folder = state / "callbacks"
    folder.mkdir()
    record = {
        "call_id": "1700.9",
        "kind": "callback",
        "number": "0212345678",
        "language": "ko",
        "requested_at": "2026-12-01T13:00:00+00:00",
        "reason": "after-hours",
    }
    (folder / "requests.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    listed = json.loads(_run("callbacks", "list", "--json"))
    assert [(c["call_id"], c["state"], c["reason"]) for c in listed] == [
        ("1700.9", "waiting", "after-hours")
    ]
    assert "0212345678" not in _run("callbacks", "list", "--json")
    assert json.loads(_run("report", "tickets", "--daily", "--json")) == []
    assert _run("report", "survey", "--monthly", "--csv") == ""
    refused = CliRunner().invoke(build_cli(), ["tickets", "official", "kim", "mars.roads"])
    assert refused.exit_code != 0 and "unknown department" in refused.output
