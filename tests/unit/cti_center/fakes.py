"""Fakes for the center's unit tests: an in-memory AMI that plays a tiny PBX, a call log.

``FakeAmi`` answers every action with success, records it, and reacts like Asterisk does to
the few actions the center relies on (an originated BridgeAdd channel enters the bridge, a
leg redirected to the rejoin context enters it again, a channel sent into ConfBridge joins the
conference, a hung-up channel reports Hangup; ``Getvar`` answers from ``variables``).
Events reach subscribers through the real ``Fanout``, as with ``AmiClient``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

from cti.ami.fanout import Fanout, Subscription
from cti.ami.messages import AmiEvent, AmiEventsDropped, AmiResponse, AmiStreamItem, Headers
from recordings.calllog import CallRecord

BRIDGE = "bridge-1"


def event(name: str, **headers: str) -> AmiEvent:
    return AmiEvent(name=name, headers=Headers([("Event", name), *headers.items()]))


@dataclass
class FakeAmi:
    actions: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # channel name -> uniqueid, for reactions to actions naming a channel
    names: dict[str, str] = field(default_factory=dict)
    answer_originates: bool = True
    # (channel, variable) -> value for Getvar ("" when absent, like an unset variable)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._fanout: Fanout[AmiStreamItem] = Fanout(AmiEventsDropped, label="fake")
        self._ids = itertools.count(100)

    def subscribe(
        self, maxsize: int | None = None, name: str | None = None
    ) -> Subscription[AmiStreamItem]:
        return self._fanout.subscribe(maxsize or 1000, name)

    def emit(self, item: AmiEvent) -> None:
        self._fanout.publish(item)

    async def action(self, name: str, timeout: float | None = None, **headers: str) -> AmiResponse:
        self.actions.append((name, dict(headers)))
        self._react(name, headers)
        found = [("Response", "Success")]
        if name == "Getvar":
            found.append(
                ("Value", self.variables.get((headers["Channel"], headers["Variable"]), ""))
            )
        return AmiResponse(response="Success", headers=Headers(found))

    def named(self, name: str) -> list[dict[str, str]]:
        return [headers for action, headers in self.actions if action == name]

    def _react(self, name: str, headers: dict[str, str]) -> None:
        if name == "Originate" and headers.get("Application") == "BridgeAdd":
            uid = headers["ChannelId"]
            channel = f"{headers['Channel'].split('@')[0]}-{next(self._ids):08d}"
            self.names[channel] = uid
            if headers["Channel"].startswith("Local/") or not self.answer_originates:
                if headers["Channel"].startswith("Local/"):
                    self.emit(
                        event("BridgeEnter", Uniqueid=uid, Channel=channel, BridgeUniqueid=BRIDGE)
                    )
                return
            self.emit(event("OriginateResponse", Uniqueid=uid, Response="Success", Reason="4"))
            self.emit(event("BridgeEnter", Uniqueid=uid, Channel=channel, BridgeUniqueid=BRIDGE))
        elif name == "Originate" and headers.get("Application") == "ConfBridge":
            uid = headers["ChannelId"]
            channel = f"{headers['Channel']}-{next(self._ids):08d}"
            self.names[channel] = uid
            if self.answer_originates:
                self.emit(event("OriginateResponse", Uniqueid=uid, Response="Success", Reason="4"))
                self.emit(
                    event("BridgeEnter", Uniqueid=uid, Channel=channel, BridgeUniqueid="conf")
                )
        elif name == "Redirect" and headers["Context"] == "dasan-cti-conf":
            channel = headers["Channel"]
            uid = self.names.get(channel, channel)
            self.emit(event("ConfbridgeJoin", Uniqueid=uid, Channel=channel))
        elif name == "Redirect" and headers["Context"] == "dasan-cti-rejoin":
            channel = headers["Channel"]
            uid = self.names.get(channel, channel)
            self.emit(event("BridgeEnter", Uniqueid=uid, Channel=channel, BridgeUniqueid=BRIDGE))
        elif name == "Hangup":
            target = headers["Channel"]
            uid = self.names.get(target, target)
            self.emit(event("Hangup", Uniqueid=uid, Channel=target))


@dataclass
class FakeCallLog:
    records: dict[str, CallRecord] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    joined: list[tuple[str, str]] = field(default_factory=list)

    async def get(self, call_id: str) -> CallRecord | None:
        return self.records.get(call_id)

    async def by_caller(self, number: str) -> list[CallRecord]:
        return [r for cid, r in self.records.items() if self.numbers.get(cid) == number]

    async def caller_number(self, call_id: str) -> str | None:
        return self.numbers.get(call_id)

    async def all(self, since: datetime | None = None) -> list[CallRecord]:
        return [r for r in self.records.values() if since is None or r.started_at >= since]

    async def consultant_joined(
        self, call_id: str, consultant_id: str, role: str = "consultant", at: datetime | None = None
    ) -> None:
        self.joined.append((call_id, consultant_id))
