"""Which bridge technologies the PBX loads (settings pbx.mixing_bridges): mixing bridges fill
a recording's timeline while both parties are silent, the 1-to-1 ones relay video."""

from __future__ import annotations

import re

import pytest

from dasan.config import Settings
from dasan.paths import project_root
from dasan.pbx.render import mixing_bridges, render_all, render_bridge_modules
from dasan.pbx.service import video_members

ONE_TO_ONE = ("bridge_simple.so", "bridge_native_rtp.so")


def loaded(text: str) -> set[str]:
    return set(re.findall(r"^load = (\S+)$", text, re.M))


def with_mode(mode: str) -> Settings:
    base = Settings()
    return base.model_copy(update={"pbx": base.pbx.model_copy(update={"mixing_bridges": mode})})


@pytest.mark.parametrize(
    ("mode", "video", "mixing"),
    [
        ("auto", (), True),
        ("auto", ("c0440",), False),
        ("on", ("c0440",), True),
        ("off", (), False),
    ],
)
def test_mode_and_video_staff_decide_the_bridges(
    mode: str, video: tuple[str, ...], mixing: bool
) -> None:
    settings = with_mode(mode)
    assert mixing_bridges(settings, video) is mixing
    modules = loaded(render_bridge_modules(settings, video))
    assert {"bridge_softmix.so", "bridge_holding.so"} <= modules
    assert modules.isdisjoint(ONE_TO_ONE) is mixing


def test_shipped_roster_keeps_video_relay_by_default() -> None:
    settings = Settings()
    assert settings.pbx.mixing_bridges == "auto"
    video = video_members(settings)
    assert video, "the shipped roster has a sign-language team"
    assert set(ONE_TO_ONE) <= loaded(render_bridge_modules(settings, video))


def test_modules_conf_loads_the_generated_bridges_and_no_bridge_of_its_own() -> None:
    text = (project_root() / "asterisk-config" / "modules.conf").read_text(encoding="utf-8")
    assert "#include /etc/dasan/generated/modules_bridges.conf" in text
    assert not any(
        name.startswith("bridge_") and name != "bridge_builtin_features.so" for name in loaded(text)
    )
    assert "modules_bridges.conf" in render_all(Settings(), {})
