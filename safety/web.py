"""The safety campaign on the engine's HTTP edge (under /api/safety; the CTI edge signs in).

- ``GET /api/safety/report`` (supervisors): the report of ``dasan safety report``, plus the
  campaign's live pacing figures.
- ``POST /api/safety/people/{person_id}/concern`` (consultants): a "concern" mark, which asks
  for a priority call-back; ``.../close`` closes the person's open case.

Invariant: no personal data leaves through these routes (person ids and districts only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from common.principal import Principal, Role
from safety.report import build_report
from safety.service import SafetyCampaign
from safety.store import SafetyStore

PrincipalKey = web.RequestKey[Principal] | str


def routes(
    campaign: SafetyCampaign | None, store: SafetyStore, *, principal_key: PrincipalKey
) -> list[web.RouteDef]:
    def principal(request: web.Request, *, supervisor: bool) -> Principal:
        who = request.get(principal_key)
        if not isinstance(who, Principal):
            raise web.HTTPUnauthorized(
                text='{"error": "not authenticated"}', content_type="application/json"
            )
        if supervisor and who.role is Role.CONSULTANT:
            raise web.HTTPForbidden(
                text='{"error": "supervisors only"}', content_type="application/json"
            )
        return who

    async def report(request: web.Request) -> web.Response:
        principal(request, supervisor=True)
        data: dict[str, Any] = build_report(
            await store.districts(),
            await store.attempts(),
            await store.escalations(),
            await store.notifications(),
        )
        data["campaign"] = dataclasses.asdict(campaign.status) if campaign else None
        return web.json_response(data)

    async def mark(request: web.Request) -> web.Response:
        who = principal(request, supervisor=False)
        if campaign is None:
            raise web.HTTPConflict(
                text='{"error": "the safety campaign is not enabled"}',
                content_type="application/json",
            )
        person_id = request.match_info["person_id"]
        action = request.match_info["action"]
        if action == "concern":
            found = await campaign.mark_concern(person_id, who.user_id)
        else:
            found = await campaign.close_case(person_id, who.user_id)
        if not found:
            raise web.HTTPNotFound(
                text='{"error": "no such person"}', content_type="application/json"
            )
        return web.json_response({"person_id": person_id, "action": action})

    return [
        web.get("/api/safety/report", report, allow_head=False),
        web.post("/api/safety/people/{person_id}/{action:concern|close}", mark),
    ]
