"""Users and API tokens in the database (``web_users``, ``web_api_tokens``).

Invariants:
- ``SqlUserStore`` implements ``cti.auth.UserStore`` synchronously: each call runs one short
  statement on the store's own event loop in its own thread (the caller blocks for it, with a
  timeout), so the authenticator's per-request check reads the database every time. A user
  removed or given another role by another process (``dasan users ...``) is therefore seen
  on that user's next request; nothing is cached.
- Only hashes are stored: scrypt for passwords (``cti.auth.hash_password``), SHA-256 for API
  tokens. Removing a user removes its API tokens in the same transaction.
- ``import_json_users`` moves an old JSON users file into the database once: users and tokens
  not already in the database are added, then the file is renamed ``<name>.imported`` so it
  is never read again; a user already in the database keeps its row (the database wins).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Float, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from common.principal import Role
from common.storage import Base, PoolSettings, Storage
from cti.auth import ApiToken, JsonUserStore, User
from cti.settings import HttpSettings

T = TypeVar("T")


class WebUserRow(Base):
    __tablename__ = "web_users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(128), default="")
    # A district's user (acd.tenants) sees only that district; None: the city's (everything).
    tenant: Mapped[str | None] = mapped_column(String(32), default=None)


class WebApiTokenRow(Base):
    __tablename__ = "web_api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("web_users.user_id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[float] = mapped_column(Float)


def _user(row: WebUserRow) -> User:
    return User(row.user_id, Role(row.role), row.password_hash, row.display_name, row.tenant)


def _token(row: WebApiTokenRow) -> ApiToken:
    return ApiToken(row.token_hash, row.user_id, row.label, row.created_at)


class SqlUserStore:
    """The web users in the database at ``url`` (migrated to head when opened)."""

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="userdb", daemon=True)
        self._thread.start()
        try:
            # Its own small pool: one short statement at a time from this store's thread.
            self._storage = self._run(Storage.open(url, pool=PoolSettings(2, 2)))
        except BaseException:
            self._stop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self._timeout_s)

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout_s)
        self._loop.close()

    def close(self) -> None:
        self._run(self._storage.close())
        self._stop()

    def get(self, user_id: str) -> User | None:
        return self._run(self._get(user_id))

    def users(self) -> Sequence[User]:
        return self._run(self._users())

    def put(self, user: User) -> None:
        self._run(self._put(user))

    def remove(self, user_id: str) -> bool:
        return self._run(self._remove(user_id))

    def api_tokens(self) -> Sequence[ApiToken]:
        return self._run(self._tokens())

    def add_api_token(self, token: ApiToken) -> None:
        self._run(self._add_token(token))

    def remove_api_tokens(self, user_id: str) -> int:
        return self._run(self._remove_tokens(user_id))

    async def _get(self, user_id: str) -> User | None:
        async with self._storage.session() as session:
            row = await session.get(WebUserRow, user_id)
            return _user(row) if row is not None else None

    async def _users(self) -> list[User]:
        async with self._storage.session() as session:
            rows = await session.scalars(select(WebUserRow).order_by(WebUserRow.user_id))
            return [_user(r) for r in rows]

    async def _tokens(self) -> list[ApiToken]:
        async with self._storage.session() as session:
            rows = await session.scalars(select(WebApiTokenRow).order_by(WebApiTokenRow.created_at))
            return [_token(r) for r in rows]

    async def _put(self, user: User) -> None:
        async with self._storage.write() as session:
            await session.merge(
                WebUserRow(
                    user_id=user.user_id,
                    role=user.role.value,
                    password_hash=user.password_hash,
                    display_name=user.display_name,
                    tenant=user.tenant,
                )
            )

    async def _remove(self, user_id: str) -> bool:
        async with self._storage.write() as session:
            await session.execute(delete(WebApiTokenRow).where(WebApiTokenRow.user_id == user_id))
            result = await session.execute(delete(WebUserRow).where(WebUserRow.user_id == user_id))
            return bool(getattr(result, "rowcount", 0))

    async def _add_token(self, token: ApiToken) -> None:
        async with self._storage.write() as session:
            session.add(
                WebApiTokenRow(
                    token_hash=token.token_hash,
                    user_id=token.user_id,
                    label=token.label,
                    created_at=token.created_at,
                )
            )

    async def _remove_tokens(self, user_id: str) -> int:
        async with self._storage.write() as session:
            stmt = delete(WebApiTokenRow).where(WebApiTokenRow.user_id == user_id)
            result = await session.execute(stmt)
            return int(getattr(result, "rowcount", 0))


def import_json_users(store: SqlUserStore, path: Path) -> int:
    """Copy the JSON users file at ``path`` into ``store`` once; returns users added."""
    if not path.exists():
        return 0
    old = JsonUserStore(path)
    present = {u.user_id for u in store.users()}
    known_tokens = {t.token_hash for t in store.api_tokens()}
    added = [u for u in old.users() if u.user_id not in present]
    for user in added:
        store.put(user)
    ids = present | {u.user_id for u in added}
    for token in old.api_tokens():
        if token.user_id in ids and token.token_hash not in known_tokens:
            store.add_api_token(token)
    path.rename(path.with_name(path.name + ".imported"))
    return len(added)


def users_file(http: HttpSettings, state_dir: Path) -> Path:
    """Where the JSON users file of earlier versions lives (imported once, then renamed)."""
    return Path(http.users_file) if http.users_file else state_dir / "users.json"


def open_user_store(http: HttpSettings, state_dir: Path, storage_url: str) -> SqlUserStore:
    """The database's users, after moving any old JSON users file in (slow: off the loop)."""
    store = SqlUserStore(storage_url)
    try:
        import_json_users(store, users_file(http, state_dir))
    except BaseException:
        store.close()
        raise
    return store
