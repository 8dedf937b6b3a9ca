"""Time: `spyglass history` (a page's versions, a phrase's history), `changes` and `rebuild-history`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from archive.archive import Archive
from archive.cli.options import command_config, data_option, sources_option
from archive.index.db import open_existing

# `changes` exits with this when a watched phrase appeared or disappeared, so
# cron can mail it (1 is an error, 2 a usage error).
PHRASE_CHANGED = 3

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _when(value: str | None) -> str:
    """'2018-06-01 10:15:00 UTC' from an ISO 8601 time."""
    return (value or "")[:19].replace("T", " ") + " UTC" if value else "(unknown)"


def _date_option(value: str | None, name: str) -> str | None:
    from archive.times import iso, parse_when

    if value is None:
        return None
    try:
        return iso(parse_when(value))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date (2018-01-01, ISO 8601 or 14 digits)", param_hint=name
        ) from None


@click.command()
@click.argument("url", required=True)
@click.option(
    "--phrase",
    metavar="TEXT",
    help="Say when this phrase was first and last on the page, "
    "and the first capture without it (any case, whole words).",
)
@data_option
@format_option
def history(url: str, phrase: str | None, data_dir: Path | None, fmt: str) -> None:
    """Print a page's versions over time, each change between them, with citations.

    Times are as-of times: the memento time of a Wayback capture, the capture
    time of a live one. Example: spyglass history https://aws.amazon.com/rekognition/ --phrase "person tracking"
    """
    from archive.history.phrases import phrase_history
    from archive.history.report import changes_of, citation, versions_of
    from archive.history.sightings import known_page_key

    config, _ = command_config(data_dir=data_dir)
    index = open_existing(Archive.from_config(config))
    conn = index.conn
    try:
        versions = versions_of(conn, url)
        if phrase:
            periods = phrase_history(conn, known_page_key(conn, url), phrase)
            found = [
                {
                    "first": _end(conn, p.first, "first"),
                    "last": _end(conn, p.last, "last"),
                    "gone": _end(conn, p.gone, "first") if p.gone else None,
                }
                for p in periods
            ]
            _print_phrase(url, phrase, found, fmt)
            return
        changes = changes_of(conn, url)
        for version in versions:
            version["first_citation"] = citation(conn, version["first_capture_id"])
            version["last_citation"] = citation(conn, version["last_capture_id"])
    finally:
        index.close()
    if fmt == "json":
        click.echo(
            json.dumps({"url": url, "versions": versions, "changes": changes}, indent=2, ensure_ascii=False)
        )
        return
    by_to = {c["to_version_id"]: c for c in changes}
    click.echo(
        f"{versions[-1]['page_url']}: {len(versions)} version(s), "
        f"{sum(c['substantive'] for c in changes)} change(s). Times are as of the page "
        "(memento time for Wayback captures)."
    )
    for version in versions:
        change = by_to.get(version["id"])
        if change is not None:
            click.echo("")
            _print_change(change, header=False)
        span = _when(version["first_seen_at"])
        if version["last_seen_at"] != version["first_seen_at"]:
            span += f" to {_when(version['last_seen_at'])}"
        click.echo(
            f"\nVersion {version['number']}: {span}, seen in {version['sightings']} capture(s)"
            + (f" [{version['kind']}]" if version["kind"] != "page" else "")
        )
        click.echo(
            f"  first seen: capture {version['first_capture_id']}: {version['first_citation']['text'].splitlines()[0]}"
        )
        if version["last_capture_id"] != version["first_capture_id"]:
            click.echo(
                f"  last seen:  capture {version['last_capture_id']}: "
                f"{version['last_citation']['text'].splitlines()[0]}"
            )


def _end(conn: Any, version: dict[str, Any], which: str) -> dict[str, Any]:
    from archive.history.report import citation

    capture_id = version[f"{which}_capture_id"]
    return {
        "version": version["number"],
        "capture_id": capture_id,
        "as_of_at": version[f"{which}_seen_at"],
        "citation": citation(conn, capture_id),
    }


def _print_phrase(url: str, phrase: str, periods: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        click.echo(
            json.dumps({"url": url, "phrase": phrase, "periods": periods}, indent=2, ensure_ascii=False)
        )
        return
    if not periods:
        click.echo(f'"{phrase}" is on no version of {url}.')
        return
    click.echo(f'"{phrase}" on {url}: {len(periods)} period(s).')
    for period in periods:
        for label, end in (
            ("First seen", period["first"]),
            ("Last seen", period["last"]),
            ("Gone: first capture without it", period["gone"]),
        ):
            if end is None:
                click.echo("  Still there in the newest capture.")
                continue
            click.echo(
                f"  {label} {_when(end['as_of_at'])} (version {end['version']}, capture "
                f"{end['capture_id']}):\n    {end['citation']['text'].splitlines()[0]}"
            )


def _print_change(change: dict[str, Any], header: bool = True) -> None:
    removed = sum(p["side"] == "removed" for p in change["passages"])
    added = len(change["passages"]) - removed
    if header:
        click.echo(f"\n{change['page_url']}")
    # A change happened somewhere in its window: dated by both ends, never by one of them.
    click.echo(
        f"  Changed between {_when(change['before_at'])} and {_when(change['changed_at'])} (as of the "
        f"page); found by Spyglass on {_when(change.get('found_at'))}"
    )
    click.echo(
        f"  Change {change['id']}: {removed} passage(s) removed, {added} added, {change['size']} words"
    )
    for passage in change["passages"]:
        click.echo(f"    {'-' if passage['side'] == 'removed' else '+'} {passage['text']}")
    for event in change["phrases"]:
        click.echo(f'    ! "{event["phrase"]}" {event["event"]}')
    click.echo(f"    before: capture {change['from_capture_id']}: {change['from_citation']}")
    click.echo(f"    after:  capture {change['to_capture_id']}: {change['to_citation']}")


@click.command()
@click.option(
    "--since",
    metavar="DATE",
    help="Changes at or after this time (2018-01-01, ISO 8601 or 14 digits). Default: all.",
)
@click.option("--until", metavar="DATE", help="Changes before this time.")
@click.option(
    "--found",
    is_flag=True,
    help="Compare --since/--until with when Spyglass fetched the "
    "capture that showed the change, not with the page's as-of time.",
)
@click.option("--source", metavar="NAME", help="Only this source's pages.")
@click.option("--vendor", metavar="NAME", help="Only this vendor's pages.")
@click.option("--phrase", metavar="TEXT", help="Only changes where this phrase appeared or disappeared.")
@data_option
@format_option
def changes(
    since: str | None,
    until: str | None,
    found: bool,
    source: str | None,
    vendor: str | None,
    phrase: str | None,
    data_dir: Path | None,
    fmt: str,
) -> None:
    """Print what changed on archived pages, newest first, with citations of both captures.

    Site-wide boilerplate is left out. Exits 3 when a watched phrase (a
    source's `watch:` list, its product and aliases, or --phrase) appeared or
    disappeared, so cron can mail it. Example: spyglass changes --since 2018-01-01 --source aws-rekognition
    """
    from archive.history.report import list_changes

    start, end = _date_option(since, "--since"), _date_option(until, "--until")
    config, _ = command_config(data_dir=data_dir)
    index = open_existing(Archive.from_config(config))
    try:
        listed = list_changes(
            index.conn,
            since=start,
            until=end,
            by="found_at" if found else "changed_at",
            source=source,
            vendor=vendor,
            phrase=phrase,
        )
    finally:
        index.close()
    if fmt == "json":
        click.echo(json.dumps(listed, indent=2, ensure_ascii=False))
    else:
        for change in listed:
            _print_change(change)
        events = sum(len(c["phrases"]) for c in listed)
        click.echo(
            f"\n{len(listed)} change(s)"
            + (f" since {since}" if since else "")
            + (f"; {events} watched phrase(s) appeared or disappeared." if events else ".")
        )
    if any(c["phrases"] for c in listed):
        sys.exit(PHRASE_CHANGED)


@click.command("rebuild-history")
@data_option
@sources_option
def rebuild_history(data_dir: Path | None, sources_file: Path | None) -> None:
    """Recompute versions, changes and phrase events from the WARC files (after a rule changed).

    With --sources, the sources' configuration (their watch: lists) is
    recorded first. Run it while no crawl is writing. Example: spyglass rebuild-history --data data
    """
    from archive.history.context import Rules
    from archive.history.rebuild import rebuild_history as rebuild
    from archive.index.db import writing
    from archive.index.runs import upsert_source
    from archive.sources.load import load_sources

    config, _ = command_config(data_dir=data_dir, sources_file=sources_file)
    if sources_file is not None:
        index = open_existing(Archive.from_config(config))
        try:
            with writing(index):
                for source in load_sources(config.sources_file, os.environ):
                    if not source.unresolved:
                        upsert_source(index, source)
        finally:
            index.close()
    done = rebuild(Archive.from_config(config), Rules.from_config(config))
    click.echo(f"Rebuilt history: {done.line()}.")
