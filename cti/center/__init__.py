"""The real contact center behind the web edge: ``LiveCenter`` over the ACD, AMI and storage.

``cti.fake_center`` is the in-memory stand-in for the unit tier; this package is what the
engine serves (see ``dasan/web.py`` for the wiring). Parts: ``board`` (consultant views),
``book`` (calls, parties, channels), ``ledger`` (today's figures) are pure; ``acdfeed``,
``watch`` (AMI), ``control``, ``parties``, ``spy`` and ``screenpop`` are the adapters.
"""

from __future__ import annotations

from cti.center.center import LiveCenter, roster_profiles
from cti.center.core import CenterConfig

__all__ = ["CenterConfig", "LiveCenter", "roster_profiles"]
