"""PBX-to-host paths: one mapping for the pipeline and the recording guard."""

from __future__ import annotations

from pathlib import Path

from recordings.layout import host_path, mounted_host_path
from tests.unit.recordings.rec_support import make_settings


def test_primary_and_spare_map_to_their_host_folders(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    wav = "2026/12/02/1732800000.42.wav"
    assert mounted_host_path(settings, f"/var/spool/dasan/recordings/{wav}") == (
        settings.recordings_dir / wav
    )
    # The spare folder's name starts with the primary's: the prefix must end at a slash.
    assert mounted_host_path(settings, f"/var/spool/dasan/recordings-spare/{wav}") == (
        settings.recordings_spare_dir / wav
    )


def test_a_path_outside_the_mounts_is_none_or_taken_as_a_host_path(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert mounted_host_path(settings, "") is None
    assert mounted_host_path(settings, "/var/spool/dasan/recordings") is None
    assert mounted_host_path(settings, "/tmp/elsewhere.wav") is None
    assert host_path(settings, "/tmp/elsewhere.wav") == Path("/tmp/elsewhere.wav")
    assert host_path(settings, Path("/var/spool/dasan/recordings/a.wav")) == (
        settings.recordings_dir / "a.wav"
    )
