"""Users, passwords and bearer tokens for the web edge.

Invariants:
- Passwords are kept only as scrypt hashes (``scrypt$n$r$p$salt$hash``, base64 parts) and
  compared in constant time; hashing is slow on purpose, so callers run it off the event loop.
- A token is 32 random bytes (URL-safe base64) shown once; only its SHA-256 is stored (a fast
  hash suits a high-entropy secret). Session tokens from a login expire after ``session_ttl_s``
  and live in memory; API tokens issued by an admin or the CLI live in the user store and last
  until revoked.
- After ``max_failures`` wrong passwords within ``lockout_s`` a user id is locked for
  ``lockout_s``; a locked user id fails like a wrong password. The same holds per client
  address (``max_address_failures``). Both are checked, and the attempt counted as a failure,
  BEFORE hashing (it is taken back on success), so parallel guesses cannot slip past the
  count while their hashes run. Hashing runs in the authenticator's own bounded thread pool;
  with ``max_pending`` logins already hashing, a login is refused at once ("busy").
- A session is checked against the store on every request: a removed user's sessions end at
  once and a changed role applies at once. The engine and ``dasan users`` keep users in the
  database (``cti.userdb.SqlUserStore``, read on every call); ``JsonUserStore`` (the format
  of earlier versions, imported once) reloads its file when another process changed it.
- Demo users (when enabled): consultants ``c0001``..``cNNNN`` plus ``supervisor`` and ``admin``,
  each with the password ``demo_password(user_id, secret)`` = the first 12 characters of the
  lower-case base32 HMAC-SHA256 of the user id under the demo secret (``dasan users
  demo-password ID`` prints it). A stored user shadows a demo user of the same id.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from common.principal import Principal, Role
from cti.settings import HttpSettings

USER_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# A district id (``acd.tenants``): a user with a tenant sees only that district.
TENANT_ID = re.compile(r"^[a-z0-9]{1,20}$")


class AuthError(Exception):
    """Bad credentials or an invalid user definition; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int = 2**14
    r: int = 8
    p: int = 1
    dklen: int = 32


def hash_password(password: str, params: ScryptParams = ScryptParams()) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, params)
    parts = (str(params.n), str(params.r), str(params.p), _b64(salt), _b64(digest))
    return "scrypt$" + "$".join(parts)


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        expected = base64.urlsafe_b64decode(digest)
        params = ScryptParams(int(n), int(r), int(p), len(expected))
        salt_bytes = base64.urlsafe_b64decode(salt)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(_scrypt(password, salt_bytes, params), expected)


def demo_password(user_id: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(mac).decode().lower()[:12]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    maxmem = 128 * params.n * params.r * params.p * 2 + 1024 * 1024
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        dklen=params.dklen,
        maxmem=maxmem,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


# --- users and their store --------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    role: Role
    password_hash: str
    display_name: str = ""
    # A district's user (acd.tenants) sees only that district; None: the city's (everything).
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    token_hash: str
    user_id: str
    label: str
    created_at: float


class UserStore(Protocol):
    def get(self, user_id: str) -> User | None: ...

    def users(self) -> Sequence[User]: ...

    def put(self, user: User) -> None: ...

    def remove(self, user_id: str) -> bool: ...

    def api_tokens(self) -> Sequence[ApiToken]: ...

    def add_api_token(self, token: ApiToken) -> None: ...

    def remove_api_tokens(self, user_id: str) -> int: ...


class MemoryUserStore:
    def __init__(self, users: Iterable[User] = (), tokens: Iterable[ApiToken] = ()) -> None:
        self._users = {u.user_id: u for u in users}
        self._tokens = list(tokens)

    def get(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def users(self) -> Sequence[User]:
        return sorted(self._users.values(), key=lambda u: u.user_id)

    def put(self, user: User) -> None:
        self._users[user.user_id] = user

    def remove(self, user_id: str) -> bool:
        self.remove_api_tokens(user_id)
        return self._users.pop(user_id, None) is not None

    def api_tokens(self) -> Sequence[ApiToken]:
        return list(self._tokens)

    def add_api_token(self, token: ApiToken) -> None:
        self._tokens.append(token)

    def remove_api_tokens(self, user_id: str) -> int:
        before = len(self._tokens)
        self._tokens = [t for t in self._tokens if t.user_id != user_id]
        return before - len(self._tokens)


class JsonUserStore(MemoryUserStore):
    """Users and API tokens in one JSON file (mode 0600), rewritten atomically on change."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[int, int, int] | None = None
        super().__init__()
        self._refresh()

    def _refresh(self) -> None:
        """Reload when the file changed since we last read or wrote it (another process)."""
        try:
            st = self._path.stat()
        except FileNotFoundError:
            return
        if self._seen == (st.st_ino, st.st_mtime_ns, st.st_size):
            return
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            users = [User(**{**u, "role": Role(u["role"])}) for u in data.get("users", [])]
            tokens = [ApiToken(**t) for t in data.get("api_tokens", [])]
        except (ValueError, TypeError, KeyError) as exc:
            raise AuthError(f"{self._path}: not a valid users file: {exc}") from exc
        self._users = {u.user_id: u for u in users}
        self._tokens = tokens
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)

    def get(self, user_id: str) -> User | None:
        self._refresh()
        return super().get(user_id)

    def users(self) -> Sequence[User]:
        self._refresh()
        return super().users()

    def api_tokens(self) -> Sequence[ApiToken]:
        self._refresh()
        return super().api_tokens()

    def put(self, user: User) -> None:
        self._refresh()
        super().put(user)
        self._save()

    def remove(self, user_id: str) -> bool:
        self._refresh()
        removed = super().remove(user_id)
        self._save()
        return removed

    def add_api_token(self, token: ApiToken) -> None:
        self._refresh()
        super().add_api_token(token)
        self._save()

    def remove_api_tokens(self, user_id: str) -> int:
        self._refresh()
        count = super().remove_api_tokens(user_id)
        self._save()
        return count

    def _save(self) -> None:
        data = {
            "users": [asdict(u) for u in self.users()],
            "api_tokens": [asdict(t) for t in self.api_tokens()],
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, ensure_ascii=False)
        os.replace(tmp, self._path)
        st = self._path.stat()
        self._seen = (st.st_ino, st.st_mtime_ns, st.st_size)


class DemoUserStore:
    """Wraps a store and adds the demo users; their hashes are computed on first use."""

    def __init__(
        self, base: UserStore, secret: str, consultant_ids: Sequence[str], params: ScryptParams
    ) -> None:
        self._base = base
        self._secret = secret
        self._roles = {cid: Role.CONSULTANT for cid in consultant_ids}
        self._roles |= {"supervisor": Role.SUPERVISOR, "admin": Role.ADMIN}
        self._params = params
        self._hashed: dict[str, User] = {}

    def get(self, user_id: str) -> User | None:
        stored = self._base.get(user_id)
        if stored is not None or user_id not in self._roles:
            return stored
        if user_id not in self._hashed:
            password = demo_password(user_id, self._secret)
            hashed = hash_password(password, self._params)
            self._hashed[user_id] = User(user_id, self._roles[user_id], hashed, "demo")
        return self._hashed[user_id]

    def users(self) -> Sequence[User]:
        return self._base.users()

    def put(self, user: User) -> None:
        self._base.put(user)

    def remove(self, user_id: str) -> bool:
        return self._base.remove(user_id)

    def api_tokens(self) -> Sequence[ApiToken]:
        return self._base.api_tokens()

    def add_api_token(self, token: ApiToken) -> None:
        self._base.add_api_token(token)

    def remove_api_tokens(self, user_id: str) -> int:
        return self._base.remove_api_tokens(user_id)


# --- authentication ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    user_id: str
    role: Role
    # Unix time; None for API tokens, which last until revoked.
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class _Session:
    user_id: str
    role: Role
    expires_at: float


def make_user(
    user_id: str,
    role: Role,
    password: str,
    params: ScryptParams = ScryptParams(),
    name: str = "",
    *,
    tenant: str | None = None,
) -> User:
    """Validate and hash (slow: call it off the event loop)."""
    if not USER_ID.match(user_id):
        raise AuthError("user id must be 1-64 of a-z 0-9 . _ - and start with a letter or digit")
    if len(password) < 8:
        raise AuthError("password must have at least 8 characters")
    if tenant is not None and not TENANT_ID.match(tenant):
        raise AuthError("a tenant must be a district id: 1-20 of a-z 0-9")
    return User(user_id, role, hash_password(password, params), name, tenant)


class Authenticator:
    def __init__(
        self,
        store: UserStore,
        clock: Callable[[], float],
        *,
        session_ttl_s: float = 12 * 3600,
        max_failures: int = 5,
        max_address_failures: int = 20,
        lockout_s: float = 60.0,
        params: ScryptParams = ScryptParams(),
        hash_workers: int = 2,
        max_pending: int = 16,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = session_ttl_s
        self._max_failures = max_failures
        self._lockout_s = lockout_s
        self._params = params
        self._sessions: dict[str, _Session] = {}
        self._failures: dict[str, list[float]] = {}
        self._address_failures: dict[str, list[float]] = {}
        self._max_address_failures = max_address_failures
        self._dummy_hash: str | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(hash_workers, "scrypt")
        # The store's reads for each request (a database round trip with SqlUserStore) run
        # here, never on the event loop that also carries call control.
        self._lookups = concurrent.futures.ThreadPoolExecutor(4, "auth-lookup")
        self._max_pending = max_pending
        self._pending = 0

    @property
    def store(self) -> UserStore:
        return self._store

    @property
    def params(self) -> ScryptParams:
        return self._params

    def check_password(self, user_id: str, password: str) -> User:
        """Slow (scrypt) and free of shared-state writes, so it may run in a worker thread."""
        user = self._store.get(user_id)
        if user is None:
            # Spend the same time as a real check so unknown ids do not stand out.
            if self._dummy_hash is None:
                self._dummy_hash = hash_password(secrets.token_urlsafe(), self._params)
            verify_password(password, self._dummy_hash)
            raise AuthError("unknown user or wrong password")
        if not verify_password(password, user.password_hash):
            raise AuthError("unknown user or wrong password")
        return user

    async def login(self, user_id: str, password: str, address: str = "") -> IssuedToken:
        """Check a password (in the bounded scrypt pool) and open a session; raises
        ``AuthError``. Limits are checked and the attempt counted before any hashing."""
        now = self._clock()
        _ensure_below(self._failures, user_id, now, self._lockout_s, self._max_failures)
        _ensure_below(
            self._address_failures, address, now, self._lockout_s, self._max_address_failures
        )
        if self._pending >= self._max_pending:
            raise AuthError("too many sign-ins at once; try again in a moment")
        # Counted as failures now; taken back below if the password is right.
        self._failures.setdefault(user_id, []).append(now)
        self._address_failures.setdefault(address, []).append(now)
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            user = await loop.run_in_executor(self._pool, self.check_password, user_id, password)
        finally:
            self._pending -= 1
        self._failures.pop(user_id, None)  # the user's count starts again
        _take_back(self._address_failures, address, now)  # only this attempt
        return self.open_session(user)

    def open_session(self, user: User) -> IssuedToken:
        now = self._clock()
        self._sessions = {h: s for h, s in self._sessions.items() if s.expires_at > now}
        token = secrets.token_urlsafe(32)
        self._sessions[token_hash(token)] = _Session(user.user_id, user.role, now + self._ttl)
        return IssuedToken(token, user.user_id, user.role, now + self._ttl)

    async def authenticate_async(self, token: str, origin: str) -> Principal | None:
        """``authenticate`` off the event loop (the store may block on its database)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._lookups, self.authenticate, token, origin)

    def authenticate(self, token: str, origin: str) -> Principal | None:
        """The token's principal, reading the store (blocking: from a worker thread, or
        through ``authenticate_async``); safe to run in several threads at once."""
        digest = token_hash(token)
        session = self._sessions.get(digest)
        if session is not None:
            user = self._store.get(session.user_id)  # removed or changed: at once
            if session.expires_at > self._clock() and user is not None:
                return Principal(user.user_id, user.role, origin, user.tenant)
            self._sessions.pop(digest, None)
            return None
        for api in self._store.api_tokens():
            if hmac.compare_digest(api.token_hash, digest):
                user = self._store.get(api.user_id)
                return Principal(user.user_id, user.role, origin, user.tenant) if user else None
        return None

    def revoke(self, token: str) -> bool:
        return self._sessions.pop(token_hash(token), None) is not None

    def issue_api_token(self, user_id: str, label: str) -> IssuedToken:
        user = self._store.get(user_id)
        if user is None:
            raise AuthError(f"no user {user_id!r}")
        token = secrets.token_urlsafe(32)
        self._store.add_api_token(ApiToken(token_hash(token), user_id, label, self._clock()))
        return IssuedToken(token, user_id, user.role, None)

    def add_user(self, user: User) -> None:
        self._store.put(user)


def _ensure_below(
    failures: dict[str, list[float]], key: str, now: float, window_s: float, limit: int
) -> None:
    recent = [t for t in failures.get(key, []) if now - t < window_s]
    failures[key] = recent
    if len(recent) >= limit:
        raise AuthError("too many failed attempts; try again in a minute")


def _take_back(failures: dict[str, list[float]], key: str, at: float) -> None:
    """Remove the one attempt counted at ``at`` (it succeeded)."""
    times = failures.get(key, [])
    if at in times:
        times.remove(at)


def build_authenticator(
    http: HttpSettings, base: UserStore, consultant_ids: Sequence[str], clock: Callable[[], float]
) -> Authenticator:
    """The server's authenticator: the stored users, plus the demo users when enabled."""
    store = base
    if http.demo_users:
        secret = http.demo_password_secret.get_secret_value()
        store = DemoUserStore(base, secret, consultant_ids, ScryptParams())
    return Authenticator(store, clock, session_ttl_s=http.session_ttl_s)
