"""Test tiers by directory: tests/unit -> unit, tests/integration -> integration,
tests/browser -> browser. A test outside those folders must carry its own marker."""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = ("unit", "integration", "browser")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in _TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
                break
        else:
            if not any(item.get_closest_marker(t) for t in _TIERS):
                raise pytest.UsageError(
                    f"{item.nodeid}: test outside tests/{{unit,integration,browser}}"
                )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run that collects nothing must fail (pytest already exits 5; keep it explicit).
    if session.testscollected == 0 and exitstatus == 0:
        session.exitstatus = 5
