"""Helpers shared by the IVR unit tests: Seoul instants and a stepper driver."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ivr.menu.events import (
    Action,
    Collect,
    DigitsReceived,
    EndCall,
    Event,
    PlayPrompts,
    PromptFinished,
    Started,
)
from ivr.menu.loader import Menu
from ivr.menu.state import MenuState
from ivr.menu.stepper import initial_state, step

SEOUL = ZoneInfo("Asia/Seoul")


def seoul(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=SEOUL)


# Reference instants (2026-11-18 is a Wednesday; 2026-11-21 a Saturday).
WEEKDAY_NOON = seoul(2026, 11, 18, 12)
WEEKDAY_NIGHT = seoul(2026, 11, 18, 23, 30)
SATURDAY_EVENING = seoul(2026, 11, 21, 19)
CHUSEOK_EVENING = seoul(2026, 9, 24, 19)  # Thursday, a public holiday


class Walk:
    """Drives the pure stepper like a runner would, with a manual clock."""

    def __init__(self, menu: Menu, now: dt.datetime, language: str = "ko") -> None:
        self.menu = menu
        self.now = now
        self.state: MenuState = initial_state(menu, language)
        self.actions: tuple[Action, ...] = ()

    def send(self, event: Event, after_ms: int = 500) -> tuple[Action, ...]:
        self.now += dt.timedelta(milliseconds=after_ms)
        self.state, self.actions = step(self.menu, self.state, event, self.now)
        return self.actions

    def start(self) -> tuple[Action, ...]:
        return self.send(Started(), after_ms=0)

    @property
    def last(self) -> Action:
        return self.actions[-1]

    def played(self) -> list[str]:
        """Prompt ids (``lang/id``) of every PlayPrompts/Collect/EndCall in the last step."""
        out: list[str] = []
        for action in self.actions:
            if isinstance(action, PlayPrompts | Collect | EndCall):
                out += [f"{p.language}/{p.id}" for p in action.prompts]
        return out

    def to_language_menu(self) -> Collect:
        self.start()
        self.send(PromptFinished())
        assert isinstance(self.last, Collect)
        return self.last

    def to_main_menu(self) -> Collect:
        # Korean callers heard the notice in the welcome: "1" leads straight to the menu.
        self.to_language_menu()
        self.send(DigitsReceived("1"))
        assert isinstance(self.last, Collect)
        return self.last
