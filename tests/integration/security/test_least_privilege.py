"""Least privilege on the real PBX: the engine's AMI user may run every action the engine
uses and none of the CLI/config ones; a citizen dialing the benchmark extensions reaches the
"no such number" path; the benchmarks' own endpoint reaches them only from its address; a
caller from a loopback address that is not the carrier's is not a citizen; and the shipped
configuration passes `dasan pbx audit`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cti.ami.client import AmiClient
from cti.ami.messages import AmiEvent
from dasan.pbx.container import PbxContainer
from dasan.pbx.render import render_all, write_generated
from dasan.pbx.service import fallback_members
from dasan.sipp import CitizenCalls, run_citizens
from tests.integration.support import AmiRecorder, ItEnv, dasan_json, eventually

# Every AMI action the engine sends (cti/ami/names.py, the ACD, the CTI, the recording guard).
ENGINE_ACTIONS = {
    "Originate",
    "Redirect",
    "Hangup",
    "Setvar",
    "Getvar",
    "PlayDTMF",
    "CoreShowChannels",
    "BridgeList",
    "BridgeInfo",
    "PJSIPShowContacts",
    "DeviceStateList",
    "QueueStatus",
    "Status",
    "Ping",
    "Events",
}
# CLI commands and configuration writes. (GetConfig and ModuleLoad come with the `system`
# class, which PJSIPShowContacts needs: presence and the live state's resync use it.)
FORBIDDEN = {"Command", "UpdateConfig", "CreateConfig"}


async def test_ami_user_has_what_the_engine_uses_and_no_more(ami: AmiClient) -> None:
    response = await ami.action("ListCommands")
    allowed = set(response.headers)
    assert allowed >= ENGINE_ACTIONS, sorted(ENGINE_ACTIONS - allowed)
    assert not FORBIDDEN & allowed, sorted(FORBIDDEN & allowed)
    # Why `system` stays: the contacts listing is granted by that class only.
    assert "system" in response.headers["PJSIPShowContacts"].rsplit("Priv:", 1)[-1]


async def _found(recorder: AmiRecorder, caller: str) -> AmiEvent | None:
    return _hangup(recorder, caller)


def _hangup(recorder: AmiRecorder, caller: str) -> AmiEvent | None:
    """SIPp appends its call number to the caller id: match the prefix."""
    for event in recorder.named("Hangup"):
        if event.get("CallerIDNum").startswith(caller):
            return event
    return None


async def test_citizen_dialing_a_benchmark_extension_gets_no_service(
    ami: AmiClient, recorder: AmiRecorder, sipp_dir: Path
) -> None:
    result = await run_citizens(
        CitizenCalls(calls=1, service="9002", caller="0109002", hangup_after_ms=20_000),
        sipp_dir,
    )
    assert result.ok, result.errors
    hangup = await eventually(
        lambda: _found(recorder, "0109002"), lambda e: e is not None, 20, "the hangup"
    )
    assert hangup is not None
    assert hangup.channel.startswith("PJSIP/citizens-")
    assert hangup.get("Context") == "from-citizens"
    assert not recorder.where("DialBegin")  # no consultant was rung


async def test_caller_outside_the_carrier_is_not_a_citizen(
    ami: AmiClient, recorder: AmiRecorder, sipp_dir: Path
) -> None:
    result = await run_citizens(
        CitizenCalls(calls=1, caller="0103333", local_ip="127.0.0.3", hangup_after_ms=5_000),
        sipp_dir,
    )
    assert not result.ok and result.successful == 0
    assert not [
        e for e in recorder.named("Newchannel") if e.get("CallerIDNum").startswith("0103333")
    ]


@pytest.fixture
def bench_reachable(pbx: PbxContainer, it_env: ItEnv) -> Iterator[None]:
    """The shared PBX with the benchmarks' endpoint rendered, restored afterwards."""
    settings = it_env.settings
    target = settings.pbx_dir / "generated"
    bench = settings.model_copy(
        update={"pbx": settings.pbx.model_copy(update={"bench_source": "127.0.0.2"})}
    )
    write_generated(target, render_all(bench, fallback_members(bench)))
    pbx.cli("module reload res_pjsip.so")
    try:
        yield
    finally:
        write_generated(target, render_all(settings, fallback_members(settings)))
        pbx.cli("module reload res_pjsip.so")


async def test_benchmarks_reach_their_extensions_from_their_address(
    bench_reachable: None, ami: AmiClient, recorder: AmiRecorder, sipp_dir: Path
) -> None:
    result = await run_citizens(
        CitizenCalls(calls=1, service="9001", caller="0109001", local_ip="127.0.0.2"),
        sipp_dir,
    )
    assert result.ok, result.errors
    hangup = await eventually(
        lambda: _found(recorder, "0109001"), lambda e: e is not None, 20, "the hangup"
    )
    assert hangup is not None
    assert hangup.channel.startswith("PJSIP/bench-")
    assert hangup.get("Context") == "dasan-bench"


def test_shipped_config_passes_the_audit(it_env: ItEnv) -> None:
    report = dasan_json(it_env, "pbx", "audit")
    assert report["passed"], report["issues"]
