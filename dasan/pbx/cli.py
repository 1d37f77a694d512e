"""``dasan pbx image|up|down|status|cli|reload``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console

from dasan.context import settings_from
from dasan.pbx.container import PbxError
from dasan.pbx.image import PbxImageError
from dasan.pbx.render import render_all, write_generated
from dasan.pbx.service import (
    fallback_members,
    pbx_container,
    pbx_image,
    render_generated,
    video_members,
)
from dasan.security.audit_cli import audit
from dasan.security.defaults import refusal

_err = Console(stderr=True)


@click.group()
def pbx() -> None:
    """The Asterisk 22 PBX container."""


@pbx.command()
@click.option("--rebuild", is_flag=True, help="Build the image again even if cached.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def image(ctx: click.Context, rebuild: bool, as_json: bool) -> None:
    """Build (once) or restore the PBX root filesystem."""
    settings = settings_from(ctx)
    try:
        result = pbx_image(settings).ensure(progress=_err.print, rebuild=rebuild)
    except PbxImageError as exc:
        raise click.ClickException(str(exc)) from exc
    report = {
        "action": result.action,
        "seconds": round(result.seconds, 2),
        "rootfs": str(result.rootfs),
        **asdict(result.info),
    }
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(
            f"PBX image {result.action} in {result.seconds:.1f} s: {result.info.asterisk_version}"
            f" ({result.info.tarball_bytes / 1e6:.0f} MB tarball)"
        )


@pbx.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def up(ctx: click.Context, as_json: bool) -> None:
    """Start the PBX and return once Asterisk is fully booted (harmless if already up)."""
    settings = settings_from(ctx)
    refused = refusal(settings)
    if refused:
        raise click.ClickException(refused)
    started = time.monotonic()
    try:
        img = pbx_image(settings).ensure(progress=_err.print)
        render_generated(settings)
        container = pbx_container(settings)
        fresh = container.up()
        status = container.status()
    except (PbxError, PbxImageError) as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.monotonic() - started
    if as_json:
        click.echo(
            json.dumps(
                {
                    "started": fresh,
                    "seconds": round(seconds, 2),
                    "image": img.action,
                    **asdict(status),
                }
            )
        )
    elif fresh:
        click.echo(f"PBX up in {seconds:.1f} s (image {img.action}): {status.version}")
    else:
        click.echo(f"PBX already up (pid {status.pid}): {status.version}")


@pbx.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop the PBX cleanly."""
    container = pbx_container(settings_from(ctx))
    if container.down():
        click.echo("PBX stopped")
    else:
        click.echo("PBX was not running")


@pbx.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Version, uptime and active channels."""
    try:
        st = pbx_container(settings_from(ctx)).status()
    except PbxError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(asdict(st)))
        return
    if not st.running:
        click.echo("PBX is down (start it with: dasan pbx up)")
        ctx.exit(3)
    click.echo(
        f"{st.version}\npid {st.pid}, up {st.uptime_s} s, "
        f"{st.active_channels} active channels, {st.active_calls} active calls"
    )


@pbx.command("cli")
@click.argument("command", nargs=-1, required=True)
@click.pass_context
def cli_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Run an Asterisk CLI command, e.g. dasan pbx cli pjsip show endpoints."""
    try:
        click.echo(pbx_container(settings_from(ctx)).cli(" ".join(command)), nl=False)
    except PbxError as exc:
        raise click.ClickException(str(exc)) from exc


@pbx.command()
@click.option(
    "--out", type=click.Path(file_okay=False), help="Folder (default: the state's pbx/generated)."
)
@click.pass_context
def render(ctx: click.Context, out: str | None) -> None:
    """Write the generated configuration (consultants, AMI user, globals, fallback queues)."""
    settings = settings_from(ctx)
    target = Path(out) if out else settings.pbx_dir / "generated"
    changed = write_generated(
        target, render_all(settings, fallback_members(settings), video_members(settings))
    )
    click.echo(f"{target}: {len(changed)} file(s) written")


@pbx.command()
@click.pass_context
def reload(ctx: click.Context) -> None:
    """Re-render the generated configuration and reload what changed."""
    settings = settings_from(ctx)
    changed = render_generated(settings)
    container = pbx_container(settings)
    try:
        container.cli("module reload res_pjsip.so")
        container.cli("dialplan reload")
        container.cli("manager reload")
        container.cli("module reload app_queue.so")
    except PbxError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"PBX reloaded; generated files changed: {', '.join(changed) or 'none'}")


pbx.add_command(audit)

COMMANDS = [pbx]
