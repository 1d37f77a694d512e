"""Settings slice for the PBX container (Asterisk 22 in a Debian forky root filesystem)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PACKAGES = (
    "asterisk",
    "asterisk-core-sounds-en-gsm",
    "asterisk-modules",
    "asterisk-moh-opsound-gsm",
)


class PbxSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    suite: str = "forky"
    # None: the Debian mirror that apt on this host already uses.
    mirror: str | None = None
    packages: tuple[str, ...] = DEFAULT_PACKAGES
    # None: <cache>/pbx (shared by all checkouts on the machine).
    image_cache_dir: Path | None = None
    sip_host: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65000)
    rtp_end: int = Field(default=20000, ge=1024, le=65535)
    boot_timeout_s: float = Field(default=60.0, gt=0)
    # None: <checkout>/asterisk-config and <checkout>/dialplans.
    config_dir: Path | None = None
    dialplans_dir: Path | None = None
