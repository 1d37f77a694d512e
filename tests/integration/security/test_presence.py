"""Presence from registration (REGISTER-only consultants, issue 13): the engine offers calls
only to consultants whose phones registered, and an unregistering phone is out at once.
Asserted on the ACD's decision log and the PBX's Dial events: no unregistered consultant is
ever dialed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from dasan.pbx.container import PbxContainer
from dasan.pbx.render import consultant_password, render_all, write_generated
from dasan.pbx.service import fallback_members
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.acd.journal import decisions, states
from tests.integration.security.register import Registration, register
from tests.integration.support import AmiRecorder, EngineProcess, ItEnv, eventually

LOGGED_IN = ("c0001", "c0002", "c0003", "c0004")
REGISTERED = ("c0003", "c0004")
KEYS = (Dtmf("1", 1500), Dtmf("1", 500))


@pytest.fixture(scope="module")
def register_only(pbx: PbxContainer, it_env: ItEnv) -> Iterator[None]:
    """The shared PBX without static contacts for this module, restored afterwards."""
    settings = it_env.settings
    target = settings.pbx_dir / "generated"
    bare = settings.model_copy(
        update={"consultants": settings.consultants.model_copy(update={"static_contact": None})}
    )
    write_generated(target, render_all(bare, fallback_members(bare)))
    pbx.cli("module reload res_pjsip.so")
    try:
        yield
    finally:
        write_generated(target, render_all(settings, fallback_members(settings)))
        pbx.cli("module reload res_pjsip.so")


@pytest.fixture(scope="module")
def engine_env() -> dict[str, str]:
    return {
        "DASAN_CONSULTANTS__STATIC_CONTACT": "",
        "DASAN_ACD__LOGGED_IN": "[" + ",".join(f'"{c}"' for c in LOGGED_IN) + "]",
    }


def _password(it_env: ItEnv, cid: str) -> str:
    secret = it_env.settings.consultants.password_secret.get_secret_value()
    return consultant_password(secret, cid)


async def _state(it_env: ItEnv, cid: str, wanted: str, reason: str | None, after: int) -> None:
    def probe() -> list[dict[str, object]]:
        return states(it_env.settings.state_dir, cid)[after:]

    await eventually(
        lambda: asyncio.to_thread(probe),
        lambda found: any(r["state"] == wanted and r["reason"] == reason for r in found),
        20,
        f"{cid} {wanted} {reason}",
    )


async def _unregister(it_env: ItEnv, cid: str, workdir: Path) -> None:
    await register(Registration(cid, _password(it_env, cid), expires=0, port=5095), workdir)


@pytest.mark.timeout(300)
async def test_only_registered_consultants_are_dialed(
    register_only: None, engine: EngineProcess, recorder: AmiRecorder, sipp_dir: Path, it_env: ItEnv
) -> None:
    state_dir = it_env.settings.state_dir
    marks = {cid: len(states(state_dir, cid)) for cid in LOGGED_IN}
    before = len(decisions(state_dir))
    # A wrong password registers nobody.
    await register(Registration("c0001", "wrong-password", expect=401), sipp_dir / "bad")
    for cid in REGISTERED:
        await register(Registration(cid, _password(it_env, cid)), sipp_dir / cid)
        await _state(it_env, cid, "ready", None, marks[cid])

    async with ConsultantUas(sipp_dir / "uas", ring_ms=300, talk_ms=3000):
        results = await asyncio.gather(
            *(
                run_citizens(
                    CitizenCalls(caller=f"01013000{n}", digits=KEYS, hangup_after_ms=60_000),
                    sipp_dir / f"uac{n}",
                )
                for n in range(2)
            )
        )
        assert all(r.ok for r in results), [r.errors for r in results]
        # c0003 unregisters: out at once, and the next call goes to c0004 only.
        mark = len(states(state_dir, "c0003"))
        # From another port: the consultants' UAS holds 5090 (Contact: * removes every contact).
        await _unregister(it_env, "c0003", sipp_dir / "un")
        await _state(it_env, "c0003", "not_ready", "unregistered", mark)
        last = await run_citizens(
            CitizenCalls(caller="010130009", digits=KEYS, hangup_after_ms=60_000),
            sipp_dir / "uac-last",
        )
        assert last.ok, last.errors

    await _unregister(it_env, "c0004", sipp_dir / "un4")  # leave no registration behind
    made = decisions(state_dir)[before:]
    chosen = [d["consultant_id"] for d in made]
    assert len(made) >= 3 and set(chosen) <= set(REGISTERED), chosen
    assert chosen[-1] == "c0004"
    dialed = {e.get("DestChannel").split("-")[0] for e in recorder.named("DialBegin")}
    assert dialed <= {f"PJSIP/{c}" for c in REGISTERED}, dialed
    assert not recorder.where("DialEnd", DialStatus="CHANUNAVAIL")
    for cid in ("c0001", "c0002"):  # logged in, never registered: never ready
        assert all(r["state"] != "ready" for r in states(state_dir, cid)[marks[cid] :])
