"""The cluster's links: a bridge on the host, one network namespace and veth pair per member.

Invariants:
- ``create`` builds everything or, on the first failure, removes what it built and raises.
- ``remove`` removes every namespace and link of the topology that exists and is idempotent;
  deleting a namespace also deletes the veth end inside it, and deleting the host end deletes
  its peer.
- No route leaves the documentation network: namespaces get their address and loopback only,
  no default route, and the host's forwarding settings are never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from dasan.cluster.topology import Topology

NETNS_DIR = Path("/run/netns")


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the message holds the command and its error."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")
    return proc


def link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def _member(topology: Topology, netns: str, host_link: str, address: str) -> None:
    _ip("netns", "add", netns)
    _ip("link", "add", host_link, "type", "veth", "peer", "name", "eth0", "netns", netns)
    _ip("link", "set", host_link, "master", topology.bridge, "up")
    _ip("-n", netns, "addr", "add", f"{address}/{topology.prefix}", "dev", "eth0")
    _ip("-n", netns, "link", "set", "eth0", "up")
    _ip("-n", netns, "link", "set", "lo", "up")


def create(topology: Topology) -> None:
    """The bridge (host address), Kamailio's namespace and every node's namespace."""
    try:
        if not link_exists(topology.bridge):
            _ip("link", "add", topology.bridge, "type", "bridge")
            _ip("addr", "add", f"{topology.host_address}/{topology.prefix}", "dev", topology.bridge)
            _ip("link", "set", topology.bridge, "up")
        members = [(topology.kamailio_netns, topology.kamailio_link, topology.kamailio_address)]
        members += [(n.netns, n.host_link, n.address) for n in topology.nodes]
        for netns, link, address in members:
            if not netns_exists(netns):
                _member(topology, netns, link, address)
    except NetnsError:
        remove(topology)
        raise


def remove(topology: Topology) -> list[str]:
    """Delete the topology's namespaces and links; returns what was there and is now gone."""
    removed: list[str] = []
    for netns in topology.netns_names:
        if netns_exists(netns):
            _ip("netns", "del", netns, check=False)
            removed.append(f"netns {netns}")
    links = [topology.kamailio_link, *(n.host_link for n in topology.nodes), topology.bridge]
    for link in links:
        if link_exists(link):
            _ip("link", "del", link, check=False)
            removed.append(f"link {link}")
    return removed


def leftovers(topology: Topology) -> list[str]:
    """What of the topology still exists (empty after a clean ``remove``)."""
    out = [f"netns {n}" for n in topology.netns_names if netns_exists(n)]
    links = [topology.kamailio_link, *(n.host_link for n in topology.nodes), topology.bridge]
    return out + [f"link {link}" for link in links if link_exists(link)]
