"""Issue 18, registered consultants: Kamailio is the consultants' registrar in front of two PBX
nodes (``dasan cluster up --consultants registered``), their contacts kept in PostgreSQL.

1. A wrong password registers nobody (401) and leaves no row in Kamailio's location table.
2. Consultants registered once at Kamailio become offerable on BOTH nodes (each engine reads
   the location table); one that registers and then unregisters is out again on both.
3. Calls to 120 spread over both nodes; each is answered by a registered consultant reached
   through Kamailio (the node dials the consultant at the front, which looks them up), and is
   recorded exactly once in the one catalog.
4. Nobody unregistered is offered a call: no call went to a consultant outside the registered
   set, and Kamailio never had to refuse a call for want of a registration.
5. ``dasan cluster down`` leaves no namespace or link behind.

``make cluster`` runs it (CLUSTER_FULL=1; 36-41 s on the 2-core machine when quiet), ``make
test`` skips it: its own two PBX nodes would add that much to make test's budget.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from dasan.cluster.runtime import Cluster
from dasan.pbx.render import consultant_password
from dasan.sipp import ConsultantUas
from tests.integration.acd.journal import states
from tests.integration.cluster.test_cluster import (
    dasan,
    node_of,
    place,
    recordings_per_call,
    running_cluster,
    settled_calls,
)
from tests.integration.security.register import Registration, register
from tests.integration.support import (
    PG_SOCKET,
    ItEnv,
)

REGISTERED = tuple(f"c{n:04d}" for n in range(1, 7))
LEAVES = "c0007"  # registers, then unregisters before any call
WRONG = "c0008"  # tries a wrong password
CALLS = 6
pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(
        os.environ.get("CLUSTER_FULL") != "1",
        reason="make cluster runs it (CLUSTER_FULL=1): two more PBX nodes are beyond make test's"
        " time budget",
    ),
]


@pytest.fixture(scope="module")
def registered_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ItEnv, Any]]:
    root = tmp_path_factory.mktemp("dasan-cluster-reg")
    with running_cluster(root, "dasan_cluster_reg", "--consultants", "registered") as found:
        yield found


async def locations(database: str) -> dict[str, str]:
    """Kamailio's location table: consultant -> contact."""
    connection = await asyncpg.connect(f"postgresql://root@/{database}?host={PG_SOCKET}")
    try:
        rows = await connection.fetch("SELECT username, contact FROM kamailio.location")
    finally:
        await connection.close()
    return {row["username"]: row["contact"] for row in rows}


async def reach_state(
    state_dirs: list[Path], consultant: str, wanted: str, reason: str | None, after: dict[Path, int]
) -> None:
    """Every node's ACD logs ``consultant`` entering ``wanted`` (with ``reason``)."""
    deadline = time.monotonic() + 20
    while True:
        done = [
            any(
                r["state"] == wanted and r["reason"] == reason
                for r in states(folder, consultant)[after.get(folder, 0) :]
            )
            for folder in state_dirs
        ]
        if all(done):
            return
        assert time.monotonic() < deadline, f"{consultant} not {wanted} on every node: {done}"
        await asyncio.sleep(0.2)


async def test_registered_consultants_are_reached_from_every_node(
    registered_env: tuple[ItEnv, Any], tmp_path: Path
) -> None:
    began = time.monotonic()
    env, up = registered_env
    assert up["consultants"] == "registered", up
    assert up["registered"] == [], up
    assert [n["health"] for n in up["nodes"]] == ["active", "active"], up
    kam_ip, kam_port = up["kamailio"]["address"].split(":")
    front = f"{kam_ip}:{kam_port}"
    host = up["host_address"]
    cluster = Cluster(env.settings, env.config_path)
    topology = cluster.topology()
    assert topology is not None
    members = cluster.nodes(topology)
    node_dirs = [m.settings.state_dir for m in members]
    # The nodes' own credentials (the cluster's secret, not the default one).
    directory = members[0].settings.consultants
    assert directory.location_table == "kamailio.location"
    secret = directory.password_secret.get_secret_value()
    assert secret != env.settings.consultants.password_secret.get_secret_value()

    def phone(cid: str, **kw: Any) -> Registration:
        return Registration(cid, consultant_password(secret, cid), local_ip=host, **kw)

    # 1. A wrong password: challenged again, never stored.
    await register(
        Registration(WRONG, "not-the-password", local_ip=host, expect=401), tmp_path / "bad", front
    )
    # Nor may one consultant's credentials register another's phone.
    borrowed = consultant_password(secret, "c0001")
    await register(
        Registration(WRONG, borrowed, local_ip=host, auth_user="c0001", expect=401),
        tmp_path / "other",
        front,
    )
    # 2. Registered once at the front, offerable on both nodes.
    for cid in (*REGISTERED, LEAVES):
        await register(phone(cid), tmp_path / cid, front)
    stored = await locations(env.database)
    assert set(stored) == {*REGISTERED, LEAVES}, stored
    assert all(contact.endswith(f"@{host}:5090") for contact in stored.values()), stored
    for cid in (*REGISTERED, LEAVES):
        await reach_state(node_dirs, cid, "ready", None, {})
    marks = {folder: len(states(folder, LEAVES)) for folder in node_dirs}
    # Contact * from another port (the consultants' UAS takes 5090 below).
    await register(phone(LEAVES, expires=0, port=5095), tmp_path / "leave", front)
    await reach_state(node_dirs, LEAVES, "not_ready", "unregistered", marks)
    assert LEAVES not in await locations(env.database)
    status = await asyncio.to_thread(dasan, env, "cluster", "status", "--json")
    assert status["registered"] == list(REGISTERED), status

    # 3. Calls spread over both nodes, each answered by a registered consultant via Kamailio.
    async with ConsultantUas(tmp_path / "uas", ring_ms=300, talk_ms=3000, local_ip=host):
        result = await place(
            host, (kam_ip, int(kam_port)), CALLS, tmp_path / "calls", rate=3.0,
            hangup_after_ms=40_000,
        )  # fmt: skip
        assert result.ok, result.errors
        calls = await settled_calls(env.settings, set(), CALLS)
    per_node = Counter(node_of(c) for c in calls)
    assert set(per_node) == {"node1", "node2"}, per_node
    answered_by = Counter(c["consultant"] for c in calls)
    # 4. Only registered consultants were offered calls, whichever node had the call.
    assert set(answered_by) <= set(REGISTERED), answered_by
    once = await recordings_per_call(env.settings, [c["uniqueid"] for c in calls])
    assert all(once[c["uniqueid"]] == 1 for c in calls), once
    front_log = cluster.front(topology).tail(100_000)
    through_front = front_log.count("to consultant ")
    assert through_front >= CALLS, front_log[-3000:]
    assert "not registered" not in front_log, front_log[-3000:]
    # The consultants' BYEs come back to Kamailio without a route set (SIPp ignores
    # Record-Route) and are relayed to the node by their R-URI.
    relayed_by_ruri = front_log.count("without route set -> node")
    print(
        {
            "front": front,
            "cluster_up_s": up["up_s"],
            "test_s_after_up": round(time.monotonic() - began, 1),
            "per_node": dict(per_node),
            "answered_by": dict(answered_by),
            "consultant_invites_through_front": through_front,
            "in_dialog_relayed_by_ruri": relayed_by_ruri,
        }
    )

    # 5. Down removes everything.
    down = dasan(env, "cluster", "down", "--json")
    assert down["leftovers"] == [], down
