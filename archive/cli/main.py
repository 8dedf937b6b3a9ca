"""The `spyglass` command group: each command lives with its group in this package."""

from __future__ import annotations

import click

from archive.cli.atlas import import_atlas
from archive.cli.cluster import worker
from archive.cli.crawl import crawl, documents
from archive.cli.evidence import cite, export, timestamp, tsa, verify
from archive.cli.history import changes, history, rebuild_history
from archive.cli.init import init
from archive.cli.notify import notify
from archive.cli.ops import run_due, schedule, scrapyd_egg, status
from archive.cli.serve import demo, serve
from archive.cli.wayback import closest, save
from archive.errors import SpyglassError
from archive.version import spyglass_version


class SpyglassGroup(click.Group):
    """Turns SpyglassError into one readable line and exit status 1."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SpyglassError as exc:
            raise click.ClickException(str(exc)) from None


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"spyglass {spyglass_version()}")
        ctx.exit()


@click.group(cls=SpyglassGroup)
# Not click's version_option: the version a crawl records, with the commit of a checkout.
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version (and the git commit when run from a checkout) and exit.",
)
def cli() -> None:
    """Spyglass: collect, preserve, index and publish evidence about surveillance technology."""


for command in (
    init,
    crawl,
    documents,
    save,
    closest,
    serve,
    verify,
    timestamp,
    cite,
    export,
    history,
    changes,
    rebuild_history,
    demo,
):
    cli.add_command(command)
for command in (run_due, status, schedule, scrapyd_egg, notify):
    cli.add_command(command)
cli.add_command(tsa)
cli.add_command(import_atlas)
cli.add_command(worker)
