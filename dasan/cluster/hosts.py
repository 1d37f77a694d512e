"""The cluster's files for real hosts (``compose.yaml``): ``python -m dasan.cluster.hosts``.

Writes, from the very code ``dasan cluster up`` uses on one machine:
- ``kamailio/kamailio.cfg`` and ``kamailio/dispatcher.list`` for the front;
- ``nodeK/node.env``: the environment that makes the shared configuration node K's (the
  engine reads it; ``dasan pbx render`` with it writes the node's generated PBX files);
- ``nodeK/asterisk.conf``: the shipped one with the node's own system name.

Usage: python -m dasan.cluster.hosts OUT --front 198.51.100.2 --consultants 198.51.100.1
       --node 198.51.100.11 --node 198.51.100.12
       [--registered --storage-url URL]   # phones register at Kamailio (usrloc in PostgreSQL)

With ``--registered`` Kamailio is the consultants' registrar in the engines' database
(``URL``, the engines' ``storage.url``); its tables and the consultants' credentials are
written by ``python -m dasan.cluster.registrar`` once the database and secrets exist.
"""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

from dasan.cluster import registrar
from dasan.cluster.kamailio_cfg import RegistrarCfg, dispatcher_list, render_cfg
from dasan.cluster.nodes import REGISTERED, STATIC, node_overrides, write_asterisk_config
from dasan.cluster.topology import Node, Topology
from dasan.config import Settings

# Where the files sit inside the containers of compose.yaml.
KAMAILIO_DIR = "/etc/kamailio"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
STATE_DIR = Path("/srv/dasan/var")


def host_topology(front: str, consultants: str, nodes: list[str]) -> Topology:
    """A topology of given addresses (one network, a /24 holding them all)."""
    net = ipaddress.ip_network(f"{front}/24", strict=False)
    for address in (consultants, *nodes):
        if ipaddress.ip_address(address) not in net:
            raise ValueError(f"{address} is not in {net} with the front {front}")
    members = tuple(
        Node(index=k, name=f"node{k}", netns="", host_link="", address=address)
        for k, address in enumerate(nodes, start=1)
    )
    return Topology(
        tag="host",
        network=str(net),
        prefix=net.prefixlen,
        bridge="",
        host_address=consultants,
        kamailio_netns="",
        kamailio_link="",
        kamailio_address=front,
        nodes=members,
    )


def registrar_cfg(storage_url: str) -> RegistrarCfg:
    """Kamailio's registrar over TCP to the engines' database (a host of its own has no
    shared socket folder)."""
    target = registrar.db_target(storage_url)
    if target.socket_dir or "@/" in target.kamailio_url:
        raise ValueError("--storage-url must name a host: Kamailio runs on a host of its own")
    return RegistrarCfg(
        db_url=target.kamailio_url,
        realm=registrar.REALM,
        location_table=registrar.LOCATION_TABLE,
        subscriber_table=registrar.SUBSCRIBER_TABLE,
        version_table=registrar.VERSION_TABLE,
    )


def write_host_files(
    out: Path, topology: Topology, base: Settings, storage_url: str | None = None
) -> list[Path]:
    """The front's and nodes' files; ``storage_url``: registered consultants."""
    reg = registrar_cfg(storage_url) if storage_url else None
    written = []
    kam = out / "kamailio"
    kam.mkdir(parents=True, exist_ok=True)
    (kam / "dispatcher.list").write_text(dispatcher_list(topology), encoding="utf-8")
    (kam / "kamailio.cfg").write_text(
        render_cfg(
            topology,
            KAMAILIO_MODULES,
            f"{KAMAILIO_DIR}/dispatcher.list",
            "/run/kamailio/kamailio_ctl",
            registrar=reg,
        ),
        encoding="utf-8",
    )
    written += [kam / "dispatcher.list", kam / "kamailio.cfg"]
    for node in topology.nodes:
        folder = out / node.name
        folder.mkdir(parents=True, exist_ok=True)
        env = node_overrides(
            base,
            topology,
            node,
            STATE_DIR / "cluster",
            consultants=REGISTERED if reg else STATIC,
            location_table=registrar.LOCATION_TABLE,
        )
        # On a host of its own the node's Asterisk config is the image's, with its own name.
        env.pop("DASAN_PBX__CONFIG_DIR")
        (folder / "node.env").write_text(
            "".join(f"{key}={value}\n" for key, value in sorted(env.items())), encoding="utf-8"
        )
        write_asterisk_config(base, node, folder / "asterisk-config")
        written.append(folder / "node.env")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--front", required=True, help="Kamailio's address")
    parser.add_argument("--consultants", required=True, help="the consultants' phones' host")
    parser.add_argument("--node", action="append", required=True, help="a PBX node's address")
    parser.add_argument(
        "--registered", action="store_true", help="phones register at Kamailio (usrloc)"
    )
    parser.add_argument("--storage-url", help="the engines' storage.url (with --registered)")
    args = parser.parse_args(argv)
    if args.registered != bool(args.storage_url):
        parser.error("--registered and --storage-url go together")
    topology = host_topology(args.front, args.consultants, args.node)
    base = Settings(state_dir=STATE_DIR, cache_dir=STATE_DIR / "cache")
    for path in write_host_files(args.out, topology, base, args.storage_url):
        print(path)


if __name__ == "__main__":
    main()
