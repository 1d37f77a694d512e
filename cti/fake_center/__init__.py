"""An in-memory ``ContactCenter`` for the unit tier and for developing the pages.

This is a fake: no PBX, no ACD, no storage. Integration and browser tests against the real
PBX use the center wired by the composition root; never use this one there.
"""

from __future__ import annotations

from cti.fake_center.center import FakeCenter
from cti.fake_center.demo import DemoTraffic, demo_center, demo_queues, demo_roster
from cti.fake_center.state import Clock, QueueSpec

__all__ = [
    "Clock",
    "DemoTraffic",
    "FakeCenter",
    "QueueSpec",
    "demo_center",
    "demo_queues",
    "demo_roster",
]
