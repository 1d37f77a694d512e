"""Settings slice for the IVR and its FastAGI server."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class AgiSettings(BaseModel):
    """The FastAGI server (ivr/agi): where it listens, its timeouts and wire limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    # 0: any free port (tests, benchmarks); AgiServer.bound_port tells which.
    port: int = Field(default=4573, ge=0, le=65535)
    command_timeout_s: float = Field(default=10.0, gt=0)
    # Seconds a freshly connected client may take to send its variable block.
    handshake_timeout_s: float = Field(default=5.0, gt=0)
    # Extra allowance for commands whose length depends on audio (STREAM FILE, GET DATA,
    # RECORD FILE): their default timeout is this plus any Asterisk-side timeout given. The
    # longest prompt is ~12 s; past this the session is given up as dead and the call taken
    # out of the ACD (the dialplan falls back once Asterisk sees the socket close).
    media_timeout_s: float = Field(default=60.0, gt=0)
    # A command answered with result=-1 is reported as a hangup if Asterisk's HANGUP line
    # follows within this many seconds (it is written right after the failed reply).
    hangup_grace_s: float = Field(default=0.5, ge=0)
    # Seconds stop() waits for live sessions before cancelling them.
    stop_grace_s: float = Field(default=5.0, ge=0)
    backlog: int = Field(default=511, ge=1)
    # Wire limits: one line, and the agi_* variable block (lines and bytes).
    max_line_bytes: int = Field(default=8192, ge=256)
    max_variables: int = Field(default=512, ge=8)
    max_variable_block_bytes: int = Field(default=65536, ge=1024)
    # Channel variable the server sets (best effort) when it cannot serve a call, e.g. to
    # "noroute" or "error", so the dialplan can fall back even though AGISTATUS is SUCCESS.
    failure_variable: str = Field(default="DASAN_AGI_FAILURE", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # Waits for a key (WAIT FOR DIGIT, GET DATA's wait after its prompt) play this sound of
    # silence, a second a time, instead of waiting in silence: a recorder mixes only frames,
    # so a wait where neither party sends audio (a caller's phone that suppresses silence, a
    # key replacing the caller's audio) would be missing from the recording. Asterisk's own
    # transmit_silence does not cover AGI waits. Empty: plain AGI waits.
    silence_fill: str = Field(default="silence/1", pattern=r"^[A-Za-z0-9_/.-]*$")


class IvrSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # None: the shipped 120 menu (ivr/menus/dasan120.yaml).
    menu_file: Path | None = None
    # Where generated prompt audio lives on the host; mounted into the PBX at prompts_pbx_dir.
    prompts_dir: Path | None = None
    prompts_pbx_dir: str = "/var/lib/dasan/prompts"
    # Real recordings here (<dir>/<lang>/<id>.wav|mp3|ogg|flac|opus|m4a) replace the generated
    # placeholder audio at the next `dasan prompts build`. None: <state>/prompts-override.
    prompts_override_dir: Path | None = None
    # Prompt texts per language; None: the shipped ivr/prompts/manifest.yaml.
    prompt_manifest_file: Path | None = None
    timezone: str = "Asia/Seoul"
    default_language: str = "ko"
    # Operator-updatable data; None: the files shipped in ivr/data/. ``holidays_file`` holds
    # the center's own closed days (closed_days.yaml); public holidays are computed.
    holidays_file: Path | None = None
    service_hours_file: Path | None = None
    speech_enabled: bool = True
    # Speech capture: the engine reads <speech_dir> (None: <state>/speech); the PBX records into
    # the same folder bind-mounted at speech_pbx_dir.
    speech_dir: Path | None = None
    speech_pbx_dir: str = "/var/spool/dasan/speech"
    # Recognition runs in speech_workers processes (each loads the Korean model once, ~550 MB)
    # recognizing up to speech_streams_per_worker callers each; when all are busy, callers get
    # keys only. A speech node listens until the recognizer hears the end of an utterance or
    # the node's timeout (see ivr.listen).
    speech_workers: int = Field(default=2, ge=1, le=32)
    speech_streams_per_worker: int = Field(default=8, ge=1, le=64)
    # Only without a worker pool (tests of the runner): a fixed recording, then recognition.
    speech_max_record_s: float = Field(default=4.0, gt=0, le=30)
    speech_silence_s: int = Field(default=1, ge=1, le=10)
    # Seconds a worker may take to answer once the recording has ended.
    speech_timeout_s: float = Field(default=5.0, gt=0)
    # Parallel jobs for `dasan prompts build` (0: one per CPU).
    prompt_build_jobs: int = Field(default=0, ge=0, le=64)


class IvrHost(Protocol):
    """What the IVR's wiring and CLI read of the engine's configuration."""

    @property
    def ivr(self) -> IvrSettings: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def prompts_dir(self) -> Path: ...
