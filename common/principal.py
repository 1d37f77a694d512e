"""Who is acting: the authenticated principal every API handler and audit log entry names.

The web edge (cti/) authenticates a request and stores a ``Principal`` under
``request["principal"]``; domain services take it as an argument and never see HTTP.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    # A city or district official (care, 129): sees only their department's tickets.
    OFFICIAL = "official"


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    role: Role
    # Where the request came from (IP or "cli"), for access logs.
    origin: str = "cli"
    # The district this principal belongs to (districts as tenants): they see only its calls
    # and figures and no city-wide endpoint. None: the city (everything).
    tenant: str | None = None
