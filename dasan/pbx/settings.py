"""Settings slice for the PBX container (Asterisk 22 in a Debian forky root filesystem)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

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
    # RTP is sent from and announced at this address (None: sip_host); behind NAT the
    # external address is announced to peers outside local_nets instead.
    media_address: str | None = None
    external_address: str | None = None
    local_nets: tuple[str, ...] = ()
    # SIP over TLS (consultants' phones on a LAN): port, certificate and key (PEM files).
    tls_port: int | None = Field(default=None, ge=1, le=65535)
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Consultants' media encrypted with SRTP (SDES keys, so only over TLS).
    consultant_srtp: bool = False
    rtp_start: int = Field(default=10000, ge=1024, le=65000)
    rtp_end: int = Field(default=20000, ge=1024, le=65535)
    # The carrier's addresses (CIDR): the only sources whose unauthenticated INVITEs are
    # citizen calls. The demo's carrier is this host's loopback.
    carrier_addresses: tuple[str, ...] = ("127.0.0.1/32",)
    # Benchmarks only: calls from this loopback address reach the [dasan-bench] extensions
    # 9001-9003; None (the default) leaves them unreachable.
    bench_source: str | None = None
    boot_timeout_s: float = Field(default=60.0, gt=0)
    # Two-party calls in a mixing bridge (softmix), which sends each party a frame every
    # 20 ms even when nobody speaks, so a recording lasts as long as its call; "off": the
    # 1-to-1 relay bridges, which relay video but write nothing to a recording while both
    # parties' audio pauses; "auto": mixing unless some consultant takes video calls
    # (a two-party mixing bridge relays no video). Read when Asterisk starts.
    mixing_bridges: Literal["auto", "on", "off"] = "auto"
    # None: <checkout>/asterisk-config and <checkout>/dialplans.
    config_dir: Path | None = None
    dialplans_dir: Path | None = None

    @field_validator("carrier_addresses")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("pbx.carrier_addresses: at least one address of the carrier")
        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return value

    @model_validator(mode="after")
    def _tls_complete(self) -> PbxSettings:
        if self.tls_port is not None and (self.tls_cert_file is None or self.tls_key_file is None):
            raise ValueError("pbx.tls_port needs pbx.tls_cert_file and pbx.tls_key_file")
        if self.media_address is None and self.sip_host in ("0.0.0.0", "::"):
            raise ValueError("pbx.media_address is needed when pbx.sip_host is a wildcard")
        if self.consultant_srtp and self.tls_port is None:
            raise ValueError("pbx.consultant_srtp needs pbx.tls_port (SDES keys travel in SIP)")
        return self

    @field_validator("bench_source")
    @classmethod
    def _loopback(cls, value: str | None) -> str | None:
        if value is not None and not ipaddress.ip_address(value).is_loopback:
            raise ValueError("pbx.bench_source must be a loopback address")
        return value
