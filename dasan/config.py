"""One typed, frozen settings object: defaults, then a TOML file, then the environment.

Invariants:
- Settings are validated once at start; every component receives only its own slice.
- Environment variables use the prefix ``DASAN_`` and ``__`` between nesting levels,
  e.g. ``DASAN_AGI__PORT=4574`` or ``DASAN_STORAGE__URL=postgresql+asyncpg://...``.
- With no file, the shipped demo setup runs: SQLite, the 120 menu, c0001..c0471 ready.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from acd.settings import AcdSettings
from care.settings import CareSettings
from channels.settings import ChannelsSettings
from cti.settings import AmiSettings, HttpSettings
from dasan.paths import default_cache_dir, default_state_dir
from dasan.pbx.settings import PbxSettings
from dasan.security.ban import BanSettings
from ivr.settings import AgiSettings, IvrSettings
from knowledge.settings import KnowledgeSettings
from recordings.settings import RecordingsSettings
from safety.settings import SafetySettings

LANGUAGES = ("ko", "en", "zh", "ja", "vi", "mn")


class ConfigError(Exception):
    """The configuration file or environment is invalid; the message says where and why."""


class ConsultantDirectorySettings(BaseModel):
    """Which consultant endpoints exist on the PBX and how they are reached."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: int = Field(default=471, ge=1, le=9999)
    # Static contact of every consultant; "{id}" is replaced. None: REGISTER only.
    static_contact: str | None = "sip:{id}@127.0.0.1:5090"
    # Per-consultant SIP passwords are derived from this secret (HMAC of the id).
    password_secret: SecretStr = SecretStr("dasan-demo-consultant-secret")
    # Presence from a SIP registrar's location table in the engines' PostgreSQL (Kamailio's
    # usrloc, ``schema.table``; set by ``dasan cluster up --consultants registered``): the
    # engine reads it every second and offers calls only to consultants registered there.
    # The static contact then points at the registrar, which forwards to the phone.
    location_table: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$"
    )

    def ids(self) -> list[str]:
        return [f"c{n:04d}" for n in range(1, self.count + 1)]


class StorageSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # None: SQLite at <state>/dasan.sqlite3.
    url: str | None = None
    # PostgreSQL pool (the engine's writes use one connection through the durable writer).
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    pool_timeout_s: float = Field(default=30.0, gt=0, le=600)
    # SQLite: how long the engine's writer waits for another process's write lock per try.
    sqlite_busy_timeout_s: float = Field(default=5.0, gt=0, le=600)
    # The durable writer: largest transaction, writes held in memory before spilling to the
    # journal under <state>/storage/, and the retry backoff.
    batch_max: int = Field(default=500, ge=1, le=100_000)
    queue_max: int = Field(default=10_000, ge=1, le=10_000_000)
    retry_min_s: float = Field(default=0.2, gt=0, le=60)
    retry_max_s: float = Field(default=30.0, gt=0, le=3600)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("sqlite+aiosqlite://", "postgresql+asyncpg://")
        ):
            raise ValueError(
                "storage.url must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
            )
        return value


class FaultSettings(BaseModel):
    """Test-only fault injection (chaos and integration tests); everything off by default.

    Nothing here is ever on unless a configuration file or ``DASAN_FAULTS__*`` asks for it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The ACD's AMI bridge raises on this many events (one per run; it is restarted each time).
    ami_bridge_crashes: int = Field(default=0, ge=0)
    # The IVR handler raises right after logging the call's start for callers whose number
    # starts with one of these.
    ivr_crash_callers: tuple[str, ...] = ()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix="DASAN_", env_nested_delimiter="__"
    )

    # "demo": the shipped defaults are accepted on loopback. "production": committed default
    # secrets and demo users are refused at start (dasan.security.defaults).
    mode: Literal["demo", "production"] = "demo"
    # TOML holding the secrets (written by `dasan secrets init`, mode 0600); its tables sit
    # under the configuration file's and the environment's.
    secrets_file: Path | None = None
    state_dir: Path = Field(default_factory=default_state_dir)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    pbx: PbxSettings = PbxSettings()
    consultants: ConsultantDirectorySettings = ConsultantDirectorySettings()
    agi: AgiSettings = AgiSettings()
    ami: AmiSettings = AmiSettings()
    http: HttpSettings = HttpSettings()
    ivr: IvrSettings = IvrSettings()
    acd: AcdSettings = AcdSettings()
    recordings: RecordingsSettings = RecordingsSettings()
    knowledge: KnowledgeSettings = KnowledgeSettings()
    channels: ChannelsSettings = ChannelsSettings()
    storage: StorageSettings = StorageSettings()
    care: CareSettings = CareSettings()
    faults: FaultSettings = FaultSettings()
    safety: SafetySettings = SafetySettings()
    # Sources failing SIP authentication banned from AMI security events (dasan.security.ban).
    bans: BanSettings = BanSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file (passed as init values), the file over defaults.
        return (env_settings, init_settings)

    # Derived locations -------------------------------------------------------------
    @property
    def storage_url(self) -> str:
        return self.storage.url or f"sqlite+aiosqlite:///{self.state_dir / 'dasan.sqlite3'}"

    @property
    def recordings_dir(self) -> Path:
        return self.recordings.spool_dir or self.state_dir / "recordings"

    @property
    def recordings_spare_dir(self) -> Path:
        return self.recordings.spare_dir or self.state_dir / "recordings-spare"

    @property
    def prompts_dir(self) -> Path:
        return self.ivr.prompts_dir or self.state_dir / "prompts"

    @property
    def pbx_dir(self) -> Path:
        return self.state_dir / "pbx"

    @property
    def image_cache_dir(self) -> Path:
        return self.pbx.image_cache_dir or self.cache_dir / "pbx"


def load_settings(path: Path | None = None) -> Settings:
    """Load settings from ``path`` (or $DASAN_CONFIG) and the environment, or raise ConfigError."""
    if path is None and os.environ.get("DASAN_CONFIG"):
        path = Path(os.environ["DASAN_CONFIG"])
    data: dict[str, Any] = {}
    where = "defaults and environment"
    if path is not None:
        where = str(path)
        data = _read_toml(path, "configuration file")
    secrets = os.environ.get("DASAN_SECRETS_FILE") or data.get("secrets_file")
    if secrets:
        data = _merged(_read_secrets(Path(str(secrets))), data)
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{where}: invalid configuration: {problems}") from exc


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such {what}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _read_secrets(path: Path) -> dict[str, Any]:
    """The secrets file; refused when others than its owner may read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such secrets file") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: secrets file readable by others (chmod 600 {path})")
    return _read_toml(path, "secrets file")


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, table by table."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out
