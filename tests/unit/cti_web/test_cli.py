"""``dasan users ...`` (the group alone, so other areas' commands cannot break it): add, list, token, revoke, remove, demo-password."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from common import cliconfig
from common.principal import Role
from cti.auth import Authenticator, demo_password
from cti.cli import users
from cti.userdb import SqlUserStore
from dasan.config import load_settings


class _Runner(CliRunner):
    """Invokes the group alone with the loader the root command would install."""

    def invoke(self, *args: Any, **kwargs: Any) -> Result:
        kwargs.setdefault("obj", {cliconfig.LOADER: load_settings})
        return super().invoke(*args, **kwargs)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DASAN_HOME", str(tmp_path))
    monkeypatch.delenv("DASAN_CONFIG", raising=False)
    return _Runner()


def test_users_lifecycle(runner: CliRunner, tmp_path: Path) -> None:
    added = runner.invoke(users, ["add", "alice", "--role", "supervisor"])
    assert added.exit_code == 0, added.output
    assert "password: " in added.output
    piped = runner.invoke(
        users,
        ["add", "bob", "--role", "admin", "--password-stdin"],
        input="bob's password\n",
    )
    assert piped.exit_code == 0
    assert "password" not in piped.output.replace("--password", "")
    issued = runner.invoke(users, ["token", "alice", "--label", "tv", "--json"])
    token = json.loads(issued.output)["token"]
    store = SqlUserStore(f"sqlite+aiosqlite:///{tmp_path / 'dasan.sqlite3'}")
    principal = Authenticator(store, lambda: 0.0).authenticate(token, "cli")
    store.close()
    assert principal is not None
    assert principal.role is Role.SUPERVISOR
    listed = json.loads(runner.invoke(users, ["list", "--json"]).output)
    assert [(u["user_id"], u["role"], u["api_tokens"]) for u in listed] == [
        ("alice", "supervisor", 1),
        ("bob", "admin", 0),
    ]
    assert "1 token(s) revoked" in runner.invoke(users, ["revoke-tokens", "alice"]).output
    assert runner.invoke(users, ["remove", "bob"]).exit_code == 0
    missing = runner.invoke(users, ["remove", "bob"])
    assert missing.exit_code != 0
    assert "no user 'bob'" in missing.output


def test_bad_input_is_a_clear_error(runner: CliRunner) -> None:
    bad = runner.invoke(users, ["add", "Bad Id", "--role", "admin"])
    assert bad.exit_code != 0
    assert "user id must be" in bad.output
    short = runner.invoke(
        users, ["add", "carol", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert "at least 8" in short.output
    ghost = runner.invoke(users, ["token", "ghost"])
    assert "no user 'ghost'" in ghost.output


def test_demo_password(runner: CliRunner) -> None:
    result = runner.invoke(users, ["demo-password", "c0001", "--json"])
    data = json.loads(result.output)
    assert data["password"] == demo_password("c0001", "dasan-demo-web-secret")
    assert data["demo_users"] is True


def test_a_district_user_needs_a_configured_district(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["add", "sup.gangnam", "--role", "supervisor", "--tenant", "gangnam"]
    unconfigured = runner.invoke(users, args)
    assert unconfigured.exit_code == 1
    assert "acd.tenants_file" in unconfigured.output
    tenants = tmp_path / "tenants.yaml"
    tenants.write_text(
        "districts:\n"
        "  - id: gangnam\n"
        "    name: {ko: 강남구, en: Gangnam-gu}\n"
        '    dial: ["12001"]\n'
        "    consultants: [c0004]\n"
        "    services: [general]\n"
        "    overflow_after_s: 30\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DASAN_ACD__TENANTS_FILE", str(tenants))
    unknown = runner.invoke(users, [*args[:-1], "mapo"])
    assert unknown.exit_code == 1
    assert "no district 'mapo'" in unknown.output and "gangnam" in unknown.output
    added = runner.invoke(users, args)
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(users, ["list", "--json"]).output)
    assert [(u["user_id"], u["tenant"]) for u in listed] == [("sup.gangnam", "gangnam")]
