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
    # Users and API tokens (scrypt/SHA-256 hashes only); None: <state>/users.json.
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
