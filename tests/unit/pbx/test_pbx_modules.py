"""Dasan's Asterisk modules in the PBX image (dasan.pbx.modules): built once per source and
Asterisk version, against that version's headers, replaced by a rename, and every failure a
clear error. A fake compiler (``CC``) stands for gcc; the real build is exercised by
``dasan pbx image`` and every integration test (the recorder is in the dialplan)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from dasan.paths import project_root
from dasan.pbx.modules import (
    ModuleBuildError,
    ensure_modules,
    installed_version,
    module_sources,
    package_entry,
)

pytestmark = pytest.mark.unit

VERSION = "1:22.10.1+dfsg+~cs6.17.60671434-1"
STATUS = f"""Package: adduser
Status: install ok installed
Version: 3.159

Package: asterisk
Status: install ok installed
Priority: optional
Version: {VERSION}
Description: Open Source Private Branch Exchange (PBX)
"""


def image(tmp_path: Path) -> Path:
    rootfs = tmp_path / "rootfs"
    (rootfs / "var/lib/dpkg").mkdir(parents=True)
    (rootfs / "var/lib/dpkg/status").write_text(STATUS)
    (rootfs / "usr/lib/x86_64-linux-gnu/asterisk/modules").mkdir(parents=True)
    lists = rootfs / "var/lib/apt/lists"
    lists.mkdir(parents=True)
    (lists / "deb.debian.org_debian_dists_forky_main_binary-amd64_Packages").write_text(
        "Package: asterisk-dev\nVersion: 1:21.0-1\nFilename: pool/old.deb\nSHA256: 00\n\n"
        f"Package: asterisk-dev\nVersion: {VERSION}\n"
        "Filename: pool/main/a/asterisk/asterisk-dev_22_all.deb\nSHA256: abc\n"
    )
    return rootfs


def cached_headers(cache: Path) -> Path:
    """The headers as a first build leaves them in the cache (no network needed after)."""
    include = cache / "asterisk-dev-1_22.10.1+dfsg+~cs6.17.60671434-1" / "usr" / "include"
    include.mkdir(parents=True)
    (include / "asterisk.h").write_text("/* headers */\n")
    return include


@pytest.fixture
def fake_cc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A compiler that logs its arguments and writes the output file (-o)."""
    log = tmp_path / "cc.log"
    script = tmp_path / "fake-cc"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo module > "$2"; fi; shift; done\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("CC", str(script))
    return log


def no_mirror() -> str:
    raise AssertionError("the mirror is not needed when the headers are cached")


def test_the_recorder_source_ships_with_the_checkout() -> None:
    assert [p.name for p in module_sources(project_root())] == ["app_dasanrecord.c"]


def test_the_version_and_the_headers_package_come_from_the_image(tmp_path: Path) -> None:
    rootfs = image(tmp_path)
    assert installed_version(rootfs) == VERSION
    entry = package_entry(rootfs, "asterisk-dev", VERSION)
    assert entry["Filename"].endswith("asterisk-dev_22_all.deb") and entry["SHA256"] == "abc"
    with pytest.raises(ModuleBuildError, match="not in the PBX image's package lists"):
        package_entry(rootfs, "asterisk-dev", "9:99")
    with pytest.raises(ModuleBuildError, match="asterisk-moh is not installed"):
        installed_version(rootfs, "asterisk-moh")


def test_a_module_is_built_once_per_source_and_version(tmp_path: Path, fake_cc: Path) -> None:
    rootfs, cache = image(tmp_path), tmp_path / "cache"
    include = cached_headers(cache)
    source = tmp_path / "app_probe.c"
    source.write_text("int x;\n")
    progress: list[str] = []
    assert ensure_modules(rootfs, cache, no_mirror, progress.append, [source]) == ["app_probe"]
    built = rootfs / "usr/lib/x86_64-linux-gnu/asterisk/modules/app_probe.so"
    assert built.read_text() == "module\n"
    args = fake_cc.read_text()
    assert f"-I {include}" in args and '-DAST_MODULE="app_probe"' in args
    assert "-DAST_MODULE_SELF_SYM=__internal_app_probe_self" in args
    assert progress and VERSION in progress[0]
    # Unchanged: nothing rebuilt. The source changed: rebuilt, by a rename (new inode).
    assert ensure_modules(rootfs, cache, no_mirror, progress.append, [source]) == []
    inode = built.stat().st_ino
    held = built.open()  # an Asterisk running with the old module keeps reading it
    source.write_text("int y;\n")
    assert ensure_modules(rootfs, cache, no_mirror, progress.append, [source]) == ["app_probe"]
    assert built.stat().st_ino != inode and held.read() == "module\n"
    held.close()
    stamp = built.with_name("app_probe.so.dasan-stamp").read_text().strip()
    assert stamp == hashlib.sha256(b"int y;\n" + VERSION.encode()).hexdigest()


def test_a_compiler_error_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rootfs, cache = image(tmp_path), tmp_path / "cache"
    cached_headers(cache)
    failing = tmp_path / "failing-cc"
    failing.write_text("#!/bin/sh\necho 'app_probe.c:1: error: expected ;' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv("CC", str(failing))
    source = tmp_path / "app_probe.c"
    source.write_text("int x\n")
    with pytest.raises(ModuleBuildError, match=r"(?s)compiling app_probe.c failed.*expected ;"):
        ensure_modules(rootfs, cache, no_mirror, lambda _m: None, [source])
    modules = rootfs / "usr/lib/x86_64-linux-gnu/asterisk/modules"
    assert not (modules / "app_probe.so").exists()


def test_a_missing_compiler_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rootfs, cache = image(tmp_path), tmp_path / "cache"
    cached_headers(cache)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    source = tmp_path / "app_probe.c"
    source.write_text("int x;\n")
    with pytest.raises(ModuleBuildError, match="not installed"):
        ensure_modules(rootfs, cache, no_mirror, lambda _m: None, [source])


def test_headers_that_cannot_be_fetched_name_the_address(tmp_path: Path) -> None:
    rootfs, cache = image(tmp_path), tmp_path / "cache"
    source = tmp_path / "app_probe.c"
    source.write_text("int x;\n")
    # A closed local port: the fetch fails at once, and the error says what was asked.
    with pytest.raises(ModuleBuildError, match=r"could not fetch http://127\.0\.0\.1:9/"):
        ensure_modules(rootfs, cache, lambda: "http://127.0.0.1:9/debian", print, [source])
    assert not os.listdir(cache) or all(not p.endswith(".deb") for p in os.listdir(cache))
