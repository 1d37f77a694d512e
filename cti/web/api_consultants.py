"""Endpoints for consultants' state, supervision (ChanSpy) and consultant statistics.

Invariant: a consultant changes only their own state and reads only their own statistics; a
supervisor or admin sets anyone's state through the same endpoints.
"""

from __future__ import annotations

from cti.control import ConsultantStats, ConsultantView, ContactCenter, SpySession
from cti.web.endpoint import (
    ANY_ROLE,
    STAFF,
    ApiRequest,
    Endpoint,
    consultant_in_path,
    own_or_staff,
)
from cti.web.schemas import NotReadyBody, SpyBody

_BASE = "/api/consultants"
_ONE = _BASE + "/{consultant_id}"


class ConsultantApi:
    def __init__(self, center: ContactCenter) -> None:
        self._center = center

    async def list_consultants(self, r: ApiRequest) -> object:
        return await self._center.consultants()

    async def one(self, r: ApiRequest) -> object:
        return await self._center.consultant(r.path["consultant_id"])

    async def log_in(self, r: ApiRequest) -> object:
        return await self._center.log_in(r.who, r.path["consultant_id"])

    async def log_out(self, r: ApiRequest) -> object:
        return await self._center.log_out(r.who, r.path["consultant_id"])

    async def ready(self, r: ApiRequest) -> object:
        return await self._center.set_ready(r.who, r.path["consultant_id"])

    async def not_ready(self, r: ApiRequest) -> object:
        reason = r.body_as(NotReadyBody).reason
        return await self._center.set_not_ready(r.who, r.path["consultant_id"], reason)

    async def wrap_up_done(self, r: ApiRequest) -> object:
        return await self._center.finish_wrap_up(r.who, r.path["consultant_id"])

    async def stats_one(self, r: ApiRequest) -> object:
        found = await self._center.consultant_stats(r.path["consultant_id"])
        return found[0]

    async def stats_all(self, r: ApiRequest) -> object:
        return await self._center.consultant_stats(None)

    async def spy(self, r: ApiRequest) -> object:
        body = r.body_as(SpyBody)
        return await self._center.start_spy(r.who, r.path["consultant_id"], body.mode, body.device)

    async def stop_spy(self, r: ApiRequest) -> object:
        await self._center.stop_spy(r.who, r.path["spy_id"])
        return None

    def endpoints(self) -> list[Endpoint]:
        own_self = own_or_staff(consultant_in_path, "a consultant only for their own id")

        state = "consultant state"
        change = (404, 409)
        return [
            Endpoint(
                "GET",
                _BASE,
                self.list_consultants,
                "All consultants with their state",
                ANY_ROLE,
                state,
                response=list[ConsultantView],
            ),
            Endpoint(
                "GET",
                _ONE,
                self.one,
                "One consultant",
                ANY_ROLE,
                state,
                response=ConsultantView,
                errors=(404,),
            ),
            Endpoint(
                "POST",
                _ONE + "/login",
                self.log_in,
                "Log in (then not ready, reason logged_in)",
                own_self,
                state,
                response=ConsultantView,
                errors=change,
            ),
            Endpoint(
                "POST",
                _ONE + "/logout",
                self.log_out,
                "Log out (not while on a call)",
                own_self,
                state,
                response=ConsultantView,
                errors=change,
            ),
            Endpoint(
                "POST",
                _ONE + "/ready",
                self.ready,
                "Ready for calls",
                own_self,
                state,
                response=ConsultantView,
                errors=change,
            ),
            Endpoint(
                "POST",
                _ONE + "/not-ready",
                self.not_ready,
                "Not ready, with a reason code",
                own_self,
                state,
                body=NotReadyBody,
                response=ConsultantView,
                errors=change,
            ),
            Endpoint(
                "POST",
                _ONE + "/wrap-up-done",
                self.wrap_up_done,
                "Finish wrap-up (then ready)",
                own_self,
                state,
                response=ConsultantView,
                errors=change,
            ),
            Endpoint(
                "GET",
                _ONE + "/stats",
                self.stats_one,
                "Today's figures for one consultant",
                own_self,
                "statistics",
                response=ConsultantStats,
                errors=(404,),
            ),
            Endpoint(
                "GET",
                "/api/stats/consultants",
                self.stats_all,
                "Today's figures, all consultants",
                STAFF,
                "statistics",
                response=list[ConsultantStats],
            ),
            Endpoint(
                "POST",
                _ONE + "/spy",
                self.spy,
                "Listen, whisper or barge (ChanSpy)",
                STAFF,
                "supervision",
                body=SpyBody,
                response=SpySession,
                errors=change,
            ),
            Endpoint(
                "DELETE",
                "/api/spy/{spy_id}",
                self.stop_spy,
                "End a listen/whisper/barge session",
                STAFF,
                "supervision",
                errors=(404,),
            ),
        ]
