"""``EventFeed``: the live model's one AMI stream, passed on to every other reader.

Invariants:
- Readers (the CTI's watch, the ACD bridge, the IVR's key witness) get exactly the items the
  live model reads from its one AMI subscription, in wire order, notices included
  (``AmiReconnected``, ``AmiConnectionLost``, ``AmiEventsDropped``), so each behaves as it
  did on a subscription of its own; the PBX holds one event stream for all of them.
- ``publish`` never awaits: a slow reader loses only its own oldest items and is told
  (``AmiEventsDropped``), like a slow subscriber of the AMI client; the model never waits.
- The feed outlives a restart of the model's task; it ends (readers' iteration stops) only
  when the AMI client's stream itself ends.
"""

from __future__ import annotations

import logging

from cti.ami.client import AmiSubscription
from cti.ami.fanout import Fanout
from cti.ami.messages import AmiEventsDropped, AmiStreamItem


class EventFeed:
    """An ``AmiEventSource`` fed by the live model (see the module invariants)."""

    def __init__(self, default_maxsize: int, log: logging.Logger) -> None:
        self._default_maxsize = default_maxsize
        self._fanout: Fanout[AmiStreamItem] = Fanout(AmiEventsDropped, label="live-events", log=log)

    @property
    def reader_count(self) -> int:
        return self._fanout.subscriber_count

    def subscribe(self, maxsize: int | None = None, name: str | None = None) -> AmiSubscription:
        """Events and stream notices from now on (``maxsize`` defaults to the AMI client's)."""
        size = self._default_maxsize if maxsize is None else maxsize
        return self._fanout.subscribe(size, name)

    def publish(self, item: AmiStreamItem) -> None:
        self._fanout.publish(item)

    def close(self) -> None:
        self._fanout.close()
