"""``dasan cluster up|down|status``: Kamailio and N PBX nodes on one machine.

Invariants:
- ``up`` records the layout (nodes, network) in ``<state>/cluster/cluster.json`` before it
  creates anything, so ``down`` always knows what to remove, even after a failed ``up``.
- ``up`` either leaves a complete cluster or removes what it started and raises; on a
  running cluster it starts only what is not running (a crashed node comes back).
- ``down`` removes everything ``up`` made: engines, Asterisk instances, Kamailio, namespaces
  and links; it is idempotent and reports what it found still there afterwards.
- Nodes share one PostgreSQL database: a cluster on SQLite would have one brain per node,
  so it is refused.
- The consultants' mode (``static`` or ``registered``) is part of the layout: a cluster up
  in one mode is never restarted in the other without ``down`` first.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from dasan.cluster import netns, registrar
from dasan.cluster.kamailio import KamailioError, KamailioFront
from dasan.cluster.kamailio_cfg import RegistrarCfg
from dasan.cluster.nodes import (
    CONSULTANT_MODES,
    REGISTERED,
    STATIC,
    ClusterNode,
    NodeError,
    node_overrides,
    node_settings,
)
from dasan.cluster.topology import SIP_PORT, Topology, plan
from dasan.config import Settings
from dasan.pbx.container import PbxError
from dasan.pbx.image import PbxImageError
from dasan.security.secrets import write_secrets


class ClusterError(RuntimeError):
    """The cluster could not be brought up, queried or taken down; the message says why."""


class Cluster:
    def __init__(self, base: Settings, config_path: Path | None) -> None:
        self.base = base
        self.config_path = config_path
        self.dir = base.state_dir / "cluster"

    # Layout ------------------------------------------------------------------------
    @property
    def layout_file(self) -> Path:
        return self.dir / "cluster.json"

    def _layout(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self.layout_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def topology(self) -> Topology | None:
        layout = self._layout()
        if layout is None:
            return None
        return plan(self.dir, int(layout["nodes"]), str(layout["network"]))

    def consultants_mode(self) -> str:
        """``static`` or ``registered``, as the running cluster was brought up."""
        layout = self._layout() or {}
        return str(layout.get("consultants", STATIC))

    def nodes(self, topology: Topology) -> list[ClusterNode]:
        out = []
        mode = self.consultants_mode()
        for node in topology.nodes:
            env = node_overrides(
                self.base,
                topology,
                node,
                self.dir,
                consultants=mode,
                location_table=registrar.LOCATION_TABLE,
            )
            out.append(
                ClusterNode(node, node_settings(self.config_path, env), self.config_path, env)
            )
        return out

    def front(self, topology: Topology) -> KamailioFront:
        if self.consultants_mode() != REGISTERED:
            return KamailioFront(self.dir / "kamailio", topology)
        target = registrar.db_target(self.base.storage_url)
        cfg = RegistrarCfg(
            db_url=target.kamailio_url,
            realm=registrar.REALM,
            location_table=registrar.LOCATION_TABLE,
            subscriber_table=registrar.SUBSCRIBER_TABLE,
            version_table=registrar.VERSION_TABLE,
        )
        env = {"PGHOST": target.socket_dir} if target.socket_dir else {}
        return KamailioFront(self.dir / "kamailio", topology, registrar=cfg, env=env)

    # Verbs -------------------------------------------------------------------------
    def up(self, nodes: int, network: str, consultants: str = STATIC) -> dict[str, Any]:
        url = self.base.storage_url
        if not url.startswith("postgresql"):
            raise ClusterError(
                "the cluster's nodes share one database: set storage.url to PostgreSQL"
                f" (now {url.split(':', 1)[0]})"
            )
        if consultants not in CONSULTANT_MODES:
            raise ClusterError(
                f"--consultants must be one of {', '.join(CONSULTANT_MODES)} (got {consultants})"
            )
        current = self.topology()
        if current is not None and len(current.nodes) != nodes:
            raise ClusterError(
                f"a cluster of {len(current.nodes)} nodes is up here: dasan cluster down first"
            )
        if current is not None and self.consultants_mode() != consultants:
            raise ClusterError(
                f"this cluster is up with --consultants {self.consultants_mode()}:"
                " dasan cluster down first"
            )
        topology = plan(self.dir, nodes, network)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(
            json.dumps({"nodes": nodes, "network": network, "consultants": consultants}),
            encoding="utf-8",
        )
        secrets = self.dir / "secrets.toml"
        if not secrets.exists():
            write_secrets(secrets)
        try:
            netns.create(topology)
            members = self.nodes(topology)
            if consultants == REGISTERED:
                # The nodes' own consultant passwords (the cluster's secret) become HA1s.
                registrar.prepare(self.base.storage_url, members[0].settings.consultants)
            for member in members:
                member.start_pbx(self.base)
            # One engine at a time: the first one migrates the shared database.
            for member in members:
                member.start_engine()
            self.front(topology).up()
        except (
            netns.NetnsError,
            PbxError,
            PbxImageError,
            NodeError,
            KamailioError,
            registrar.RegistrarError,
        ) as exc:
            if current is None:  # a fresh cluster half up is taken down; a running one stays
                with contextlib.suppress(Exception):
                    self.down()
            raise ClusterError(str(exc)) from exc
        return self.status()

    def down(self) -> dict[str, Any]:
        topology = self.topology()
        if topology is None:
            return {"running": False, "removed": [], "leftovers": []}
        removed: list[str] = []
        if self.front(topology).down():
            removed.append("kamailio")
        for member in self.nodes(topology):
            for what, stopped in member.stop().items():
                if stopped:
                    removed.append(f"{member.node.name} {what}")
        removed += netns.remove(topology)
        left = netns.leftovers(topology)
        if not left:
            self.layout_file.unlink(missing_ok=True)
        return {"running": False, "removed": removed, "leftovers": left}

    def status(self) -> dict[str, Any]:
        topology = self.topology()
        if topology is None:
            return {"running": False, "nodes": []}
        front = self.front(topology)
        health: dict[str, str] = {}
        front_error = None
        if front.pid() is not None:
            try:
                health = {d.uri: d.state for d in front.destinations()}
            except KamailioError as exc:
                front_error = str(exc)
        nodes = [self._node_status(member, health) for member in self.nodes(topology)]
        registrations: dict[str, Any] = {}
        if self.consultants_mode() == REGISTERED:
            try:
                registrations = {"registered": registrar.registered(self.base.storage_url)}
            except registrar.RegistrarError as exc:
                registrations = {"registered": None, "registrar_error": str(exc)}
        return {
            "running": front.pid() is not None,
            "network": topology.network,
            "host_address": topology.host_address,
            "consultants": self.consultants_mode(),
            "kamailio": {
                "address": f"{topology.kamailio_address}:{SIP_PORT}",
                "netns": topology.kamailio_netns,
                "pid": front.pid(),
                "error": front_error,
            },
            "nodes": nodes,
            **registrations,
        }

    def _node_status(self, member: ClusterNode, health: dict[str, str]) -> dict[str, Any]:
        node = member.node
        uri = f"sip:{node.address}:{SIP_PORT}"
        out: dict[str, Any] = {
            "name": node.name,
            "address": node.address,
            "netns": node.netns,
            "health": health.get(uri, "unknown"),
            "engine_pid": member.engine_pid(),
            "asterisk_pid": None,
            "active_calls": None,
            "active_channels": None,
        }
        with contextlib.suppress(PbxError):
            pbx = member.container().status()
            out.update(
                asterisk_pid=pbx.pid,
                active_calls=pbx.active_calls,
                active_channels=pbx.active_channels,
            )
        return out
