"""Network namespaces joined by veth links for the deployment tests, always removed.

The current namespace is the PBX host. ``topology()`` adds a consultants' LAN host, a carrier
host and an attacker host (addresses from 198.51.100.0/24 and 203.0.113.0/24 only, one /28
per link), each on a veth link to the PBX host, and deletes them (and so their links) on the
way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

PBX_LAN = "198.51.100.1"
LAN_HOST = "198.51.100.10"
PBX_CARRIER = "203.0.113.1"
CARRIER_HOST = "203.0.113.10"
PBX_ATTACKER = "203.0.113.65"
ATTACKER_HOST = "203.0.113.66"


@dataclass(frozen=True)
class Topology:
    lan: str  # namespace names
    carrier: str
    attacker: str
    lan_if: str  # the host end of each link inside its namespace
    carrier_if: str


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


def _link(ns: str, host_if: str, peer_if: str, pbx_addr: str, addr: str) -> None:
    ip("netns", "add", ns)
    ip("link", "add", host_if, "type", "veth", "peer", "name", peer_if)
    ip("link", "set", peer_if, "netns", ns)
    ip("addr", "add", f"{pbx_addr}/28", "dev", host_if)
    ip("link", "set", host_if, "up")
    ip("-n", ns, "addr", "add", f"{addr}/28", "dev", peer_if)
    ip("-n", ns, "link", "set", peer_if, "up")
    ip("-n", ns, "link", "set", "lo", "up")
    ip("-n", ns, "route", "add", "default", "via", pbx_addr)


@contextlib.contextmanager
def topology() -> Iterator[Topology]:
    tag = os.getpid() % 100_000
    topo = Topology(
        f"dsec-lan-{tag}", f"dsec-car-{tag}", f"dsec-atk-{tag}", f"dl{tag}p", f"dc{tag}p"
    )
    try:
        _link(topo.lan, f"dl{tag}", topo.lan_if, PBX_LAN, LAN_HOST)
        _link(topo.carrier, f"dc{tag}", topo.carrier_if, PBX_CARRIER, CARRIER_HOST)
        _link(topo.attacker, f"dx{tag}", f"dx{tag}p", PBX_ATTACKER, ATTACKER_HOST)
        yield topo
    finally:
        for ns in (topo.lan, topo.carrier, topo.attacker):  # their veth ends go with them
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        for host_if in (f"dl{tag}", f"dc{tag}", f"dx{tag}"):
            subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
