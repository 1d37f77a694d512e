"""Default secrets and demo users are refused outside the demo, naming the setting; secrets
init writes strong ones only its owner can read; the config loads them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cti.settings import AmiSettings, HttpSettings
from dasan.cli import build_cli
from dasan.config import ConfigError, Settings, load_settings
from dasan.pbx.settings import PbxSettings
from dasan.security.defaults import refusal
from dasan.security.secrets import write_secrets


def test_demo_on_loopback_may_run() -> None:
    assert refusal(Settings()) is None


def test_production_names_every_default() -> None:
    message = refusal(Settings(mode="production")) or ""
    for setting in (
        "consultants.password_secret",
        "ami.secret",
        "http.demo_password_secret",
        "http.demo_users",
    ):
        assert setting in message


def test_a_public_bind_is_outside_the_demo() -> None:
    message = refusal(Settings(pbx=PbxSettings(sip_host="198.51.100.10"))) or ""
    assert "pbx.sip_host" in message and "ami.secret" in message


def test_weak_secret_refused() -> None:
    settings = Settings(
        mode="production",
        ami=AmiSettings(secret="short"),  # type: ignore[arg-type]
        http=HttpSettings(demo_users=False),
    )
    message = refusal(settings) or ""
    assert "ami.secret: is weak" in message
    assert "http.demo" not in message


def test_secrets_init_then_production_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets.toml"
    write_secrets(secrets)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    config = tmp_path / "dasan.toml"
    config.write_text(
        f'mode = "production"\nsecrets_file = "{secrets}"\n[http]\ndemo_users = false\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert refusal(settings) is None
    assert len(settings.ami.secret.get_secret_value()) >= 24
    # A second init never replaces them silently.
    again = CliRunner().invoke(
        build_cli(), ["--config", str(config), "secrets", "init", "--out", str(secrets)]
    )
    assert again.exit_code != 0 and "exists" in again.output


def test_secrets_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    write_secrets(secrets)
    secrets.chmod(0o644)
    config = tmp_path / "dasan.toml"
    config.write_text(f'secrets_file = "{secrets}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="readable by others"):
        load_settings(config)


def test_credentials_of_a_consultant(tmp_path: Path) -> None:
    result = CliRunner().invoke(build_cli(), ["consultants", "credentials", "c0002", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["username"] == "c0002" and len(report["password"]) == 20
    assert report["registrar"] == "sip:127.0.0.1:5060" and report["default_secret"] is True
    unknown = CliRunner().invoke(build_cli(), ["consultants", "credentials", "c9999"])
    assert unknown.exit_code != 0 and "no such consultant" in unknown.output


def test_serve_refuses_production_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASAN_MODE", "production")
    for args in (["serve"], ["pbx", "up"]):
        result = CliRunner().invoke(build_cli(), args)
        assert result.exit_code != 0
        assert "ami.secret" in result.output and "http.demo_users" in result.output


def test_network_settings_render_tls_nat_and_srtp(tmp_path: Path) -> None:
    from dasan.pbx.render import render_all

    cert, key = tmp_path / "pbx.crt", tmp_path / "pbx.key"
    cert.write_text("CERT", encoding="utf-8")
    key.write_text("KEY", encoding="utf-8")
    pbx = PbxSettings(
        sip_host="198.51.100.1",
        media_address="198.51.100.1",
        external_address="203.0.113.5",
        local_nets=("198.51.100.0/24",),
        tls_port=5061,
        tls_cert_file=cert,
        tls_key_file=key,
        consultant_srtp=True,
        carrier_addresses=("203.0.113.10/32",),
    )
    files = render_all(Settings(pbx=pbx), {})
    transport = files["pjsip_transport.conf"]
    assert "protocol = tls\nbind = 198.51.100.1:5061" in transport
    assert transport.count("external_media_address = 203.0.113.5") == 2
    assert "local_net = 198.51.100.0/24" in transport
    assert "[citizens](+)\nmedia_address = 198.51.100.1" in files["pjsip_network.conf"]
    consultant = files["pjsip_consultants.conf"].split("[c0002](consultant-endpoint)")[1]
    assert "media_address = 198.51.100.1" in consultant.split("[")[0]
    assert "media_encryption = sdes" in consultant.split("[")[0]
    assert "match = 203.0.113.10/32" in files["pjsip_trunk.conf"]
    assert files["tls.key"] == "KEY"


def test_srtp_needs_tls() -> None:
    with pytest.raises(ValueError, match=r"consultant_srtp needs pbx\.tls_port"):
        PbxSettings(consultant_srtp=True)
