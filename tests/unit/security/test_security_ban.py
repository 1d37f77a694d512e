"""Bans from AMI security events: a source failing authentication max_failures times within
the window is banned (never loopback or the carrier), and unbanned when the ban expires."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from cti.ami.messages import AmiEvent, Headers
from dasan.security.ban import BanList, Banner, BanSettings, remote_address

SETTINGS = BanSettings(max_failures=3, window_s=10.0, ban_s=60.0)


def test_remote_address() -> None:
    assert remote_address("IPV4/UDP/203.0.113.66/5060") == "203.0.113.66"
    assert remote_address("IPV6/UDP/::1/5060") == "::1"
    assert remote_address("garbage") is None
    assert remote_address("IPV4/UDP/not-an-ip/5060") is None


def test_failures_within_the_window_ban_and_the_ban_expires() -> None:
    bans = BanList.for_carrier(SETTINGS, ["203.0.113.10/32"])
    assert not bans.failure("198.51.100.66", 0.0)
    assert not bans.failure("198.51.100.66", 11.0)  # the first one left the window
    assert not bans.failure("198.51.100.66", 12.0)
    assert bans.failure("198.51.100.66", 13.0)
    assert not bans.failure("198.51.100.66", 14.0)  # already banned: once
    assert bans.expired(72.9) == []
    assert bans.expired(73.0) == ["198.51.100.66"]


def test_loopback_and_the_carrier_are_never_banned() -> None:
    bans = BanList.for_carrier(SETTINGS, ["203.0.113.10/32"])
    for n in range(10):
        assert not bans.failure("203.0.113.10", float(n))
        assert not bans.failure("127.0.0.1", float(n))
    assert bans.banned == {}


class _FakeFirewall:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def ban(self, address: str) -> None:
        self.calls.append(("ban", address))

    async def unban(self, address: str) -> None:
        self.calls.append(("unban", address))

    async def close(self) -> None:
        self.calls.append(("close", ""))


class _FakeAmi:
    def __init__(self, events: list[AmiEvent]) -> None:
        self._events = events

    def subscribe(self, name: str | None = None) -> Any:
        events = self._events

        class _Sub:
            def __aiter__(self) -> AsyncIterator[AmiEvent]:
                return self._gen()

            async def _gen(self) -> AsyncIterator[AmiEvent]:
                for event in events:
                    yield event

            def close(self) -> None:
                pass

        return _Sub()


def _event(name: str, address: str) -> AmiEvent:
    return AmiEvent(name, Headers([("Event", name), ("RemoteAddress", f"IPV4/UDP/{address}/5060")]))


async def test_banner_bans_from_security_events_and_lifts_bans_when_stopping() -> None:
    events = [_event("InvalidPassword", "198.51.100.66") for _ in range(3)]
    events += [_event("SuccessfulAuth", "198.51.100.77") for _ in range(5)]
    firewall = _FakeFirewall()
    banner = Banner(_FakeAmi(events), BanList.for_carrier(SETTINGS, []), firewall)  # type: ignore[arg-type]
    await asyncio.wait_for(banner.run(), 5)
    assert firewall.calls == [
        ("ban", "198.51.100.66"),
        ("unban", "198.51.100.66"),
        ("close", ""),
    ]
