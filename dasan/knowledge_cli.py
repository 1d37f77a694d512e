"""``dasan kb``: the knowledge area's commands, opened on the configured database."""

from __future__ import annotations

import click

from dasan.context import settings_from
from knowledge.cli import kb_group
from knowledge.system import KnowledgeBase


async def _open(ctx: click.Context) -> KnowledgeBase:
    settings = settings_from(ctx)
    return await KnowledgeBase.open(settings.knowledge, url=settings.storage_url)


COMMANDS = [kb_group(_open)]
