"""Registered consultants (``dasan cluster up --consultants registered``), rendered without
starting anything: Kamailio's registrar configuration, the nodes' overrides, the credentials
and the presence read from the location table."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from dasan.cluster.kamailio_cfg import RegistrarCfg, render_cfg
from dasan.cluster.nodes import REGISTERED, node_overrides
from dasan.cluster.registrar import REALM, RegistrarError, db_target, subscribers
from dasan.cluster.topology import plan
from dasan.config import ConsultantDirectorySettings, Settings
from dasan.pbx.render import consultant_password, render_consultants
from dasan.presence import Registrations, live_locations

pytestmark = pytest.mark.unit


def test_registrar_config_authenticates_saves_in_the_database_and_looks_up(
    tmp_path: Path,
) -> None:
    topology = plan(tmp_path, 2)
    static = render_cfg(topology, "/mods/", "/d.list", "/ctl")
    assert "REGISTER" not in static and "usrloc" not in static
    cfg = render_cfg(
        topology, "/mods/", "/d.list", "/ctl", registrar=RegistrarCfg("postgres://u@/db")
    )
    for module in ("db_postgres", "usrloc", "registrar", "auth_db"):
        assert f'loadmodule "{module}.so"' in cfg
    assert 'modparam("usrloc", "db_mode", 3)' in cfg
    assert 'version_table="kamailio.version"' in cfg
    assert 'auth_check("dasan", "kamailio.subscriber", "1")' in cfg
    assert 'save("kamailio.location")' in cfg and 'lookup("kamailio.location")' in cfg
    # Only what comes from a node is looked up as a consultant; the rest goes to the nodes.
    assert 'if (ds_is_from_list("1")) {\n        route(TOCONSULTANT);' in cfg
    # An in-dialog request without a Route set is relayed only to a node.
    assert 'ds_is_from_list("1", "0", "$ru")' in cfg


def test_registered_nodes_dial_consultants_through_the_front(tmp_path: Path) -> None:
    topology = plan(tmp_path, 2)
    base = Settings(state_dir=tmp_path / "state")
    env = node_overrides(
        base, topology, topology.nodes[0], tmp_path / "cluster", consultants=REGISTERED
    )
    contact = env["DASAN_CONSULTANTS__STATIC_CONTACT"]
    assert contact == f"sip:{{id}}@{topology.kamailio_address}:5060"
    assert env["DASAN_CONSULTANTS__LOCATION_TABLE"] == "kamailio.location"
    static = node_overrides(base, topology, topology.nodes[0], tmp_path / "cluster")
    assert "DASAN_CONSULTANTS__LOCATION_TABLE" not in static


def test_consultants_reached_through_a_registrar_keep_their_contact(tmp_path: Path) -> None:
    directory = ConsultantDirectorySettings(
        count=2, static_contact="sip:{id}@198.51.100.2:5060", location_table="kamailio.location"
    )
    settings = Settings(state_dir=tmp_path, consultants=directory)
    rendered = render_consultants(settings)
    assert rendered.count("rewrite_contact = no") == 2
    assert "contact = sip:c0002@198.51.100.2:5060" in rendered
    assert "rewrite_contact" not in render_consultants(Settings(state_dir=tmp_path))


@pytest.mark.parametrize("table", ["location; DROP TABLE x", "a.b.c", "1abc", ""])
def test_a_location_table_must_be_an_identifier(table: str) -> None:
    with pytest.raises(ValidationError):
        ConsultantDirectorySettings(location_table=table)


def test_subscribers_hold_the_nodes_passwords_as_ha1_only() -> None:
    directory = ConsultantDirectorySettings(count=3, password_secret=SecretStr("k" * 40))
    rows = subscribers(directory)
    assert [r[0] for r in rows] == ["c0001", "c0002", "c0003"]
    password = consultant_password("k" * 40, "c0002")
    expected = hashlib.md5(f"c0002:{REALM}:{password}".encode()).hexdigest()
    assert rows[1] == ("c0002", REALM, expected, rows[1][3])
    assert all(password not in value for value in rows[1])


def test_kamailio_reaches_postgresql_as_the_engines_do() -> None:
    socket = db_target("postgresql+asyncpg://root@/dasan?host=/var/run/postgresql")
    assert socket.kamailio_url == "postgres://root@/dasan"
    assert socket.socket_dir == "/var/run/postgresql"
    assert socket.asyncpg_dsn == "postgresql://root@/dasan?host=/var/run/postgresql"
    tcp = db_target("postgresql+asyncpg://kam:p%40ss@db.example:5433/dasan")
    assert tcp.kamailio_url == "postgres://kam:p%40ss@db.example:5433/dasan"
    assert tcp.socket_dir is None
    named = db_target("postgresql+asyncpg://kam@/dasan?host=db.example")
    assert named.kamailio_url == "postgres://kam@db.example/dasan" and named.socket_dir is None
    with pytest.raises(RegistrarError, match="PostgreSQL"):
        db_target("sqlite+aiosqlite:///x.sqlite3")


def test_presence_from_location_rows_follows_expiry() -> None:
    now = datetime(2026, 12, 3, 8, 0, 0)
    rows = [
        ("c0001", "sip:c0001@198.51.100.1:5090", now + timedelta(seconds=30)),
        ("c0002", "sip:c0002@198.51.100.1:5090", now - timedelta(seconds=1)),
        ("c0003", "sip:c0003@198.51.100.1:5090", datetime(1970, 1, 1)),  # permanent
        ("x9999", "sip:x@198.51.100.1:5090", now + timedelta(seconds=30)),  # not a consultant
    ]
    registrations = Registrations(["c0001", "c0002", "c0003", "c0004"])
    changes = registrations.snapshot(live_locations(rows, now))
    assert sorted(changes) == [("c0001", True), ("c0003", True)]
    # c0001's row is gone (unregistered or expired and removed): unreachable at once.
    assert registrations.snapshot(live_locations(rows[2:], now)) == [("c0001", False)]


def test_host_files_for_registered_consultants(tmp_path: Path) -> None:
    from dasan.cluster.hosts import host_topology, write_host_files

    topology = host_topology("198.51.100.2", "198.51.100.1", ["198.51.100.11"])
    url = "postgresql+asyncpg://dasan:pw@198.51.100.5:5432/dasan"
    write_host_files(tmp_path, topology, Settings(state_dir=tmp_path / "state"), url)
    cfg = (tmp_path / "kamailio" / "kamailio.cfg").read_text()
    assert 'modparam("usrloc", "db_url", "postgres://dasan:pw@198.51.100.5:5432/dasan")' in cfg
    env = (tmp_path / "node1" / "node.env").read_text()
    assert "DASAN_CONSULTANTS__STATIC_CONTACT=sip:{id}@198.51.100.2:5060\n" in env
    assert "DASAN_CONSULTANTS__LOCATION_TABLE=kamailio.location\n" in env
    with pytest.raises(ValueError, match="host"):
        write_host_files(tmp_path, topology, Settings(state_dir=tmp_path), "postgresql://u@/d")


def test_status_names_the_registered_consultants(capsys: pytest.CaptureFixture[str]) -> None:
    from dasan.cluster.cli import _print

    report = {
        "running": True,
        "consultants": "registered",
        "registered": ["c0001", "c0002"],
        "kamailio": {"address": "198.51.100.2:5060", "pid": 7},
        "nodes": [
            {
                "name": "node1",
                "address": "198.51.100.11",
                "health": "active",
                "active_calls": 0,
                "asterisk_pid": 8,
                "engine_pid": 9,
            }
        ],
    }
    _print(report, as_json=False)
    out = capsys.readouterr().out
    assert "consultants registered" in out
    assert "kamailio: 2 c0001 c0002" in out
    _print({**report, "registered": None, "registrar_error": "no table"}, as_json=False)
    assert "unknown (no table)" in capsys.readouterr().out
