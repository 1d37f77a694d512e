"""Assembles the PBX image, generated configuration and container from the settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dasan.config import Settings
from dasan.paths import project_root
from dasan.pbx.container import Mount, PbxContainer
from dasan.pbx.image import PbxImage
from dasan.pbx.render import render_all, write_generated
from ivr.wiring import speech_dir


def pbx_image(settings: Settings) -> PbxImage:
    return PbxImage(settings.pbx, settings.image_cache_dir)


def config_dirs(settings: Settings) -> tuple[Path, Path]:
    root = project_root()
    return (
        settings.pbx.config_dir or root / "asterisk-config",
        settings.pbx.dialplans_dir or root / "dialplans",
    )


def fallback_members(settings: Settings) -> Mapping[str, Sequence[str]]:
    """Consultants per language for the static fallback queues (from the ACD roster)."""
    try:
        from acd.roster import members_by_language  # type: ignore[import-not-found,attr-defined,unused-ignore]
    except ImportError:  # roster not wired yet: every consultant serves the Korean fallback
        return {"ko": settings.consultants.ids()}
    return members_by_language(settings)  # type: ignore[no-any-return]


def render_generated(settings: Settings) -> list[str]:
    files = render_all(settings, fallback_members(settings))
    return write_generated(settings.pbx_dir / "generated", files)


def pbx_container(settings: Settings) -> PbxContainer:
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
    )
