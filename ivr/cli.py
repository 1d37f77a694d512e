"""``dasan prompts build|check`` and ``dasan ivr validate|reload``.

Invariants:
- Settings come from the root ``--config`` (``common.cliconfig``, read as ``IvrHost``); commands that
  report accept ``--json``; a failed check exits 1 with a message naming the file and problem.
- ``ivr reload`` validates the menu first, then signals the engine (SIGHUP to the pid in
  ``<state>/dasan.pid``); the engine keeps its current menu if its own reload fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from pathlib import Path
from typing import Any, cast

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from common.cliconfig import settings_from
from ivr.hours import load_service_hours
from ivr.menu.budget import BudgetError, BudgetReport, compute, needed_prompts
from ivr.menu.loader import Menu, load_menu
from ivr.menu.validate import MenuError
from ivr.prompts.build import (
    BuildReport,
    BuildResult,
    Status,
    build_prompts,
    check_prompts,
    plan,
    prompt_durations,
)
from ivr.prompts.manifest import PromptManifest, load_manifest
from ivr.settings import IvrHost
from ivr.wiring import LOAD_ERRORS, pid_file, prompts_override_dir


def _host(ctx: click.Context) -> IvrHost:
    return cast(IvrHost, settings_from(ctx))  # the root proves the type (dasan.context)


def _emit(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group("prompts")
def prompts_group() -> None:
    """Prompt audio: build placeholders with espeak-ng, check what the PBX will play."""


@prompts_group.command("build")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--force", is_flag=True, help="Rebuild every prompt, changed or not.")
@click.option("--jobs", type=click.IntRange(0, 64), default=None, help="Parallel jobs (0: CPUs).")
@click.pass_context
def prompts_build(ctx: click.Context, as_json: bool, force: bool, jobs: int | None) -> None:
    """Generate <prompts_dir>/<lang>/<id>.wav (8 kHz) and .wav16 (16 kHz)."""
    settings = _host(ctx)
    try:
        manifest = load_manifest(settings.ivr.prompt_manifest_file)
    except LOAD_ERRORS as exc:
        raise click.ClickException(str(exc)) from exc
    out_dir = settings.prompts_dir
    override = prompts_override_dir(settings)
    workers = settings.ivr.prompt_build_jobs if jobs is None else jobs
    report = _build_with_progress(manifest, out_dir, override, workers, force, quiet=as_json)
    summary = report.to_json() | {"dir": str(out_dir), "override_dir": str(override)}
    if as_json:
        _emit(summary)
    else:
        click.echo(
            f"prompts: {summary['built']} built, {summary['skipped']} unchanged, "
            f"{summary['failed']} failed, {summary['overrides']} from recordings "
            f"in {summary['seconds']} s -> {out_dir}"
        )
    if not report.ok:
        ctx.exit(1)


def _build_with_progress(
    manifest: PromptManifest,
    out_dir: Path,
    override: Path,
    workers: int,
    force: bool,
    *,
    quiet: bool,
) -> BuildReport:
    console = Console(stderr=True)
    with Progress(
        TextColumn("prompts"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=len(plan(manifest, override)))

        def advance(result: BuildResult) -> None:
            progress.update(task, advance=1, description=result.job.name)
            if result.status is Status.FAILED:
                console.print(f"[red]failed[/red] {result.job.name}: {result.error}")

        return build_prompts(
            manifest, out_dir, override, jobs=workers, force=force, progress=advance
        )


def _load_configured_menu(ctx: click.Context, file: Path | None) -> Menu:
    settings = _host(ctx)
    ivr = settings.ivr
    manifest = load_manifest(ivr.prompt_manifest_file)
    hours = load_service_hours(ivr.timezone, ivr.service_hours_file, ivr.holidays_file)
    return load_menu(file or ivr.menu_file, manifest, hours)


@prompts_group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print problems and durations as JSON.")
@click.pass_context
def prompts_check(ctx: click.Context, as_json: bool) -> None:
    """Check that every prompt the menu uses is built, current and playable; print each
    prompt's duration per language."""
    settings = _host(ctx)
    problems: list[str] = []
    durations: dict[tuple[str, str], float] = {}
    languages: tuple[str, ...] = ()
    try:
        _load_configured_menu(ctx, None)
        manifest = load_manifest(settings.ivr.prompt_manifest_file)
        languages = manifest.languages
        problems += check_prompts(manifest, settings.prompts_dir, prompts_override_dir(settings))
        durations = prompt_durations(manifest, settings.prompts_dir)
    except LOAD_ERRORS as exc:
        problems.append(str(exc))
    table: dict[str, dict[str, float]] = {}
    for (language, prompt_id), seconds in sorted(durations.items()):
        table.setdefault(prompt_id, {})[language] = round(seconds, 2)
    if as_json:
        _emit({"ok": not problems, "dir": str(settings.prompts_dir), "problems": problems,
               "durations_s": table})  # fmt: skip
    else:
        _print_durations(table, languages)
        for problem in problems:
            click.echo(problem, err=True)
        if not problems:
            click.echo(f"prompts: all current in {settings.prompts_dir}")
        else:
            click.echo(f"{len(problems)} problem(s); run `dasan prompts build`", err=True)
    if problems:
        ctx.exit(1)


def _print_durations(table: dict[str, dict[str, float]], languages: tuple[str, ...]) -> None:
    out = Table("prompt (s)", *languages)
    for prompt_id, by_language in sorted(table.items()):
        out.add_row(
            prompt_id, *(f"{by_language.get(lang, float('nan')):.1f}" for lang in languages)
        )
    Console().print(out)


@click.group("ivr")
def ivr_group() -> None:
    """The IVR menu: validate a menu file, reload the running engine's menu."""


@ivr_group.command("validate")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def ivr_validate(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Validate FILE (default: the configured menu) with the prompts and service hours."""
    try:
        menu = _load_configured_menu(ctx, file)
    except MenuError as exc:
        if as_json:
            problems = [str(p) for p in exc.problems]
            _emit({"ok": False, "file": exc.source, "problems": problems})
        else:
            click.echo(str(exc), err=True)
        ctx.exit(1)
    except LOAD_ERRORS as exc:
        if as_json:
            _emit({"ok": False, "file": str(file) if file else None, "problems": [str(exc)]})
        else:
            click.echo(str(exc), err=True)
        ctx.exit(1)
    year = dt.datetime.now(menu.hours.timezone).year
    warnings = [] if menu.hours.holidays.covers(year) else [
        f"no public holidays known for {year}: weekend hours will not apply on holidays"
    ]  # fmt: skip
    if as_json:
        _emit({"ok": True, "file": menu.source, "menu": menu.id, "digest": menu.digest,
               "nodes": len(menu.spec.nodes), "warnings": warnings})  # fmt: skip
        return
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{menu.source}: menu {menu.id!r} is valid ({len(menu.spec.nodes)} nodes)")


@ivr_group.command("budget")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the budgets as JSON.")
@click.pass_context
def ivr_budget(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Seconds from answer to hand-over per language and path (silent, expert), from the
    built prompt files and the menu's timeouts; exit 1 past the menu's budgets."""
    settings = _host(ctx)
    try:
        menu = _load_configured_menu(ctx, file)
        manifest = load_manifest(settings.ivr.prompt_manifest_file)
        durations = prompt_durations(manifest, settings.prompts_dir)
        missing = sorted(needed_prompts(menu) - set(durations))
        if missing:
            names = ", ".join(f"{lang}/{pid}" for lang, pid in missing[:5])
            raise BudgetError(f"{len(missing)} prompt file(s) missing ({names}); "
                              "run `dasan prompts build`")  # fmt: skip
        report = compute(menu, durations)
    except (*LOAD_ERRORS, BudgetError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        _emit(report.to_json() | {"menu": menu.id, "prompts_dir": str(settings.prompts_dir)})
    else:
        Console().print(budget_table(report))
        _print_budget_notes(report)
    if not report.ok:
        ctx.exit(1)


def budget_table(report: BudgetReport) -> Table:
    """Per language: seconds from answer to hand-over, silent and expert, open and closed."""
    table = Table("language", "silent, open", "silent, closed", "expert, open",
                  "expert, closed", "notice ends")  # fmt: skip
    cells: dict[str, dict[str, str]] = {}
    notice: dict[str, float] = {}
    for path in report.paths:
        seconds = path.walked.handover_s
        text = "never" if seconds is None else f"{seconds:.1f}"
        cells.setdefault(path.language, {})[f"{path.path}, {path.hours}"] = (
            text if path.ok else f"{text} (over {path.limit_s:.1f})"
        )
        if path.path == "expert" and path.hours == "open" and path.walked.notice_end_s:
            notice[path.language] = path.walked.notice_end_s
    for language, row in cells.items():
        keys = ("silent, open", "silent, closed", "expert, open", "expert, closed")
        table.add_row(language, *(row.get(k, "") for k in keys), f"{notice.get(language, 0):.1f}")
    return table


def _print_budget_notes(report: BudgetReport) -> None:
    click.echo(
        f"language menu: {report.language_menu_s:.1f} s "
        f"(budget {report.language_menu_limit_s:g} s); longest menu prompt: "
        f"{max((p[2] for p in report.menu_prompts), default=0):.1f} s "
        f"(budget {report.menu_prompt_limit_s:g} s)"
    )
    for node, language, seconds in report.long_prompts:
        click.echo(f"over budget: {node} in {language} is {seconds:.1f} s", err=True)
    click.echo("budgets met" if report.ok else "budgets NOT met")


@ivr_group.command("reload")
@click.pass_context
def ivr_reload(ctx: click.Context) -> None:
    """Validate the menu, then tell the running engine to load it for new calls."""
    settings = _host(ctx)
    try:
        menu = _load_configured_menu(ctx, None)
    except LOAD_ERRORS as exc:
        raise click.ClickException(f"not reloading: {exc}") from exc
    path = pid_file(settings)
    try:
        pid = int(path.read_text(encoding="utf-8").split()[0])
    except FileNotFoundError:
        raise click.ClickException(
            f"no engine runs (no {path}); start it with `dasan serve`"
        ) from None
    except (ValueError, IndexError) as exc:
        raise click.ClickException(f"{path} does not hold a process id") from exc
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        raise click.ClickException(
            f"no engine runs (pid {pid} from {path} is gone); start it with `dasan serve`"
        ) from None
    except PermissionError as exc:
        raise click.ClickException(f"cannot signal pid {pid}: {exc.strerror}") from exc
    click.echo(f"reload sent to engine pid {pid}: menu {menu.id!r} ({menu.digest})")


COMMANDS: list[click.Command] = [prompts_group, ivr_group]
