"""`spyglass import-atlas`: the Atlas of Surveillance export into the archive, and its links into sources."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, set_option, sources_option
from archive.config import Config
from archive.crawl.guard import parse_networks
from archive.index.db import open_existing
from archive.sources.load import load_sources


@click.command("import-atlas")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Download the export from URL instead (e.g. https://atlasofsurveillance.org/"
    "download.csv); asks only for a newer copy than the last import from it.",
)
@click.option(
    "--partial",
    is_flag=True,
    help="The export is filtered (by place or technology): rows it lacks are not marked as no longer listed.",
)
@click.option(
    "--sources-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write sources.yml entries for the imported rows' links to this file.",
)
@click.option(
    "--allow-private",
    "allow_private",
    multiple=True,
    metavar="ADDR",
    help="Let --url, and with --sources-out the sources written, fetch this non-public "
    "address or network (repeatable; never added otherwise).",
)
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="ST",
    help="With --sources-out: only rows of this state (repeatable).",
)
@click.option(
    "--technology",
    "technologies",
    multiple=True,
    metavar="NAME",
    help="With --sources-out: only rows of this technology (repeatable).",
)
@click.option(
    "--vendor",
    "vendors",
    multiple=True,
    metavar="NAME",
    help="With --sources-out: only rows naming this vendor, as matched to sources.yml (repeatable).",
)
@sources_option
@data_option
@set_option
def import_atlas(
    file: Path | None,
    url: str | None,
    partial: bool,
    sources_out: Path | None,
    allow_private: tuple[str, ...],
    states: tuple[str, ...],
    technologies: tuple[str, ...],
    vendors: tuple[str, ...],
    sources_file: Path | None,
    data_dir: Path | None,
    overrides: tuple[str, ...],
) -> None:
    """Import the Atlas of Surveillance export (CSV) into the archive.

    The file is archived as a WARC record and indexed: its agencies,
    technologies and rows (a changed row becomes a new version; nothing is
    lost), vendors matched to the sources' vendors and aliases. The Atlas is
    CC BY 4.0: credit the Electronic Frontier Foundation and the Reynolds
    School of Journalism at the University of Nevada, Reno.

    Example: spyglass import-atlas download.csv --sources-out atlas-sources.yml
    """
    if file is not None and url is not None:
        raise click.UsageError("give a FILE or --url, not both")
    if file is None and url is None and sources_out is None:
        raise click.UsageError("give a FILE or --url to import, or --sources-out to write sources")
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
    try:
        parse_networks(allow_private)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-private") from None
    config, _ = command_config(overrides, data_dir=data_dir, sources_file=sources_file)
    if file is not None or url is not None:
        click.echo(
            import_atlas_export(
                config, os.environ, file=file, url=url, partial=partial, allow_private=allow_private
            )
        )
    if sources_out is not None:
        click.echo(write_atlas_sources(config, sources_out, states, technologies, vendors, allow_private))


def import_atlas_export(
    config: Config,
    variables: Mapping[str, str],
    *,
    file: Path | None = None,
    url: str | None = None,
    partial: bool = False,
    allow_private: tuple[str, ...] = (),
) -> str:
    """Import from a file or a URL, vendors matched against the config's sources file; the report line.

    A URL's host (and each redirect's) must be public, or in `allow_private`.
    """
    from archive.atlas.importer import import_file, import_url

    sources_path = config.sources_file
    sources = load_sources(sources_path, variables) if sources_path.exists() else []
    label = str(sources_path) if sources else None
    if file is not None:
        report = import_file(config, file, sources, partial=partial, sources_file=label)
    else:
        assert url is not None
        report = import_url(
            config, url, sources, partial=partial, sources_file=label, allow_private=allow_private
        )
    if not sources and report.outcome == "imported":
        return report.line() + f" ({sources_path} not found: vendors kept as the Atlas wrote them.)"
    return report.line()


def write_atlas_sources(
    config: Config,
    path: Path,
    states: tuple[str, ...] = (),
    technologies: tuple[str, ...] = (),
    vendors: tuple[str, ...] = (),
    allow_private: tuple[str, ...] = (),
) -> str:
    """Write sources for the imported rows' links; the report line."""
    from archive.atlas.sources_out import Filters, write_sources

    index = open_existing(Archive.from_config(config))
    try:
        count = write_sources(index, path, Filters(states, technologies, vendors), allow_private)
    finally:
        index.close()
    return (
        f"Wrote {count} source(s) for the Atlas's links to {path}; crawl them with "
        f"`spyglass crawl --sources {path}`."
    )
