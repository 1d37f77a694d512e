"""``dasan pbx audit [--json]``: exit 1 when any rule fails (warnings alone pass)."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from dasan.context import settings_from
from dasan.pbx.render import render_all
from dasan.pbx.service import config_dirs
from dasan.security.audit import CHECKS, ConfigSource
from dasan.security.audit import audit as run_audit


@click.command("audit")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit(ctx: click.Context, as_json: bool) -> None:
    """Check the PBX configuration: binds, AMI rights, anonymous SIP, secrets."""
    settings = settings_from(ctx)
    config_dir, dialplans_dir = config_dirs(settings)
    source = ConfigSource(config_dir, dialplans_dir, render_all(settings, {}))
    report = run_audit(source, settings)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "passed": report.passed,
                    "rules": {rule: rule not in report.failed_rules() for rule in CHECKS},
                    "issues": [asdict(i) for i in report.issues],
                }
            )
        )
    else:
        failed = report.failed_rules()
        for rule in CHECKS:
            click.echo(f"{'FAIL' if rule in failed else 'ok  '} {rule}")
        for issue in report.issues:
            level = "error" if issue.fatal else "warning"
            click.echo(f"  {level}: [{issue.rule}] {issue.where}: {issue.problem}")
    if not report.passed:
        ctx.exit(1)
