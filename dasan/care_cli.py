"""``dasan tickets|callbacks|report``: care's verbs, given the database and key of the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import click

from care.cli import build_commands
from care.system import Care
from common.storage import Storage
from dasan.context import settings_from
from recordings.keys import KeyFileError, NumberProtector, load_or_create_key_ring
from recordings.layout import key_file


@asynccontextmanager
async def open_care(ctx: click.Context) -> AsyncIterator[Care]:
    settings = settings_from(ctx)
    try:
        ring = load_or_create_key_ring(key_file(settings), create=settings.recordings.create_key)
        protector: NumberProtector | None = NumberProtector(ring)
    except KeyFileError:
        protector = None  # lists still work; numbers stay hidden
    storage = await Storage.open(settings.storage_url)
    try:
        requests = settings.state_dir / "callbacks" / "requests.jsonl"
        yield Care.open(settings.care, storage, protector, requests)
    finally:
        await storage.close()


COMMANDS = build_commands(open_care)
