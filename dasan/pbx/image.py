"""The PBX root filesystem: a Debian forky minbase with Asterisk 22, built once and cached.

Invariants:
- The image is keyed on the suite and package list; its tarball and metadata live in the
  shared cache (``Settings.image_cache_dir``) so fresh clones on the same machine reuse it.
- The extracted root filesystem is shared by every PBX instance and treated as read-only:
  everything Asterisk writes is bind-mounted from the instance's own state folder.
- Build and extraction hold an exclusive lock, so concurrent ``pbx up`` calls never see a
  half-written image.
- Dasan's own Asterisk modules (``dasan.pbx.modules``: the recorder) are built into the
  extracted image under the same lock whenever their source or the image changed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from dasan.pbx.modules import ModuleBuildError, ensure_modules
from dasan.pbx.settings import PbxSettings

log = logging.getLogger(__name__)

DEBOOTSTRAP_SCRIPT = Path("/usr/share/debootstrap/scripts/sid")
# Mount points the container needs inside the (read-only, shared) root filesystem.
MOUNT_POINTS = (
    "etc/dasan/dialplans",
    "etc/dasan/generated",
    "var/lib/dasan/prompts",
    "var/spool/dasan/recordings",
    "var/spool/dasan/recordings-spare",
    "var/spool/dasan/speech",
    "run/asterisk",
)


class PbxImageError(RuntimeError):
    """The PBX image could not be built or restored; the message says how to fix it."""


@dataclass(frozen=True)
class ImageInfo:
    key: str
    suite: str
    packages: tuple[str, ...]
    asterisk_version: str
    built_at: float
    build_seconds: float
    tarball_bytes: int


@dataclass(frozen=True)
class ImageResult:
    info: ImageInfo
    rootfs: Path
    # What this call did: "ready" (already extracted), "restored" (from tarball) or "built".
    action: str
    seconds: float


def image_key(settings: PbxSettings) -> str:
    text = settings.suite + "\n" + "\n".join(sorted(settings.packages))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def host_debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt on this host already uses (deb822 .sources or one-line .list)."""
    candidates: list[Path] = []
    if (apt_dir / "sources.list").is_file():
        candidates.append(apt_dir / "sources.list")
    candidates += sorted((apt_dir / "sources.list.d").glob("*.sources"))
    candidates += sorted((apt_dir / "sources.list.d").glob("*.list"))
    for path in candidates:
        mirror = _mirror_in(path.read_text(encoding="utf-8", errors="replace"))
        if mirror:
            return mirror
    raise PbxImageError(
        "no Debian mirror found in /etc/apt; set pbx.mirror in the configuration file"
    )


def _mirror_in(text: str) -> str | None:
    one_line = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+.*\bmain\b", re.M)
    for uri, suite in one_line.findall(text):
        if _is_debian_archive(uri, suite):
            return str(uri)
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(
            (m.group(1).lower(), m.group(2).strip())
            for m in re.finditer(r"^([A-Za-z-]+):\s*(.*)$", stanza, re.M)
        )
        if (
            "deb" not in fields.get("types", "").split()
            or "main" not in fields.get("components", "").split()
        ):
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                if _is_debian_archive(uri, suite):
                    return str(uri)
    return None


def _is_debian_archive(uri: str, suite: str) -> bool:
    return uri.rstrip("/").endswith("/debian") and not suite.endswith(("-security", "/updates"))


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], what: str, log_file: Path | None = None) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise PbxImageError(f"{what}: {cmd[0]} is not installed (make system-deps)") from exc
    if log_file is not None:
        log_file.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        where = f" (full log: {log_file})" if log_file else ""
        raise PbxImageError(f"{what} failed (exit {proc.returncode}){where}:\n" + "\n".join(tail))
    return proc.stdout


class PbxImage:
    """Builds, caches and extracts the Asterisk root filesystem."""

    def __init__(self, settings: PbxSettings, cache_dir: Path) -> None:
        self._settings = settings
        self._cache = cache_dir
        self.key = image_key(settings)

    @property
    def tarball(self) -> Path:
        return self._cache / f"rootfs-{self._settings.suite}-{self.key}.tar.zst"

    @property
    def meta_path(self) -> Path:
        return self._cache / f"rootfs-{self._settings.suite}-{self.key}.json"

    @property
    def rootfs(self) -> Path:
        return self._cache / f"rootfs-{self._settings.suite}-{self.key}"

    def info(self) -> ImageInfo | None:
        if not self.meta_path.is_file() or not self.tarball.is_file():
            return None
        data = json.loads(self.meta_path.read_text(encoding="utf-8"))
        data["packages"] = tuple(data["packages"])
        return ImageInfo(**data)

    def ensure(
        self, progress: Callable[[str], None] = log.info, rebuild: bool = False
    ) -> ImageResult:
        """Make the extracted root filesystem ready, building or restoring as needed."""
        started = time.monotonic()
        with _locked(self._cache / f".lock-{self.key}"):
            marker = self.rootfs / ".dasan-ready"
            info = None if rebuild else self.info()
            if info is not None and marker.is_file():
                self._prepare_mount_points()
                self._modules(progress)
                return ImageResult(info, self.rootfs, "ready", time.monotonic() - started)
            action = "restored"
            if info is None:
                progress(f"building the PBX image ({self._settings.suite}, Asterisk 22): ~45 s")
                info = self._build(progress)
                action = "built"
            else:
                progress(f"restoring the PBX image from {self.tarball.name}")
                self._extract()
            marker.write_text(self.key, encoding="utf-8")
            self._modules(progress)
            return ImageResult(info, self.rootfs, action, time.monotonic() - started)

    def _modules(self, progress: Callable[[str], None]) -> None:
        """Dasan's own Asterisk modules (the recorder), built for this image's Asterisk."""
        try:
            ensure_modules(
                self.rootfs,
                self._cache,
                lambda: self._settings.mirror or host_debian_mirror(),
                progress,
            )
        except ModuleBuildError as exc:
            raise PbxImageError(str(exc)) from exc

    def _build(self, progress: Callable[[str], None]) -> ImageInfo:
        if not DEBOOTSTRAP_SCRIPT.is_file():
            raise PbxImageError("debootstrap is not installed (apt-get install debootstrap)")
        mirror = self._settings.mirror or host_debian_mirror()
        work = self._cache / f"build-{self.key}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        debs = self._cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--cache-dir={debs}",
                "--include=" + ",".join(self._settings.packages),
                self._settings.suite,
                str(work / "rootfs"),
                mirror,
                str(DEBOOTSTRAP_SCRIPT),
            ],
            "debootstrap",
            log_file=self._cache / f"debootstrap-{self.key}.log",
        )
        root = work / "rootfs"
        version = self._asterisk_version(root)
        progress(f"debootstrap done in {time.monotonic() - started:.0f} s; {version}")
        _run(["rm", "-rf", str(root / "var/cache/apt/archives")], "cleaning the apt cache")
        tmp_tar = self.tarball.with_suffix(".tmp")
        _run(["tar", "-C", str(root), "-I", "zstd -T0 -3", "-cf", str(tmp_tar), "."], "tar")
        tmp_tar.replace(self.tarball)
        info = ImageInfo(
            key=self.key,
            suite=self._settings.suite,
            packages=tuple(self._settings.packages),
            asterisk_version=version,
            built_at=time.time(),
            build_seconds=round(time.monotonic() - started, 1),
            tarball_bytes=self.tarball.stat().st_size,
        )
        self.meta_path.write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        shutil.rmtree(self.rootfs, ignore_errors=True)
        root.rename(self.rootfs)
        shutil.rmtree(work, ignore_errors=True)
        self._prepare_mount_points()
        return info

    def _extract(self) -> None:
        tmp = self._cache / f"extract-{self.key}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(["tar", "-C", str(tmp), "-I", "zstd -T0", "-xf", str(self.tarball)], "untar")
        shutil.rmtree(self.rootfs, ignore_errors=True)
        tmp.rename(self.rootfs)
        self._prepare_mount_points()

    def _prepare_mount_points(self) -> None:
        """Idempotent touches to the shared root: mount points and a resolvable hostname."""
        for rel in MOUNT_POINTS:
            (self.rootfs / rel).mkdir(parents=True, exist_ok=True)
        hosts = "127.0.0.1\tlocalhost dasan-pbx\n::1\tlocalhost ip6-localhost\n"
        hosts_file = self.rootfs / "etc" / "hosts"
        if not hosts_file.is_file() or hosts_file.read_text(encoding="utf-8") != hosts:
            hosts_file.write_text(hosts, encoding="utf-8")

    @staticmethod
    def _asterisk_version(root: Path) -> str:
        out = _run(["chroot", str(root), "dpkg-query", "-W", "asterisk"], "dpkg-query asterisk")
        line = out.strip()
        log.info("PBX image: %s", line)
        return line.replace("\t", " ")
