"""Shared helpers for the ACD unit tests: a tiny catalog, consultants and a clocked harness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import yaml

from acd.commands import Command, DecisionRecord, OfferCall, ScheduleWakeup
from acd.core import decide
from acd.events import Event
from acd.model import Consultant, Language
from acd.services import ServiceCatalog, parse_catalog
from acd.settings import AcdSettings
from acd.state import AcdState

TINY_SERVICES = """
services:
  - id: general
    name: General
    languages: [ko]
    staff_languages: [ko]
    target: {fraction: 0.8, within_s: 20}
    wrap_up_s: 10
    handle_s: 100
    overflow:
      - {after_s: 0, min_proficiency: 3}
      - {after_s: 5, min_proficiency: 1}
  - id: transport
    name: Transport
    languages: [ko]
    staff_languages: [ko]
    target: {fraction: 0.8, within_s: 20}
    wrap_up_s: 10
    handle_s: 100
    overflow:
      - {after_s: 0, min_proficiency: 1}
      - {after_s: 10, via_service: general, min_proficiency: 3}
  - id: welfare
    name: Welfare
    languages: [ko]
    staff_languages: [ko]
    target: {fraction: 0.8, within_s: 60}
    wrap_up_s: 0
    handle_s: 100
    overflow:
      - {after_s: 0, min_proficiency: 1}
  - id: foreign_en
    name: English
    languages: [en]
    staff_languages: [en]
    target: {fraction: 0.8, within_s: 20}
    wrap_up_s: 10
    handle_s: 100
    overflow:
      - {after_s: 0, min_proficiency: 1}
      - {after_s: 60, via_service: general, min_proficiency: 3, with_interpreter: true}
"""

T = TypeVar("T")


def tiny_catalog() -> ServiceCatalog:
    return parse_catalog(yaml.safe_load(TINY_SERVICES), "tiny")


def person(cid: str, languages: str = "ko", **skills: int) -> Consultant:
    return Consultant(cid, frozenset(Language(x) for x in languages.split(",")), skills)


class Harness:
    """Feeds events at explicit times and keeps every command."""

    def __init__(
        self,
        roster: Iterable[Consultant],
        settings: AcdSettings | None = None,
        catalog: ServiceCatalog | None = None,
    ) -> None:
        self.state = AcdState.new(catalog or tiny_catalog(), roster, settings or AcdSettings())
        self.log: list[tuple[float, Event]] = []
        self.wakeup: float | None = None

    def feed(self, event: Event, at: float) -> list[Command]:
        self.log.append((at, event))
        self.state, commands = decide(self.state, event, at)
        for command in commands:
            if isinstance(command, ScheduleWakeup):
                self.wakeup = command.at
        return commands


def of_type(commands: Iterable[Command], kind: type[T]) -> list[T]:
    return [c for c in commands if isinstance(c, kind)]


def offers(commands: Iterable[Command]) -> list[tuple[str, str]]:
    return [(c.call_id, c.consultant_id) for c in of_type(commands, OfferCall)]


def records(commands: Iterable[Command]) -> list[DecisionRecord]:
    return of_type(commands, DecisionRecord)
