"""Users, scrypt passwords, hashed tokens, lockout, demo users, the JSON users file."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
from pathlib import Path

import pytest

from common.principal import Role
from cti.auth import (
    Authenticator,
    AuthError,
    DemoUserStore,
    JsonUserStore,
    MemoryUserStore,
    User,
    build_authenticator,
    demo_password,
    hash_password,
    make_user,
    token_hash,
    verify_password,
)
from cti.settings import HttpSettings

from .conftest import CHEAP, DEMO_SECRET, Edge, ManualClock


def test_scrypt_round_trip_and_salt() -> None:
    first = hash_password("correct horse", CHEAP)
    second = hash_password("correct horse", CHEAP)
    assert first != second  # salted
    assert first.startswith("scrypt$16$1$1$")
    assert verify_password("correct horse", first)
    assert not verify_password("correct horsE", first)
    assert not verify_password("x", "md5$abc")
    assert not verify_password("x", "garbage")


def test_default_cost_is_interactive_grade() -> None:
    encoded = hash_password("pw-pw-pw-pw")
    assert encoded.split("$")[1:4] == ["16384", "8", "1"]
    assert verify_password("pw-pw-pw-pw", encoded)


def test_make_user_validates() -> None:
    with pytest.raises(AuthError, match="user id"):
        make_user("Bad Id", Role.ADMIN, "long enough", CHEAP)
    with pytest.raises(AuthError, match="8 characters"):
        make_user("ok", Role.ADMIN, "short", CHEAP)
    assert make_user("ok.user-1", Role.ADMIN, "long enough", CHEAP).role is Role.ADMIN


def test_demo_password_is_stable_and_per_id() -> None:
    assert demo_password("c0001", "s") == demo_password("c0001", "s")
    assert demo_password("c0001", "s") != demo_password("c0002", "s")
    assert demo_password("c0001", "s") != demo_password("c0001", "t")
    assert len(demo_password("admin", "s")) == 12


class SlowStore(MemoryUserStore):
    """A store whose reads wait until released (a database that answers slowly)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.reading = threading.Event()

    def get(self, user_id: str) -> User | None:
        self.reading.set()
        assert self.release.wait(10), "never released"
        return super().get(user_id)


async def test_a_slow_user_store_never_holds_the_event_loop(clock: ManualClock) -> None:
    store = SlowStore()
    store.put(make_user("c0001", Role.CONSULTANT, "long enough", CHEAP))
    auth = Authenticator(store, clock.time, session_ttl_s=60, params=CHEAP)
    issued = auth.open_session(make_user("c0001", Role.CONSULTANT, "long enough", CHEAP))
    pending = asyncio.create_task(auth.authenticate_async(issued.token, "10.0.0.7"))
    # The loop keeps running other work while the store is being read.
    assert await asyncio.to_thread(store.reading.wait, 10)
    ticks = 0
    for _ in range(3):
        await asyncio.sleep(0)
        ticks += 1
    assert ticks == 3 and not pending.done()
    store.release.set()
    principal = await asyncio.wait_for(pending, 10)
    assert principal is not None and principal.user_id == "c0001"


async def test_login_and_tokens(clock: ManualClock) -> None:
    store = DemoUserStore(MemoryUserStore(), DEMO_SECRET, ["c0001"], CHEAP)
    auth = Authenticator(store, clock.time, session_ttl_s=60, params=CHEAP)
    issued = await auth.login("c0001", demo_password("c0001", DEMO_SECRET))
    assert issued.role is Role.CONSULTANT
    assert issued.expires_at == clock.time() + 60
    principal = auth.authenticate(issued.token, "10.0.0.7")
    assert principal is not None
    assert (principal.user_id, principal.role, principal.origin) == (
        "c0001",
        Role.CONSULTANT,
        "10.0.0.7",
    )
    clock.advance(61)
    assert auth.authenticate(issued.token, "x") is None
    for wrong in [("c0001", "nope"), ("c9999", "nope"), ("supervisor", "")]:
        with pytest.raises(AuthError, match="unknown user or wrong password"):
            await auth.login(*wrong)


async def test_lockout_after_repeated_failures(clock: ManualClock) -> None:
    store = DemoUserStore(MemoryUserStore(), DEMO_SECRET, ["c0001"], CHEAP)
    auth = Authenticator(store, clock.time, params=CHEAP, max_failures=3, lockout_s=60)
    right = demo_password("c0001", DEMO_SECRET)
    for _ in range(3):
        with pytest.raises(AuthError):
            await auth.login("c0001", "wrong")
    with pytest.raises(AuthError, match="too many"):
        await auth.login("c0001", right)
    clock.advance(61)
    assert (await auth.login("c0001", right)).user_id == "c0001"


def test_json_store_keeps_only_hashes(tmp_path: Path, clock: ManualClock) -> None:
    path = tmp_path / "state" / "users.json"
    store = JsonUserStore(path)
    store.put(make_user("alice", Role.SUPERVISOR, "alice's long password", CHEAP))
    auth = Authenticator(store, clock.time, params=CHEAP)
    issued = auth.issue_api_token("alice", "grafana")
    text = path.read_text()
    assert "alice's long password" not in text
    assert issued.token not in text
    assert token_hash(issued.token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = Authenticator(JsonUserStore(path), clock.time, params=CHEAP)
    principal = reloaded.authenticate(issued.token, "x")
    assert principal is not None
    assert principal.role is Role.SUPERVISOR
    assert issued.expires_at is None
    assert JsonUserStore(path).remove_api_tokens("alice") == 1
    assert Authenticator(JsonUserStore(path), clock.time).authenticate(issued.token, "x") is None


def test_broken_users_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"users": [{"user_id": "a"}]}))
    with pytest.raises(AuthError, match="not a valid users file"):
        JsonUserStore(path)


def test_stored_user_shadows_demo_user(tmp_path: Path, clock: ManualClock) -> None:
    settings = HttpSettings(demo_password_secret=DEMO_SECRET)
    JsonUserStore(tmp_path / "users.json").put(
        make_user("supervisor", Role.ADMIN, "a stored password", CHEAP)
    )
    base = JsonUserStore(tmp_path / "users.json")
    auth = build_authenticator(settings, base, ["c0001"], clock.time)
    user = auth.store.get("supervisor")
    assert user is not None
    assert user.role is Role.ADMIN
    assert auth.store.get("c0001") is not None
    assert auth.store.get("c0002") is None
    off = build_authenticator(HttpSettings(demo_users=False), base, ["c0001"], clock.time)
    assert off.store.get("c0001") is None


async def test_login_endpoint(edge: Edge) -> None:
    ok = await edge.client.post(
        "/api/login", json={"user_id": "c0002", "password": demo_password("c0002", DEMO_SECRET)}
    )
    data = await ok.json()
    assert ok.status == 200
    assert (data["user_id"], data["role"]) == ("c0002", "consultant")
    me = await edge.client.get("/api/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert (await me.json())["user_id"] == "c0002"
    bad = await edge.client.post("/api/login", json={"user_id": "c0002", "password": "x"})
    assert bad.status == 401
    assert (await bad.json())["error"]["code"] == "login_failed"


async def test_admin_creates_user_and_api_token(edge: Edge) -> None:
    admin = edge.headers("admin")
    body = {"user_id": "wallboard-tv", "role": "supervisor", "password": "tv password 1"}
    created = await edge.client.post("/api/users", headers=admin, json=body)
    assert created.status == 200
    again = await edge.client.post("/api/users", headers=admin, json=body)
    assert again.status == 409
    listed = await (await edge.client.get("/api/users", headers=admin)).json()
    assert [u["user_id"] for u in listed] == ["wallboard-tv"]
    issued = await edge.client.post(
        "/api/users/wallboard-tv/tokens", headers=admin, json={"label": "tv"}
    )
    token = (await issued.json())["token"]
    me = await edge.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert (await me.json()) == {"user_id": "wallboard-tv", "role": "supervisor", "tenant": None}
    missing = await edge.client.post("/api/users/ghost/tokens", headers=admin, json={"label": "x"})
    assert missing.status == 404
    revoked = await edge.client.delete("/api/users/wallboard-tv/tokens", headers=admin)
    assert revoked.status == 204
    me = await edge.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 401
