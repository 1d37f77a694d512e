"""SIPp REGISTER (digest) for tests: a consultant's phone registering or unregistering."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from pathlib import Path

_REQUEST = """
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]>;tag=[pid]reg[call_number]
      To: <sip:{user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: {cseq} REGISTER
      Contact: {contact}
      Expires: {expires}
      {auth}
      Max-Forwards: 70
      User-Agent: Dasan test phone
      Content-Length: 0
"""

_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="register">
  <send retrans="500"><![CDATA[{first}]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[{second}]]></send>
  <recv response="{final}"/>
</scenario>
"""


@dataclass(frozen=True)
class Registration:
    user: str
    password: str
    expires: int = 300
    port: int = 5090  # the contact (rewritten by the PBX to the source address and port)
    local_ip: str = "127.0.0.1"
    expect: int = 200
    # Who authenticates (None: ``user``, the account registered in To).
    auth_user: str | None = None


def scenario(reg: Registration) -> str:
    contact = (
        "*"
        if reg.expires == 0
        else "<sip:[service]@[local_ip]:[local_port]>".replace("[service]", reg.user)
    )
    parts = {"user": reg.user, "contact": contact, "expires": reg.expires}
    return _SCENARIO.format(
        first=_REQUEST.format(cseq=1, auth="", **parts),
        second=_REQUEST.format(cseq=2, auth="[authentication]", **parts),
        final=reg.expect,
    )


async def register(reg: Registration, workdir: Path, pbx: str = "127.0.0.1:5060") -> None:
    await asyncio.to_thread(register_sync, reg, workdir, pbx)


def register_sync(reg: Registration, workdir: Path, pbx: str = "127.0.0.1:5060") -> None:
    """One REGISTER transaction from ``reg.port``; raises if the final answer differs."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"register-{reg.user}-{reg.expires}.xml"
    path.write_text(scenario(reg), encoding="utf-8")
    args = [
        "sipp", pbx, "-sf", str(path), "-m", "1", "-p", str(reg.port), "-i", reg.local_ip,
        "-au", reg.auth_user or reg.user, "-ap", reg.password, "-nostdin", "-timeout", "15s", "-trace_err",
    ]  # fmt: skip
    done = subprocess.run(
        args, cwd=workdir, capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0:
        errors = "".join(p.read_text(errors="replace") for p in workdir.glob("*_errors.log"))
        raise AssertionError(f"REGISTER {reg.user} -> rc {done.returncode}: {errors[-800:]}")
