"""A deployed PBX on a real (namespaced) network, run in a network namespace of its own by
``test_deployed_network``: ``python -m tests.integration.security.deployed WORKDIR`` writes
``WORKDIR/result.json`` with what happened.

The PBX host listens beyond loopback, so the engine starts only with strong secrets (written
by ``dasan secrets init``) and without demo users. Consultant c0002 is Debian's baresip on the
LAN host, registered over TLS with SRTP mandatory (the PBX's consultants require SDES SRTP);
no static contacts. A citizen call comes from the carrier host (SIPp), is offered to c0002,
answered, and recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dasan.config import load_settings
from dasan.pbx.render import consultant_password
from dasan.pbx.service import pbx_container, pbx_image, render_generated
from dasan.security.secrets import write_secrets
from dasan.sipp import CitizenCalls, Dtmf, run_citizens
from tests.integration.acd.journal import decisions, events, states
from tests.integration.security.netns import CARRIER_HOST, LAN_HOST, PBX_LAN, Topology, topology

REPO = Path(__file__).resolve().parents[3]
CONSULTANT = "c0002"
TLS_PORT = 5061


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "pbx.crt", folder / "pbx.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            f"/CN={PBX_LAN}",
            "-addext",
            f"subjectAltName=IP:{PBX_LAN}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def write_config(work: Path, cert: Path, key: Path) -> Path:
    secrets = work / "secrets.toml"
    write_secrets(secrets)
    config = work / "dasan.toml"
    config.write_text(
        f'state_dir = "{work / "state"}"\n'
        f'secrets_file = "{secrets}"\n'
        "[pbx]\n"
        'sip_host = "0.0.0.0"\n'
        f'media_address = "{PBX_LAN}"\n'
        f"tls_port = {TLS_PORT}\n"
        f'tls_cert_file = "{cert}"\n'
        f'tls_key_file = "{key}"\n'
        "consultant_srtp = true\n"
        f'carrier_addresses = ["{CARRIER_HOST}/32"]\n'
        "[consultants]\n"
        'static_contact = ""\n'
        "[http]\n"
        "demo_users = false\n"
        "[acd]\n"
        f'logged_in = ["{CONSULTANT}"]\n'
        "[ivr]\n"
        f'prompts_dir = "{REPO / "var" / "prompts"}"\n'
        "[recordings]\n"
        "transcription_enabled = false\n",
        encoding="utf-8",
    )
    return config


def baresip_folder(work: Path, topo: Topology, password: str, cert: Path) -> Path:
    folder = work / "baresip"
    folder.mkdir(parents=True, exist_ok=True)
    modules = ("g711.so", "aufile.so", "aubridge.so", "srtp.so")
    # baresip 1.0's sine source plays 48 kHz only and is not resampled for PCMU: a 16-bit
    # PCM WAV at 8 kHz through aufile instead.
    tone = folder / "tone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(tone),
         "synth", "60", "sine", "440"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    config = [
        f"sip_listen\t{LAN_HOST}:5060",
        f"sip_cafile\t{cert}",
        f"net_interface\t{topo.lan_if}",
        "rtp_ports\t30000-30100",
        f"audio_source\taufile,{tone}",
        "audio_player\taubridge,consultant",
        "audio_alert\taubridge,alert",
        "audio_srate\t8000",
        "audio_channels\t1",
        "module_path\t/usr/lib/baresip/modules",
        *(f"module\t{m}" for m in modules),
        "module_app\taccount.so",
        "module_app\tmenu.so",
    ]
    (folder / "config").write_text("\n".join(config) + "\n", encoding="utf-8")
    account = (
        f"<sip:{CONSULTANT}@{PBX_LAN}:{TLS_PORT};transport=tls>;auth_user={CONSULTANT};"
        f"auth_pass={password};mediaenc=srtp-mand;answermode=auto;audio_codecs=PCMU;regint=600\n"
    )
    (folder / "accounts").write_text(account, encoding="utf-8")
    (folder / "contacts").write_text("", encoding="utf-8")
    return folder


def wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def run(work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    cert, key = make_certificate(work)
    config = write_config(work, cert, key)
    settings = load_settings(config)
    password = consultant_password(
        settings.consultants.password_secret.get_secret_value(), CONSULTANT
    )
    pbx_image(settings).ensure()
    render_generated(settings)
    container = pbx_container(settings)
    engine: subprocess.Popen[bytes] | None = None
    phone: subprocess.Popen[bytes] | None = None
    with topology() as topo:
        try:
            container.up()
            result["audit"] = json.loads(
                _dasan(config, "pbx", "audit", "--json", check=False).stdout or "{}"
            )
            with (work / "engine.log").open("wb") as log:
                engine = subprocess.Popen(
                    [sys.executable, "-m", "dasan", "--config", str(config), "serve"],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=REPO,
                )  # fmt: skip
            wait(lambda: listening(settings.agi.port), 60, "the engine")
            folder = baresip_folder(work, topo, password, cert)
            with (folder / "baresip.log").open("wb") as log:
                phone = subprocess.Popen(
                    ["ip", "netns", "exec", topo.lan, "baresip", "-f", str(folder)],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=folder,
                    env={**os.environ, "HOME": str(folder)}, start_new_session=True,
                )  # fmt: skip
            wait(lambda: f"{CONSULTANT}/" in container.cli("pjsip show contacts"), 30, "REGISTER")
            result["contacts"] = container.cli("pjsip show contacts")
            # The stored contact in full (the CLI table cuts the URI).
            result["registrar"] = container.cli("database show registrar")
            state_dir = settings.state_dir
            wait(
                lambda: any(r["state"] == "ready" for r in states(state_dir, CONSULTANT)),
                20,
                f"{CONSULTANT} ready",
            )
            calls = asyncio.run(
                run_citizens(
                    CitizenCalls(
                        caller="0105550100",
                        digits=(Dtmf("1", 1500), Dtmf("1", 500)),
                        hangup_after_ms=40_000,
                        local_ip=CARRIER_HOST,
                        netns=topo.carrier,
                    ),
                    work / "carrier",
                    pbx=(PBX_LAN, 5060),
                )
            )
            result["sipp"] = {
                "ok": calls.ok,
                "successful": calls.successful,
                "errors": calls.errors[-800:],
            }
            made = decisions(state_dir)
            result["decisions"] = [d["consultant_id"] for d in made]
            result["accepted"] = [e["consultant_id"] for e in events(state_dir, "OfferAccepted")]
            call_ids = {d["call_id"] for d in made}
            wait(
                lambda: all(any(settings.recordings_dir.rglob(f"{c}.*")) for c in call_ids),
                30,
                "the recordings",
            )
            result["recordings"] = [
                str(p) for c in call_ids for p in settings.recordings_dir.rglob(f"{c}.*")
            ]
            result["endpoint"] = container.cli(f"pjsip show endpoint {CONSULTANT}")
            result["citizens_endpoint"] = container.cli("pjsip show endpoint citizens")
        except Exception as exc:  # reported to the test with the logs; cleanup below
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            for proc in (phone, engine):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
            container.down()
    for name in ("engine.log", "baresip/baresip.log"):
        path = work / name
        result[name] = path.read_text(errors="replace")[-3000:] if path.is_file() else ""
    return result


def _dasan(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dasan", "--config", str(config), *args],
        capture_output=True, text=True, cwd=REPO, check=check, timeout=120,
    )  # fmt: skip


def main() -> None:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    (work / "result.json").write_text(json.dumps(run(work), indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
