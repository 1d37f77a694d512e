"""Settings slice of the text channels: chat limits, capacity, SMS through Kannel."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class KannelSettings(BaseModel):
    """The Kannel gateway the project starts (``dasan sms up``), all bound to loopback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    host: str = "127.0.0.1"
    admin_port: int = Field(default=13000, ge=1, le=65535)
    smsbox_port: int = Field(default=13001, ge=1, le=65535)
    sendsms_port: int = Field(default=13013, ge=1, le=65535)
    # The carrier's SMSC (Kannel's fakesmsc in tests and the demo) connects here.
    smsc_port: int = Field(default=10000, ge=1, le=65535)
    username: str = "dasan"
    password: SecretStr = SecretStr("dasan-demo-sendsms")
    admin_password: SecretStr = SecretStr("dasan-demo-admin")
    # The center's short number, the sender of every SMS.
    sender: str = "120"
    # Where Kannel reaches the engine (inbound messages and delivery reports).
    engine_url: str = "http://127.0.0.1:8120"
    # None: the Debian paths.
    bearerbox: Path = Path("/usr/sbin/bearerbox")
    smsbox: Path = Path("/usr/sbin/smsbox")
    fakesmsc: Path = Path("/usr/lib/kannel/test/fakesmsc")
    # Run fakesmsc as the carrier (tests, demo); off when a real SMSC is configured.
    fake_carrier: bool = True
    max_parts: int = Field(default=6, ge=1, le=10)
    send_timeout_s: float = Field(default=5.0, gt=0, le=60)


class ChannelsSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The citizen-facing chat link sent in SMS (the /chat page of this engine by default).
    chat_url: str = "http://127.0.0.1:8120/chat"
    chat_service: str = "general"
    # Which schedule of the service-hours file opens chat ("telephone" is always open).
    hours_service: str = "chat"
    max_chat_chars: int = Field(default=2000, ge=1, le=20_000)
    # Per-citizen flood guard: messages per minute on one conversation.
    max_messages_per_minute: int = Field(default=30, ge=1, le=1000)
    # A conversation nobody offered within this long is offered again (handover, restarts).
    reoffer_s: float = Field(default=5.0, gt=0, le=600)
    # Idle chats end after this long without a message from either side.
    idle_end_s: float = Field(default=1800.0, gt=0)
    kannel: KannelSettings = KannelSettings()
