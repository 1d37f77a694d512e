"""``dasan kb ...``: search, generate, import, export and show knowledge-base cases.

The group is built by ``kb_group(open_kb)``: the composition root passes how to open the
knowledge base from the command's context (settings, database), so this package never reads
Dasan's configuration itself.

Invariants:
- ``search --json`` prints a list of ``{id, title, language, service, score}``, best first.
- ``import`` validates every row first; a bad file exits 1 with one line per problem and
  writes nothing.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from knowledge.cases import LANGUAGES, CaseNotFound
from knowledge.exchange import ImportRejected, import_text, render
from knowledge.system import KnowledgeBase

T = TypeVar("T")
Opener = Callable[[click.Context], Awaitable[KnowledgeBase]]


def _run(ctx: click.Context, open_kb: Opener, work: Callable[[KnowledgeBase], Awaitable[T]]) -> T:
    async def main() -> T:
        kb = await open_kb(ctx)
        try:
            return await work(kb)
        finally:
            await kb.close()

    return asyncio.run(main())


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _format_of(path: str | None, given: str | None) -> str:
    if given:
        return given
    if path and path.lower().endswith(".csv"):
        return "csv"
    return "json"


def kb_group(open_kb: Opener) -> click.Group:
    @click.group(name="kb")
    def kb() -> None:
        """Knowledge base: cases consultants answer from."""

    for make in (_search, _generate, _import, _export, _show):
        kb.add_command(make(open_kb))
    return kb


def _search(open_kb: Opener) -> click.Command:
    @click.command()
    @click.argument("text")
    @click.option("--json", "as_json", is_flag=True, help="Print the ranked cases as JSON.")
    @click.option("--language", type=click.Choice(LANGUAGES), help="Only cases in this language.")
    @click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
    @click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="Validity day (default today).")
    @click.pass_context
    def search(ctx: click.Context, /, text: str, **options: Any) -> None:
        """Ranked cases for TEXT (published and valid on the day)."""
        day = options["day"]
        on: date | None = day.date() if day else None
        language, limit = options["language"], options["limit"]
        hits = _run(
            ctx, open_kb, lambda kb: kb.search.search(text, language=language, limit=limit, day=on)
        )
        if options["as_json"]:
            _echo_json([h.as_json() for h in hits])
            return
        for h in hits:
            click.echo(f"{h.score:6.3f}  {h.id:>6}  [{h.language}] {h.title}")

    return search


def _generate(open_kb: Opener) -> click.Command:
    @click.command()
    @click.option("--seed", type=int, default=120, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def generate(ctx: click.Context, seed: int, as_json: bool) -> None:
        """Replace the knowledge base with the generated corpus (demo and tests)."""
        count = _run(ctx, open_kb, lambda kb: kb.load_generated(seed))
        if as_json:
            _echo_json({"cases": count, "seed": seed})
        else:
            click.echo(f"{count} cases generated (seed {seed})")

    return generate


def _import(open_kb: Opener) -> click.Command:
    @click.command(name="import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--format", "fmt", type=click.Choice(["json", "csv"]))
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def import_(ctx: click.Context, path: str, fmt: str | None, as_json: bool) -> None:
        """Import cases from a JSON or CSV file (all rows or none)."""
        text = Path(path).read_text(encoding="utf-8")
        user = f"cli:{getpass.getuser()}"
        try:
            ids = _run(
                ctx, open_kb, lambda kb: import_text(kb.cases, text, _format_of(path, fmt), user)
            )
        except ImportRejected as exc:
            if as_json:
                _echo_json({"imported": 0, "errors": [e.__dict__ for e in exc.errors]})
            else:
                for err in exc.errors:
                    click.echo(str(err), err=True)
                click.echo("nothing imported", err=True)
            sys.exit(1)
        if as_json:
            _echo_json({"imported": len(ids)})
        else:
            click.echo(f"{len(ids)} case(s) imported")

    return import_


def _export(open_kb: Opener) -> click.Command:
    @click.command()
    @click.option("--format", "fmt", type=click.Choice(["json", "csv"]))
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default stdout).")
    @click.pass_context
    def export(ctx: click.Context, fmt: str | None, output: str | None) -> None:
        """Export the latest version of every case."""
        versions = _run(ctx, open_kb, lambda kb: kb.cases.latest_versions())
        text = render(versions, _format_of(output, fmt))
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)

    return export


def _show(open_kb: Opener) -> click.Command:
    @click.command()
    @click.argument("case_id", type=int)
    @click.pass_context
    def show(ctx: click.Context, case_id: int) -> None:
        """A case's published content and its version history, as JSON."""

        async def work(kb: KnowledgeBase) -> dict[str, Any]:
            case = await kb.cases.get(case_id)
            history = await kb.cases.history(case_id)
            return {
                "id": case.id,
                "published_version": case.published_version,
                "published": case.published.model_dump(mode="json") if case.published else None,
                "versions": [
                    {
                        "version": v.version,
                        "state": v.state.value,
                        "author": v.author,
                        "reviewer": v.reviewer,
                        "created_at": v.created_at.isoformat(),
                    }
                    for v in history
                ],
            }

        try:
            _echo_json(_run(ctx, open_kb, work))
        except CaseNotFound as exc:
            raise click.ClickException(str(exc)) from exc

    return show
