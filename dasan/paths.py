"""Where Dasan keeps its files.

Invariant: every path Dasan writes at run time lives under one state directory
(``var/`` beside the checkout by default, ``DASAN_HOME`` overrides), except the
shared PBX image cache, which survives fresh clones on the same machine.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def project_root() -> Path:
    """The checkout holding asterisk-config/ and dialplans/ (or cwd when installed elsewhere)."""
    if (PACKAGE_ROOT / "asterisk-config").is_dir():
        return PACKAGE_ROOT
    return Path.cwd()


def default_state_dir() -> Path:
    home = os.environ.get("DASAN_HOME")
    return Path(home) if home else project_root() / "var"


def default_cache_dir() -> Path:
    cache = os.environ.get("DASAN_CACHE") or os.environ.get("XDG_CACHE_HOME")
    base = Path(cache) if cache else Path.home() / ".cache"
    return base / "dasan" if not os.environ.get("DASAN_CACHE") else base
