"""Dasan's own Asterisk modules (``asterisk-modules/*.c``), built into the PBX image.

The recorder (``app_dasanrecord``: recordings as long as their calls, see its source) is
compiled on the host with the C compiler against the headers of the exact Asterisk version
installed in the image (Debian's ``asterisk-dev`` of that version, fetched once into the
image cache and checked against the archive's SHA-256), and installed in the image's module
folder.

Invariants:
- A module is rebuilt only when its source or the image's Asterisk version changes (a stamp
  beside it holds the hash of both): an unchanged image needs neither the network nor a
  compiler.
- The module file is replaced by a rename, never written in place: an Asterisk already
  running from the shared image keeps the module it loaded.
- Anything missing (compiler, headers package, network) is a ``PbxImageError`` that says
  how to fix it; a PBX without the recorder would record nothing, so it never starts
  silently without it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from dasan.paths import project_root

HEADERS_PACKAGE = "asterisk-dev"
DOWNLOAD_TIMEOUT_S = 120


class ModuleBuildError(RuntimeError):
    """A Dasan Asterisk module could not be built; the message says how to fix it."""


def module_sources(root: Path | None = None) -> list[Path]:
    folder = (root or project_root()) / "asterisk-modules"
    return sorted(folder.glob("*.c"))


def installed_version(rootfs: Path, package: str = "asterisk") -> str:
    """The version dpkg records for ``package`` in the image (no chroot needed)."""
    status = rootfs / "var/lib/dpkg/status"
    for stanza in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        fields = _fields(stanza)
        if fields.get("Package") == package and "installed" in fields.get("Status", ""):
            return fields.get("Version", "")
    raise ModuleBuildError(f"{package} is not installed in the PBX image at {rootfs}")


def _fields(stanza: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in stanza.splitlines():
        match = re.match(r"^([A-Za-z0-9-]+):\s*(.*)$", line)
        if match:
            out[match.group(1)] = match.group(2)
    return out


def package_entry(rootfs: Path, package: str, version: str) -> dict[str, str]:
    """``package`` at ``version`` in the image's apt lists (its Filename and SHA256)."""
    lists = sorted((rootfs / "var/lib/apt/lists").glob("*_Packages"))
    for path in lists:
        for stanza in path.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            fields = _fields(stanza)
            if fields.get("Package") == package and fields.get("Version") == version:
                return fields
    raise ModuleBuildError(
        f"{package} {version} is not in the PBX image's package lists "
        f"({len(lists)} lists under {rootfs / 'var/lib/apt/lists'}): rebuild the image "
        "(dasan pbx image --rebuild)"
    )


def module_dir(rootfs: Path) -> Path:
    found = sorted(rootfs.glob("usr/lib/*/asterisk/modules"))
    if not found:
        raise ModuleBuildError(f"no Asterisk module folder in the PBX image at {rootfs}")
    return found[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def headers(rootfs: Path, cache: Path, mirror: Callable[[], str], version: str) -> Path:
    """The include folder of ``asterisk-dev`` ``version``, fetched into ``cache`` once."""
    safe = re.sub(r"[^A-Za-z0-9.+~-]", "_", version)
    target = cache / f"{HEADERS_PACKAGE}-{safe}"
    include = target / "usr" / "include"
    if (include / "asterisk.h").is_file():
        return include
    entry = package_entry(rootfs, HEADERS_PACKAGE, version)
    url = mirror().rstrip("/") + "/" + entry["Filename"]
    if not url.startswith(("http://", "https://")):
        raise ModuleBuildError(f"the Debian mirror must be an http(s) address, not {url}")
    cache.mkdir(parents=True, exist_ok=True)
    deb = cache / f"{HEADERS_PACKAGE}-{safe}.deb"
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
            data = response.read()
    except OSError as exc:
        raise ModuleBuildError(
            f"could not fetch {url} ({exc}); the PBX image's first build needs the Debian "
            "mirror (set pbx.mirror if this host reaches another one)"
        ) from exc
    if hashlib.sha256(data).hexdigest() != entry.get("SHA256"):
        raise ModuleBuildError(f"{url}: SHA-256 differs from the package list's; not used")
    deb.write_bytes(data)
    tmp = Path(tempfile.mkdtemp(prefix="asterisk-dev-", dir=cache))
    try:
        _run(["dpkg-deb", "-x", str(deb), str(tmp)], "unpacking asterisk-dev")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        deb.unlink(missing_ok=True)
    return include


def _run(cmd: list[str], what: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ModuleBuildError(f"{what}: {cmd[0]} is not installed (make system-deps)") from exc
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-20:]
        raise ModuleBuildError(f"{what} failed (exit {proc.returncode}):\n" + "\n".join(tail))


def compile_command(source: Path, include: Path, output: Path) -> list[str]:
    name = source.stem
    return [
        os.environ.get("CC", "gcc"),
        "-shared",
        "-fPIC",
        "-O2",
        "-g",
        "-Wall",
        "-Werror=implicit-function-declaration",
        "-D_GNU_SOURCE",
        f'-DAST_MODULE="{name}"',
        f"-DAST_MODULE_SELF_SYM=__internal_{name}_self",
        "-I",
        str(include),
        "-o",
        str(output),
        str(source),
    ]


def ensure_modules(
    rootfs: Path,
    cache: Path,
    mirror: Callable[[], str],
    progress: Callable[[str], None],
    sources: list[Path] | None = None,
) -> list[str]:
    """Build and install every module whose stamp is stale; returns the names built."""
    version = installed_version(rootfs)
    target_dir = module_dir(rootfs)
    built: list[str] = []
    include: Path | None = None
    for source in module_sources() if sources is None else sources:
        output = target_dir / f"{source.stem}.so"
        stamp = target_dir / f"{source.stem}.so.dasan-stamp"
        want = hashlib.sha256(source.read_bytes() + version.encode()).hexdigest()
        if output.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
            continue
        if include is None:
            include = headers(rootfs, cache, mirror, version)
        progress(f"building the Asterisk module {source.name} for Asterisk {version}")
        tmp = output.with_name(f".{output.name}.tmp")
        _run(compile_command(source, include, tmp), f"compiling {source.name}")
        tmp.replace(output)
        stamp.write_text(want + "\n", encoding="utf-8")
        built.append(source.stem)
    return built
