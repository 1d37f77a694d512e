"""Districts as tenants (issue 18) through the real PBX: SIPp citizens dial the city's 120 and
district numbers (12001 Gangnam, 12002 Mapo, 12003 Jongno); each district's calls go to its own
consultant, a district with nobody logged in goes to the city at once, and a Gangnam call whose
consultant is busy goes to a city consultant after Gangnam's overflow delay (measured from the
ACD journal, which says why). Then a Gangnam supervisor, over HTTP, sees only Gangnam's calls
and figures and is refused the rest."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cti.auth import demo_password
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, ensure_media, run_citizens
from tests.integration.acd.journal import decisions
from tests.integration.support import (
    REPO,
    AmiRecorder,
    EngineProcess,
    ItEnv,
    dasan_json,
    eventually,
    port_open,
    wait_for,
)

GANGNAM, MAPO, JONGNO_ABSENT, SEOCHO = "c0004", "c0002", "c0003", "c0009"
CITY = ("c0001", "c0006", "c0007", "c0008")  # general 5, 4, 2, 2: the city center's
OVERFLOW_S = 8

TENANTS = f"""
districts:
  - id: gangnam
    name: {{ko: 강남구, en: Gangnam-gu}}
    dial: ["12001"]
    consultants: [{GANGNAM}]
    services: [general]
    overflow_after_s: {OVERFLOW_S}
  - id: mapo
    name: {{ko: 마포구, en: Mapo-gu}}
    dial: ["12002"]
    consultants: [{MAPO}]
    services: [general]
    overflow_after_s: {OVERFLOW_S}
  - id: jongno
    name: {{ko: 종로구, en: Jongno-gu}}
    dial: ["12003"]
    consultants: [{JONGNO_ABSENT}]
    services: [general]
    overflow_after_s: {OVERFLOW_S}
  - id: seocho
    name: {{ko: 서초구, en: Seocho-gu}}
    dial: ["12004"]
    consultants: [{SEOCHO}]
    services: [general]
    overflow_after_s: {OVERFLOW_S}
    hours: {{weekdays: [], weekends: [], holidays: []}}  # closed: the city takes its calls
"""
PASSWORD = "gangnam-supervisor-pw"


@pytest.fixture(scope="module")
def engine_env(it_env: ItEnv) -> dict[str, str]:
    path = it_env.root / "tenants.yaml"
    path.write_text(TENANTS, encoding="utf-8")
    logged_in = ", ".join(f'"{c}"' for c in (GANGNAM, MAPO, SEOCHO, *CITY))
    return {
        "DASAN_ACD__TENANTS_FILE": str(path),
        "DASAN_ACD__LOGGED_IN": f"[{logged_in}]",
        "DASAN_IVR__SPEECH_ENABLED": "false",
    }


def _korean_general(caller: str, number: str) -> CitizenCalls:
    return CitizenCalls(
        caller=caller,
        service=number,
        digits=(Dtmf("1", 1500), Dtmf("1", 500)),
        hangup_after_ms=60_000,
    )


async def _call_after(delay_s: float, spec: CitizenCalls, workdir: Path) -> Any:
    await asyncio.sleep(delay_s)  # staggered arrivals: the Gangnam consultant is busy for #5
    return await run_citizens(spec, workdir)


def _uniqueid(recorder: AmiRecorder, caller: str) -> str:
    for event in recorder.named("Newchannel"):
        if event.get("CallerIDNum").startswith(caller) and event.get("Context") == "from-citizens":
            return event.uniqueid
    raise AssertionError(f"no citizen channel from {caller}")


def _add_district_supervisor(env: ItEnv, extra_env: dict[str, str]) -> None:
    """``dasan users add --tenant`` with the engine's tenants file (it checks the district)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dasan",
            "--config",
            str(env.config_path),
            "users",
            "add",
            "sup.gangnam",
            "--role",
            "supervisor",
            "--tenant",
            "gangnam",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env={**os.environ, **extra_env},
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


class Api:
    def __init__(self, session: aiohttp.ClientSession, env: ItEnv) -> None:
        http = env.settings.http
        self._session = session
        self._base = f"http://{http.host}:{http.port}"
        self._token = ""

    async def login(self, user_id: str, password: str) -> Api:
        status, body = await self.get("/api/login", {"user_id": user_id, "password": password})
        assert status == 200, body
        self._token = body["token"]
        return self

    async def get(self, path: str, login: dict[str, str] | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        method = "POST" if login is not None else "GET"
        async with asyncio.timeout(20):
            async with self._session.request(
                method, self._base + path, json=login, headers=headers
            ) as response:
                return response.status, await response.json()


@pytest.mark.timeout(240)
async def test_district_calls_overflow_and_a_district_supervisor_sees_only_its_own(
    engine: EngineProcess,
    consultants: ConsultantUas,
    recorder: AmiRecorder,
    sipp_dir: Path,
    it_env: ItEnv,
) -> None:
    await asyncio.to_thread(ensure_media, sipp_dir / "media")
    plan = [  # (start s, caller, number, expected tenant)
        (0.0, "0105000001", "12001", "gangnam"),
        (0.3, "0105000002", "12002", "mapo"),
        (0.6, "0105000003", "120", "city"),
        (0.9, "0105000004", "12003", "jongno"),
        (1.2, "0105000006", "12004", "seocho"),  # closed, though its consultant is logged in
        (4.0, "0105000005", "12001", "gangnam"),  # Gangnam's consultant is on #1 or wrapping up
    ]
    results = await asyncio.gather(
        *(
            _call_after(delay, _korean_general(caller, number), sipp_dir / f"uac-{caller}")
            for delay, caller, number, _ in plan
        )
    )
    assert all(r.ok for r in results), [r.errors for r in results]

    state = it_env.settings.state_dir
    ids = {caller: _uniqueid(recorder, caller) for _, caller, _, _ in plan}
    routed = {d["call_id"]: d for d in decisions(state) if d["call_id"] in ids.values()}
    assert len(routed) == len(plan), routed
    table = {}
    for _, caller, number, tenant in plan:
        d = routed[ids[caller]]
        waited = next(c["waited_s"] for c in d["calls"] if c["call_id"] == d["call_id"])
        table[caller] = (number, tenant, d["service"], d["consultant_id"], waited, d["reason"])
    print("\nrouting table (number, tenant, queue, consultant, waited s, reason):")
    for row in table.values():
        print("  ", row)

    g1, mapo, city, jongno, seocho, g2 = (table[c] for _, c, _, _ in plan)
    assert g1[2:4] == ("general__gangnam", GANGNAM) and "overflow" not in g1[5]
    assert mapo[2:4] == ("general__mapo", MAPO)
    assert city[2] == "general" and city[3] in CITY
    # Nobody of Jongno is logged in: a city consultant at once, and the journal says why.
    assert jongno[2] == "general__jongno" and jongno[3] in CITY
    assert jongno[4] < OVERFLOW_S
    assert "no consultant of general__jongno staffed" in jongno[5]
    # Seocho is closed: its call waits in the city's queue from the start, never for c0009.
    assert seocho[2] == "general" and seocho[3] in CITY
    assert all(d["consultant_id"] != SEOCHO for d in routed.values())
    # Gangnam's consultant busy: the city after the overflow delay, not before.
    assert g2[2] == "general__gangnam" and g2[3] in CITY
    assert g2[4] >= OVERFLOW_S
    assert f">= {OVERFLOW_S} s" in g2[5]

    # Every call of the log carries its tenant.
    def by_tenant(tenant: str) -> set[str]:
        rows = dasan_json(it_env, "calls", "--last", "50", "--tenant", tenant)
        return {c["id"] for c in rows if c["tenant"] == tenant}

    gangnam_ids = {ids["0105000001"], ids["0105000005"]}
    assert by_tenant("gangnam") == gangnam_ids
    assert by_tenant("mapo") == {ids["0105000002"]}

    # A Gangnam supervisor over HTTP.
    _add_district_supervisor(it_env, engine.extra_env)
    http = it_env.settings.http
    wait_for(lambda: port_open(http.host, http.port), 30, "the engine's HTTP edge")
    async with aiohttp.ClientSession() as session:
        district = await Api(session, it_env).login("sup.gangnam", PASSWORD)
        status, body = await district.get("/api/calllog")
        assert status == 200 and {c["id"] for c in body} == gangnam_ids
        status, _ = await district.get(f"/api/calllog/{ids['0105000002']}")
        assert status == 404  # Mapo's call is not there for Gangnam
        status, _ = await district.get(f"/api/calllog/{ids['0105000001']}")
        assert status == 200
        for path in ("/api/timeline", "/api/queues", "/api/calls"):
            status, _ = await district.get(path)
            assert status == 403, path
        figures = await eventually(
            lambda: district.get("/api/calllog/figures"),
            lambda r: r[1]["total"]["answered"] == 2,
            30,
            "Gangnam's figures",
        )
        body = figures[1]
        assert body["scope"] == "gangnam"
        assert [t["tenant"] for t in body["per_tenant"]] == ["gangnam"]
        assert (body["total"]["offered"], body["total"]["abandoned"]) == (2, 0)
        print("Gangnam figures:", body["total"])

        secret = it_env.settings.http.demo_password_secret.get_secret_value()
        city_user = await Api(session, it_env).login(
            "supervisor", demo_password("supervisor", secret)
        )
        status, body = await city_user.get("/api/calllog/figures")
        assert status == 200 and body["scope"] == "all"
        per = {t["tenant"]: t for t in body["per_tenant"]}
        assert {"city", "gangnam", "mapo", "jongno", "seocho"} <= set(per)
        assert per["gangnam"]["offered"] == 2 and per["mapo"]["offered"] == 1
        assert per["jongno"]["answered"] == 1
        status, _ = await city_user.get("/api/timeline")
        assert status == 200
