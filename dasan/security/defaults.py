"""Committed default secrets and demo users are refused outside the demo.

Invariants:
- "Outside the demo" means ``mode = "production"`` or any listening address (SIP, HTTP,
  FastAGI, AMI) beyond loopback; the demo on loopback keeps working with no file at all.
- A secret is "default" when it equals the value committed in the settings models; it is
  "weak" when shorter than ``MIN_SECRET_CHARS``. Each finding names its setting.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import BaseModel, SecretStr

from cti.settings import AmiSettings, HttpSettings
from dasan.config import ConsultantDirectorySettings, Settings

MIN_SECRET_CHARS = 16


@dataclass(frozen=True)
class Finding:
    setting: str
    problem: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.problem}"


def is_loopback(host: str) -> bool:
    """True for loopback addresses and "localhost"; a name or a wildcard is not loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening_beyond_loopback(settings: Settings) -> list[str]:
    binds = {
        "pbx.sip_host": settings.pbx.sip_host,
        "http.host": settings.http.host,
        "agi.host": settings.agi.host,
        "ami.host": settings.ami.host,
    }
    return [name for name, host in binds.items() if not is_loopback(host)]


def outside_demo(settings: Settings) -> bool:
    return settings.mode == "production" or bool(listening_beyond_loopback(settings))


def _committed(model: type[BaseModel], field: str) -> str:
    default = model.model_fields[field].default
    return default.get_secret_value() if isinstance(default, SecretStr) else str(default)


# (setting, the model holding its committed default, its field)
SECRETS: tuple[tuple[str, type[BaseModel], str], ...] = (
    ("consultants.password_secret", ConsultantDirectorySettings, "password_secret"),
    ("ami.secret", AmiSettings, "secret"),
    ("http.demo_password_secret", HttpSettings, "demo_password_secret"),
)


def committed_secrets() -> set[str]:
    return {_committed(model, field) for _setting, model, field in SECRETS}


def secret_values(settings: Settings) -> dict[str, str]:
    return {
        "consultants.password_secret": settings.consultants.password_secret.get_secret_value(),
        "ami.secret": settings.ami.secret.get_secret_value(),
        "http.demo_password_secret": settings.http.demo_password_secret.get_secret_value(),
    }


def secret_findings(settings: Settings) -> list[Finding]:
    """Default or weak secrets (the demo web secret only while demo users are on)."""
    values = secret_values(settings)
    out: list[Finding] = []
    for setting, model, field in SECRETS:
        if setting == "http.demo_password_secret" and not settings.http.demo_users:
            continue
        value = values[setting]
        if value == _committed(model, field):
            out.append(Finding(setting, "is the committed default (run: dasan secrets init)"))
        elif len(value) < MIN_SECRET_CHARS:
            out.append(Finding(setting, f"is weak (fewer than {MIN_SECRET_CHARS} characters)"))
    return out


def deployment_findings(settings: Settings) -> list[Finding]:
    """What forbids starting this configuration; empty in the demo on loopback."""
    if not outside_demo(settings):
        return []
    out = secret_findings(settings)
    if settings.http.demo_users:
        out.append(Finding("http.demo_users", "demo users are on (set http.demo_users = false)"))
    return out


def refusal(settings: Settings) -> str | None:
    """The message to refuse a start with, or None when the configuration may run."""
    findings = deployment_findings(settings)
    if not findings:
        return None
    why = (
        "mode is production"
        if settings.mode == "production"
        else "listening beyond loopback (" + ", ".join(listening_beyond_loopback(settings)) + ")"
    )
    lines = "\n".join(f"  - {f}" for f in findings)
    return f"refusing to start outside the demo ({why}):\n{lines}"
