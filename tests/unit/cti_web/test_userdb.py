"""Users in the database (issue 13): revocation and role changes made by another store on the
same SQLite file apply on the user's next request; the old JSON users file is imported once;
demo users still work over the database store; only hashes are stored."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from common.principal import Role
from cti.auth import (
    Authenticator,
    AuthError,
    JsonUserStore,
    build_authenticator,
    demo_password,
    make_user,
)
from cti.settings import HttpSettings
from cti.userdb import SqlUserStore, import_json_users, open_user_store

from .conftest import CHEAP, DEMO_SECRET, ManualClock

pytestmark = pytest.mark.unit


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'dasan.sqlite3'}"


@pytest.fixture
def two(url: str) -> Iterator[tuple[SqlUserStore, SqlUserStore]]:
    engine, cli = SqlUserStore(url), SqlUserStore(url)  # two processes' stores, one file
    yield engine, cli
    engine.close()
    cli.close()


async def test_removal_in_another_store_ends_the_session_on_the_next_request(
    two: tuple[SqlUserStore, SqlUserStore], clock: ManualClock
) -> None:
    engine, cli = two
    cli.put(make_user("alice", Role.SUPERVISOR, "alice's password", CHEAP))
    auth = Authenticator(engine, clock.time, params=CHEAP)
    issued = await auth.login("alice", "alice's password", "198.51.100.7")
    api = auth.issue_api_token("alice", "wallboard")
    assert auth.authenticate(issued.token, "a") is not None
    assert auth.authenticate(api.token, "a") is not None
    assert cli.remove("alice") is True
    assert auth.authenticate(issued.token, "a") is None
    assert auth.authenticate(api.token, "a") is None
    assert cli.api_tokens() == []
    assert cli.remove("alice") is False


async def test_role_change_in_another_store_applies_on_the_next_request(
    two: tuple[SqlUserStore, SqlUserStore], clock: ManualClock
) -> None:
    engine, cli = two
    cli.put(make_user("bob", Role.ADMIN, "bob's password", CHEAP))
    auth = Authenticator(engine, clock.time, params=CHEAP)
    issued = await auth.login("bob", "bob's password")
    before = auth.authenticate(issued.token, "a")
    assert before is not None and before.role is Role.ADMIN
    cli.put(make_user("bob", Role.CONSULTANT, "bob's password", CHEAP))
    after = auth.authenticate(issued.token, "a")
    assert after is not None and after.role is Role.CONSULTANT
    assert [u.user_id for u in engine.users()] == ["bob"]


async def test_a_district_user_keeps_its_tenant_in_the_database(
    two: tuple[SqlUserStore, SqlUserStore], clock: ManualClock
) -> None:
    engine, cli = two
    cli.put(make_user("sup.mapo", Role.SUPERVISOR, "mapo's password", CHEAP, tenant="mapo"))
    auth = Authenticator(engine, clock.time, params=CHEAP)
    issued = await auth.login("sup.mapo", "mapo's password")
    principal = auth.authenticate(issued.token, "a")
    assert principal is not None and principal.tenant == "mapo"
    api = auth.issue_api_token("sup.mapo", "script")
    by_token = auth.authenticate(api.token, "a")
    assert by_token is not None and by_token.tenant == "mapo"
    with pytest.raises(AuthError, match="district id"):
        make_user("sup.x", Role.SUPERVISOR, "x's password", CHEAP, tenant="Mapo-gu")


def test_only_hashes_reach_the_database(url: str, tmp_path: Path, clock: ManualClock) -> None:
    store = SqlUserStore(url)
    store.put(make_user("carol", Role.CONSULTANT, "carol's password", CHEAP, "Carol"))
    issued = Authenticator(store, clock.time, params=CHEAP).issue_api_token("carol", "tv")
    store.close()
    raw = (tmp_path / "dasan.sqlite3").read_bytes()
    assert b"carol's password" not in raw and issued.token.encode() not in raw
    with sqlite3.connect(tmp_path / "dasan.sqlite3") as db:
        ((hashed, name),) = db.execute("SELECT password_hash, display_name FROM web_users")
    assert hashed.startswith("scrypt$") and name == "Carol"


def test_json_users_file_is_imported_once(url: str, tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "users.json"
    old = JsonUserStore(path)
    old.put(make_user("dave", Role.SUPERVISOR, "dave's password", CHEAP))
    old.put(make_user("erin", Role.CONSULTANT, "erin's password", CHEAP))
    token = Authenticator(old, clock.time, params=CHEAP).issue_api_token("dave", "grafana")
    store = SqlUserStore(url)
    store.put(make_user("erin", Role.ADMIN, "erin's new password", CHEAP))  # the database wins
    assert import_json_users(store, path) == 1
    assert not path.exists() and (tmp_path / "users.json.imported").exists()
    assert import_json_users(store, path) == 0
    dave, erin = store.get("dave"), store.get("erin")
    assert dave is not None and dave.role is Role.SUPERVISOR
    assert dave.password_hash == old.get("dave").password_hash  # type: ignore[union-attr]
    assert erin is not None and erin.role is Role.ADMIN
    principal = Authenticator(store, clock.time).authenticate(token.token, "a")
    assert principal is not None and principal.user_id == "dave"
    store.close()


async def test_demo_users_work_over_the_database(tmp_path: Path, clock: ManualClock) -> None:
    http = HttpSettings(demo_password_secret=DEMO_SECRET)
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    store = open_user_store(http, tmp_path, url)
    try:
        auth = build_authenticator(http, store, ["c0001"], clock.time)
        auth = Authenticator(auth.store, clock.time, params=CHEAP)
        issued = await auth.login("c0001", demo_password("c0001", DEMO_SECRET))
        assert auth.authenticate(issued.token, "a") is not None
        assert store.users() == []  # demo users are never written to the database
        off = build_authenticator(HttpSettings(demo_users=False), store, ["c0001"], clock.time)
        assert off.store.get("c0001") is None
    finally:
        store.close()
