"""Chaos: the engine killed (-9) while call-backs are pending. Callers who accepted the
call-back offer hung up and keep their place; the engine that promised to call them back
dies. The restarted engine must still call every one of them back, once each, at once (it
keeps them in ``<state>/callbacks/requests.jsonl``, reason ``engine-stopped``, and the
call-back list dials them), and no consultant stays reserved for a call-back that will never
be made."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dasan.load.distributions import Distribution, Shape
from dasan.load.profile import CallType, Key
from dasan.pbx.container import PbxContainer
from dasan.sipp import ConsultantUas
from tests.integration.acd.journal import events
from tests.integration.chaos.cases import check_case
from tests.integration.chaos.harness import KOREAN_KEYS, Case, ChaosContext, chaos_profile
from tests.integration.support import ItEnv, dasan_json

# Four consultants with 20-30 s talks (20 s of wrap-up) for 26 calls in 50 s: callers wait
# long enough to be offered the call-back (on arrival in the queue), and those who decline
# are served within their patience (240 s here), so a call not answered is one the fault
# lost, not one the queue's length lost.
FEW = ["c0001", "c0002", "c0003", "c0004"]
PATIENCE_S = 240
# The caller takes the offer with a 1 while it is being made. The IVR ends ~0.5 s after
# its last key; the recording guard's music follows (well under 2 s for a healthy
# recording); in the queue come the position and wait announcements (~4.5 s with this
# machine's prompts), then the offer (~7 s of prompt, then 5 s for the key): it is open
# from ~4.5 to ~16.5 s into the queue, and a key pressed after the IVR (during the guard's
# music or the announcements) is kept for it. A 1 9 s after the IVR's last key comes about
# 6.5-8 s into the queue, inside the offer's prompt, with seconds to spare both ways.
# (19.5 s, used before, came 17-19 s into the queue: after the window unless the guard
# took 2.5 s or more, so no caller took the offer once recordings were confirmed sooner.)
TAKE_OFFER = (*KOREAN_KEYS, Key(digit="1", after_s=9.0))


def _profile() -> Any:
    base = chaos_profile(placing_s=50)
    return base.model_copy(
        update={
            "citizen_timeout_s": PATIENCE_S,
            "drain_s": PATIENCE_S + 45,  # the last caller may still talk after waiting
            "talk_s": Distribution(dist=Shape.UNIFORM, min=20, max=30),
            "mix": (
                CallType(name="ko-general", share=0.5, service="general", keys=KOREAN_KEYS),
                CallType(name="ko-callback", share=0.5, service="general", keys=TAKE_OFFER),
            ),
        }
    )


def _accepted(ctx: ChaosContext) -> set[str]:
    return {e["call_id"] for e in events(ctx.settings.state_dir, "CallbackAccepted")}


def _answered(ctx: ChaosContext) -> set[str]:
    return {e["call_id"] for e in events(ctx.settings.state_dir, "CallbackAnswered")}


@contextlib.asynccontextmanager
async def called_back_phones(ctx: ChaosContext) -> AsyncIterator[None]:
    # The outside gateway where call-backs ring: it plays the citizens' phones.
    async with ConsultantUas(ctx.workdir / "called-back", port=5092, ring_ms=500, talk_ms=8000):
        yield


async def kill_with_callbacks_pending(ctx: ChaosContext) -> None:
    before = await asyncio.to_thread(_accepted, ctx)
    deadline = asyncio.get_running_loop().time() + 150
    while True:
        pending = (await asyncio.to_thread(_accepted, ctx)) - before
        pending -= await asyncio.to_thread(_answered, ctx)
        if len(pending) >= 2:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no two call-backs pending in time: {pending}")
        await asyncio.sleep(0.5)
    await ctx.kill_engine()
    ctx.fault(pending_callbacks=sorted(pending))
    ctx.recovered(engine_up_s=await ctx.start_engine())


def _pending_ids(ctx: ChaosContext) -> set[str]:
    return set(ctx.marks.notes.get("pending_callbacks", []))


def _redialed(ctx: ChaosContext) -> dict[str, dict[str, Any]]:
    """The call-back list's requests for the call-backs left pending, by original call id."""
    pending = _pending_ids(ctx)
    rows = dasan_json(ctx.env, "callbacks", "list")
    return {str(r["call_id"]): r for r in rows if r.get("call_id") in pending}


def callbacks_made(ctx: ChaosContext) -> list[str]:
    """Each pending call-back was made after the restart, exactly once: answered by the
    killed engine's successor on its first attempt (or, had the old engine placed it just
    before dying, answered there)."""
    redialed = _redialed(ctx)
    ctx.marks.notes["redialed"] = {
        k: {"state": v.get("state"), "attempts": v.get("attempts"), "reason": v.get("reason")}
        for k, v in redialed.items()
    }
    problems = []
    missing = _pending_ids(ctx) - _answered(ctx) - set(redialed)
    if missing:
        problems.append(
            f"{len(missing)} pending call-backs never made after the restart: {sorted(missing)}"
        )
    unanswered = {k: v.get("state") for k, v in redialed.items() if v.get("state") != "answered"}
    if unanswered:
        problems.append(f"call-backs kept but not answered after the restart: {unanswered}")
    twice = {k: v.get("attempts") for k, v in redialed.items() if v.get("attempts") != 1}
    if twice:
        problems.append(f"call-backs not dialed exactly once: {twice}")
    return problems


CASE = Case(
    "engine_kill_callbacks",
    "engine killed (-9), call-backs pending",
    "a caller who accepted the call-back is called back once the engine is up again",
    kill_with_callbacks_pending,
    profile=_profile(),
    engine_env={
        "DASAN_ACD__LOGGED_IN": json.dumps(FEW),
        "DASAN_ACD__CALLBACK_OFFER_MIN_WAIT_S": "0",
        # The call-back list dials (off in the tests' configuration) in its hours only: on,
        # and open whenever the test runs.
        "DASAN_CARE__CALLBACK_DIALING": "true",
        "DASAN_CARE__CALLBACK_OPEN": "00:00:00",
        "DASAN_CARE__CALLBACK_CLOSE": "23:59:59",
    },
    around=called_back_phones,
    # Who accepted the call-back hung up unanswered by design; the check is the call-back.
    served_otherwise=_accepted,
    extra_checks=callbacks_made,
)


@pytest.mark.timeout(600)
async def test_engine_killed_with_callbacks_pending(pbx: PbxContainer, it_env: ItEnv) -> None:
    await check_case(CASE, it_env, pbx)
