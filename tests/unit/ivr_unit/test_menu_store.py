"""MenuStore reloads atomically: new calls get the new menu, calls in progress keep theirs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dasan.config import Settings
from ivr.menu.events import DigitsReceived, RouteTo
from ivr.menu.loader import MenuStore, menu_loader
from ivr.menu.validate import MenuError
from ivr.settings import IvrSettings
from ivr.speech_pool import SpeechPool
from ivr.wiring import (
    menu_store,
    pid_file,
    prompts_override_dir,
    reload_menu,
    speech_dir,
    speech_input,
)

from .helpers import WEEKDAY_NOON, Walk

FIXTURE = Path(__file__).parents[2] / "fixtures" / "menus" / "minimal.yaml"


def write_menu(path: Path, transport_target: str = "transport") -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    path.write_text(
        text.replace("target: transport", f"target: {transport_target}"), encoding="utf-8"
    )


def test_reload_swaps_for_new_calls_and_keeps_calls_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "menu.yaml"
    write_menu(path)
    store = MenuStore(menu_loader(IvrSettings(menu_file=path)))
    old = store.current
    in_progress = Walk(old, WEEKDAY_NOON)
    in_progress.start()

    write_menu(path, transport_target="general")
    new = store.reload()
    assert store.current is new and store.generation == 2
    assert new.digest != old.digest

    # The call that started before the reload still walks the old menu to its end.
    in_progress.send(DigitsReceived("1"))  # type-ahead is off; this ends the greeting
    in_progress.send(DigitsReceived("1"))
    assert isinstance(in_progress.last, RouteTo) and in_progress.last.target == "transport"
    fresh = Walk(store.current, WEEKDAY_NOON)
    fresh.start()
    fresh.send(DigitsReceived("1"))
    fresh.send(DigitsReceived("1"))
    assert isinstance(fresh.last, RouteTo) and fresh.last.target == "general"


def test_a_broken_file_keeps_the_current_menu(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "menu.yaml"
    write_menu(path)
    settings = Settings(state_dir=tmp_path, ivr=IvrSettings(menu_file=path))
    store = menu_store(settings)
    current = store.current
    write_menu(path, transport_target="pizza")
    with pytest.raises(MenuError, match="pizza"):
        store.reload()
    assert store.current is current and store.generation == 1
    with caplog.at_level(logging.ERROR, logger="ivr.wiring"):
        assert reload_menu(store) is False
    assert "keeping menu" in caplog.text and "pizza" in caplog.text
    write_menu(path)
    assert reload_menu(store) is True and store.generation == 2


def test_derived_paths(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    assert settings.prompts_dir == tmp_path / "prompts"
    assert prompts_override_dir(settings) == tmp_path / "prompts-override"
    assert speech_dir(settings) == tmp_path / "speech"
    assert pid_file(settings) == tmp_path / "dasan.pid"
    custom = Settings(
        state_dir=tmp_path, ivr=IvrSettings(speech_dir=tmp_path / "s", speech_enabled=False)
    )
    assert speech_dir(custom) == tmp_path / "s"
    pool = SpeechPool(1, 1)
    assert speech_input(custom, pool) is None
    assert speech_input(settings, None) is None
    made = speech_input(settings, pool)
    assert made is not None and made.pbx_dir == "/var/spool/dasan/speech"
    assert made.host_dir == tmp_path / "speech" and made.pool is pool
