"""`spyglass documents`: read the documents the archive holds (text layer, OCR), then mentions."""

from __future__ import annotations

import os
from pathlib import Path

import click

from archive.cli.options import command_config, data_option, sources_option
from archive.cli.progress import Bar
from archive.records.reading import read_documents


@click.command()
@sources_option
@data_option
@click.option("--redo", is_flag=True, help="Read every document again, not only new ones.")
def documents(sources_file: Path | None, data_dir: Path | None, redo: bool) -> None:
    """Read archived documents (text layer, OCR for scans) and find product mentions.

    `crawl` does this after crawling records sources; run it again after
    adding a vendor source or installing Tesseract. Example: spyglass documents --data data
    """
    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    notes: list[str] = []
    bar = Bar("documents: pages read", unit="pages", scale=1)
    try:
        read = read_documents(config, os.environ, redo, notes, bar)
        bar.finish()
    except BaseException:
        bar.stop()
        raise
    finally:
        for note in notes:
            click.echo(f"note: {note}", err=True)
    click.echo(read.line())
