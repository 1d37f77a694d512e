"""The attack suite, run in a network namespace of its own by ``test_attacks`` (and in full by
``make attack``): ``python -m tests.integration.security.attack WORKDIR [--full]`` writes
``WORKDIR/result.json``.

While the carrier's host places citizen calls, the attacker's host runs sipvicious (svmap,
svwar, svcrack) and a REGISTER flood at 100/s with SIPp (bounded in count and time). Measured:
whether any registration or call of the attacker succeeded, whether svwar told existing
consultants from unknown names, how long after the attack began its source was banned (AMI
security events -> an nftables set), when it was unbanned, and the carrier calls'
success rate.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dasan.config import load_settings
from dasan.pbx.service import pbx_container, pbx_image, render_generated
from dasan.security.secrets import write_secrets
from dasan.sipp import CitizenCalls, ConsultantUas, Dtmf, run_citizens
from tests.integration.security.deployed import listening, wait
from tests.integration.security.netns import ATTACKER_HOST, CARRIER_HOST, PBX_CARRIER, topology
from tests.integration.security.register import Registration, scenario

REPO = Path(__file__).resolve().parents[3]
BAN_S = 20
WORDS = ("c0001", "c0002", "c0471", "c9990", "c9991", "120", "9001", "nosuch", "admin")


def write_config(work: Path) -> Path:
    secrets = work / "secrets.toml"
    write_secrets(secrets)
    config = work / "dasan.toml"
    config.write_text(
        f'state_dir = "{work / "state"}"\nsecrets_file = "{secrets}"\n'
        f'[pbx]\nsip_host = "0.0.0.0"\nmedia_address = "{PBX_CARRIER}"\n'
        f'carrier_addresses = ["{CARRIER_HOST}/32"]\n'
        "[http]\ndemo_users = false\n"
        f"[bans]\nmax_failures = 5\nwindow_s = 10\nban_s = {BAN_S}\n"
        f'[ivr]\nprompts_dir = "{REPO / "var" / "prompts"}"\n'
        "[recordings]\ntranscription_enabled = false\n",
        encoding="utf-8",
    )
    return config


def banned() -> bool:
    listed = subprocess.run(
        ["nft", "list", "set", "inet", "dasan_bans", "banned4"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return ATTACKER_HOST in listed.stdout


def attacker(ns: str, *cmd: str, timeout: float = 90, cwd: Path | None = None) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "timeout", str(int(timeout)), *cmd],
        capture_output=True, text=True, check=False, timeout=timeout + 10, cwd=cwd,
    )  # fmt: skip
    return done.stdout + done.stderr


def timed_ban(action: Any, timeout: float = 30) -> float | None:
    """Run ``action`` (an attack) in a thread; seconds from its start to the ban (None: no
    ban within ``timeout``). Returns once the attack is over too."""
    started = time.monotonic()
    attack = threading.Thread(target=action, name="attack")
    attack.start()
    try:
        wait(banned, timeout, "the ban")
        seconds: float | None = round(time.monotonic() - started, 2)
    except TimeoutError:
        seconds = None
    attack.join()
    return seconds


def flood(ns: str, work: Path, calls: int) -> str:
    """REGISTER with a wrong password at 100/s from the attacker, in the background."""
    path = work / "flood.xml"
    path.write_text(scenario(Registration("c0001", "wrong", expect=200)), encoding="utf-8")
    cmd = [
        "sipp", f"{PBX_CARRIER}:5060", "-sf", str(path), "-m", str(calls), "-r", "100",
        "-i", ATTACKER_HOST, "-au", "c0001", "-ap", "wrong", "-nostdin", "-timeout", "30s",
        "-recv_timeout", "2000", "-trace_err",
    ]  # fmt: skip
    return attacker(ns, *cmd, timeout=60, cwd=work)  # SIPp writes its error log there


def run(work: Path, full: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"full": full}
    config = write_config(work)
    settings = load_settings(config)
    pbx_image(settings).ensure()
    render_generated(settings)
    container = pbx_container(settings)
    engine: subprocess.Popen[bytes] | None = None
    # The carrier's calls span the whole attack (about 2 minutes): 40 at 0.4/s, or 300 at 1/s.
    carrier_calls, rate = (300, 1.0) if full else (40, 0.4)
    with topology() as topo:
        try:
            container.up()
            with (work / "engine.log").open("wb") as log:
                engine = subprocess.Popen(
                    [sys.executable, "-m", "dasan", "--config", str(config), "serve"],
                    stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=REPO,
                )  # fmt: skip
            wait(lambda: listening(settings.agi.port), 60, "the engine")
            result.update(
                asyncio.run(_under_attack(work, topo.carrier, topo.attacker, carrier_calls, rate))
            )
            result["contacts"] = container.cli("pjsip show contacts")
        except Exception as exc:  # reported with the logs; cleanup below
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if engine is not None and engine.poll() is None:
                engine.send_signal(signal.SIGTERM)
                try:
                    engine.wait(15)
                except subprocess.TimeoutExpired:
                    engine.kill()
                    engine.wait(5)
            container.down()
            subprocess.run(
                ["nft", "delete", "table", "inet", "dasan_bans"],
                capture_output=True,
                check=False,
            )
    log_path = work / "engine.log"
    result["engine.log"] = (
        log_path.read_text(errors="replace")[-3000:] if log_path.is_file() else ""
    )
    return result


async def _under_attack(
    work: Path, carrier: str, atk: str, calls: int, rate: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with ConsultantUas(work / "uas", ring_ms=300, talk_ms=2000):
        citizens = asyncio.create_task(
            run_citizens(
                CitizenCalls(
                    calls=calls, rate=rate, caller="0105559",
                    digits=(Dtmf("1", 1500), Dtmf("1", 500)), hangup_after_ms=60_000,
                    local_ip=CARRIER_HOST, netns=carrier,
                ),
                work / "carrier",
                pbx=(PBX_CARRIER, 5060),
            )
        )  # fmt: skip
        out.update(await asyncio.to_thread(_attacks, work, atk))
        result = await citizens
    out["carrier"] = {
        "placed": calls,
        "successful": result.successful,
        "failed": result.failed,
        "success_rate": round(result.successful / calls, 4),
    }
    return out


def _attacks(work: Path, atk: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["svmap"] = attacker(atk, "svmap", "-p5060", PBX_CARRIER)[-1500:]
    words = work / "words.txt"
    words.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    svwar = attacker(atk, "svwar", "-p5060", "-d", str(words), "-m", "INVITE", PBX_CARRIER)
    out["svwar"] = svwar[-2000:]
    out["svwar_found"] = sorted(w for w in WORDS if re.search(rf"\|\s*{re.escape(w)}\s*\|", svwar))
    # Unknown names count as failed authentication too: svwar may have been banned already.
    out["banned_by_svwar"] = banned()
    if out["banned_by_svwar"]:
        wait(lambda: not banned(), BAN_S + 15, "the unban after svwar")
    svcrack: dict[str, str] = {}

    def crack() -> None:
        svcrack["out"] = attacker(
            atk, "svcrack", "-p5060", "-u", "c0001", "-r", "100000-100300", PBX_CARRIER, timeout=40
        )

    out["ban_after_svcrack_s"] = timed_ban(crack)
    out["svcrack"] = svcrack.get("out", "")[-1500:]
    # svcrack prints a table row "| c0001 | <password> |" for a password it found.
    out["svcrack_found"] = bool(re.search(r"\|\s*c0001\s*\|\s*\d+\s*\|", svcrack.get("out", "")))
    started = time.monotonic()
    try:
        wait(lambda: not banned(), BAN_S + 15, "the unban")
        out["unbanned_after_s"] = round(time.monotonic() - started, 2)
    except TimeoutError:
        out["unbanned_after_s"] = None
    flood_out: dict[str, str] = {}

    def register_flood() -> None:
        flood_out["out"] = flood(atk, work, 500)

    out["ban_after_flood_s"] = timed_ban(register_flood)
    out["flood"] = flood_out.get("out", "")[-1500:]
    # Still banned: the PBX must not answer the source at all.
    if banned():
        probe = attacker(atk, "svmap", "-p5060", PBX_CARRIER, timeout=20)
        out["answered_while_banned"] = "Dasan PBX" in probe
    return out


def main() -> None:
    work = Path(sys.argv[1])
    work.mkdir(parents=True, exist_ok=True)
    result = run(work, "--full" in sys.argv[2:])
    (work / "result.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
