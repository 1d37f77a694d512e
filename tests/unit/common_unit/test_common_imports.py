"""The foundations import no project package (the arrows only ever point into ``common``)."""

from __future__ import annotations

import ast
from pathlib import Path

import common

PROJECT = {"dasan", "ivr", "acd", "cti", "recordings", "benchmarks", "tests"}


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_common_imports_no_project_package() -> None:
    files = sorted(Path(common.__file__).parent.glob("**/*.py"))
    assert len(files) >= 5
    offenders = {f.name: _imported(f) & PROJECT for f in files if _imported(f) & PROJECT}
    assert offenders == {}
