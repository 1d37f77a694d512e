"""Every route x every role x own/other resource -> the expected 2xx / 401 / 403.

The expectations below are written by hand from the issue (who may do what), not derived
from the route table, and the table must name every route the app serves.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient, TestServer

from common.principal import Principal, Role
from cti.auth import demo_password
from cti.control import (
    ContactCenter,
    NotReadyReason,
    SpyMode,
    TargetKind,
    TransferMode,
    TransferTarget,
)
from cti.fake_center import FakeCenter
from cti.web import ENDPOINTS, create_app

from .conftest import DEMO_SECRET, ManualClock, new_auth, new_center
from .scenes import SYSTEM, all_ready, answered_call

SUPERVISOR = Principal("supervisor", Role.SUPERVISOR, "test")
Setup = Callable[[FakeCenter, ManualClock, str], Awaitable[dict[str, str]]]


async def nothing(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    return {"consultant_id": subject, "user_id": subject}


async def logged_out(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    await center.log_out(SYSTEM, subject)
    return {"consultant_id": subject}


async def not_ready(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    await center.set_not_ready(SYSTEM, subject, NotReadyReason.BREAK)
    return {"consultant_id": subject}


async def wrapping_up(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    center.citizen_hangs_up(answered_call(center, clock, subject))
    return {"consultant_id": subject}


async def spying(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    session = await center.start_spy(SUPERVISOR, subject, SpyMode.LISTEN, None)
    return {"spy_id": session.spy_id}


async def on_call(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    return {"call_id": answered_call(center, clock, subject)}


async def held(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    call_id = answered_call(center, clock, subject)
    await center.hold(SYSTEM, call_id)
    return {"call_id": call_id}


async def consulting(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    call_id = answered_call(center, clock, subject)
    target = TransferTarget(TargetKind.CONSULTANT, "c0003")
    await center.transfer(SYSTEM, call_id, target, TransferMode.ATTENDED)
    return {"call_id": call_id}


async def interpreted(center: FakeCenter, clock: ManualClock, subject: str) -> dict[str, str]:
    call_id = answered_call(center, clock, subject, language="vi")
    party = await center.add_interpreter(SYSTEM, call_id, "vi")
    return {"call_id": call_id, "party_id": party.party_id}


@dataclass(frozen=True)
class Case:
    who: str  # public | any | self | staff | admin
    setup: Setup = nothing
    body: dict[str, Any] | None = None
    path: dict[str, str] = field(default_factory=dict)


C = "/api/consultants/{consultant_id}"
K = "/api/calls/{call_id}"
ROUTES: dict[str, Case] = {
    "POST /api/login": Case(
        "public", body={"user_id": "c0001", "password": demo_password("c0001", DEMO_SECRET)}
    ),
    "POST /api/logout": Case("any"),
    "GET /api/me": Case("any"),
    "GET /api/users": Case("admin"),
    "POST /api/users": Case(
        "admin", body={"user_id": "newbie", "role": "consultant", "password": "long enough"}
    ),
    "POST /api/users/{user_id}/tokens": Case("admin", body={"label": "scraper"}),
    "DELETE /api/users/{user_id}/tokens": Case("admin"),
    "GET /api/consultants": Case("any"),
    f"GET {C}": Case("any"),
    f"POST {C}/login": Case("self", logged_out),
    f"POST {C}/logout": Case("self"),
    f"POST {C}/ready": Case("self", not_ready),
    f"POST {C}/not-ready": Case("self", body={"reason": "break"}),
    f"POST {C}/wrap-up-done": Case("self", wrapping_up),
    f"GET {C}/stats": Case("self"),
    "GET /api/stats/consultants": Case("staff"),
    f"POST {C}/spy": Case("staff", body={"mode": "whisper"}),
    "DELETE /api/spy/{spy_id}": Case("staff", spying),
    "GET /api/calls": Case("staff"),
    f"GET {K}": Case("self", on_call),
    f"POST {K}/hold": Case("self", on_call),
    f"POST {K}/unhold": Case("self", held),
    f"POST {K}/transfer": Case("self", on_call, {"target": {"kind": "queue", "value": "general"}}),
    f"POST {K}/transfer/complete": Case("self", consulting),
    f"POST {K}/transfer/cancel": Case("self", consulting),
    f"POST {K}/interpreter": Case("self", on_call, {"language": "en"}),
    f"POST {K}/third-party": Case("self", on_call, {"number": "0221336000"}),
    f"DELETE {K}/parties/{{party_id}}": Case("self", interpreted),
    f"POST {K}/hangup": Case("self", on_call),
    "GET /api/queues": Case("any"),
    "GET /api/waiting": Case("staff"),
    "GET /api/queues/{queue_id}/waiting": Case("staff", path={"queue_id": "general"}),
    "GET /api/timeline": Case("any"),
    "GET /healthz": Case("public"),
    "GET /metrics": Case("staff"),
    "GET /openapi.json": Case("public"),
    "GET /": Case("public"),
    "GET /desktop": Case("public"),
    "GET /wallboard": Case("public"),
    "GET /docs": Case("public"),
    "GET /kb": Case("public"),
    "GET /static/{name}": Case("public", path={"name": "desktop.js"}),
}
# Tested on its own (it upgrades): tests/unit/cti_web/test_websocket.py.
NOT_IN_MATRIX = {"GET /ws"}

ACTORS = ("anonymous", "consultant", "supervisor", "admin")
SUBJECTS = ("own", "other")


def expected(who: str, actor: str, subject: str) -> int | None:
    """None: a 2xx; otherwise the exact status."""
    if who == "public":
        return None
    if actor == "anonymous":
        return 401
    allowed = {
        "any": {"consultant", "supervisor", "admin"},
        "self": {"supervisor", "admin"} | ({"consultant"} if subject == "own" else set()),
        "staff": {"supervisor", "admin"},
        "admin": {"admin"},
    }[who]
    return None if actor in allowed else 403


class SwapCenter:
    """Forwards to a replaceable fake, so one app serves many fresh scenarios."""

    def __init__(self, inner: FakeCenter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def matrix_app(
    clock: ManualClock,
) -> AsyncIterator[tuple[TestClient[Any, Any], SwapCenter, Any]]:
    swap = SwapCenter(new_center(clock))
    auth = new_auth(clock)
    app = create_app(cast(ContactCenter, swap), auth)
    async with TestClient(TestServer(app)) as client:
        yield client, swap, auth


def test_table_names_every_route(clock: ManualClock) -> None:
    app = create_app(new_center(clock), new_auth(clock))
    served = {e.key for e in app[ENDPOINTS]}
    assert served - NOT_IN_MATRIX == set(ROUTES)
    assert served >= NOT_IN_MATRIX


@pytest.mark.parametrize("route", sorted(ROUTES))
async def test_role_matrix(
    route: str, clock: ManualClock, matrix_app: tuple[TestClient[Any, Any], SwapCenter, Any]
) -> None:
    client, swap, auth = matrix_app
    case = ROUTES[route]
    method, template = route.split(" ", 1)
    failures = []
    for actor, subject in itertools.product(ACTORS, SUBJECTS):
        swap.inner = new_center(clock)
        await all_ready(swap.inner)
        params = {
            **await case.setup(swap.inner, clock, "c0001" if subject == "own" else "c0002"),
            **case.path,
        }
        url = template.format_map(params)
        headers = {}
        if actor != "anonymous":
            user = auth.store.get("c0001" if actor == "consultant" else actor)
            headers["Authorization"] = f"Bearer {auth.open_session(user).token}"
        body = case.body
        if route == "POST /api/users" and body is not None:  # a new user each time
            body = {**body, "user_id": f"newbie-{actor}-{subject}"}
        response = await client.request(method, url, json=body, headers=headers)
        want = expected(case.who, actor, subject)
        got = response.status
        if (200 <= got < 300) if want is None else got == want:
            continue
        failures.append(
            f"{actor}/{subject}: want {want or '2xx'}, got {got} {await response.text()}"
        )
    assert not failures, f"{route}: " + "; ".join(failures)
