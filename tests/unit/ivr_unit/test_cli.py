"""`dasan prompts build|check` and `dasan ivr validate|reload` through the real CLI root."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from dasan.cli import build_cli
from ivr.prompts.manifest import load_manifest

FIXTURE = Path(__file__).parents[2] / "fixtures" / "menus" / "minimal.yaml"
SMALL_MANIFEST = """
languages: [ko, en]
voices: {ko: {voice: ko, speed: 200}, en: {voice: en-us, speed: 220}}
prompts:
  hello: {ko: 안녕하세요, en: Hello}
"""


def config(tmp_path: Path, **ivr: str) -> Path:
    lines = [f'state_dir = "{tmp_path / "state"}"', "[ivr]"]
    lines += [f'{key} = "{value}"' for key, value in ivr.items()]
    path = tmp_path / "dasan.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cli(conf: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_cli(), ["--config", str(conf), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_validate_the_shipped_menu(tmp_path: Path) -> None:
    code, out, _ = cli(config(tmp_path), "ivr", "validate")
    assert code == 0 and "ivr/menus/dasan120.yaml: menu 'dasan120' is valid" in out
    code, out, _ = cli(config(tmp_path), "ivr", "validate", "--json")
    assert code == 0 and json.loads(out)["menu"] == "dasan120"


def test_validate_reports_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = FIXTURE.read_text(encoding="utf-8").replace("next: choose", "next: nowhere")
    bad.write_text(text.replace("target: welfare", "target: pizza"), encoding="utf-8")
    code, _, err = cli(config(tmp_path), "ivr", "validate", str(bad))
    assert code == 1
    assert f"{bad}: node 'hello': next: unknown node 'nowhere'" in err
    assert f"{bad}: node 'to_welfare': target 'pizza' is not a known routing target" in err
    code, out, _ = cli(config(tmp_path), "ivr", "validate", "--json", str(bad))
    body = json.loads(out)
    assert code == 1 and body["ok"] is False and body["file"] == str(bad)
    assert len(body["problems"]) >= 2


def test_prompts_build_then_check(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text(SMALL_MANIFEST, encoding="utf-8")
    conf = config(tmp_path, prompt_manifest_file=str(manifest))
    code, out, _ = cli(conf, "prompts", "build", "--json", "--jobs", "2")
    summary = json.loads(out)
    assert code == 0 and summary["built"] == 2 and summary["failed"] == 0
    assert (tmp_path / "state" / "prompts" / "en" / "hello.wav16").is_file()
    code, out, _ = cli(conf, "prompts", "build")
    assert code == 0 and "0 built, 2 unchanged" in out


def test_prompts_check_on_an_empty_state(tmp_path: Path) -> None:
    code, out, _ = cli(config(tmp_path), "prompts", "check", "--json")
    body = json.loads(out)
    assert code == 1 and not body["ok"]
    assert "ko/welcome: not built" in body["problems"]
    assert len(body["problems"]) == len(load_manifest().ids) * 6


def test_reload_without_an_engine(tmp_path: Path) -> None:
    code, _, err = cli(config(tmp_path), "ivr", "reload")
    assert code == 1 and "no engine runs" in err and "dasan serve" in err
    (tmp_path / "state").mkdir()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    (tmp_path / "state" / "dasan.pid").write_text(f"{gone.pid}\n", encoding="utf-8")
    code, _, err = cli(config(tmp_path), "ivr", "reload")
    assert code == 1 and f"pid {gone.pid}" in err and "is gone" in err


def test_reload_refuses_a_broken_menu(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    code, _, err = cli(config(tmp_path, menu_file=str(bad)), "ivr", "reload")
    assert code == 1 and "not reloading" in err and str(bad) in err


ENGINE = """
import signal, sys, time
from pathlib import Path
mark = Path(sys.argv[1])
signal.signal(signal.SIGHUP, lambda *_: mark.write_text("reloaded"))
print("ready", flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not mark.exists():
    time.sleep(0.05)
"""


@pytest.mark.timeout(60)
def test_reload_signals_the_engine(tmp_path: Path) -> None:
    mark = tmp_path / "hup"
    engine = subprocess.Popen(
        [sys.executable, "-c", ENGINE, str(mark)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert engine.stdout is not None and engine.stdout.readline().strip() == "ready"
        (tmp_path / "state").mkdir()
        (tmp_path / "state" / "dasan.pid").write_text(f"{engine.pid}\n", encoding="utf-8")
        code, out, _ = cli(config(tmp_path), "ivr", "reload")
        assert code == 0 and f"reload sent to engine pid {engine.pid}" in out
        deadline = time.monotonic() + 30
        # The mark may exist a moment before its text is written: poll for the text.
        while _text(mark) != "reloaded" and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the signal handler's mark, bounded by the deadline
        assert _text(mark) == "reloaded"
    finally:
        engine.kill()
        engine.wait(timeout=30)
        if engine.stdout is not None:
            engine.stdout.close()


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
