"""Where each part of a one-machine cluster lives: names, addresses, ports (pure, no I/O).

Invariants:
- Every address comes from one documentation network, 198.51.100.0/24 or 203.0.113.0/24
  (RFC 5737): nothing here can ever be routed to a real host.
- The host side of the links (the bridge) takes .1, Kamailio .2, node k takes .(10 + k).
- Interface and namespace names carry a short tag derived from the cluster's folder, so two
  clusters (two checkouts, two test runs) never share a name; Linux limits interface names
  to 15 characters.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

DOC_NETWORKS = (
    ipaddress.ip_network("198.51.100.0/24"),
    ipaddress.ip_network("203.0.113.0/24"),
)
MAX_NODES = 20
SIP_PORT = 5060
CONSULTANT_PORT = 5090
IFNAME_MAX = 15


class TopologyError(ValueError):
    """The cluster cannot be laid out as asked (bad network, too many nodes)."""


@dataclass(frozen=True)
class Node:
    """One PBX node: Asterisk and its engine in the network namespace ``netns``."""

    index: int
    name: str
    netns: str
    host_link: str  # the veth end on the host, enslaved to the bridge
    address: str


@dataclass(frozen=True)
class Topology:
    tag: str
    network: str
    prefix: int
    bridge: str
    host_address: str
    kamailio_netns: str
    kamailio_link: str
    kamailio_address: str
    nodes: tuple[Node, ...]

    @property
    def netns_names(self) -> tuple[str, ...]:
        return (self.kamailio_netns, *(node.netns for node in self.nodes))


def cluster_tag(folder: Path) -> str:
    """Four hex digits from the cluster's folder: stable for it, distinct between folders."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:4]


def plan(folder: Path, nodes: int, network: str = "198.51.100.0/24") -> Topology:
    """The layout of a cluster of ``nodes`` PBX nodes kept in ``folder``."""
    if not 1 <= nodes <= MAX_NODES:
        raise TopologyError(f"--nodes must be between 1 and {MAX_NODES} (got {nodes})")
    try:
        net = ipaddress.ip_network(network)
    except ValueError as exc:
        raise TopologyError(f"not a network: {network!r}") from exc
    if net not in DOC_NETWORKS:
        raise TopologyError(
            f"{network} is not allowed: the cluster uses only 198.51.100.0/24 or 203.0.113.0/24"
        )
    tag = cluster_tag(folder)
    base = net.network_address
    members = tuple(
        Node(
            index=k,
            name=f"node{k}",
            netns=f"dasan-{tag}-n{k}",
            host_link=f"dsn{tag}n{k}",
            address=str(base + 10 + k),
        )
        for k in range(1, nodes + 1)
    )
    topology = Topology(
        tag=tag,
        network=str(net),
        prefix=net.prefixlen,
        bridge=f"dsn{tag}br",
        host_address=str(base + 1),
        kamailio_netns=f"dasan-{tag}-kam",
        kamailio_link=f"dsn{tag}k",
        kamailio_address=str(base + 2),
        nodes=members,
    )
    for name in (topology.bridge, topology.kamailio_link, *(n.host_link for n in members)):
        assert len(name) <= IFNAME_MAX, name
    return topology
