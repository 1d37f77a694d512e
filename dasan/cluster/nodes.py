"""One PBX node of the cluster: its settings, its Asterisk container and its engine.

Each node is a whole Dasan installation of its own (state folder, Asterisk, one `dasan serve`
engine) in its own network namespace, sharing with the other nodes only the PostgreSQL
database (so one call log, one recordings catalog, one set of consultant claims), the secrets
and the PBX image. Its engine reaches its Asterisk on the namespace's own loopback (FastAGI,
AMI), exactly as on a one-machine install.

Invariants:
- A node's settings are the operator's configuration with a few overrides given as
  environment variables (which win over the file): the engine process and every in-process
  view of the node read the very same values.
- Every node's Asterisk has its own ``systemname``, so call unique ids (and recording file
  names) never collide in the shared catalog.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from dasan.cluster import procs
from dasan.cluster.topology import CONSULTANT_PORT, SIP_PORT, Node, Topology
from dasan.config import Settings, load_settings
from dasan.paths import project_root
from dasan.pbx.container import PbxContainer
from dasan.pbx.service import config_dirs, pbx_container, pbx_image, render_generated


class NodeError(RuntimeError):
    """A node's engine did not come up; the message holds the end of its log."""


STATIC = "static"
REGISTERED = "registered"
CONSULTANT_MODES = (STATIC, REGISTERED)


def node_overrides(
    base: Settings,
    topology: Topology,
    node: Node,
    cluster_dir: Path,
    *,
    consultants: str = STATIC,
    location_table: str = "kamailio.location",
) -> dict[str, str]:
    """The environment that turns the operator's configuration into this node's.

    ``consultants``: ``static`` phones wait on the host at fixed contacts; ``registered``
    phones register at Kamailio, every node dials them through it, and the engines read who
    is registered from ``location_table``."""
    state = cluster_dir / node.name
    if consultants == REGISTERED:
        reach = {
            "DASAN_CONSULTANTS__STATIC_CONTACT": (
                f"sip:{{id}}@{topology.kamailio_address}:{SIP_PORT}"
            ),
            "DASAN_CONSULTANTS__LOCATION_TABLE": location_table,
        }
    else:
        reach = {
            "DASAN_CONSULTANTS__STATIC_CONTACT": (
                f"sip:{{id}}@{topology.host_address}:{CONSULTANT_PORT}"
            ),
        }
    return {
        "DASAN_STATE_DIR": str(state),
        "DASAN_CACHE_DIR": str(base.cache_dir),
        "DASAN_SECRETS_FILE": str(cluster_dir / "secrets.toml"),
        "DASAN_PBX__SIP_HOST": node.address,
        # Citizens' calls come from the front only.
        "DASAN_PBX__CARRIER_ADDRESSES": json.dumps([f"{topology.kamailio_address}/32"]),
        "DASAN_PBX__CONFIG_DIR": str(state / "asterisk-config"),
        "DASAN_PBX__IMAGE_CACHE_DIR": str(base.image_cache_dir),
        "DASAN_IVR__PROMPTS_DIR": str(base.prompts_dir),
        "DASAN_RECORDINGS__SPOOL_DIR": str(state / "recordings"),
        "DASAN_RECORDINGS__SPARE_DIR": str(state / "recordings-spare"),
        # One key ring for the one catalog: any node's recording opens with it.
        "DASAN_RECORDINGS__KEY_FILE": str(
            base.recordings.key_file or cluster_dir / "keys" / "recordings.key"
        ),
        **reach,
        # Listening beyond loopback: the demo users are refused (dasan.security.defaults).
        "DASAN_HTTP__DEMO_USERS": "false",
        # One routing brain: a consultant is claimed in the shared database before ringing.
        "DASAN_ACD__SHARED_CLAIMS": "true",
    }


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def node_settings(config_path: Path | None, overrides: Mapping[str, str]) -> Settings:
    with _environment(overrides):
        return load_settings(config_path)


def write_asterisk_config(base: Settings, node: Node, target: Path) -> None:
    """The shipped Asterisk configuration with this node's own system name and entity id."""
    source, _dialplans = config_dirs(base)
    # Copied over in place (never removed first): a running node has this folder mounted.
    shutil.copytree(source, target, dirs_exist_ok=True)
    conf = target / "asterisk.conf"
    own = {
        "systemname": f"systemname = dasan-{node.name}",
        "entityid": f"entityid = 02:da:5a:00:{node.index // 256:02x}:{node.index % 256:02x}",
    }
    lines = [
        next((own[key] for key in own if line.startswith(key)), line)
        for line in conf.read_text(encoding="utf-8").splitlines()
    ]
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")


class ClusterNode:
    def __init__(
        self, node: Node, settings: Settings, config_path: Path | None, env: Mapping[str, str]
    ) -> None:
        self.node = node
        self.settings = settings
        self._config_path = config_path
        self._env = dict(env)

    @property
    def engine_pid_file(self) -> Path:
        return self.settings.state_dir / "engine.pid"

    @property
    def engine_log(self) -> Path:
        return self.settings.state_dir / "engine.log"

    def container(self) -> PbxContainer:
        return pbx_container(self.settings, netns=self.node.netns)

    def start_pbx(self, base: Settings) -> bool:
        """Start the node's Asterisk; True when it was not running (a new or crashed node).

        An engine left running beside a crashed Asterisk is restarted, so the node is ready
        (its AMI session new) when ``start_engine`` returns."""
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        write_asterisk_config(base, self.node, self.settings.state_dir / "asterisk-config")
        pbx_image(self.settings).ensure()
        render_generated(self.settings)
        fresh = self.container().up()
        if fresh:
            procs.stop(self.engine_pid_file)
        return fresh

    def start_engine(self, timeout_s: float = 90.0) -> None:
        """`dasan serve` in the node's namespace; returns once it listens for FastAGI."""
        if procs.live_pid(self.engine_pid_file) is not None:
            return
        status = self.settings.state_dir / "engine-status.json"
        status.unlink(missing_ok=True)
        config = ["--config", str(self._config_path)] if self._config_path else []
        with self.engine_log.open("ab") as log:
            proc = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.node.netns,
                    sys.executable,
                    "-m",
                    "dasan",
                    *config,
                    "serve",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=project_root(),
                env={**os.environ, **self._env},
                start_new_session=True,
            )
        procs.write_pid(self.engine_pid_file, proc.pid)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise NodeError(
                    f"{self.node.name}: engine exited ({proc.returncode}):\n{self.tail()}"
                )
            if self.engine_status().get("listening") == "yes":
                return
            time.sleep(0.2)
        raise NodeError(
            f"{self.node.name}: engine not listening after {timeout_s:.0f} s:\n{self.tail()}"
        )

    def engine_status(self) -> dict[str, str]:
        path = self.settings.state_dir / "engine-status.json"
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def engine_pid(self) -> int | None:
        return procs.live_pid(self.engine_pid_file)

    def stop(self) -> dict[str, bool]:
        return {
            "engine": procs.stop(self.engine_pid_file),
            "asterisk": self.container().down(),
        }

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.engine_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""
