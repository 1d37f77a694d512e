"""Sources that fail SIP authentication are banned at once, and unbanned after a set time.

Invariants:
- The decision is pure (``BanList``): failures of one source within ``window_s`` reaching
  ``max_failures`` ban it for ``ban_s``; loopback and the carrier's addresses are never
  banned (the trunk must keep working; a citizen cannot fail authentication there).
- Failures come from AMI security events (``InvalidAccountID``, ``InvalidPassword``,
  ``ChallengeResponseFailed``, ``FailedACL``, ...), whose ``RemoteAddress`` is
  ``IPV4/UDP/<address>/<port>``; the ban itself is an element of an nftables set whose input
  rule drops the source's packets in the PBX host's network namespace (table
  ``inet dasan_bans``), so they never reach Asterisk; it is removed when the ban expires, and
  the table when the engine stops. (A policy-routing blackhole rule does not work: the
  ``local`` table's rule at priority 0 delivers the packets first; measured.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import subprocess
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from cti.ami.client import AmiEventSource
from cti.ami.messages import AmiEvent

log = logging.getLogger("dasan.security.ban")

FAILURE_EVENTS = frozenset(
    {
        "InvalidAccountID",
        "InvalidPassword",
        "ChallengeResponseFailed",
        "FailedACL",
        "RequestNotAllowed",
        "AuthMethodNotAllowed",
        "RequestBadFormat",
        "UnexpectedAddress",
    }
)


class BanSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    max_failures: int = Field(default=5, ge=1)
    window_s: float = Field(default=10.0, gt=0)
    ban_s: float = Field(default=600.0, gt=0)


def remote_address(value: str) -> str | None:
    """``IPV4/UDP/203.0.113.9/5060`` -> ``203.0.113.9``; None when it is not an address."""
    parts = value.split("/")
    if len(parts) < 3:
        return None
    try:
        return str(ipaddress.ip_address(parts[2]))
    except ValueError:
        return None


@dataclass
class BanList:
    settings: BanSettings
    exempt: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    banned: dict[str, float] = field(default_factory=dict)  # address -> ban ends (monotonic)

    @classmethod
    def for_carrier(cls, settings: BanSettings, carrier: Iterable[str]) -> BanList:
        nets = [ipaddress.ip_network(a, strict=False) for a in (*carrier, "127.0.0.0/8", "::1")]
        return cls(settings, tuple(nets))

    def failure(self, address: str, now: float) -> bool:
        """Record a failure; True when it bans ``address`` now."""
        if address in self.banned or self._exempt(address):
            return False
        times = self._failures.setdefault(address, deque())
        times.append(now)
        while times and times[0] <= now - self.settings.window_s:
            times.popleft()
        if len(times) < self.settings.max_failures:
            return False
        del self._failures[address]
        self.banned[address] = now + self.settings.ban_s
        return True

    def expired(self, now: float) -> list[str]:
        over = [a for a, until in self.banned.items() if until <= now]
        for address in over:
            del self.banned[address]
        return over

    def _exempt(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == n.version and ip in n for n in self.exempt)


TABLE = "dasan_bans"
_SETUP = f"""add table inet {TABLE}
delete table inet {TABLE}
table inet {TABLE} {{
  set banned4 {{ type ipv4_addr; }}
  set banned6 {{ type ipv6_addr; }}
  chain input {{
    type filter hook input priority -10; policy accept;
    ip saddr @banned4 drop
    ip6 saddr @banned6 drop
  }}
}}
"""


class NftFirewall:
    """Bans as nftables set elements in the current network namespace (CAP_NET_ADMIN)."""

    def __init__(self) -> None:
        self._ready = False

    async def ban(self, address: str) -> None:
        if not self._ready:
            self._ready = await self._nft(["-f", "-"], _SETUP)
        await self._nft(["add", "element", "inet", TABLE, _set(address), "{", address, "}"])

    async def unban(self, address: str) -> None:
        await self._nft(["delete", "element", "inet", TABLE, _set(address), "{", address, "}"])

    async def close(self) -> None:
        if self._ready:
            await self._nft(["delete", "table", "inet", TABLE])
            self._ready = False

    async def _nft(self, args: list[str], script: str | None = None) -> bool:
        done = await asyncio.to_thread(
            subprocess.run,
            ["nft", *args],
            input=script,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            log.error("nft %s failed: %s", " ".join(args), done.stderr.strip())
        return done.returncode == 0


def _set(address: str) -> str:
    return "banned6" if ":" in address else "banned4"


class Banner:
    """The component: AMI security events in, bans and unbans out."""

    def __init__(self, ami: AmiEventSource, bans: BanList, firewall: NftFirewall) -> None:
        self._ami = ami
        self._bans = bans
        self._firewall = firewall

    async def run(self) -> None:
        if not self._bans.settings.enabled:
            return
        subscription = self._ami.subscribe(name="bans")
        expiry = asyncio.create_task(self._expire(), name="ban-expiry")
        try:
            async for item in subscription:
                if isinstance(item, AmiEvent) and item.name in FAILURE_EVENTS:
                    await self._failed(item)
        finally:
            subscription.close()
            expiry.cancel()
            for address in list(self._bans.banned):
                await self._firewall.unban(address)
            await self._firewall.close()

    async def _failed(self, event: AmiEvent) -> None:
        address = remote_address(event.get("RemoteAddress"))
        loop = asyncio.get_running_loop()
        if address is not None and self._bans.failure(address, loop.time()):
            log.warning(
                "banned %s for %.0f s after %s", address, self._bans.settings.ban_s, event.name
            )
            await self._firewall.ban(address)

    async def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            for address in self._bans.expired(loop.time()):
                log.info("unbanned %s", address)
                await self._firewall.unban(address)
