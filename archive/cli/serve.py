"""`spyglass serve` and `spyglass demo`: publish an archive, or build the demo's and publish it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import click

from archive.cli.crawl import crawl_and_report
from archive.cli.options import command_config, data_option
from archive.config import Archive
from archive.publish.datasette import PROJECT_ROOT, datasette_command

DEMO_SOURCES = PROJECT_ROOT / "sources.yml"


@click.command()
@data_option
@click.option("--port", default=8001, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def serve(data_dir: Path | None, port: int, host: str) -> None:
    """Publish the archive with Datasette (read-only, with datasette/metadata.yml).

    Example: spyglass serve --data data --port 8001
    """
    config, _ = command_config(data_dir=data_dir)
    config.archive.open_existing().close()
    serve_archive(config.archive, port, host)


def serve_archive(archive: Archive, port: int, host: str) -> None:
    """Run Datasette over the archive until interrupted."""
    click.echo(f"Serving {archive.db_path} at http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        subprocess.run(datasette_command(archive.data_dir, port, host), check=False)
    except KeyboardInterrupt:
        pass


@click.command()
@data_option
@click.option("--no-serve", is_flag=True, help="Build the archive and exit instead of serving it.")
@click.option("--port", default=8001, show_default=True, help="Port for Datasette.")
@click.option("--fixture-port", default=8470, show_default=True,
              help="Port for the fixture vendor site; the records portal takes the next one (0: any free ports).")
def demo(data_dir: Path | None, no_serve: bool, port: int, fixture_port: int) -> None:
    """Crawl the bundled loopback fixtures, build the archive and serve it.

    Example: spyglass demo            (then open the printed URL)
    """
    from archive.demo.servers import start_demo_servers
    from archive.index.queries import nearest_capture

    servers = start_demo_servers(fixture_port)
    click.echo(f"Fixture vendor site: {servers.vendor.url}/", err=True)
    click.echo(f"Fixture records portal: {servers.portal.url}/requests/", err=True)
    click.echo(f"Simulated Wayback Machine: {servers.wayback.url}/", err=True)
    try:
        config, _ = command_config(("SPYGLASS_PROGRESS=true",), data_dir=data_dir,
                                   sources_file=DEMO_SOURCES, wayback_url=servers.wayback.url)
        ok = crawl_and_report(config, {}, (), False, None, {**os.environ, **servers.variables})
    finally:
        servers.stop()
    if not ok:
        sys.exit(1)
    if no_serve:
        return
    product = f"{servers.vendor.url}/products/recognize/"
    index = config.archive.open_existing()
    try:
        shown = nearest_capture(index.conn, product, None)
    finally:
        index.close()
    if shown is not None:
        click.echo(f"\nThe product page as it looked, its stylesheets and images from the archive: "
                   f"http://127.0.0.1:{port}/-/spyglass/replay/{shown['id']}")
    click.echo(
        f"\nTry a search: http://127.0.0.1:{port}/spyglass/captures?_search=person+tracking"
        f"\nSearch inside released documents (scans too): "
        f"http://127.0.0.1:{port}/spyglass/document_pages?_search=booking+photos"
        f"\nWhich agencies' records mention which products: "
        f"http://127.0.0.1:{port}/spyglass/agency_products"
        f"\nOr a page's versions over time: http://127.0.0.1:{port}/spyglass/page_versions?url="
        + quote(f"{servers.vendor.url}/products/recognize/", safe="")
    )
    serve_archive(config.archive, port, "127.0.0.1")
