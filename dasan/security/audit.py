"""``dasan pbx audit``: the PBX configuration checked against least privilege.

Rules (each finding names its file, section and setting):
- ``bind``: AMI and FastAGI listen on loopback only (manager.conf bindaddr, AMI user permits,
  settings ami.host and agi.host).
- ``ami-rights``: AMI users hold no read/write class beyond what the engine uses.
- ``anonymous-sip``: no ``anonymous`` endpoint; every endpoint without ``auth`` is identified
  by IP only; identify sections exist only for the citizens' trunk (the carrier's addresses
  from the settings, nothing wider) and the benchmarks (loopback); citizens' dialplan context
  never leads to the benchmark extensions.
- ``live-dangerously``: asterisk.conf never sets live_dangerously.
- ``weak-secrets``: AMI and SIP secrets are long enough; committed defaults fail outside the
  demo (on loopback in the demo they are a warning).

The audit reads the static configuration (asterisk-config/, dialplans/) and the generated files
rendered in memory from the same settings ``pbx up`` would use; it never needs the PBX running.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dasan.config import Settings
from dasan.security.asterisk_conf import Section, parse, typed
from dasan.security.defaults import (
    MIN_SECRET_CHARS,
    committed_secrets,
    is_loopback,
    outside_demo,
    secret_findings,
)

AMI_READ = frozenset(
    {"system", "call", "agent", "dtmf", "reporting", "dialplan", "security", "user"}
)
AMI_WRITE = frozenset({"system", "call", "agent", "reporting", "originate"})
TRUNK = "citizens"
BENCH = "bench"
BENCH_CONTEXT = "dasan-bench"
CITIZEN_CONTEXT = "from-citizens"


@dataclass(frozen=True)
class Issue:
    rule: str
    where: str
    problem: str
    fatal: bool = True


@dataclass
class AuditReport:
    issues: list[Issue] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(i.fatal for i in self.issues)

    def failed_rules(self) -> set[str]:
        return {i.rule for i in self.issues if i.fatal}


@dataclass(frozen=True)
class ConfigSource:
    """Where the PBX's files come from: the static folders and the generated files' text."""

    config_dir: Path
    dialplans_dir: Path
    generated: Mapping[str, str]

    def include(self, target: str) -> list[str]:
        for prefix, folder in (
            ("/etc/asterisk/", self.config_dir),
            ("/etc/dasan/dialplans/", self.dialplans_dir),
        ):
            if target.startswith(prefix):
                return [
                    p.read_text(encoding="utf-8")
                    for p in sorted(folder.glob(target[len(prefix) :]))
                ]
        if target.startswith("/etc/dasan/generated/"):
            name = target.rsplit("/", 1)[1]
            return [self.generated[name]] if name in self.generated else []
        return [p.read_text(encoding="utf-8") for p in sorted(self.config_dir.glob(target))]

    def sections(self, name: str) -> list[Section]:
        path = self.config_dir / name
        if not path.is_file():
            return []
        return parse(path.read_text(encoding="utf-8"), self.include)


def _classes(value: str | None) -> set[str]:
    return {c.strip().lower() for c in (value or "").split(",") if c.strip()}


def check_bind(src: ConfigSource, settings: Settings) -> list[Issue]:
    out = []
    general = [s for s in src.sections("manager.conf") if s.name == "general"]
    bindaddr = (general[-1].get("bindaddr") if general else None) or "0.0.0.0"
    enabled = (general[-1].get("enabled") if general else None) or "no"
    if enabled.lower() in ("yes", "true", "1", "on") and not is_loopback(bindaddr):
        out.append(Issue("bind", "manager.conf [general] bindaddr", f"AMI on {bindaddr}"))
    for user in _ami_users(src):
        for permit in user.all("permit"):
            network = ipaddress.ip_network(permit.replace("/255.255.255.255", "/32"), strict=False)
            if not network.is_loopback:
                out.append(Issue("bind", f"manager.conf [{user.name}] permit", f"permits {permit}"))
    if not is_loopback(settings.ami.host):
        out.append(Issue("bind", "settings ami.host", f"AMI reached at {settings.ami.host}"))
    if not is_loopback(settings.agi.host):
        out.append(Issue("bind", "settings agi.host", f"FastAGI listens on {settings.agi.host}"))
    return out


def _ami_users(src: ConfigSource) -> list[Section]:
    return [s for s in src.sections("manager.conf") if not s.template and s.name != "general"]


def check_ami_rights(src: ConfigSource, _settings: Settings) -> list[Issue]:
    out = []
    for user in _ami_users(src):
        for key, allowed in (("read", AMI_READ), ("write", AMI_WRITE)):
            extra = _classes(user.get(key)) - allowed
            if "all" in extra or extra:
                out.append(
                    Issue(
                        "ami-rights",
                        f"manager.conf [{user.name}] {key}",
                        f"extra: {','.join(sorted(extra))}",
                    )
                )
    return out


def _within(match: str, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        network = ipaddress.ip_network(match, strict=False)
    except ValueError:
        return False  # a host name: its addresses are not pinned
    return any(
        network.version == a.version and network.subnet_of(a)  # type: ignore[arg-type]
        for a in allowed
    )


def check_anonymous_sip(src: ConfigSource, settings: Settings) -> list[Issue]:
    sections = src.sections("pjsip.conf")
    out = []
    for endpoint in typed(sections, "endpoint"):
        where = f"pjsip.conf [{endpoint.name}]"
        if endpoint.name == "anonymous":
            out.append(Issue("anonymous-sip", where, "an anonymous endpoint takes any caller"))
        methods = _classes(endpoint.get("identify_by", "username,ip"))
        if not endpoint.get("auth") and methods & {"username", "auth_username"}:
            out.append(Issue("anonymous-sip", where, "no auth, yet identified by the From user"))
    carrier = [ipaddress.ip_network(a, strict=False) for a in settings.pbx.carrier_addresses]
    loopback = [ipaddress.ip_network("127.0.0.0/8")]
    for ident in typed(sections, "identify"):
        target = ident.get("endpoint") or ""
        where = f"pjsip.conf identify [{ident.name}]"
        allowed = {TRUNK: carrier, BENCH: loopback}.get(target)
        if allowed is None:
            out.append(Issue("anonymous-sip", where, f"endpoint {target} taken by address"))
            continue
        for match in ",".join(ident.all("match")).split(","):
            if match.strip() and not _within(match.strip(), allowed):
                out.append(
                    Issue(
                        "anonymous-sip", where, f"match {match.strip()} beyond {target}'s addresses"
                    )
                )
    out.extend(_citizen_context(src))
    return out


def _citizen_context(src: ConfigSource) -> list[Issue]:
    text = "\n".join(src.include("/etc/dasan/dialplans/*.conf"))
    return [
        Issue("anonymous-sip", f"dialplan [{CITIZEN_CONTEXT}]", "leads to the benchmark extensions")
        for s in parse(text)
        if s.name == CITIZEN_CONTEXT and any(BENCH_CONTEXT in v for _k, v in s.items)
    ]


def check_live_dangerously(src: ConfigSource, _settings: Settings) -> list[Issue]:
    return [
        Issue("live-dangerously", f"asterisk.conf [{s.name}] live_dangerously", "is on")
        for s in src.sections("asterisk.conf")
        if (s.get("live_dangerously") or "no").lower() in ("yes", "true", "1", "on")
    ]


def check_weak_secrets(src: ConfigSource, settings: Settings) -> list[Issue]:
    fatal = outside_demo(settings)
    out = [
        Issue(
            "weak-secrets", f"settings {f.setting}", f.problem, fatal=fatal or "weak" in f.problem
        )
        for f in secret_findings(settings)
    ]
    values = [(f"manager.conf [{u.name}] secret", u.get("secret")) for u in _ami_users(src)]
    values += [
        (f"pjsip.conf auth [{a.name}] password", a.get("password"))
        for a in typed(src.sections("pjsip.conf"), "auth")
    ]
    defaults = committed_secrets()
    for where, value in values:
        if value in defaults:  # reported once, by its setting, above
            continue
        if len(value or "") < MIN_SECRET_CHARS:
            out.append(Issue("weak-secrets", where, f"shorter than {MIN_SECRET_CHARS} characters"))
    return out


CHECKS: dict[str, Callable[[ConfigSource, Settings], list[Issue]]] = {
    "bind": check_bind,
    "ami-rights": check_ami_rights,
    "anonymous-sip": check_anonymous_sip,
    "live-dangerously": check_live_dangerously,
    "weak-secrets": check_weak_secrets,
}


def audit(src: ConfigSource, settings: Settings) -> AuditReport:
    report = AuditReport()
    for check in CHECKS.values():
        report.issues.extend(check(src, settings))
    return report
