"""`spyglass serve` and `spyglass demo`: publish an archive, or build the demo's and publish it."""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import click

from archive.archive import Archive
from archive.cli.atlas import import_atlas_export
from archive.cli.options import command_config, data_option
from archive.cli.report import crawl_and_print
from archive.index.db import open_existing
from archive.publish.datasette import datasette_command, datasette_environment, require_plugin

# The demo's sources ship with its servers (package data; in a checkout, a link to ./sources.yml).
DEMO_SOURCES = Path(str(files("archive.demo") / "sources.yml"))


@click.command()
@data_option
@click.option("--port", default=8001, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--allow-sql/--no-allow-sql",
    default=None,
    help="Let visitors run their own SQL (default: $SPYGLASS_ALLOW_SQL, else no).",
)
def serve(data_dir: Path | None, port: int, host: str, allow_sql: bool | None) -> None:
    """Publish the archive with Datasette (read-only, with Spyglass's metadata and plugin).

    Search, table views and canned queries are open to every visitor; custom
    SQL only with --allow-sql. Example: spyglass serve --data data --port 8001
    """
    config, _ = command_config(data_dir=data_dir, allow_sql=allow_sql)
    open_existing(Archive.from_config(config)).close()
    serve_archive(Archive.from_config(config), port, host, config.allow_sql, config.public_url)


def serve_archive(archive: Archive, port: int, host: str, allow_sql: bool, public_url: str = "") -> NoReturn:
    """Run Datasette over the archive in this process's place, until stopped.

    Datasette replaces this process (exec) rather than running as its child:
    SIGTERM or Ctrl-C reach it directly, and nothing is left running when it stops.
    """
    command = datasette_command(archive.data_dir, port, host)
    sql = "custom SQL allowed" if allow_sql else "custom SQL off"
    click.echo(f"Serving {archive.db_path} at http://{host}:{port}/ ({sql}; Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], command, {**os.environ, **datasette_environment(allow_sql, public_url)})


@click.command()
@data_option
@click.option("--no-serve", is_flag=True, help="Build the archive and exit instead of serving it.")
@click.option("--port", default=8001, show_default=True, help="Port for Datasette.")
@click.option(
    "--fixture-port",
    default=8470,
    show_default=True,
    help="Port for the fixture vendor site; the records portals and the Wayback simulator take "
    "the next three (0: any free ports). A data directory an earlier demo filled keeps its ports.",
)
def demo(data_dir: Path | None, no_serve: bool, port: int, fixture_port: int) -> None:
    """Crawl the bundled loopback fixtures, build the archive and serve it.

    Example: spyglass demo            (then open the printed URL)
    """
    from archive.demo.atlas_site import PATH as ATLAS_PATH
    from archive.demo.servers import start_demo_servers
    from archive.index.queries import nearest_capture

    if not no_serve:
        require_plugin()  # before the crawl, not after it
    config, _ = command_config(("SPYGLASS_PROGRESS=true",), data_dir=data_dir, sources_file=DEMO_SOURCES)
    servers = start_demo_servers(fixture_port, Archive.from_config(config))
    click.echo(f"Fixture vendor site: {servers.vendor.url}/", err=True)
    click.echo(f"Fixture records portal: {servers.portal.url}/requests/", err=True)
    click.echo(f"Fixture MuckRock-style API: {servers.portal.url}/api_v2/requests/", err=True)
    click.echo(
        f"Fixture JSON records portal (NextRequest-style): {servers.json_portal.url}/client/requests",
        err=True,
    )
    click.echo(f"Simulated Wayback Machine: {servers.wayback.url}/", err=True)
    click.echo(f"Fixture Atlas of Surveillance export: {servers.atlas.url}{ATLAS_PATH}", err=True)
    try:
        # The JSON portals are our own loopback fixtures: no need to spare them like real services.
        config, _ = command_config(
            (
                "SPYGLASS_PROGRESS=true",
                "SPYGLASS_NEXTREQUEST_PER_MINUTE=1200",
                "SPYGLASS_MUCKROCK_PER_MINUTE=1200",
            ),
            data_dir=data_dir,
            sources_file=DEMO_SOURCES,
            wayback_url=servers.wayback.url,
        )
        variables = {**os.environ, **servers.variables}
        ok = crawl_and_print(config, {}, variables)
        # The Atlas's rows about the demo's agencies, beside their records.
        click.echo(
            import_atlas_export(
                config, variables, url=f"{servers.atlas.url}{ATLAS_PATH}", allow_private=("127.0.0.1",)
            )
        )  # the demo's own loopback server
    finally:
        servers.stop()
    if not ok:
        sys.exit(1)
    if no_serve:
        return
    product = f"{servers.vendor.url}/products/recognize/"
    index = open_existing(Archive.from_config(config))
    try:
        shown = nearest_capture(index.conn, product, None)
    finally:
        index.close()
    if shown is not None:
        click.echo(
            f"\nThe product page as it looked, its stylesheets and images from the archive: "
            f"http://127.0.0.1:{port}/-/spyglass/replay/{shown['id']}"
        )
    click.echo(
        f"\nTry a search: http://127.0.0.1:{port}/spyglass/captures?_search=person+tracking"
        f"\nSearch inside released documents (scans too): "
        f"http://127.0.0.1:{port}/spyglass/document_pages?_search=booking+photos"
        f"\nWhich agencies' records mention which products: "
        f"http://127.0.0.1:{port}/spyglass/agency_products"
        f"\nReleases from every portal, HTML and JSON: "
        f"http://127.0.0.1:{port}/spyglass/releases?_facet=source"
        f"\nAtlas of Surveillance agency-vendor pairs, and what Spyglass holds on each: "
        f"http://127.0.0.1:{port}/spyglass/atlas_pairs"
        f"\nA page's versions over time: http://127.0.0.1:{port}/-/spyglass/timeline?url="
        + quote(f"{servers.vendor.url}/products/recognize/", safe="")
        + f"\nWhat changed, as a feed: http://127.0.0.1:{port}/spyglass/changes_feed.atom"
    )
    # The demo is served on loopback for its own user: custom SQL is on.
    serve_archive(Archive.from_config(config), port, "127.0.0.1", allow_sql=True)
