"""Assembles the PBX image, generated configuration and container from the settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from acd.roster import load_configured, members_by_language
from dasan.config import Settings
from dasan.paths import project_root
from dasan.pbx.container import Mount, PbxContainer
from dasan.pbx.image import PbxImage
from dasan.pbx.render import VIDEO_SKILLS, render_all, write_generated
from ivr.wiring import speech_dir

log = logging.getLogger(__name__)


def pbx_image(settings: Settings) -> PbxImage:
    return PbxImage(settings.pbx, settings.image_cache_dir)


def config_dirs(settings: Settings) -> tuple[Path, Path]:
    root = project_root()
    return (
        settings.pbx.config_dir or root / "asterisk-config",
        settings.pbx.dialplans_dir or root / "dialplans",
    )


def fallback_members(settings: Settings) -> Mapping[str, Sequence[str]]:
    """Consultants per language for the static fallback queues: the ACD roster's languages.

    Raises AcdConfigError when the roster or the service catalog is invalid (the PBX then
    does not start with queues that would not match the engine's routing).
    """
    _catalog, roster = load_configured(settings.acd)
    members = members_by_language(roster, settings.consultants.ids())
    unreachable = sorted({c.id for c in roster} - set(settings.consultants.ids()))
    if unreachable:
        log.warning(
            "fallback queues: %d roster consultants have no PBX endpoint (%s...)",
            len(unreachable),
            ", ".join(unreachable[:5]),
        )
    empty = [lang for lang, ids in members.items() if not ids]
    if empty:
        log.warning(
            "fallback queues: nobody speaks %s; those callers go to the Korean desk",
            ", ".join(empty),
        )
    return members


def video_members(settings: Settings) -> frozenset[str]:
    """Consultants whose PBX endpoint takes video: the roster's sign-language skills."""
    _catalog, roster = load_configured(settings.acd)
    return frozenset(c.id for c in roster if any(skill in c.skills for skill in VIDEO_SKILLS))


def render_generated(settings: Settings) -> list[str]:
    files = render_all(settings, fallback_members(settings), video_members(settings))
    return write_generated(settings.pbx_dir / "generated", files)


def pbx_container(settings: Settings, netns: str | None = None) -> PbxContainer:
    """The PBX of ``settings``; ``netns``: a named network namespace to run it in (a cluster node)."""
    config_dir, dialplans_dir = config_dirs(settings)
    ivr = settings.ivr
    rec = settings.recordings
    mounts = [
        Mount(config_dir, "/etc/asterisk", read_only=True),
        Mount(dialplans_dir, "/etc/dasan/dialplans", read_only=True),
        Mount(settings.pbx_dir / "generated", "/etc/dasan/generated", read_only=True),
        Mount(settings.prompts_dir, ivr.prompts_pbx_dir, read_only=True),
        Mount(settings.recordings_dir, rec.pbx_spool_dir),
        Mount(settings.recordings_spare_dir, rec.pbx_spare_dir),
        Mount(speech_dir(settings), ivr.speech_pbx_dir),
    ]
    return PbxContainer(
        image=pbx_image(settings),
        instance_dir=settings.pbx_dir,
        mounts=mounts,
        sip_bind=(settings.pbx.sip_host, settings.pbx.sip_port),
        boot_timeout_s=settings.pbx.boot_timeout_s,
        netns=netns,
    )
