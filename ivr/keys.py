"""The caller's keys in the order pressed, each used once (type-ahead), and their witness.

Why a witness: Asterisk hands DTMF to a FastAGI session only while a command reads the channel
(STREAM FILE with escape digits, GET DATA, WAIT FOR DIGIT, RECORD FILE). Between commands
res_agi keeps reading the channel and drops every frame it reads, keys included, so a key
pressed while the engine thinks (before the first prompt, between two prompts, while the call
log is written) never reaches the session. Every key a channel receives is still announced on
AMI (``DTMFEnd``, ``Direction: Received``, emitted when the frame is read, by AGI's idle loop
too), so AMI is the complete, ordered record; AGI replies tell the IVR *that* a key came.

Invariants:
- ``KeyQueue`` holds keys not yet used, in the order the channel received them; ``take`` hands
  each out once. Without a witness, the digits AGI commands return are the queue.
- With a witness, a key AGI returned and the witness's report of it are one key: ``read``
  waits (briefly) for the report, so keys the AGI never saw but that were pressed before it
  stay ahead of it. If the report does not come in time the AGI digit is queued and the late
  report is absorbed (``_ahead``), never counted twice.
- ``KeyWitnesses`` routes witnessed keys by channel uniqueid; keys of a channel whose IVR has
  not opened its queue yet (pressed during the dialplan or the AGI handshake) are kept, a
  bounded number of channels for a bounded time, and handed to the queue when it opens.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable

# How long a key AGI returned waits for its witness report (AMI on loopback: milliseconds).
CONFIRM_WAIT_S = 0.5
EARLY_KEEP_S = 30.0
EARLY_CHANNELS = 2000
KEYS = frozenset("0123456789*#ABCD")


class KeyQueue:
    """One call's unused keys (see the module invariants)."""

    def __init__(self, witnessed: bool = False, confirm_wait_s: float = CONFIRM_WAIT_S) -> None:
        self.witnessed = witnessed
        self._confirm_wait_s = confirm_wait_s
        self._keys: deque[str] = deque()
        self._ahead = 0  # keys queued from AGI whose witness report is still to come
        self._arrived = asyncio.Event()

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def pending(self) -> str:
        return "".join(self._keys)

    def take(self) -> str | None:
        return self._keys.popleft() if self._keys else None

    def clear(self) -> str:
        """Drop the unused keys (they answer nothing any more); returns them."""
        dropped = self.pending()
        self._keys.clear()
        return dropped

    def witnessed_key(self, digit: str) -> None:
        """The witness saw the channel receive ``digit``."""
        if digit not in KEYS:
            return
        if self._ahead:
            self._ahead -= 1  # the AGI digit already queued for it
            return
        self._keys.append(digit)
        self._arrived.set()

    async def take_within(self, seconds: float) -> str | None:
        """The next unused key, waiting up to ``seconds`` for a witness report still on its
        way (a key pressed between two commands reaches no AGI reply, only AMI)."""
        if self._keys or not self.witnessed:
            return self.take()
        try:
            async with asyncio.timeout(seconds):
                while not self._keys:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return None
        return self.take()

    async def read(self, digit: str) -> None:
        """An AGI command returned ``digit``: make sure it is queued, exactly once."""
        if not self.witnessed:
            self._keys.append(digit)
            return
        try:
            async with asyncio.timeout(self._confirm_wait_s):
                while digit not in self._keys:
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            self._keys.append(digit)
            self._ahead += 1


class KeyWitnesses:
    """Witnessed keys (from AMI) routed to the key queue of each call in the IVR."""

    def __init__(
        self, connected: Callable[[], bool], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._connected = connected
        self._clock = clock
        self._queues: dict[str, KeyQueue] = {}
        self._early: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    def open(self, uniqueid: str) -> KeyQueue:
        """The queue of a call entering the IVR, with the keys already witnessed for it."""
        queue = KeyQueue(witnessed=self._connected())
        self._queues[uniqueid] = queue
        _, early = self._early.pop(uniqueid, (0.0, []))
        for digit in early:
            queue.witnessed_key(digit)
        return queue

    def close(self, uniqueid: str) -> None:
        self._queues.pop(uniqueid, None)
        self._early.pop(uniqueid, None)

    def key(self, uniqueid: str, digit: str) -> None:
        """A key a channel received (AMI DTMFEnd with Direction Received)."""
        queue = self._queues.get(uniqueid)
        if queue is not None:
            queue.witnessed_key(digit)
            return
        now = self._clock()
        while self._early and (
            len(self._early) >= EARLY_CHANNELS
            or now - next(iter(self._early.values()))[0] > EARLY_KEEP_S
        ):
            self._early.popitem(last=False)
        since, keys = self._early.get(uniqueid, (now, []))
        keys.append(digit)
        self._early[uniqueid] = (since, keys)

    def channel_gone(self, uniqueid: str) -> None:
        self._early.pop(uniqueid, None)
