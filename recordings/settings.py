"""Settings slice for mandatory recording, the catalog, encryption, retention and audit.

Invariants:
- Paths left as None are derived from the state directory by ``recordings.layout``
  (recordings under <state>/recordings, the master key under <state>/keys/recordings.key).
- Retention is never shorter than one day and access logs are kept at least two years.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ArchiveFormat(enum.StrEnum):
    OPUS = "opus"
    FLAC = "flac"


class RecordingsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Host folder bind-mounted into the PBX at pbx_spool_dir; None: <state>/recordings.
    spool_dir: Path | None = None
    pbx_spool_dir: str = "/var/spool/dasan/recordings"
    # Spare path used when the primary cannot be confirmed; None: <state>/recordings-spare.
    spare_dir: Path | None = None
    pbx_spare_dir: str = "/var/spool/dasan/recordings-spare"

    # After close: archival format, Opus bitrate, encryption at rest.
    archive_format: ArchiveFormat = ArchiveFormat.OPUS
    opus_bitrate: str = "16k"
    # libopus effort 0-10: 5 costs about half the CPU of 10 at voice bitrates (benchmark).
    opus_complexity: int = Field(default=5, ge=0, le=10)
    encrypt: bool = True
    # Master key (32 random bytes, hex) wrapping each file's data key; None: <state>/keys/...
    key_file: Path | None = None
    # The demo creates the key file (mode 0600) when it is missing; production should not.
    create_key: bool = True
    # Concurrent conversions/encryptions off the event loop.
    workers: int = Field(default=2, ge=1, le=32)
    # A recording whose call is unknown is finished by the recovery scan once the file has
    # not changed for this long (the PBX writes a mixed frame every 20 ms while recording).
    settle_s: float = Field(default=30.0, gt=0)
    # How often the pipeline rescans the spool for files it was not told about.
    rescan_interval_s: float = Field(default=60.0, gt=0)
    # Decoded archive duration may differ from the WAV by this much (codec framing).
    archive_duration_slack_s: float = Field(default=0.1, ge=0)

    # Retention: days per service id; others use the default (3 years).
    retention_default_days: int = Field(default=3 * 365 + 1, ge=1)
    retention_days: dict[str, int] = Field(default_factory=dict)
    access_log_retention_days: int = Field(default=2 * 365 + 1, ge=2 * 365)
    # Consultants may listen (never download) to calls they took part in.
    consultants_listen_own: bool = True

    # Transcription of Korean recordings with vosk (free-form).
    transcription_enabled: bool = True
    transcription_workers: int = Field(default=1, ge=1, le=8)
    transcription_languages: tuple[str, ...] = ("ko",)
    # How long the worker sleeps when nothing waits for a transcript.
    transcription_poll_s: float = Field(default=15.0, gt=0)

    # Disk monitor: alarm below either threshold; checks this often.
    low_disk_free_bytes: int = Field(default=1 << 30, ge=0)
    low_disk_free_ratio: float = Field(default=0.05, ge=0, lt=1)
    disk_check_interval_s: float = Field(default=2.0, gt=0)

    # Audit: recording and call durations agree within 1 % or this slack (timestamps from the
    # call log are sub-second; CDR times are whole seconds).
    duration_tolerance_ratio: float = Field(default=0.01, ge=0)
    duration_slack_s: float = Field(default=0.5, ge=0)
    cdr_duration_slack_s: float = Field(default=1.5, ge=0)
    # A key sent by RFC 2833 replaces the caller's audio while it lasts; pressed while nothing
    # plays, neither direction has a frame and the recording is that much shorter than the
    # call (RTP was not continuous). Allowed per key in the call's IVR journey.
    dtmf_key_gap_s: float = Field(default=0.3, ge=0)
    # CDR rows counted as citizen calls: answered rows whose dst is one of these numbers, whose
    # dcontext is one of these contexts or whose userfield is one of these (the 120 dialplan
    # sets CDR(userfield)=citizen); an empty tuple leaves that criterion unused.
    cdr_numbers: tuple[str, ...] = ("120", "129")
    cdr_contexts: tuple[str, ...] = ("from-citizens",)
    cdr_userfields: tuple[str, ...] = ("citizen",)
    # None: <state>/pbx/log/cdr-custom/Master.csv and <state>/pbx/log/cdr-csv/Master.csv.
    cdr_csv: Path | None = None

    @field_validator("retention_days")
    @classmethod
    def _positive_days(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"retention_days must be >= 1 day: {bad}")
        return value


class RecordingsHost(Protocol):
    """What the recordings area reads of the engine's configuration: its own settings, the
    database and the host folders (derived by the composition root from its state folder)."""

    @property
    def recordings(self) -> RecordingsSettings: ...
    @property
    def storage_url(self) -> str: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def pbx_dir(self) -> Path: ...
    @property
    def recordings_dir(self) -> Path: ...
    @property
    def recordings_spare_dir(self) -> Path: ...
