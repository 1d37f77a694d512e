"""Test-only fault injection, driven by ``settings.faults`` (all off by default).

Invariants:
- With default settings every method here is a no-op; nothing can turn a fault on but the
  configuration (a file or ``DASAN_FAULTS__*``), so a production engine never injects one.
- Injected faults raise ``InjectedFault`` so logs and tests can tell them from real ones.
"""

from __future__ import annotations

import logging

from dasan.config import FaultSettings

log = logging.getLogger("dasan.faults")


class InjectedFault(RuntimeError):
    """A failure the configuration asked for (chaos and integration tests only)."""


class Faults:
    def __init__(self, settings: FaultSettings) -> None:
        self._ami_bridge_left = settings.ami_bridge_crashes
        self._ivr_callers = frozenset(settings.ivr_crash_callers)
        if self._ami_bridge_left or self._ivr_callers:
            log.warning("fault injection is ON: %s", settings)

    def maybe_crash_ami_bridge(self) -> None:
        if self._ami_bridge_left > 0:
            self._ami_bridge_left -= 1
            raise InjectedFault(f"ACD AMI bridge fault ({self._ami_bridge_left} left)")

    def maybe_crash_ivr(self, caller: str) -> None:
        if any(caller.startswith(prefix) for prefix in self._ivr_callers):
            raise InjectedFault(f"IVR handler fault for caller {caller}")
