"""Per-channel capacity of a consultant, as data (pure).

A consultant has ``units`` of attention; each thing they hold costs units by channel. With the
defaults (3 units; a call or video call costs 3, a chat or SMS thread 1) a consultant holds at
most one call, or up to three text threads, never both.

Invariants:
- ``fits`` is the only rule: a new item is offered only when the units in use plus its cost
  stay within ``units``; unknown channels are refused (no silent default cost).
- While a consultant holds any text thread the voice core sees them NOT_READY with reason
  ``TEXT_REASON`` (so no call is offered); they become READY again when the last thread ends,
  unless they chose another state meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.model import ConsultantState

TEXT_REASON = "text"
DEFAULT_COST: Mapping[str, int] = MappingProxyType({"voice": 3, "video": 3, "chat": 1, "sms": 1})


@dataclass(frozen=True, slots=True)
class Capacity:
    units: int = 3
    cost: Mapping[str, int] = field(default_factory=lambda: DEFAULT_COST)

    def used(self, holding: Mapping[str, int]) -> int:
        return sum(self.cost_of(channel) * count for channel, count in holding.items())

    def cost_of(self, channel: str) -> int:
        try:
            return self.cost[channel]
        except KeyError:
            raise ValueError(f"no capacity cost for channel {channel!r}") from None

    def fits(self, holding: Mapping[str, int], channel: str) -> bool:
        return self.used(holding) + self.cost_of(channel) <= self.units


def text_available(state: ConsultantState, reason: str | None) -> bool:
    """May this consultant be offered a text thread, as the voice core sees them?"""
    if state is ConsultantState.READY:
        return True
    return state is ConsultantState.NOT_READY and reason == TEXT_REASON
