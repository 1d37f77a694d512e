"""Settings slice for CTI: the AMI client and the HTTP/WebSocket API."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from acd.settings import AcdSettings


class AmiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "dasan"
    secret: SecretStr = SecretStr("dasan-local-ami")
    action_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)
    # Banner + Login must complete within this; also bounds each connect attempt.
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # A Ping every this many seconds detects a half-open TCP connection.
    ping_interval_s: float = Field(default=10.0, gt=0)
    # Wire limits: a longer line or message is a RemoteProtocolError (connection dropped).
    max_line_bytes: int = Field(default=65536, ge=256)
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # Default queue size of one event subscription (oldest events dropped beyond it).
    subscription_maxsize: int = Field(default=10000, ge=1)

    @model_validator(mode="after")
    def _backoff_range(self) -> AmiSettings:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("ami.reconnect_min_s must not exceed ami.reconnect_max_s")
        return self


class HttpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8120, ge=1, le=65535)
    # A JSON users file of earlier versions, imported into the database once (then renamed
    # <name>.imported); None: <state>/users.json.
    users_file: str | None = None
    # Demo users c0001.., supervisor, admin; passwords derived from this secret (cti/auth.py).
    demo_users: bool = True
    demo_password_secret: SecretStr = SecretStr("dasan-demo-web-secret")
    session_ttl_s: float = Field(default=12 * 3600, gt=0)
    # A WebSocket without a token in its URL must send one within this time.
    ws_auth_timeout_s: float = Field(default=5.0, gt=0)
    # A WebSocket client that cannot take a message within this time is disconnected.
    ws_send_timeout_s: float = Field(default=5.0, gt=0)
    # Bound on every ContactCenter call made by a request handler.
    center_timeout_s: float = Field(default=10.0, gt=0)


class CtiHost(Protocol):
    """What the CTI's CLI reads of the engine's configuration."""

    @property
    def http(self) -> HttpSettings: ...
    @property
    def state_dir(self) -> Path: ...
    @property
    def storage_url(self) -> str: ...
    @property
    def acd(self) -> AcdSettings: ...
