"""Endpoints for call control, call details, live and waiting calls, queues and the timeline.

Invariant: a consultant controls and reads only the call they are handling (the call's
``consultant_id``); supervisors and admins any call. Caller numbers of waiting calls are for
supervisors and admins only; queue figures are for everyone.
"""

from __future__ import annotations

from collections.abc import Mapping

from common.principal import Principal
from cti.control import (
    CallDetails,
    CallSummary,
    CenterSample,
    ContactCenter,
    Party,
    QueueStats,
    TransferTarget,
    WaitingCall,
)
from cti.web.endpoint import ANY_ROLE, STAFF, ApiRequest, Endpoint, OwnerRule, own_or_staff
from cti.web.schemas import InterpreterBody, ThirdPartyBody, TimelineQuery, TransferBody

_CALL = "/api/calls/{call_id}"


def call_owner(center: ContactCenter) -> OwnerRule:
    async def owns(principal: Principal, path: Mapping[str, str]) -> bool:
        details = await center.call(path["call_id"])
        return details.call.consultant_id == principal.user_id

    return owns


class CallApi:
    def __init__(self, center: ContactCenter) -> None:
        self._center = center

    async def live(self, r: ApiRequest) -> object:
        return await self._center.live_calls()

    async def details(self, r: ApiRequest) -> object:
        return await self._center.call(r.path["call_id"])

    async def hold(self, r: ApiRequest) -> object:
        return await self._center.hold(r.who, r.path["call_id"])

    async def unhold(self, r: ApiRequest) -> object:
        return await self._center.unhold(r.who, r.path["call_id"])

    async def transfer(self, r: ApiRequest) -> object:
        body = r.body_as(TransferBody)
        target = TransferTarget(body.target.kind, body.target.value)
        return await self._center.transfer(r.who, r.path["call_id"], target, body.mode)

    async def complete(self, r: ApiRequest) -> object:
        return await self._center.complete_transfer(r.who, r.path["call_id"])

    async def cancel(self, r: ApiRequest) -> object:
        return await self._center.cancel_transfer(r.who, r.path["call_id"])

    async def interpreter(self, r: ApiRequest) -> object:
        language = r.body_as(InterpreterBody).language
        return await self._center.add_interpreter(r.who, r.path["call_id"], language)

    async def third_party(self, r: ApiRequest) -> object:
        number = r.body_as(ThirdPartyBody).number
        return await self._center.add_third_party(r.who, r.path["call_id"], number)

    async def drop(self, r: ApiRequest) -> object:
        return await self._center.drop_party(r.who, r.path["call_id"], r.path["party_id"])

    async def hang_up(self, r: ApiRequest) -> object:
        return await self._center.hang_up(r.who, r.path["call_id"])

    def endpoints(self) -> list[Endpoint]:
        own_call = own_or_staff(
            call_owner(self._center), "a consultant only for the call they handle"
        )

        act = (404, 409, 503)
        tag = "call control"
        return [
            Endpoint(
                "GET",
                "/api/calls",
                self.live,
                "Live calls",
                STAFF,
                "calls",
                response=list[CallSummary],
            ),
            Endpoint(
                "GET",
                _CALL,
                self.details,
                "A call with its IVR journey and the caller's earlier calls (the screen pop)",
                own_call,
                "calls",
                response=CallDetails,
                errors=(404,),
            ),
            Endpoint(
                "POST",
                _CALL + "/hold",
                self.hold,
                "Hold the citizen",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/unhold",
                self.unhold,
                "Take the citizen off hold",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/transfer",
                self.transfer,
                "Blind or attended transfer to a consultant, a service queue or an outside number",
                own_call,
                tag,
                body=TransferBody,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/transfer/complete",
                self.complete,
                "Complete an attended transfer",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/transfer/cancel",
                self.cancel,
                "Cancel an attended transfer",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/interpreter",
                self.interpreter,
                "Add an interpreter for a "
                "language as a third party (409 no_interpreter_available: retry later); "
                '"sign" asks for a Korean Sign Language interpreter on a video call '
                "(409 video_call_required on a voice call)",
                own_call,
                tag,
                body=InterpreterBody,
                response=Party,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/third-party",
                self.third_party,
                "Add an outside number as a third party (the consultant interprets)",
                own_call,
                tag,
                body=ThirdPartyBody,
                response=Party,
                errors=act,
            ),
            Endpoint(
                "DELETE",
                _CALL + "/parties/{party_id}",
                self.drop,
                "Release an interpreter or third party; the call goes on",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
            Endpoint(
                "POST",
                _CALL + "/hangup",
                self.hang_up,
                "End the call",
                own_call,
                tag,
                response=CallSummary,
                errors=act,
            ),
        ]


class QueueApi:
    def __init__(self, center: ContactCenter) -> None:
        self._center = center

    async def queues(self, r: ApiRequest) -> object:
        return await self._center.queues()

    async def waiting(self, r: ApiRequest) -> object:
        return await self._center.waiting_calls(None)

    async def waiting_in(self, r: ApiRequest) -> object:
        return await self._center.waiting_calls(r.path["queue_id"])

    async def timeline(self, r: ApiRequest) -> object:
        return await self._center.timeline(r.query_as(TimelineQuery).minutes)

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint(
                "GET",
                "/api/queues",
                self.queues,
                "Queue figures: waiting, longest wait, today's service level, answered, abandoned",
                ANY_ROLE,
                "queues",
                response=list[QueueStats],
            ),
            Endpoint(
                "GET",
                "/api/waiting",
                self.waiting,
                "Waiting calls of all queues, oldest first",
                STAFF,
                "queues",
                response=list[WaitingCall],
            ),
            Endpoint(
                "GET",
                "/api/queues/{queue_id}/waiting",
                self.waiting_in,
                "Waiting calls of one queue",
                STAFF,
                "queues",
                response=list[WaitingCall],
                errors=(404,),
            ),
            Endpoint(
                "GET",
                "/api/timeline",
                self.timeline,
                "Samples for the wallboard's last-hour graph",
                ANY_ROLE,
                "queues",
                query=TimelineQuery,
                response=list[CenterSample],
            ),
        ]
