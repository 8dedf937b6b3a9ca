"""The `spyglass` command group: each command lives with its group in this package."""

from __future__ import annotations

import importlib

import click

from archive.errors import SpyglassError
from archive.version import spyglass_version

# Each command by name, as "module:function". Loaded when it runs, not before:
# importing every command's module (Scrapy, Twisted, Datasette) cost each
# `spyglass status` or `cite` over half a second it never used (click's own
# lazy-group pattern, https://click.palletsprojects.com/en/stable/complex/).
COMMANDS = {
    "init": "archive.cli.init:init",
    "crawl": "archive.cli.crawl:crawl",
    "documents": "archive.cli.documents:documents",
    "save": "archive.cli.wayback:save",
    "closest": "archive.cli.wayback:closest",
    "serve": "archive.cli.serve:serve",
    "verify": "archive.cli.evidence:verify",
    "timestamp": "archive.cli.evidence:timestamp",
    "cite": "archive.cli.evidence:cite",
    "export": "archive.cli.evidence:export",
    "history": "archive.cli.history:history",
    "changes": "archive.cli.history:changes",
    "rebuild-history": "archive.cli.history:rebuild_history",
    "demo": "archive.cli.serve:demo",
    "run-due": "archive.cli.ops:run_due",
    "status": "archive.cli.ops:status",
    "schedule": "archive.cli.ops:schedule",
    "scrapyd-egg": "archive.cli.ops:scrapyd_egg",
    "notify": "archive.cli.notify:notify",
    "tsa": "archive.cli.evidence:tsa",
    "import-atlas": "archive.cli.atlas:import_atlas",
    "worker": "archive.cli.cluster:worker",
}


class SpyglassGroup(click.Group):
    """Loads each command when it is asked for; turns SpyglassError into one readable line and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, name = target.partition(":")
        command = getattr(importlib.import_module(module), name)
        if command.name != cmd_name:
            raise RuntimeError(f"archive/cli/main.py names {target} {cmd_name!r}, but it is {command.name!r}")
        return command

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
