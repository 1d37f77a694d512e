"""Settings slice for mandatory recording, the catalog and retention."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict


class RecordingsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Host folder bind-mounted into the PBX at pbx_spool_dir; None: <state>/recordings.
    spool_dir: Path | None = None
    pbx_spool_dir: str = "/var/spool/dasan/recordings"
    # Spare path used when the primary cannot be confirmed; None: <state>/recordings-spare.
    spare_dir: Path | None = None
    pbx_spare_dir: str = "/var/spool/dasan/recordings-spare"
