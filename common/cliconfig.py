"""Settings for command-line verbs, without importing the composition root.

Invariants:
- The root command (``dasan.cli``) installs one loader in the click context object; the first
  verb that asks loads the settings through it, later verbs of the same invocation reuse them.
- A verb gets ``object``: each feature reads it through a Protocol of what it uses
  (``ivr.settings.IvrHost``, ``cti.settings.CtiHost``, ``recordings.settings.RecordingsHost``,
  ``acd.settings.AcdHost``), and the composition root proves statically that its settings
  satisfy every one of them (``dasan.context``).
- Without a loader (a verb invoked outside the ``dasan`` command) the verb fails with a
  message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import click

# Keys in the root context object: the loaded settings, and the loader that makes them.
SETTINGS = "settings"
LOADER = "settings_loader"


def install(ctx: click.Context, loader: Callable[[], object]) -> None:
    """For the root command: how this invocation's settings are loaded (lazily, once)."""
    ctx.ensure_object(dict)
    ctx.obj[LOADER] = loader


def settings_from(ctx: click.Context) -> object:
    """This invocation's settings (loaded on first use); ClickException without a loader."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if SETTINGS in obj:
        return obj[SETTINGS]
    loader = obj.get(LOADER)
    if loader is None:
        raise click.ClickException("no configuration loader: run this through `dasan`")
    obj[SETTINGS] = settings = loader()
    return settings
