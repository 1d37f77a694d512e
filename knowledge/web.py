"""aiohttp handlers of the knowledge area: search, the editor's API, after-call notes, the
caller's history and the screen pop's cases.

The CTI web edge authenticates each request and puts a ``common.principal.Principal`` in it
under ``principal_key``; these handlers never authenticate, they only decide what the
principal may do: knowledge managers (supervisors and admins) edit and review cases;
consultants search, mark what helped and write the note of a call they took part in.

Invariants:
- Domain errors are mapped to HTTP statuses here and only here (``_STATUS``).
- Bodies are validated by pydantic models; a bad body is a 400 naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from common.principal import Principal, Role
from knowledge.cases import (
    LANGUAGES,
    Action,
    CaseContent,
    CaseNotFound,
    InvalidTransition,
    ReviewState,
)
from knowledge.history import CitizenHistory, HistoryDenied
from knowledge.notes import CallNotes, NoteError, shipped_dispositions
from knowledge.screenpop import journey_query, suggest
from knowledge.system import KnowledgeBase
from recordings.calllog import CallLog

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PrincipalKey = web.RequestKey[Principal] | str
_MANAGERS = (Role.SUPERVISOR, Role.ADMIN)


class Forbidden(PermissionError):
    pass


_STATUS: dict[type[Exception], int] = {
    Forbidden: 403,
    HistoryDenied: 403,
    CaseNotFound: 404,
    InvalidTransition: 409,
    NoteError: 400,
}


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: str = Field(min_length=1, max_length=32)
    text: str = Field(default="", max_length=100_000)


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=2000)


@dataclass
class KnowledgeWeb:
    kb: KnowledgeBase
    notes: CallNotes
    history: CitizenHistory
    calls: CallLog
    dispositions: dict[str, dict[str, str]]
    principal_key: PrincipalKey

    def _who(self, request: web.Request) -> Principal:
        principal = request.get(self.principal_key)
        if not isinstance(principal, Principal):
            raise web.HTTPUnauthorized(
                text='{"error": "not authenticated"}', content_type="application/json"
            )
        return principal

    def _manager(self, request: web.Request) -> Principal:
        who = self._who(request)
        if who.role not in _MANAGERS:
            raise Forbidden("only knowledge managers (supervisors, admins) edit cases")
        return who

    # --- search and cases ------------------------------------------------------------------
    async def search(self, request: web.Request) -> web.StreamResponse:
        """Ranked cases for ?q= (published, valid today), optionally ?language= and ?limit=."""
        self._who(request)
        language = request.query.get("language") or None
        if language is not None and language not in LANGUAGES:
            raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
        limit = min(max(int(request.query.get("limit", "10")), 1), 100)
        hits = await self.kb.search.search(
            request.query.get("q", ""), language=language, limit=limit
        )
        return web.json_response([h.as_json() for h in hits])

    async def case(self, request: web.Request) -> web.StreamResponse:
        """A case's published content, its latest version and its history."""
        self._who(request)
        case_id = int(request.match_info["case_id"])
        case = await self.kb.cases.get(case_id)
        history = await self.kb.cases.history(case_id)
        return web.json_response(
            {
                "id": case.id,
                "published_version": case.published_version,
                "published": case.published.model_dump(mode="json") if case.published else None,
                "helped": case.helped,
                "versions": [
                    {
                        "version": v.version,
                        "state": v.state.value,
                        "author": v.author,
                        "reviewer": v.reviewer,
                        "comment": v.comment,
                        "created_at": v.created_at.isoformat(),
                        "content": v.content.model_dump(mode="json"),
                    }
                    for v in history
                ],
            }
        )

    async def queue(self, request: web.Request) -> web.StreamResponse:
        """Cases whose latest version is in ?state= (draft, review; managers only)."""
        self._manager(request)
        state = ReviewState(request.query.get("state", "review"))
        cases = await self.kb.cases.queue(state)
        out = []
        for case in cases:
            latest = await self.kb.cases.latest(case.id)
            out.append(
                {
                    "id": case.id,
                    "version": latest.version,
                    "state": latest.state.value,
                    "title": latest.content.title,
                    "author": latest.author,
                    "language": case.language,
                }
            )
        return web.json_response(out)

    async def create(self, request: web.Request) -> web.StreamResponse:
        """A new case (version 1, draft)."""
        who = self._manager(request)
        content = CaseContent.model_validate(await request.json())
        version = await self.kb.cases.create(content, who.user_id)
        return web.json_response({"id": version.case_id, "version": version.version}, status=201)

    async def edit(self, request: web.Request) -> web.StreamResponse:
        """A new draft version of a case (the published one stays until this is published)."""
        who = self._manager(request)
        content = CaseContent.model_validate(await request.json())
        version = await self.kb.cases.edit(int(request.match_info["case_id"]), content, who.user_id)
        return web.json_response({"id": version.case_id, "version": version.version})

    async def act(self, request: web.Request) -> web.StreamResponse:
        """Submit, return or publish a version (publishing: not by its author)."""
        who = self._manager(request)
        body = ReviewBody.model_validate(await request.json() if request.can_read_body else {})
        action = Action(request.match_info["action"])
        version = await self.kb.cases.act(
            int(request.match_info["case_id"]),
            int(request.match_info["version"]),
            action,
            who.user_id,
            body.comment,
        )
        if version.state is ReviewState.PUBLISHED:
            self.kb.search.invalidate()
        return web.json_response({"version": version.version, "state": version.state.value})

    async def helped(self, request: web.Request) -> web.StreamResponse:
        """A consultant marks that a case helped (feeds ranking)."""
        self._who(request)
        await self.kb.cases.mark_helped(int(request.match_info["case_id"]))
        return web.json_response({"ok": True})

    # --- after-call work and history ------------------------------------------------------
    async def dispositions_list(self, request: web.Request) -> web.StreamResponse:
        """Disposition codes and their labels."""
        self._who(request)
        return web.json_response(
            {"codes": self.dispositions, "require_note": self.kb.settings.require_note}
        )

    async def write_note(self, request: web.Request) -> web.StreamResponse:
        """The disposition and note of the signed-in consultant for a call they took part in."""
        who = self._who(request)
        call_id = request.match_info["call_id"]
        body = NoteBody.model_validate(await request.json())
        call = await self.calls.get(call_id)
        if call is None:
            raise CaseNotFound(f"no call {call_id}")
        if who.role not in _MANAGERS and who.user_id not in {
            p.person_id for p in call.participants
        }:
            raise Forbidden("a note is written by someone who took part in the call")
        if self.kb.settings.require_note and not body.text.strip():
            raise NoteError("a note is required")
        note = await self.notes.write(call_id, who.user_id, body.disposition, body.text)
        return web.json_response(note.as_json())

    async def caller_history(self, request: web.Request) -> web.StreamResponse:
        """The caller's last calls with their notes (logged in the access log)."""
        who = self._who(request)
        entries = await self.history.for_call(who, request.match_info["call_id"])
        return web.json_response([e.as_json() for e in entries])

    async def call_cases(self, request: web.Request) -> web.StreamResponse:
        """Top cases for the call's IVR journey (the screen pop, before the first word)."""
        self._who(request)
        call = await self.calls.get(request.match_info["call_id"])
        if call is None:
            raise CaseNotFound(f"no call {request.match_info['call_id']}")
        route = call.journey.get("target") if isinstance(call.journey, dict) else None
        query = journey_query(call.journey, route or call.service, call.language)
        hits = await suggest(self.kb.search, query, self.kb.settings.screen_pop_cases)
        return web.json_response(
            {"query": query.text if query else "", "cases": [h.as_json() for h in hits]}
        )

    def routes(self) -> list[web.RouteDef]:
        m = _mapped
        return [
            web.get("/api/kb/search", m(self.search)),
            web.get("/api/kb/queue", m(self.queue)),
            web.get("/api/kb/dispositions", m(self.dispositions_list)),
            web.post("/api/kb/cases", m(self.create)),
            web.get("/api/kb/cases/{case_id:\\d+}", m(self.case)),
            web.put("/api/kb/cases/{case_id:\\d+}", m(self.edit)),
            web.post("/api/kb/cases/{case_id:\\d+}/helped", m(self.helped)),
            web.post(
                "/api/kb/cases/{case_id:\\d+}/versions/{version:\\d+}/{action:submit|return|publish}",
                m(self.act),
            ),
            web.put("/api/calls/{call_id}/note", m(self.write_note)),
            web.get("/api/calls/{call_id}/history", m(self.caller_history)),
            web.get("/api/calls/{call_id}/cases", m(self.call_cases)),
        ]


def _mapped(handler: Handler) -> Handler:
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except tuple(_STATUS) as exc:
            status = _STATUS[type(exc)]
            return web.json_response(
                {"error": type(exc).__name__, "detail": str(exc)}, status=status
            )
        except ValidationError as exc:
            problems = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                for e in exc.errors()
            ]
            return web.json_response({"error": "BadRequest", "detail": problems}, status=400)
        except ValueError as exc:
            return web.json_response({"error": "BadRequest", "detail": str(exc)}, status=400)

    wrapper.__doc__ = handler.__doc__
    return wrapper


def build_web(
    kb: KnowledgeBase,
    calls: CallLog,
    notes: CallNotes,
    history: CitizenHistory,
    principal_key: PrincipalKey,
) -> KnowledgeWeb:
    codes = kb.settings.dispositions
    labels: dict[str, dict[str, str]] = (
        {k: {"ko": v, "en": v} for k, v in codes.items()} if codes else shipped_dispositions()
    )
    return KnowledgeWeb(kb, notes, history, calls, labels, principal_key)
