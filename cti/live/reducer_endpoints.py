"""Endpoint part of the reducer: ContactStatus, ContactList, DeviceStateChange, PeerStatus.

Invariants:
- Only PJSIP endpoints are modelled (``PJSIP/c0001`` -> ``c0001``); other devices
  (``Queue:...``, ``Custom:...``) are ignored.
- A contact reported ``Removed`` is forgotten; ``Created``/``Updated`` keep the last known
  reachability (Unknown for a new contact) until a qualify result arrives.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType

from cti.ami import names as n
from cti.ami.messages import AmiEvent
from cti.live.model import ContactState, DeviceState, Endpoint, EndpointChanged, StateChange

_PJSIP = "PJSIP/"


class EndpointDraft:
    """Copy-on-write endpoints map plus the change list of one reducer step."""

    def __init__(self, endpoints: Mapping[str, Endpoint], at: float) -> None:
        self._endpoint_base = endpoints
        self.endpoints_written: dict[str, Endpoint] | None = None
        self.at = at
        self.changes: list[StateChange] = []

    def endpoint(self, name: str) -> Endpoint:
        source = (
            self.endpoints_written if self.endpoints_written is not None else self._endpoint_base
        )
        return source.get(name) or Endpoint(name=name)

    def put_endpoint(self, endpoint: Endpoint) -> None:
        if self.endpoint(endpoint.name) == endpoint and endpoint.name in self._current():
            return
        if self.endpoints_written is None:
            self.endpoints_written = _copy(self._endpoint_base)
        self.endpoints_written[endpoint.name] = endpoint
        self.changes.append(EndpointChanged(endpoint=endpoint, at=self.at))

    def _current(self) -> Mapping[str, Endpoint]:
        return self.endpoints_written if self.endpoints_written is not None else self._endpoint_base


def _copy(mapping: Mapping[str, Endpoint]) -> dict[str, Endpoint]:
    if isinstance(mapping, MappingProxyType | dict):
        return mapping.copy()
    return dict(mapping)


def _with_contact(endpoint: Endpoint, uri: str, status: str) -> Endpoint:
    contacts = dict(endpoint.contacts)
    if status == "Removed":
        contacts.pop(uri, None)
    elif status in ("Created", "Updated"):
        contacts.setdefault(uri, ContactState.UNKNOWN)
    else:
        contacts[uri] = ContactState.parse(status)
    return dataclasses.replace(endpoint, contacts=tuple(sorted(contacts.items())))


def _contact_status(draft: EndpointDraft, event: AmiEvent) -> None:
    name = event.get(n.ENDPOINT_NAME) or event.get(n.AOR)
    uri = event.get(n.URI)
    if name and uri:
        endpoint = draft.endpoint(name)
        draft.put_endpoint(_with_contact(endpoint, uri, event.get(n.CONTACT_STATUS_HEADER)))


def _contact_list(draft: EndpointDraft, event: AmiEvent) -> None:
    """One item of PJSIPShowContacts (headers ``Endpoint``, ``Uri``, ``Status``)."""
    name = event.get(n.ENDPOINT) or event.get(n.AOR)
    uri = event.get("Uri")
    if name and uri:
        endpoint = draft.endpoint(name)
        draft.put_endpoint(_with_contact(endpoint, uri, event.get(n.STATUS) or "Unknown"))


def _device_state(draft: EndpointDraft, event: AmiEvent) -> None:
    device = event.get(n.DEVICE)
    if device.startswith(_PJSIP):
        endpoint = draft.endpoint(device[len(_PJSIP) :])
        state = DeviceState.parse(event.get(n.STATE))
        draft.put_endpoint(dataclasses.replace(endpoint, device_state=state))


def _peer_status(draft: EndpointDraft, event: AmiEvent) -> None:
    peer = event.get(n.PEER)
    if peer.startswith(_PJSIP):
        endpoint = draft.endpoint(peer[len(_PJSIP) :])
        draft.put_endpoint(
            dataclasses.replace(endpoint, peer_status=event.get(n.PEER_STATUS_HEADER))
        )


ENDPOINT_HANDLERS: Mapping[str, Callable[[EndpointDraft, AmiEvent], None]] = {
    n.CONTACT_STATUS: _contact_status,
    n.CONTACT_LIST: _contact_list,
    n.DEVICE_STATE_CHANGE: _device_state,
    n.PEER_STATUS: _peer_status,
}
