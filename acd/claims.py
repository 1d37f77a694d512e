"""Consultant claims shared by several engines (one routing brain across PBX nodes).

Each engine runs its own ACD core; when several engines (one per PBX node) serve the same
consultants, an engine must *claim* a consultant before ringing them and release the claim
when the ring goes unanswered, or once the conversation and its wrap-up are over (the
consultant is free again in this engine's ACD). A claim held by another engine means the consultant
is busy there: the offer is withdrawn (``OfferRejected``) and the consultant is made ready
again here once that claim is gone (``on_free``).

Invariant (what the claims exist for): at most one engine at a time rings or talks through a
given consultant, so a consultant is never double-booked across nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class ConsultantClaims(Protocol):
    async def claim(self, consultant_id: str, call_id: str) -> bool:
        """Take the consultant for ``call_id``; False when another engine holds them."""
        ...

    async def release(self, consultant_id: str) -> None:
        """Give the consultant back (nothing when this engine does not hold them)."""
        ...

    def on_free(self, listener: Callable[[str], None]) -> None:
        """``listener(consultant_id)`` once a consultant found busy elsewhere is free again."""
        ...
