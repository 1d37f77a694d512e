"""Kamailio as the consultants' registrar: its tables in the engines' PostgreSQL.

``dasan cluster up --consultants registered`` makes Kamailio the registrar (digest auth from
``auth_db``, contacts kept by ``usrloc`` in the database only) so a consultant registered once
is reachable from every node, and the engines see who is registered in the same database.

Invariants:
- Kamailio's tables live in their own schema (``kamailio``) of the engines' database, created
  from the SQL files Debian's ``kamailio-postgres-modules`` ships; Kamailio names them
  schema-qualified (``kamailio.location``), also in its version table.
- The subscriber table holds HA1 hashes only (never a password), derived from the very
  passwords the nodes' PBX configuration gives each consultant (``consultant_password`` of
  the cluster's own secret, never a default): one credential per consultant everywhere.
- ``prepare`` is idempotent: tables are created once, the subscribers rewritten each time
  (a changed secret or consultant count takes effect at the next ``cluster up``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from dasan.config import ConsultantDirectorySettings, load_settings
from dasan.pbx.render import consultant_password

SCHEMA = "kamailio"
REALM = "dasan"
LOCATION_TABLE = f"{SCHEMA}.location"
SUBSCRIBER_TABLE = f"{SCHEMA}.subscriber"
VERSION_TABLE = f"{SCHEMA}.version"
SQL_DIR = Path("/usr/share/kamailio/postgres")
SQL_FILES = ("standard-create.sql", "usrloc-create.sql", "auth_db-create.sql")


class RegistrarError(RuntimeError):
    """Kamailio's tables could not be prepared; the message says why."""


@dataclass(frozen=True)
class DbTarget:
    """Where Kamailio's db_postgres connects: its URL, and ``PGHOST`` for a socket folder."""

    kamailio_url: str
    asyncpg_dsn: str
    socket_dir: str | None


def db_target(storage_url: str) -> DbTarget:
    """Kamailio's and asyncpg's view of the engines' ``storage.url`` (PostgreSQL only).

    A Unix socket folder (``?host=/run/postgresql``) cannot be written in Kamailio's URL: it
    connects without a host and libpq takes the folder from ``PGHOST``."""
    url = make_url(storage_url)
    if not url.drivername.startswith("postgresql"):
        raise RegistrarError(f"the registrar needs PostgreSQL, not {url.drivername}")
    if not url.database:
        raise RegistrarError("storage.url names no database")
    user = quote(url.username or "", safe="")
    auth = user + (f":{quote(url.password, safe='')}" if url.password else "")
    query_host = url.query.get("host")
    host = url.host or (query_host if isinstance(query_host, str) else "")
    socket_dir = None
    if host.startswith("/"):
        socket_dir, host = host, ""
    address = host + (f":{url.port}" if url.port and host else "")
    kamailio_url = f"postgres://{auth}@{address}/{url.database}"
    dsn = f"postgresql://{auth}@{address}/{url.database}"
    if socket_dir:
        dsn += f"?host={quote(socket_dir, safe='/')}"
    return DbTarget(kamailio_url, dsn, socket_dir)


def ha1(user: str, realm: str, password: str) -> str:
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 (SIP digest)


def subscribers(directory: ConsultantDirectorySettings) -> list[tuple[str, str, str, str]]:
    """``(username, domain, ha1, ha1b)`` of every consultant, from the nodes' passwords."""
    secret = directory.password_secret.get_secret_value()
    rows = []
    for cid in directory.ids():
        password = consultant_password(secret, cid)
        rows.append((cid, REALM, ha1(cid, REALM, password), ha1(f"{cid}@{REALM}", REALM, password)))
    return rows


async def _prepare(dsn: str, rows: list[tuple[str, str, str, str]]) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            # One cluster up at a time per database creates the tables (two racing `up`s).
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext('dasan-kamailio'))")
            await connection.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            exists = await connection.fetchval("SELECT to_regclass($1)", LOCATION_TABLE)
            if exists is None:
                await connection.execute(f"SET LOCAL search_path = {SCHEMA}")
                for name in SQL_FILES:
                    await connection.execute((SQL_DIR / name).read_text(encoding="utf-8"))
                await connection.execute("SET LOCAL search_path = public")
                await connection.execute(
                    f"UPDATE {VERSION_TABLE} SET table_name = '{SCHEMA}.' || table_name"  # noqa: S608 (constants)
                )
            await connection.execute(
                f"DELETE FROM {SUBSCRIBER_TABLE} WHERE domain = $1",  # noqa: S608 (a constant)
                REALM,
            )
            await connection.copy_records_to_table(
                "subscriber",
                schema_name=SCHEMA,
                records=rows,
                columns=["username", "domain", "ha1", "ha1b"],
            )
    finally:
        await connection.close()


async def _registered(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            f"SELECT DISTINCT username FROM {LOCATION_TABLE}"  # noqa: S608 (a constant)
            " WHERE expires > LOCALTIMESTAMP OR expires < '1971-01-01' ORDER BY username"
        )
    finally:
        await connection.close()
    return [str(row["username"]) for row in rows]


def registered(storage_url: str) -> list[str]:
    """Consultants with an unexpired registration (``dasan cluster status``).

    Kamailio writes ``expires`` in its local time; PostgreSQL's LOCALTIMESTAMP is in the
    session's time zone, the same on a one-machine cluster (UTC here)."""
    try:
        return asyncio.run(_registered(db_target(storage_url).asyncpg_dsn))
    except (OSError, asyncpg.PostgresError) as exc:
        raise RegistrarError(f"{LOCATION_TABLE}: {exc}") from exc


def prepare(storage_url: str, directory: ConsultantDirectorySettings) -> DbTarget:
    """Create Kamailio's tables (once) and write every consultant's credentials."""
    missing = [name for name in SQL_FILES if not (SQL_DIR / name).exists()]
    if missing:
        raise RegistrarError(
            f"{SQL_DIR} lacks {', '.join(missing)}: install kamailio-postgres-modules"
            " (make system-deps)"
        )
    target = db_target(storage_url)
    try:
        asyncio.run(_prepare(target.asyncpg_dsn, subscribers(directory)))
    except (OSError, asyncpg.PostgresError) as exc:
        raise RegistrarError(f"Kamailio's tables in PostgreSQL: {exc}") from exc
    return target


def main(argv: list[str] | None = None) -> None:
    """``python -m dasan.cluster.registrar``: Kamailio's tables and credentials on real hosts."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--config", type=Path, help="dasan.toml (DASAN_* and the secrets file apply too)"
    )
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    prepare(settings.storage_url, settings.consultants)
    print(f"{SUBSCRIBER_TABLE}: {settings.consultants.count} consultants, realm {REALM}")


if __name__ == "__main__":
    main()
