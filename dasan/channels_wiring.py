"""Wiring of the text channels (chat, SMS) into the engine: their parts from the settings."""

from __future__ import annotations

from acd.driver import AcdDriver
from channels.service import ChannelsService
from channels.wiring import ChannelParts, build
from dasan.config import Settings
from ivr.hours import load_service_hours
from recordings.system import Recordings


def build_channels(settings: Settings, recordings: Recordings, acd: AcdDriver) -> ChannelsService:
    ivr = settings.ivr
    hours = load_service_hours(ivr.timezone, ivr.service_hours_file, ivr.holidays_file)
    parts = ChannelParts(
        storage=recordings.storage,
        ring=recordings.ring,
        catalog=recordings.catalog,
        spool=settings.recordings_dir,
        acd=acd,
        hours=hours,
    )
    return build(settings.channels, parts)
