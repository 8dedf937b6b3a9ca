"""`spyglass init`: a working directory a new archivist starts from."""

from __future__ import annotations

from pathlib import Path

import click

from archive.archive import Archive
from archive.config import Config
from archive.index.db import open_index
from archive.sources.starter import write_starter


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(directory: Path) -> None:
    """Write a commented sources.yml starter and an empty archive (data/) in DIRECTORY.

    The starter holds sources.example.yml's documented real-world entries; every
    command run from DIRECTORY then finds both by default.
    Example: spyglass init /srv/spyglass && cd /srv/spyglass && spyglass crawl
    """
    defaults = Config()
    sources = write_starter(directory / defaults.sources_file)
    archive = Archive(directory / defaults.data_dir)
    open_index(archive).close()
    click.echo(f"Wrote {sources} (edit it: what to watch) and the empty archive {archive.db_path}.")
    click.echo(f"Next: cd {directory} && spyglass crawl, then spyglass serve.")
