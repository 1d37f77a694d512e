"""Strong random secrets written to a file only its owner may read.

Invariant: the file is created with mode 0600 from the start (never written first and
chmod-ed after), and an existing file is never overwritten unless asked.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# Table, key and bytes of randomness of every secret in the settings.
SECRET_KEYS: tuple[tuple[str, str, int], ...] = (
    ("consultants", "password_secret", 32),
    ("ami", "secret", 24),
    ("http", "demo_password_secret", 32),
)


class SecretsExist(Exception):
    """The secrets file exists and overwriting was not asked for."""


def generate() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for table, key, size in SECRET_KEYS:
        out.setdefault(table, {})[key] = secrets.token_urlsafe(size)
    return out


def render(values: dict[str, dict[str, str]]) -> str:
    lines = ["# Dasan secrets (dasan secrets init). Keep this file mode 0600.", ""]
    for table, items in values.items():
        lines.append(f"[{table}]")
        # token_urlsafe gives [A-Za-z0-9_-] only: nothing to escape in a TOML string.
        lines.extend(f'{key} = "{value}"' for key, value in items.items())
        lines.append("")
    return "\n".join(lines)


def write_secrets(path: Path, force: bool = False) -> None:
    """Write fresh secrets to ``path`` (mode 0600); SecretsExist if it is there already."""
    if path.exists() and not force:
        raise SecretsExist(f"{path} exists (use --force to replace its secrets)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(render(generate()))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
