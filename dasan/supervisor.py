"""Supervision of the engine's long-running components.

Invariants:
- A component that raises is logged, alarmed (source ``engine``, key ``component:<name>``) and
  started again after a pause that doubles from ``min_s`` to ``max_s``; the others go on.
- A component that has run ``healthy_s`` since its last restart gets its alarm cleared and its
  pause reset. A component that returns normally is done (it is not restarted).
- Cancellation (the deliberate stop) is never swallowed: it ends the component at once.
- The alarm bus is looked up when needed (the engine opens it after building the supervisor);
  an alarm that cannot be raised is logged, and the restart happens anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from common.alarms import AlarmBus, Severity

log = logging.getLogger("dasan.supervisor")
SOURCE = "engine"


def describe(exc: BaseException) -> str:
    """The leaf errors' messages (TaskGroups wrap them in exception groups)."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class Supervisor:
    alarms: Callable[[], AlarmBus | None]
    min_s: float = 1.0
    max_s: float = 60.0
    healthy_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    restarts: dict[str, int] = field(default_factory=dict)

    async def supervise(self, name: str, component: Callable[[], Awaitable[None]]) -> None:
        """Run ``component()`` until it returns, restarting it whenever it fails."""
        pause = self.min_s
        while True:
            task = asyncio.ensure_future(component())
            started = self.clock()
            try:
                await self._watch(name, task)
                return
            except asyncio.CancelledError:
                task.cancel()
                raise
            except Exception as exc:  # restarted below; the alarm makes the failure visible
                if self.clock() - started >= self.healthy_s:
                    pause = self.min_s
                self.restarts[name] = self.restarts.get(name, 0) + 1
                log.error(
                    "component %s failed (%s); restarting in %.1f s",
                    name,
                    describe(exc),
                    pause,
                    exc_info=exc,
                )
                await self._raise(name, f"{name} failed and is restarting: {describe(exc)}")
            await self.sleep(pause)
            pause = min(pause * 2, self.max_s)

    async def _watch(self, name: str, task: asyncio.Future[None]) -> None:
        """Await the component; clear its alarm once it has stayed up ``healthy_s``."""
        done, _ = await asyncio.wait({task}, timeout=self.healthy_s)
        if not done:
            await self._clear(name)
        await task

    async def _raise(self, name: str, message: str) -> None:
        bus = self.alarms()
        if bus is None:
            return
        try:
            await bus.raise_alarm(SOURCE, f"component:{name}", Severity.MAJOR, message)
        except Exception:  # the restart matters more than the alarm; logged for the operator
            log.exception("could not raise the alarm for %s", name)

    async def _clear(self, name: str) -> None:
        bus = self.alarms()
        if bus is None or not bus.is_active(SOURCE, f"component:{name}"):
            return
        try:
            await bus.clear(SOURCE, f"component:{name}")
        except Exception:
            log.exception("could not clear the alarm for %s", name)
