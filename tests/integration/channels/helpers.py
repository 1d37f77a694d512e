"""Helpers for the text channel integration tests: the fake carrier's log, conversations."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from channels.sms.kannel import Kannel
from tests.integration.cti.helpers import HttpUser
from tests.integration.support import ItEnv, dasan_json, eventually

_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")


def carrier_says(kannel: Kannel, sender: str, text: str) -> None:
    """The carrier delivers ``text`` from ``sender`` to 120 as a UCS-2 SMS."""
    data = urllib.parse.quote_from_bytes(text.encode("utf-16-be"))
    kannel.inject(f"{sender} 120 ucs2 {data}")


def received_by(kannel: Kannel, number: str) -> list[str]:
    """The texts the carrier received for ``number``, concatenated parts joined (UDH ref)."""
    lines = kannel.paths.log("carrier").read_text(errors="replace").splitlines()
    whole: list[str] = []
    parts: dict[int, dict[int, bytes]] = {}
    for line in lines:
        match = _GOT.search(line)
        if match is None or match.group(2) != number:
            continue
        kind, rest = match.group(3), match.group(4)
        if kind == "udh":
            udh_text, _data_kind, data = rest.split(" ", 2)
            udh = urllib.parse.unquote_to_bytes(udh_text)
            ref, total, seq = udh[3], udh[4], udh[5]
            parts.setdefault(ref, {})[seq] = urllib.parse.unquote_to_bytes(data.replace("+", "%20"))
            if len(parts[ref]) == total:
                joined = b"".join(parts[ref][i] for i in range(1, total + 1))
                whole.append(joined.decode("utf-16-be"))
        elif kind in ("ucs2", "ucs-2", "data"):
            raw = urllib.parse.unquote_to_bytes(rest.replace("+", "%20"))
            whole.append(raw.decode("utf-16-be"))
        elif kind == "text":
            whole.append(urllib.parse.unquote_plus(rest))
    return whole


def conversations(env: ItEnv, last: int = 20) -> list[dict[str, Any]]:
    rows = dasan_json(env, "conversations", "--last", str(last))
    assert isinstance(rows, list)
    return rows


async def held_sms(env: ItEnv, conv_filter: Any, timeout: float = 30.0) -> dict[str, Any]:
    async def probe() -> list[dict[str, Any]]:
        return [r for r in conversations(env) if conv_filter(r)]

    rows = await eventually(
        probe, lambda rs: bool(rs) and rs[0]["consultant"], timeout, "an SMS thread held"
    )
    return rows[0]


async def mine(user: HttpUser) -> list[dict[str, Any]]:
    data = await user.ok("GET", "/api/conversations/mine")
    assert isinstance(data, list)
    return data
