"""Settings slice for the IVR and its FastAGI server."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class AgiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=4573, ge=1, le=65535)
    command_timeout_s: float = Field(default=10.0, gt=0)
    # Seconds a freshly connected client may take to send its variable block.
    handshake_timeout_s: float = Field(default=5.0, gt=0)


class IvrSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # None: the shipped 120 menu (ivr/menus/dasan120.yaml).
    menu_file: Path | None = None
    # Where generated prompt audio lives on the host; mounted into the PBX at prompts_pbx_dir.
    prompts_dir: Path | None = None
    prompts_pbx_dir: str = "/var/lib/dasan/prompts"
    timezone: str = "Asia/Seoul"
    default_language: str = "ko"
    speech_enabled: bool = True
