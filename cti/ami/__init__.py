"""AMI: a sans-IO protocol (``protocol``), one connection (``link``) and the client the rest of
Dasan uses (``client.AmiClient``). Header and event names live in ``names``."""

from cti.ami.client import AmiClient, AmiEventSource, AmiSubscription
from cti.ami.messages import (
    AmiActionError,
    AmiBanner,
    AmiConnectionLost,
    AmiDisconnected,
    AmiError,
    AmiEvent,
    AmiEventsDropped,
    AmiLoginError,
    AmiReconnected,
    AmiResponse,
    AmiStreamItem,
    AmiTimeout,
    Headers,
    LocalProtocolError,
    RemoteProtocolError,
)
from cti.ami.protocol import AmiProtocol

__all__ = [
    "AmiActionError",
    "AmiBanner",
    "AmiClient",
    "AmiConnectionLost",
    "AmiDisconnected",
    "AmiError",
    "AmiEvent",
    "AmiEventSource",
    "AmiEventsDropped",
    "AmiLoginError",
    "AmiProtocol",
    "AmiReconnected",
    "AmiResponse",
    "AmiStreamItem",
    "AmiSubscription",
    "AmiTimeout",
    "Headers",
    "LocalProtocolError",
    "RemoteProtocolError",
]
