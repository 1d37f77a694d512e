"""Optional extras: declared where used, and a clear error naming the extra when missing."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from common.extras import MissingExtra, extra_packages, missing_packages, require
from dasan.cli import build_cli

REQUIREMENTS = [
    "click<9,>=8.1",
    'psutil<8,>=5.9; extra == "load"',
    "matplotlib<4,>=3.8 ; extra == 'load'",
    'panoramisk<1.5,>=1.4; extra == "bench"',
]
OPTIONAL = ("psutil", "matplotlib", "panoramisk", "asterisk")


def test_extra_packages_reads_the_markers() -> None:
    assert extra_packages("load", REQUIREMENTS) == ["psutil", "matplotlib"]
    assert extra_packages("bench", REQUIREMENTS) == ["panoramisk"]
    assert missing_packages("load", REQUIREMENTS, lambda name: name != "psutil") == ["psutil"]
    with pytest.raises(ValueError, match="no extra named 'lod'"):
        missing_packages("lod", REQUIREMENTS)


def test_the_project_declares_optional_packages_as_extras_not_runtime() -> None:
    requires = metadata.requires("dasan") or []
    runtime = {line.split(";")[0] for line in requires if "extra ==" not in line}
    assert not [r for r in runtime if r.startswith(("panoramisk", "pyst2", "matplotlib", "psutil"))]
    assert {"psutil", "matplotlib"} <= set(extra_packages("load", requires))
    assert {"panoramisk", "pyst2"} <= set(extra_packages("bench", requires))
    assert any(r.startswith("holidays") for r in runtime)


def test_require_names_the_extra_and_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    require("load", "`dasan load`")  # the test environment has it
    monkeypatch.setattr("common.extras._installed", lambda name: name != "matplotlib")
    with pytest.raises(MissingExtra) as info:
        require("load", "`dasan load`")
    assert info.value.extra == "load"
    assert info.value.missing == ("matplotlib",)
    assert "pip install -e '.[load]'" in str(info.value)


@pytest.mark.parametrize(
    "args",
    [["load", "smoke", "--json"], ["sim", "--calls", "10", "--plot", "day.png"]],
)
def test_commands_needing_the_load_extra_say_so(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("common.extras._installed", lambda name: name != "psutil")
    result = CliRunner().invoke(build_cli(), args, env={"DASAN_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "the optional 'load' packages (psutil missing)" in result.output
    assert not (tmp_path / "day.png").exists()


def test_the_cli_starts_without_any_optional_package(tmp_path: Path) -> None:
    # A finder that refuses the optional packages, as if they were not installed.
    script = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {OPTIONAL!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "from dasan.cli import build_cli\n"
        "build_cli().main(['--help'], standalone_mode=False)\n"
        f"assert not {{m.split('.')[0] for m in sys.modules}} & set({OPTIONAL!r})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    for command in ("load", "sim", "serve"):
        assert command in done.stdout
