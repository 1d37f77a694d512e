"""Endpoints for signing in and out, and for managing API users (admins only).

Invariants: a login answers the same way for an unknown user and a wrong password; the token
is returned once and stored only hashed; password hashing runs off the event loop.
"""

from __future__ import annotations

import asyncio

from cti.auth import Authenticator, AuthError, make_user
from cti.control import InvalidState, NotFound
from cti.web.endpoint import ADMIN_ONLY, PUBLIC, SIGNED_IN, ApiRequest, Endpoint
from cti.web.schemas import ApiTokenBody, CreateUserBody, LoginBody, LoginResponse, Me, UserInfo


class SessionApi:
    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    async def login(self, r: ApiRequest) -> object:
        body = r.body_as(LoginBody)
        issued = await self._auth.login(body.user_id, body.password, r.raw.remote or "")
        return LoginResponse(
            token=issued.token,
            user_id=issued.user_id,
            role=issued.role,
            expires_at=issued.expires_at,
        )

    async def logout(self, r: ApiRequest) -> object:
        header = r.raw.headers.get("Authorization", "")
        self._auth.revoke(header.removeprefix("Bearer ").strip())
        return None

    async def me(self, r: ApiRequest) -> object:
        return Me(user_id=r.who.user_id, role=r.who.role, tenant=r.who.tenant)

    async def users(self, r: ApiRequest) -> object:
        return [
            UserInfo(user_id=u.user_id, role=u.role, display_name=u.display_name)
            for u in self._auth.store.users()
        ]

    async def create_user(self, r: ApiRequest) -> object:
        body = r.body_as(CreateUserBody)
        if body.user_id in {u.user_id for u in self._auth.store.users()}:
            raise InvalidState(f"user {body.user_id!r} exists")
        params = self._auth.params
        user = await asyncio.to_thread(
            make_user, body.user_id, body.role, body.password, params, body.display_name
        )
        self._auth.add_user(user)
        return UserInfo(user_id=user.user_id, role=user.role, display_name=user.display_name)

    async def issue_token(self, r: ApiRequest) -> object:
        label = r.body_as(ApiTokenBody).label
        try:
            issued = self._auth.issue_api_token(r.path["user_id"], label)
        except AuthError:
            raise NotFound("user", r.path["user_id"]) from None
        return LoginResponse(
            token=issued.token, user_id=issued.user_id, role=issued.role, expires_at=None
        )

    async def revoke_tokens(self, r: ApiRequest) -> object:
        self._auth.store.remove_api_tokens(r.path["user_id"])
        return None

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "POST",
                "/api/login",
                self.login,
                "Sign in with user id and password; returns a bearer token",
                PUBLIC,
                "session",
                body=LoginBody,
                response=LoginResponse,
                errors=(401,),
            ),
            Endpoint(
                "POST",
                "/api/logout",
                self.logout,
                "Revoke the token of this request",
                SIGNED_IN,
                "session",
            ),
            Endpoint(
                "GET",
                "/api/me",
                self.me,
                "Who the token belongs to",
                SIGNED_IN,
                "session",
                response=Me,
            ),
            Endpoint(
                "GET",
                "/api/users",
                self.users,
                "API users from the users file",
                ADMIN_ONLY,
                "users",
                response=list[UserInfo],
            ),
            Endpoint(
                "POST",
                "/api/users",
                self.create_user,
                "Create an API user",
                ADMIN_ONLY,
                "users",
                body=CreateUserBody,
                response=UserInfo,
                errors=(409,),
            ),
            Endpoint(
                "POST",
                "/api/users/{user_id}/tokens",
                self.issue_token,
                "Issue a long-lived API token (shown once)",
                ADMIN_ONLY,
                "users",
                body=ApiTokenBody,
                response=LoginResponse,
                errors=(404,),
            ),
            Endpoint(
                "DELETE",
                "/api/users/{user_id}/tokens",
                self.revoke_tokens,
                "Revoke all API tokens of a user",
                ADMIN_ONLY,
                "users",
            ),
        ]
