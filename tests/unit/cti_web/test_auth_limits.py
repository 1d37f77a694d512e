"""Login limits before hashing (parallel guesses cannot pass them), per user and per address,
a bounded scrypt pool, and revocation on the next request (issue 13)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from common.principal import Role
from cti.auth import Authenticator, AuthError, JsonUserStore, MemoryUserStore, User, make_user

from .conftest import CHEAP, ManualClock


class _CountingAuth(Authenticator):
    """Counts the password checks that ran (each is one scrypt)."""

    hashed = 0
    gate: threading.Event | None = None

    def check_password(self, user_id: str, password: str) -> User:
        type(self).hashed += 1
        if self.gate is not None:
            self.gate.wait(5)
        return super().check_password(user_id, password)


def _store() -> MemoryUserStore:
    return MemoryUserStore([make_user("alice", Role.SUPERVISOR, "alice's password", CHEAP)])


async def test_parallel_guesses_cannot_pass_the_count(clock: ManualClock) -> None:
    _CountingAuth.hashed = 0
    auth = _CountingAuth(_store(), clock.time, params=CHEAP, max_failures=3)
    results = await asyncio.gather(
        *(auth.login("alice", f"guess{n}", "198.51.100.9") for n in range(20)),
        return_exceptions=True,
    )
    assert all(isinstance(r, AuthError) for r in results)
    assert _CountingAuth.hashed == 3  # the 4th and later were refused before hashing


async def test_one_address_is_limited_across_user_ids(clock: ManualClock) -> None:
    auth = Authenticator(_store(), clock.time, params=CHEAP, max_address_failures=5)
    for n in range(5):
        with pytest.raises(AuthError, match="unknown user"):
            await auth.login(f"user{n}", "guess", "198.51.100.9")
    with pytest.raises(AuthError, match="too many"):
        await auth.login("alice", "alice's password", "198.51.100.9")
    # Another address is not affected.
    assert (await auth.login("alice", "alice's password", "198.51.100.10")).user_id == "alice"


async def test_busy_pool_refuses_at_once(clock: ManualClock) -> None:
    auth = _CountingAuth(_store(), clock.time, params=CHEAP, hash_workers=1, max_pending=1)
    auth.gate = threading.Event()
    first = asyncio.create_task(auth.login("alice", "alice's password", "a"))
    await asyncio.sleep(0.05)
    with pytest.raises(AuthError, match="too many sign-ins"):
        await auth.login("alice", "alice's password", "b")
    auth.gate.set()
    assert (await first).user_id == "alice"


async def test_removed_user_and_changed_role_apply_on_the_next_request(
    clock: ManualClock,
) -> None:
    store = _store()
    auth = Authenticator(store, clock.time, params=CHEAP)
    issued = await auth.login("alice", "alice's password", "a")
    store.put(make_user("alice", Role.CONSULTANT, "alice's password", CHEAP))
    principal = auth.authenticate(issued.token, "a")
    assert principal is not None and principal.role is Role.CONSULTANT
    store.remove("alice")
    assert auth.authenticate(issued.token, "a") is None


def test_json_store_sees_other_processes_and_never_undoes_them(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    engine = JsonUserStore(path)
    engine.put(make_user("alice", Role.SUPERVISOR, "alice's password", CHEAP))
    cli = JsonUserStore(path)  # `dasan users ...` in another process
    cli.put(make_user("bob", Role.CONSULTANT, "bob's password!", CHEAP))
    cli.remove("alice")
    assert engine.get("alice") is None and engine.get("bob") is not None
    engine.put(make_user("carol", Role.CONSULTANT, "carol's password", CHEAP))
    assert {u.user_id for u in JsonUserStore(path).users()} == {"bob", "carol"}
