"""The cluster's layout and Kamailio's configuration, rendered without starting anything."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from dasan.cluster.claims import claim_key
from dasan.cluster.kamailio import parse_dispatcher_list
from dasan.cluster.kamailio_cfg import PROBE_OK_CODES, dispatcher_list, render_cfg
from dasan.cluster.nodes import node_overrides
from dasan.cluster.topology import IFNAME_MAX, MAX_NODES, TopologyError, plan
from dasan.config import Settings


@pytest.mark.parametrize("network", ["198.51.100.0/24", "203.0.113.0/24"])
def test_every_address_is_in_the_documentation_network(tmp_path: Path, network: str) -> None:
    topology = plan(tmp_path, MAX_NODES, network)
    net = ipaddress.ip_network(network)
    addresses = [topology.host_address, topology.kamailio_address]
    addresses += [n.address for n in topology.nodes]
    assert len(set(addresses)) == len(addresses)
    assert all(ipaddress.ip_address(a) in net for a in addresses)
    links = [topology.bridge, topology.kamailio_link, *(n.host_link for n in topology.nodes)]
    assert all(len(name) <= IFNAME_MAX for name in links)
    assert len(set(topology.netns_names)) == MAX_NODES + 1


@pytest.mark.parametrize("network", ["10.0.0.0/24", "192.0.2.0/24", "198.51.100.0/25", "x"])
def test_other_networks_are_refused(tmp_path: Path, network: str) -> None:
    with pytest.raises(TopologyError):
        plan(tmp_path, 2, network)


@pytest.mark.parametrize("nodes", [0, MAX_NODES + 1])
def test_node_count_is_bounded(tmp_path: Path, nodes: int) -> None:
    with pytest.raises(TopologyError, match="--nodes"):
        plan(tmp_path, nodes)


def test_two_folders_never_share_names(tmp_path: Path) -> None:
    one, two = plan(tmp_path / "a", 2), plan(tmp_path / "b", 2)
    assert one.tag != two.tag
    assert not set(one.netns_names) & set(two.netns_names)
    assert plan(tmp_path / "a", 2) == one  # stable for a folder


def test_dispatcher_probes_every_node_and_kamailio_config_names_them(tmp_path: Path) -> None:
    topology = plan(tmp_path, 3)
    listed = [line.split() for line in dispatcher_list(topology).splitlines()[1:]]
    assert [(row[0], row[1], row[2]) for row in listed] == [
        ("1", f"sip:{n.address}:5060", "8") for n in topology.nodes
    ]
    cfg = render_cfg(topology, "/mods/", "/d.list", "/ctl")
    assert f"listen=udp:{topology.kamailio_address}:5060" in cfg
    assert '"ds_probing_mode", 1' in cfg
    # Kamailio's own timeout reply must never count as a healthy node.
    assert "408" not in PROBE_OK_CODES and "class=4" not in PROBE_OK_CODES
    assert 'ds_mark_dst("ip")' in cfg and "ds_next_dst()" in cfg


RPC_OUTPUT = """{
\tNRSETS: 1
\tRECORDS: {
\t\tSET: {
\t\t\tID: 1
\t\t\tTARGETS: {
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:198.51.100.12:5060
\t\t\t\t\tFLAGS: IP
\t\t\t\t\tPRIORITY: 0
\t\t\t\t}
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:198.51.100.11:5060
\t\t\t\t\tFLAGS: AP
\t\t\t\t\tPRIORITY: 0
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
"""


def test_dispatcher_list_rpc_is_read_as_health() -> None:
    found = {d.uri: (d.state, d.probing) for d in parse_dispatcher_list(RPC_OUTPUT)}
    assert found == {
        "sip:198.51.100.12:5060": ("inactive", True),
        "sip:198.51.100.11:5060": ("active", True),
    }
    assert parse_dispatcher_list("") == []


def test_a_node_takes_citizens_from_the_front_only_and_shares_the_brain(tmp_path: Path) -> None:
    topology = plan(tmp_path, 2)
    base = Settings(state_dir=tmp_path / "state")
    env = node_overrides(base, topology, topology.nodes[1], tmp_path / "cluster")
    assert env["DASAN_PBX__SIP_HOST"] == topology.nodes[1].address
    assert json.loads(env["DASAN_PBX__CARRIER_ADDRESSES"]) == [f"{topology.kamailio_address}/32"]
    assert env["DASAN_ACD__SHARED_CLAIMS"] == "true"
    assert env["DASAN_STATE_DIR"].endswith("node2")
    assert topology.host_address in env["DASAN_CONSULTANTS__STATIC_CONTACT"]
    other = node_overrides(base, topology, topology.nodes[0], tmp_path / "cluster")
    # Shared: one key ring, one secrets file; each node its own state.
    for key in ("DASAN_RECORDINGS__KEY_FILE", "DASAN_SECRETS_FILE"):
        assert env[key] == other[key]
    assert env["DASAN_STATE_DIR"] != other["DASAN_STATE_DIR"]


def test_claim_keys_are_stable_signed_64_bit_and_distinct() -> None:
    keys = {claim_key(f"c{i:04d}") for i in range(1, 472)}
    assert len(keys) == 471
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert claim_key("c0001") == claim_key("c0001")


def test_host_files_for_compose(tmp_path: Path) -> None:
    from dasan.cluster.hosts import host_topology, write_host_files

    topology = host_topology("198.51.100.2", "198.51.100.1", ["198.51.100.11", "198.51.100.12"])
    write_host_files(tmp_path, topology, Settings(state_dir=tmp_path / "state"))
    listed = (tmp_path / "kamailio" / "dispatcher.list").read_text()
    assert "sip:198.51.100.11:5060" in listed and "sip:198.51.100.12:5060" in listed
    env = (tmp_path / "node2" / "node.env").read_text()
    assert "DASAN_PBX__SIP_HOST=198.51.100.12\n" in env
    conf = (tmp_path / "node2" / "asterisk-config" / "asterisk.conf").read_text()
    assert "systemname = dasan-node2" in conf
    with pytest.raises(ValueError, match="not in"):
        host_topology("198.51.100.2", "203.0.113.1", ["198.51.100.11"])
