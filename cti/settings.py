"""Settings slice for CTI: the AMI client and the HTTP/WebSocket API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AmiSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=5038, ge=1, le=65535)
    username: str = "dasan"
    secret: SecretStr = SecretStr("dasan-local-ami")
    action_timeout_s: float = Field(default=5.0, gt=0)
    reconnect_min_s: float = Field(default=0.2, gt=0)
    reconnect_max_s: float = Field(default=10.0, gt=0)


class HttpSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8120, ge=1, le=65535)
