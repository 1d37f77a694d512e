"""Chaos tier (issue 10): fault injection under SIPp load through the real PBX and engine.

``make test`` runs the short form: only the cases marked ``chaos_short`` (a few minutes).
``CHAOS_FULL=1`` (``make chaos``) runs the whole matrix. Every case writes its evidence to
``$CHAOS_RESULTS_DIR`` (default ``var/chaos``), from which ``make chaos`` renders the
README table.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FULL = os.environ.get("CHAOS_FULL") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos_short: a chaos case that `make test` runs too")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    here = Path(__file__).parent
    chosen: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        in_chaos = here in Path(str(item.fspath)).parents
        short = item.get_closest_marker("chaos_short") is not None
        (dropped if in_chaos and not short else chosen).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen
