"""The campaign's clock: the real UTC time, or (tests and drills) the time in a file.

Invariant: only ``safety.clock_file`` changes it; everything else in the package takes
``now`` as an argument.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


class CampaignClock:
    def __init__(self, clock_file: Path | None) -> None:
        self._file = clock_file

    def now(self) -> dt.datetime:
        if self._file is not None:
            try:
                value = dt.datetime.fromisoformat(self._file.read_text(encoding="utf-8").strip())
            except (OSError, ValueError):
                value = None
            if value is not None and value.tzinfo is not None:
                return value.astimezone(dt.UTC)
        return dt.datetime.now(dt.UTC)
