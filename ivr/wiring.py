"""Helpers the composition root uses to wire the IVR: derived paths and per-call objects.

Invariants:
- Every host path the IVR uses derives from the engine's settings (read as ``IvrHost``): ``<state>/prompts``
  (Settings.prompts_dir), ``<state>/prompts-override``, ``<state>/speech``, ``<state>/dasan.pid``
  unless the IVR settings name another folder.
- Nothing here loads the speech model or starts tasks or processes; the caller owns both (the
  speech workers start when the composition root runs ``SpeechPool.run``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from ivr.hours import HoursError
from ivr.listen import StopRecording
from ivr.menu.loader import MenuStore, menu_loader
from ivr.menu.validate import MenuError
from ivr.prompts.manifest import ManifestError
from ivr.runner import PromptPaths, SpeechInput
from ivr.settings import IvrHost
from ivr.speech_pool import SpeechPool

log = logging.getLogger(__name__)

PID_FILE = "dasan.pid"
# Everything a menu (re)load can raise for bad operator data.
LOAD_ERRORS = (MenuError, HoursError, ManifestError)


def prompts_override_dir(settings: IvrHost) -> Path:
    return settings.ivr.prompts_override_dir or settings.state_dir / "prompts-override"


def speech_dir(settings: IvrHost) -> Path:
    return settings.ivr.speech_dir or settings.state_dir / "speech"


def pid_file(settings: IvrHost) -> Path:
    return settings.state_dir / PID_FILE


def prompt_paths(settings: IvrHost) -> PromptPaths:
    return PromptPaths(settings.ivr.prompts_pbx_dir)


def menu_store(settings: IvrHost) -> MenuStore:
    """Load and validate the configured menu (raises one of ``LOAD_ERRORS``)."""
    return MenuStore(menu_loader(settings.ivr))


def reload_menu(store: MenuStore) -> bool:
    """For a SIGHUP handler: reload, log the outcome once, keep the old menu on errors."""
    try:
        menu = store.reload()
    except LOAD_ERRORS as exc:
        log.error("menu reload failed, keeping menu %s: %s", store.current.digest, exc)
        return False
    log.info("menu reloaded: %s %s from %s", menu.id, menu.digest, menu.source)
    return True


def speech_input(
    settings: IvrHost, pool: SpeechPool | None, stop_recording: StopRecording | None = None
) -> SpeechInput | None:
    """Per call: listen through the worker pool (None: speech disabled or no pool)."""
    ivr = settings.ivr
    if not ivr.speech_enabled or pool is None:
        return None
    return SpeechInput(
        stream=None,
        host_dir=speech_dir(settings),
        pbx_dir=ivr.speech_pbx_dir,
        timeout_s=ivr.speech_timeout_s,
        pool=pool,
        stop_recording=stop_recording,
    )


def speech_pool(
    settings: IvrHost, on_status: Callable[[str], None], transcripts_per_worker: int = 4
) -> SpeechPool | None:
    """The engine's pool of speech worker processes (None: speech disabled); live transcripts
    (agent assist) get ``transcripts_per_worker`` slots per worker of their own."""
    ivr = settings.ivr
    if not ivr.speech_enabled:
        return None
    return SpeechPool(
        ivr.speech_workers,
        ivr.speech_streams_per_worker,
        transcripts_per_worker=transcripts_per_worker,
        on_status=on_status,
    )
