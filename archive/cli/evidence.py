"""The lawyer's commands: `verify`, `timestamp`, `cite` and `export`, and `tsa` to try `timestamp`."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, sources_option, tsa_ca_option
from archive.config import Config
from archive.index.db import open_existing
from archive.times import utc_now

if TYPE_CHECKING:
    from archive.evidence.verify import Problem


@click.command()
@data_option
@tsa_ca_option
@sources_option
@click.option(
    "--since",
    is_flag=True,
    help="Read only the WARC records added since the last verify that found nothing wrong; "
    "the hash chain, every row added since and every time-stamp token are checked in full.",
)
def verify(data_dir: Path | None, tsa_ca: str | None, sources_file: Path | None, since: bool) -> None:
    """Prove the archive unaltered: payloads, hash chain, WARC digests, time-stamp tokens.

    Exits non-zero and lists each problem, and alerts every `notify:` target of
    the sources file (each problem once). Each verify is recorded in the index;
    with --since, records an earlier clean verify read are not read again (a change
    to them is found by the next verify without --since).
    Example: spyglass verify --data data
    """
    from archive.cli.progress import Bar
    from archive.evidence.verify import verify_report

    config, _ = command_config(data_dir=data_dir, tsa_ca_file=tsa_ca, sources_file=sources_file)
    bar = Bar("verify: WARC files read")
    report = verify_report(Archive.from_config(config), config.tsa_ca_file or None, since, bar)
    bar.finish()
    for problem in report.problems:
        click.echo(f"FAIL {problem.line()}", err=True)
    if report.not_kept:
        click.echo(f"note: this verify could not be recorded in the index: {report.not_kept}", err=True)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {report.captures} captures.", err=True)
        _alert_altered(config, report.problems)
        sys.exit(1)
    click.echo(
        f"OK: {report.captures} captures "
        + (f"and {report.screenshots} screenshots " if report.screenshots else "")
        + "verified against their WARC records; hash chain "
        f"intact; {report.records} records in {report.warc_files} WARC files with valid digests; "
        + (
            f"{report.tokens} time-stamp token(s) match their files."
            if report.tokens
            else "no time-stamp tokens yet (`spyglass timestamp` gets them)."
        )
    )
    if since:
        click.echo(_since_line(report))


def _since_line(report: Any) -> str:
    """What --since read, and what it left to the verify it continued from."""
    if report.since is None:
        return "--since: no earlier clean verify, so every record was read."
    return (
        f"--since: read {report.records_read} records ({report.bytes_read / 1e6:.1f} MB) added since "
        f"the verify of {report.since.finished_at}; the {report.records - report.records_read} "
        "records it read were not read again; the hash chain was checked end to end."
    )


def _alert_altered(config: Config, problems: list[Problem]) -> None:
    """Tell every target what verify found; without a sources file there is no one to tell."""
    if not config.sources_file.exists():
        return
    from archive.notify.run import altered, targets_of
    from archive.sources.load import load_sources

    sources = load_sources(config.sources_file, os.environ)
    if targets_of(sources):
        done = altered(config, sources, problems, utc_now())
        click.echo(done.line(), err=True)
        for answer in done.answers:
            click.echo(f"FAIL {answer}", err=True)


@click.command()
@data_option
@click.option(
    "--tsa-url",
    default=None,
    metavar="URL",
    help="RFC 3161 time-stamp authority (default: $SPYGLASS_TSA_URL).",
)
@tsa_ca_option
def timestamp(data_dir: Path | None, tsa_url: str | None, tsa_ca: str | None) -> None:
    """Get RFC 3161 tokens for closed WARC files (FILE.tsr) and the hash chain's head (chain/).

    Example: spyglass timestamp --tsa-url https://freetsa.org/tsr --tsa-ca cacert.pem
    """
    from archive.evidence.timestamp import stamped_summary, timestamp_warcs

    config, _ = command_config(data_dir=data_dir, tsa_url=tsa_url, tsa_ca_file=tsa_ca)
    archive = Archive.from_config(config)
    open_existing(archive).close()
    stamped = timestamp_warcs(archive, config.tsa_url, config.tsa_ca_file or None)
    for item in stamped:
        click.echo(f"{item.filename}: SHA-256 {item.sha256} time-stamped {item.time}")
    click.echo(f"{stamped_summary(stamped)} time-stamped by {config.tsa_url}.")


@click.command()
@click.argument("target", metavar="ID|URL")
@data_option
@click.option(
    "--at",
    "at",
    metavar="DATE",
    help="With a URL: cite the capture closest to this date (2018-02-25, ISO 8601 or 14 digits).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "footnote", "bluebook", "json"]),
    default="text",
    show_default=True,
    help="Citation format: footnote is the coalition letter's one line.",
)
def cite(target: str, data_dir: Path | None, at: str | None, fmt: str) -> None:
    """Print the citation of a capture, by id or by any URL that names it (the newest, or the closest to --at).

    A URL may be a captured page's, a Wayback snapshot link in any spelling (as a
    letter prints it), a released file's stable page or signed download URL, or a
    release's page. Example: spyglass cite
    https://web.archive.org/web/20180225100337/https:/aws.amazon.com/rekognition/ --format footnote
    """
    from archive.evidence.cite import citation_of_found
    from archive.evidence.lookup import find
    from archive.publish.paths import Paths
    from archive.times import parse_when

    config, _ = command_config(data_dir=data_dir)
    try:
        when = parse_when(at) if at else None
    except ValueError:
        raise click.BadParameter(f"{at!r} is not a date", param_hint="--at") from None
    if when is not None and target.strip().isdigit():
        raise click.BadParameter("--at needs a URL, not a capture id", param_hint="--at")
    index = open_existing(Archive.from_config(config))
    try:
        found = find(index.conn, target, when, config.wayback_url)
        public = config.public_url.rstrip("/")
        published = Paths(lambda path: public + path).capture(found.capture["id"]) if public else None
        citation = citation_of_found(index.conn, found, published)
    finally:
        index.close()
    note = _closest_note(found, when, at or target)
    if fmt == "json":
        payload = citation.as_dict()
        if note:
            payload["closest_to"] = note
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        click.echo(citation.render(fmt))


def _closest_note(found: Any, at: datetime | None, asked: str) -> dict[str, Any] | None:
    """How far the capture is from the time asked for (--at, or the snapshot link's own time),
    said on stderr too; None when no time was asked for, or a link's time is met exactly."""
    from archive.evidence.cite import distance
    from archive.index.asof import as_of

    when = at or found.named_at
    if when is None:
        return None
    shown = as_of(found.capture)
    if at is None and shown == when:
        return None
    click.echo(
        f"Closest capture to {asked}: capture {found.capture['id']}, showing the page as of "
        f"{shown.strftime('%Y-%m-%d %H:%M:%S UTC')}, {distance(shown, when)}.",
        err=True,
    )
    return {
        "requested": asked,
        "capture_id": found.capture["id"],
        "shows_page_at": shown.isoformat(),
        "offset_seconds": int((shown - when).total_seconds()),
        "offset": distance(shown, when),
    }


@click.command()
@data_option
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The .wacz file to write (a manifest is written beside it).",
)
@click.option("--capture", "ids", type=int, multiple=True, metavar="ID", help="A capture id (repeatable).")
@click.option("--query", "query", metavar="SQL", help="SQL returning an `id` column of capture ids.")
@click.option("--source", "source", metavar="NAME", help="Every capture of this source.")
def export(
    data_dir: Path | None, out: Path, ids: tuple[int, ...], query: str | None, source: str | None
) -> None:
    """Write an evidence package: a WACZ of the chosen captures plus a manifest of citations and hashes.

    Example: spyglass export --out faq.wacz --query "select id from captures where url like '%/faqs/'"
    """
    from archive.evidence.export import export_wacz, select_captures

    config, _ = command_config(data_dir=data_dir)
    index = open_existing(Archive.from_config(config))
    try:
        rows = select_captures(index.conn, ids=ids, query=query, source=source)
    finally:
        index.close()
    selection = (
        f"captures {', '.join(str(i) for i in ids)}"
        if ids
        else f"query {query}"
        if query
        else f"source {source}"
    )
    done = export_wacz(Archive.from_config(config), out, rows, selection)
    extra = (f", with {done.requisites} page requisite(s)" if done.requisites else "") + (
        f" and {done.screenshots} screenshot(s)" if done.screenshots else ""
    )
    click.echo(
        f"Wrote {done.wacz} ({done.captures} capture(s){extra}, {done.records} WARC records; "
        f"SHA-256 {done.sha256}) and {done.manifest}."
    )


@click.command()
@click.option("--port", default=8318, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for its throwaway CA and keys (default: a new temporary one).",
)
def tsa(port: int, keys_dir: Path | None) -> None:
    """Serve a throwaway RFC 3161 Time-Stamp Authority on 127.0.0.1, to try `spyglass timestamp`.

    Its tokens are real RFC 3161 tokens, but its CA is made on the spot and
    vouches for nothing outside your machine: use a public TSA for evidence.
    Stops on Ctrl-C. Example: spyglass tsa, then in another shell
    spyglass timestamp --tsa-url http://127.0.0.1:8318/tsr --tsa-ca <the CA file it names>
    """
    import tempfile
    import threading

    from archive.demo.tsa import start_tsa

    directory = keys_dir or Path(tempfile.mkdtemp(prefix="spyglass-tsa-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        server, authority = start_tsa(directory, port=port)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve on 127.0.0.1:{port}: {exc.strerror} (--port 0 takes any free port)"
        ) from None
    click.echo(f"Time-Stamp Authority at {server.url}/tsr; its CA certificate: {authority.ca}")
    click.echo(
        "A throwaway authority for trying `spyglass timestamp`: its tokens vouch for "
        "nothing outside this machine. Ctrl-C stops it."
    )
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
