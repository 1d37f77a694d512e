"""``dasan secrets init`` and ``dasan consultants credentials cNNNN``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dasan.context import settings_from
from dasan.pbx.render import consultant_password
from dasan.security.defaults import secret_findings
from dasan.security.secrets import SecretsExist, write_secrets


@click.group("secrets")
def secrets_group() -> None:
    """Strong random secrets for a deployment."""


@secrets_group.command("init")
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="File to write (default: <state>/secrets.toml).",
)
@click.option("--force", is_flag=True, help="Replace the secrets of an existing file.")
@click.pass_context
def init(ctx: click.Context, out: str | None, force: bool) -> None:
    """Write random secrets (SIP passwords, AMI, web) to a file only you can read (0600)."""
    settings = settings_from(ctx)
    path = Path(out) if out else settings.state_dir / "secrets.toml"
    try:
        write_secrets(path, force=force)
    except SecretsExist as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f'{path}: secrets written (mode 0600). Use them with secrets_file = "{path}" in '
        "the configuration file or DASAN_SECRETS_FILE, then re-render the PBX (dasan pbx "
        "reload) and give consultants their new SIP passwords (dasan consultants credentials)."
    )


@click.group("consultants")
def consultants() -> None:
    """Consultants' softphone accounts."""


@consultants.command("credentials")
@click.argument("consultant_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def credentials(ctx: click.Context, consultant_id: str, as_json: bool) -> None:
    """A consultant's softphone settings: account, password, registrar, transport, SRTP."""
    settings = settings_from(ctx)
    if consultant_id not in settings.consultants.ids():
        raise click.ClickException(
            f"{consultant_id}: no such consultant (c0001..c{settings.consultants.count:04d})"
        )
    pbx = settings.pbx
    host = pbx.external_address or pbx.sip_host
    tls = pbx.tls_port is not None
    registrar = f"sip:{host}:{pbx.tls_port};transport=tls" if tls else f"sip:{host}:{pbx.sip_port}"
    secret = settings.consultants.password_secret.get_secret_value()
    report = {
        "consultant": consultant_id,
        "username": consultant_id,
        "password": consultant_password(secret, consultant_id),
        "registrar": registrar,
        "aor": f"sip:{consultant_id}@{host}",
        "transport": "tls" if tls else "udp",
        "media_encryption": "srtp (sdes)" if pbx.consultant_srtp else "none",
        "default_secret": any(
            f.setting == "consultants.password_secret" for f in secret_findings(settings)
        ),
    }
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        if key != "default_secret":
            click.echo(f"{key:17} {value}")
    if report["default_secret"]:
        click.echo("warning: derived from the committed demo secret (run: dasan secrets init)")


COMMANDS: list[click.Command] = [secrets_group, consultants]
