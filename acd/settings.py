"""Settings slice for the ACD (routing core, simulator and the Asterisk driver).

Invariants: frozen and validated at start; ``None`` for a file means the shipped data
(``acd/data/services.yaml``, ``acd/data/roster.csv``).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class AcdSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # How long a consultant's phone rings before the call goes back to the head of the queue.
    ring_timeout_s: int = Field(default=15, ge=3, le=120)
    # Roster: None means the shipped demo roster of c0001..c0471, all logged in and ready.
    roster_file: str | None = None
    # Only these consultants are logged in at start (None: all of the roster).
    logged_in: tuple[str, ...] | None = None
    # Services (queues) with targets, wrap-up and overflow stages. None: the shipped catalog.
    services_file: str | None = None
    # Position / estimated-wait announcements: first on arrival, then every this many seconds
    # (None: only the one on arrival).
    announce_every_s: float | None = Field(default=60.0, gt=0)
    # Offer a call-back (virtual hold) once the estimated wait reaches this (None: never).
    callback_offer_min_wait_s: float | None = Field(default=120.0, ge=0)
    # Districts as tenants (acd.tenants): their consultants, queues and overflow to the city.
    # None: one tenant, the city.
    tenants_file: str | None = None
    # How many competing calls a DecisionRecord lists (the chosen one always included).
    record_calls: int = Field(default=5, ge=1, le=100)
    # How the PBX reaches a citizen's number (call-backs) and outside numbers (departments,
    # hospitals, shops brought into a call); "{number}" is replaced. The demo points at a SIPp
    # UAS on loopback; production points at the PSTN trunk.
    outside_dial: str = "PJSIP/outside/sip:{number}@127.0.0.1:5092"
    # How long a call-back rings the citizen before it counts as failed.
    callback_ring_s: int = Field(default=30, ge=5, le=120)
    # A consultant reserved for a call-back is released if no outcome (answered / failed) is
    # reported within callback_ring_s plus this: no reservation without an expiry.
    callback_reserve_grace_s: float = Field(default=30.0, ge=1, le=600)
    # The service's wrap-up time does not end wrap-up by itself: only WrapUpEnded does (the
    # consultant's "wrap-up done", which the CTI refuses until the after-call note is written).
    # The composition root sets it from the knowledge area's ``require_note``.
    wrap_up_needs_release: bool = False
    # Several engines (one per PBX node, `dasan cluster`) share these consultants: each claims
    # a consultant in the shared PostgreSQL before ringing them (acd.claims).
    shared_claims: bool = False


class AcdHost(Protocol):
    """What the ACD's CLI reads of the engine's configuration."""

    @property
    def acd(self) -> AcdSettings: ...
