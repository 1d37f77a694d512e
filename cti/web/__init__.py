"""The CTI web edge: REST + WebSocket API, auth and roles, OpenAPI, desktop and wallboard.

``create_app(center, auth, extra_routes=())`` builds the aiohttp application; extra routes
are ``Endpoint`` entries (see ``cti.web.endpoint``) and get the same auth, validation,
metrics and OpenAPI treatment as the built-in ones.
"""

from __future__ import annotations

from cti.web.app import ENDPOINTS, WS_HUB, create_app
from cti.web.dispatch import PRINCIPAL
from cti.web.endpoint import (
    ADMIN_ONLY,
    ANY_ROLE,
    PUBLIC,
    STAFF,
    Access,
    ApiRequest,
    Endpoint,
    from_route,
    own_or_staff,
)

__all__ = [
    "ADMIN_ONLY",
    "ANY_ROLE",
    "ENDPOINTS",
    "PRINCIPAL",
    "PUBLIC",
    "STAFF",
    "WS_HUB",
    "Access",
    "ApiRequest",
    "Endpoint",
    "create_app",
    "from_route",
    "own_or_staff",
]
