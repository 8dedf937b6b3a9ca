"""The `spyglass` command: crawl, save, closest, serve, verify, documents, timestamp, cite, export, demo."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from urllib.parse import quote

import click

from . import db as dbmod
from .errors import ArchiveError, ConfigError, SpyglassError

from .publish import PROJECT_ROOT, datasette_command

DEMO_SOURCES = PROJECT_ROOT / "sources.yml"

data_option = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"), show_default=True, envvar="SPYGLASS_DATA_DIR",
    help="Data directory: holds spyglass.db and warcs/.",
)


class SpyglassGroup(click.Group):
    """Turns SpyglassError into one readable line and exit status 1."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SpyglassError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=SpyglassGroup)
@click.version_option(package_name="spyglass")
def cli() -> None:
    """Spyglass: collect, preserve, index and publish evidence about surveillance technology."""


@cli.command()
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("sources.yml"), show_default=True, envvar="SPYGLASS_SOURCES_FILE",
              help="The sources file to read.")
@data_option
@click.option("--source", "names", multiple=True, metavar="NAME",
              help="Crawl only this source (repeatable). Default: every source.")
@click.option("-s", "--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a Scrapy or SPYGLASS_* setting (repeatable).")
@click.option("--only", type=click.Choice(["live", "wayback"]), default=None,
              help="Run only the live crawl, or only the Wayback history harvest.")
@click.option("-v", "--verbose", is_flag=True, help="Show Scrapy's log at INFO level.")
def crawl(sources_file: Path, data_dir: Path, names: tuple[str, ...],
          overrides: tuple[str, ...], only: str | None, verbose: bool) -> None:
    """Crawl sources into the archive (WARC files + SQLite index).

    Example: spyglass crawl --sources sources.yml --data data --source northwind-recognize
    """
    ok = _crawl(sources_file, data_dir, names, _parse_overrides(overrides), verbose, only)
    if not ok:
        sys.exit(1)


def _parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--set")
        parsed[key.strip()] = value
    return parsed


def _crawl(sources_file: Path, data_dir: Path, names: tuple[str, ...],
           overrides: dict[str, str], verbose: bool, only: str | None = None) -> bool:
    from .crawl import crawl_settings, human_bytes, run_crawl
    from .sources import load_sources, select

    chosen = select(load_sources(sources_file), names)
    # Fail before crawling if the data directory cannot hold an index and WARCs.
    dbmod.open_db(data_dir / dbmod.DB_NAME).close()
    try:
        (data_dir / dbmod.WARC_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"{data_dir / dbmod.WARC_DIR}: cannot hold WARC files: {exc.strerror}") from None
    settings = crawl_settings(data_dir, sources_file, {
        "SPYGLASS_PROGRESS": True,
        "LOG_LEVEL": "INFO" if verbose else "WARNING",
        **overrides,
    })
    started = time.monotonic()
    click.echo(f"Crawling {len(chosen)} source(s) into {data_dir}/ ...", err=True)
    if only == "wayback":
        chosen = [s for s in chosen if s.wayback is not None]
        if not chosen:
            raise ConfigError(f"{sources_file}: no source chosen has 'wayback' set")
    reports = run_crawl(chosen, settings, only)
    elapsed = time.monotonic() - started
    live = [r for r in reports if r.spider != "wayback"]
    history = [r for r in reports if r.spider == "wayback"]
    pages = sum(r.pages for r in live)
    new = sum(r.captures for r in live)
    same = sum(r.revisits for r in live)
    errors = sum(r.errors for r in live)
    size = sum(r.bytes for r in live)
    failed = [r for r in reports if r.status not in ("finished",)]
    click.echo(
        f"\nCrawled {len(live)} source(s) in {elapsed:.1f} s: {pages} pages archived "
        f"({new} new or changed, {same} unchanged and stored as revisits), {errors} fetch "
        f"errors, {human_bytes(size)} of payload. WARC files are in {data_dir / dbmod.WARC_DIR}/, "
        f"the index is {data_dir / dbmod.DB_NAME}"
        + (f"; {len(failed)} run(s) did not finish cleanly." if failed else ".")
    )
    if history:
        click.echo(
            f"Wayback history of {len(history)} source(s): "
            f"{sum(r.pages for r in history)} archived versions fetched, "
            f"{sum(r.errors for r in history)} versions or queries recorded as errors."
        )
    for report in reports:
        click.echo(f"  {report.line()}")
    if any(source.kind == "records" for source in chosen):
        _read_documents(data_dir, sources_file, redo=False)
    if _truthy(settings.get("SPYGLASS_TIMESTAMP_AFTER_CRAWL")):
        from .timestamp import timestamp_warcs

        stamped = timestamp_warcs(data_dir, settings.get("SPYGLASS_TSA_URL") or "",
                                  settings.get("SPYGLASS_TSA_CA_FILE") or None)
        click.echo(f"Time-stamped {_stamped_summary(stamped)} with {settings.get('SPYGLASS_TSA_URL')}.")
    return not failed


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _read_documents(data_dir: Path, sources_file: Path, redo: bool) -> None:
    """The post-pass after a records crawl: document text (OCR where needed), then mentions."""
    from .docextract import extract_documents
    from .mentions import rebuild_mentions
    from .sources import load_sources

    sources = load_sources(sources_file)
    index = dbmod.open_db(data_dir / dbmod.DB_NAME)
    try:
        started = time.monotonic()
        report = extract_documents(index, data_dir, redo=redo)
        mentions = rebuild_mentions(index, sources)
    finally:
        index.close()
    click.echo(f"Documents: {report.line()}; {mentions} mention(s) of vendor terms "
               f"({time.monotonic() - started:.1f} s).")


@cli.command()
@click.option("--sources", "sources_file", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("sources.yml"), show_default=True, envvar="SPYGLASS_SOURCES_FILE",
              help="The sources file whose vendor sources name the products to look for.")
@data_option
@click.option("--redo", is_flag=True, help="Read every document again, not only new ones.")
def documents(sources_file: Path, data_dir: Path, redo: bool) -> None:
    """Read archived documents (text layer, OCR for scans) and find product mentions.

    `crawl` does this after crawling records sources; run it again after
    adding a vendor source or installing Tesseract. Example: spyglass documents --data data
    """
    dbmod.open_existing(data_dir).close()
    _read_documents(data_dir, sources_file, redo)


@cli.command()
@data_option
@click.option("--port", default=8001, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def serve(data_dir: Path, port: int, host: str) -> None:
    """Publish the archive with Datasette (read-only, with datasette/metadata.yml).

    Example: spyglass serve --data data --port 8001
    """
    dbmod.open_existing(data_dir).close()
    _serve(data_dir, port, host)


def _serve(data_dir: Path, port: int, host: str) -> None:
    click.echo(f"Serving {data_dir / dbmod.DB_NAME} at http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        subprocess.run(datasette_command(data_dir, port, host), check=False)
    except KeyboardInterrupt:
        pass


tsa_ca_option = click.option(
    "--tsa-ca", "tsa_ca", type=click.Path(dir_okay=False, exists=True), default=None,
    envvar="SPYGLASS_TSA_CA_FILE",
    help="CA certificate(s) the time-stamp authority chains to (default: the system's).")


@cli.command()
@data_option
@tsa_ca_option
def verify(data_dir: Path, tsa_ca: str | None) -> None:
    """Prove the archive unaltered: payloads, hash chain, WARC digests, time-stamp tokens.

    Exits non-zero and lists each problem. Example: spyglass verify --data data
    """
    from .verify import verify_report

    if tsa_ca:
        os.environ["SPYGLASS_TSA_CA_FILE"] = tsa_ca
    report = verify_report(data_dir)
    for problem in report.problems:
        click.echo(f"FAIL {problem.line()}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {report.captures} captures.", err=True)
        sys.exit(1)
    click.echo(
        f"OK: {report.captures} captures verified against their WARC records; hash chain "
        f"intact; {report.records} records in {report.warc_files} WARC files with valid digests; "
        f"{report.tokens} time-stamp token(s) match their files."
    )


@cli.command()
@data_option
@click.option("--tsa-url", envvar="SPYGLASS_TSA_URL", default="", metavar="URL",
              help="RFC 3161 time-stamp authority (or $SPYGLASS_TSA_URL).")
@tsa_ca_option
def timestamp(data_dir: Path, tsa_url: str, tsa_ca: str | None) -> None:
    """Get RFC 3161 tokens for closed WARC files (FILE.tsr) and the hash chain's head (chain/).

    Example: spyglass timestamp --tsa-url https://freetsa.org/tsr --tsa-ca cacert.pem
    """
    from .timestamp import timestamp_warcs

    dbmod.open_existing(data_dir).close()
    stamped = timestamp_warcs(data_dir, tsa_url, tsa_ca)
    for item in stamped:
        click.echo(f"{item.filename}: SHA-256 {item.sha256} time-stamped {item.time}")
    click.echo(f"{_stamped_summary(stamped)} time-stamped by {tsa_url}.")


def _stamped_summary(stamped: list) -> str:
    heads = sum(1 for s in stamped if s.filename.startswith("head-"))
    return f"{len(stamped) - heads} WARC file(s) and {heads} chain head(s)"


@cli.command()
@click.argument("target", metavar="ID|URL")
@data_option
@click.option("--at", "at", metavar="DATE",
              help="With a URL: cite the capture closest to this date (2018-02-25, ISO 8601 or 14 digits).")
@click.option("--format", "fmt", type=click.Choice(["text", "bluebook", "json"]), default="text",
              show_default=True, help="Citation format.")
def cite(target: str, data_dir: Path, at: str | None, fmt: str) -> None:
    """Print the citation of a capture, by id or by URL (the newest, or the closest to --at).

    Example: spyglass cite https://aws.amazon.com/rekognition/ --at 2018-02-25 --format bluebook
    """
    import json

    from . import evidence
    from .cite import cite as make_citation, distance, parse_when

    index = dbmod.open_existing(data_dir)
    conn = index.conn
    try:
        note = None
        if target.isdigit():
            if at:
                raise click.BadParameter("--at needs a URL, not a capture id", param_hint="--at")
            row = evidence.capture(conn, int(target))
        else:
            try:
                when = parse_when(at) if at else None
            except ValueError:
                raise click.BadParameter(f"{at!r} is not a date", param_hint="--at") from None
            row, shown = evidence.closest_capture(conn, target, when)
            if when is not None:
                note = {"requested": at, "capture_id": row["id"], "shows_page_at": shown.isoformat(),
                        "offset_seconds": int((shown - when).total_seconds()),
                        "offset": distance(shown, when)}
                click.echo(f"Closest capture to {at}: capture {row['id']}, showing the page as of "
                           f"{shown.strftime('%Y-%m-%d %H:%M:%S UTC')}, {distance(shown, when)}.",
                           err=True)
        citation = make_citation(row, evidence.save_request(conn, row["id"]))
    finally:
        index.close()
    if fmt == "json":
        payload = citation.as_dict()
        if note:
            payload["closest_to"] = note
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(citation.render(fmt))


@cli.command()
@data_option
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .wacz file to write (a manifest is written beside it).")
@click.option("--capture", "ids", type=int, multiple=True, metavar="ID", help="A capture id (repeatable).")
@click.option("--query", "query", metavar="SQL", help="SQL returning an `id` column of capture ids.")
@click.option("--source", "source", metavar="NAME", help="Every capture of this source.")
def export(data_dir: Path, out: Path, ids: tuple[int, ...], query: str | None, source: str | None) -> None:
    """Write an evidence package: a WACZ of the chosen captures plus a manifest of citations and hashes.

    Example: spyglass export --out faq.wacz --query "select id from captures where url like '%/faqs/'"
    """
    from .export import export_wacz, select_captures

    index = dbmod.open_existing(data_dir)
    try:
        rows = select_captures(index.conn, ids=ids, query=query, source=source)
    finally:
        index.close()
    selection = (f"captures {', '.join(str(i) for i in ids)}" if ids
                 else f"query {query}" if query else f"source {source}")
    done = export_wacz(data_dir, out, rows, selection)
    click.echo(f"Wrote {done.wacz} ({done.captures} capture(s), {done.records} WARC records; "
               f"SHA-256 {done.sha256}) and {done.manifest}.")


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@data_option
@click.option("-s", "--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a SPYGLASS_* setting, e.g. SPYGLASS_WAYBACK_URL (repeatable).")
def save(urls: tuple[str, ...], data_dir: Path, overrides: tuple[str, ...]) -> None:
    """Ask the Wayback Machine's Save Page Now for a snapshot of each URL.

    Uses SPN2 when SPYGLASS_SPN_ACCESS_KEY and SPYGLASS_SPN_SECRET_KEY are set
    in the environment (anonymous otherwise), confirms each save through the
    CDX and records the outcome in the save_requests table. Exits 1 unless
    every URL was confirmed saved.

    Example: spyglass save https://aws.amazon.com/rekognition/
    """
    from urllib.parse import urlsplit

    from .crawl import crawl_settings
    from .savepagenow import SaveSettings, save_and_record

    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URLS")
    settings = crawl_settings(data_dir, Path("sources.yml"), _parse_overrides(overrides))
    options = SaveSettings.from_settings(settings)
    index = dbmod.open_db(data_dir / dbmod.DB_NAME)
    saved = 0
    try:
        for url in urls:
            row = save_and_record(index, url, options)
            where = row.get("snapshot_url") or ""
            note = f" ({row['message']})" if row.get("message") else ""
            click.echo(f"{url}: {row['state']} {where}".rstrip() + note)
            saved += row["state"] == "saved"
    finally:
        index.close()
    if saved != len(urls):
        sys.exit(1)


@cli.command()
@click.argument("url")
@click.option("--at", "timestamp", default=None, metavar="TIMESTAMP",
              help="Wayback timestamp (1 to 14 digits, e.g. 2018 or 20180225). Default: the newest.")
def closest(url: str, timestamp: str | None) -> None:
    """Name the Wayback Machine snapshot of URL closest to a time, in citation form.

    Asks the availability API at SPYGLASS_WAYBACK_URL (or
    SPYGLASS_WAYBACK_AVAILABILITY_URL). Example: spyglass closest https://aws.amazon.com/rekognition/ --at 2018
    """
    from .wayback import Endpoints, PUBLIC_WAYBACK, closest_snapshot

    if timestamp is not None and not (timestamp.isdigit() and 1 <= len(timestamp) <= 14):
        raise click.BadParameter(f"{timestamp!r} is not a Wayback timestamp", param_hint="--at")
    endpoints = Endpoints(os.environ.get("SPYGLASS_WAYBACK_URL") or PUBLIC_WAYBACK,
                          os.environ.get("SPYGLASS_WAYBACK_AVAILABILITY_URL") or "")
    found = closest_snapshot(url, endpoints, timestamp)
    if found is None:
        click.echo(f"{url}: the Wayback Machine names no snapshot", err=True)
        sys.exit(1)
    click.echo(f"{found.snapshot_url} (captured {found.timestamp})")


def _start_wayback_sim(vendor_base: str):
    """Start the simulated Wayback Machine holding the demo pages' history; point Spyglass at it."""
    from fixtures.wayback_demo import demo_sim
    from fixtures.wayback_sim import start_wayback_sim

    server, _ = start_wayback_sim(demo_sim(vendor_base))
    os.environ["SPYGLASS_WAYBACK_URL"] = server.url
    click.echo(f"Simulated Wayback Machine: {server.url}/", err=True)
    return server


@cli.command()
@data_option
@click.option("--no-serve", is_flag=True, help="Build the archive and exit instead of serving it.")
@click.option("--port", default=8001, show_default=True, help="Port for Datasette.")
@click.option("--fixture-port", default=8470, show_default=True,
              help="Port for the fixture vendor site; the records portal takes the next one (0: any free ports).")
def demo(data_dir: Path, no_serve: bool, port: int, fixture_port: int) -> None:
    """Crawl the bundled loopback fixtures, build the archive and serve it.

    Example: spyglass demo            (then open the printed URL)
    """
    from fixtures.vendor_site import start_vendor_site

    server = _start_fixture(start_vendor_site, fixture_port)
    os.environ["SPYGLASS_VENDOR_SITE"] = server.url
    click.echo(f"Fixture vendor site: {server.url}/", err=True)
    portal = _start_records_portal(fixture_port)
    wayback = _start_wayback_sim(server.url)
    try:
        ok = _crawl(DEMO_SOURCES, data_dir, (), {}, verbose=False)
    finally:
        server.stop()
        portal.stop()
        wayback.shutdown()
    if not ok:
        sys.exit(1)
    if no_serve:
        return
    click.echo(
        f"\nTry a search: http://127.0.0.1:{port}/spyglass/captures?_search=person+tracking"
        f"\nSearch inside released documents (scans too): "
        f"http://127.0.0.1:{port}/spyglass/document_pages?_search=booking+photos"
        f"\nWhich agencies' records mention which products: "
        f"http://127.0.0.1:{port}/spyglass/agency_products"
        f"\nOr a page's versions over time: http://127.0.0.1:{port}/spyglass/page_versions?url="
        + quote(f"{server.url}/products/recognize/", safe="")
    )
    _serve(data_dir, port, "127.0.0.1")


def _start_records_portal(fixture_port: int):
    """Start the fixture records portal beside the vendor site and point sources.yml at it."""
    from fixtures.records_portal import start_records_portal

    server = _start_fixture(start_records_portal, fixture_port + 1 if fixture_port else 0)
    os.environ["SPYGLASS_RECORDS_PORTAL"] = server.url
    click.echo(f"Fixture records portal: {server.url}/requests/", err=True)
    return server


def _start_fixture(start: Any, port: int) -> Any:
    """Start a fixture server on its preferred port (stable URLs across demo runs), else any free one."""
    try:
        server, _ = start(port)
    except OSError:
        server, _ = start(0)  # the preferred port is taken
    return server


if __name__ == "__main__":
    cli(prog_name="spyglass")
