"""CLI verbs of the CTI web edge: ``dasan users ...`` and ``dasan web preview``.

Invariants: passwords and tokens are printed once and stored only hashed (in the database,
``cti.userdb``; an old JSON users file is imported on first use); a password is read from
stdin or generated, never taken from the command line (it would land in shell history).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from typing import cast

import click
from rich.console import Console
from rich.table import Table

from acd.errors import AcdConfigError
from acd.roster import load_with_tenants
from common.cliconfig import settings_from
from common.principal import Role
from common.storage import StorageError
from cti.auth import Authenticator, AuthError, demo_password, make_user
from cti.settings import CtiHost
from cti.userdb import SqlUserStore, open_user_store


def _host(ctx: click.Context) -> CtiHost:
    return cast(CtiHost, settings_from(ctx))  # the root proves the type (dasan.context)


def _store(ctx: click.Context) -> SqlUserStore:
    settings = _host(ctx)
    try:
        store = open_user_store(settings.http, settings.state_dir, settings.storage_url)
    except (AuthError, StorageError) as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.call_on_close(store.close)
    return store


@click.group("users")
def users() -> None:
    """API users of the web edge (consultant, supervisor, admin) and their tokens."""


@users.command("add")
@click.argument("user_id")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--tenant",
    default=None,
    help="A district id (acd.tenants): the user sees only that district's calls and figures.",
)
@click.pass_context
def add(
    ctx: click.Context,
    *,
    user_id: str,
    role: str,
    name: str,
    password_stdin: bool,
    tenant: str | None,
) -> None:
    """Create USER_ID (or replace its password and role)."""
    if tenant is not None:
        _check_tenant(ctx, tenant)
    password = sys.stdin.readline().rstrip("\n") if password_stdin else secrets.token_urlsafe(12)
    try:
        user = make_user(user_id, Role(role), password, name=name, tenant=tenant)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from exc
    _store(ctx).put(user)
    click.echo(f"user {user_id} ({role}) saved")
    if not password_stdin:
        click.echo(f"password: {password}")


def _check_tenant(ctx: click.Context, tenant: str) -> None:
    """A user's tenant must be a district of ``acd.tenants_file``."""
    try:
        districts = load_with_tenants(_host(ctx).acd)[2]
    except AcdConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if districts is None:
        raise click.ClickException("--tenant needs districts: set acd.tenants_file")
    if tenant not in districts.districts:
        known = ", ".join(districts.districts)
        raise click.ClickException(f"no district {tenant!r} in acd.tenants_file ({known})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_users(ctx: click.Context, as_json: bool) -> None:
    """Stored users (demo users are not listed)."""
    store = _store(ctx)
    tokens = store.api_tokens()
    rows = [
        {
            "user_id": u.user_id,
            "role": u.role.value,
            "name": u.display_name,
            "tenant": u.tenant,
            "api_tokens": sum(t.user_id == u.user_id for t in tokens),
        }
        for u in store.users()
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    table = Table("user", "role", "name", "tenant", "API tokens")
    for row in rows:
        table.add_row(*("-" if value is None else str(value) for value in row.values()))
    Console().print(table)


@users.command("remove")
@click.argument("user_id")
@click.pass_context
def remove(ctx: click.Context, user_id: str) -> None:
    """Delete USER_ID and its API tokens."""
    if not _store(ctx).remove(user_id):
        raise click.ClickException(f"no user {user_id!r}")
    click.echo(f"user {user_id} removed")


@users.command("token")
@click.argument("user_id")
@click.option("--label", default="cli", help="What the token is for.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def token(ctx: click.Context, user_id: str, label: str, as_json: bool) -> None:
    """Issue a long-lived API token for USER_ID (shown once; the server reads it at start)."""
    auth = Authenticator(_store(ctx), time.time)
    try:
        issued = auth.issue_api_token(user_id, label)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(
            json.dumps({"user_id": user_id, "role": issued.role.value, "token": issued.token})
        )
    else:
        click.echo(issued.token)


@users.command("revoke-tokens")
@click.argument("user_id")
@click.pass_context
def revoke_tokens(ctx: click.Context, user_id: str) -> None:
    """Revoke every API token of USER_ID."""
    count = _store(ctx).remove_api_tokens(user_id)
    click.echo(f"{count} token(s) revoked")


@users.command("demo-password")
@click.argument("user_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def demo(ctx: click.Context, user_id: str, as_json: bool) -> None:
    """The demo password of c0001..cNNNN, supervisor or admin (when demo users are on)."""
    http = _host(ctx).http
    password = demo_password(user_id, http.demo_password_secret.get_secret_value())
    if as_json:
        click.echo(
            json.dumps({"user_id": user_id, "password": password, "demo_users": http.demo_users})
        )
    else:
        click.echo(password)


@click.group("web")
def web() -> None:
    """The web edge's developer tools."""


@web.command("preview")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8121, show_default=True, type=int)
@click.option("--consultants", default=471, show_default=True, type=int)
@click.option("--seed", default=120, show_default=True, type=int)
@click.option(
    "--manual",
    default="c0001",
    show_default=True,
    help="Comma-separated consultants left to a person at the desktop.",
)
@click.pass_context
def preview(
    ctx: click.Context, *, host: str, port: int, consultants: int, seed: int, manual: str
) -> None:
    """Serve the pages and API over an in-memory FAKE center with synthetic traffic."""
    from cti.web.preview import run_preview

    http = _host(ctx).http.model_copy(update={"host": host, "port": port})
    people = frozenset(m.strip() for m in manual.split(",") if m.strip())
    click.echo(f"preview (fake center, no PBX) on http://{host}:{port}/  — Ctrl+C stops")
    try:
        asyncio.run(run_preview(http, consultants=consultants, seed=seed, manual=people))
    except KeyboardInterrupt:
        click.echo("stopped")


COMMANDS: list[click.Command] = [users, web]
