"""Importing an Atlas export: read and check it whole, archive its bytes as evidence, then index it in one transaction.

The file becomes a WARC record before any row is written: a `resource`
record for a file read from disk, request and response records for a
download. Its capture row (source `atlas.import`, via `atlas-import`) gives
it a SHA-256 in the hash chain that `spyglass verify` re-checks, and every
imported row names the import, and so the capture, it came from. A file that
is not an export is refused before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.archive import Archive
from archive.atlas.export import AtlasExport, read_export
from archive.atlas.fetch import Download, conditional_get
from archive.atlas.store import ImportReport, last_fetch, save_import, save_not_modified
from archive.atlas.vendors import VendorNames
from archive.config import Config
from archive.crawl.guard import address_book, parse_networks
from archive.errors import AtlasError
from archive.index.capture_row import CaptureRow
from archive.index.captures import load_originals, save_captures
from archive.index.db import open_index, writing
from archive.index.runs import upsert_source
from archive.sources.model import Scope, Source
from archive.times import iso, utc_now
from archive.warc.digests import sha256_hex
from archive.warc.write import RecordLocation, WarcStore

# captures.source of every imported export. A dot cannot appear in a
# sources.yml name, so neither this source nor its WARC files can collide with a crawl's.
ATLAS_SOURCE = "atlas.import"
VIA = "atlas-import"
CONTENT_TYPE = "text/csv"


def import_file(
    config: Config,
    path: Path,
    sources: list[Source],
    *,
    partial: bool = False,
    sources_file: str | None = None,
) -> ImportReport:
    """Import an export saved on disk."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AtlasError(f"{path}: cannot read: {exc.strerror or exc}") from None
    export = read_export(data, str(path))
    uri = path.resolve().as_uri()
    meta = {"origin": "file", "file_path": str(path), "partial": int(partial), "sources_file": sources_file}
    index = open_index(Archive.from_config(config))
    try:
        found = index.execute(
            "SELECT id FROM captures WHERE url = ? AND sha256 = ? AND via = ? ORDER BY id LIMIT 1",
            [uri, sha256_hex(data), VIA],
        ).fetchone()
        location = None
        if found is None:  # the same bytes from the same file are archived once
            with _warc_store(config, index) as store:
                location = store.write_resource(uri, data, CONTENT_TYPE, utc_now())
        return _index(index, export, sources, meta, uri, location, found[0] if found else None, data)
    finally:
        index.close()


def import_url(
    config: Config,
    url: str,
    sources: list[Source],
    *,
    partial: bool = False,
    sources_file: str | None = None,
    allow_private: tuple[str, ...] = (),
) -> ImportReport:
    """Fetch the export from `url` (conditionally, against the last import from it) and import it.

    Its host, and each redirect's, must have public addresses, or addresses in `allow_private`.
    """
    index = open_index(Archive.from_config(config))
    try:
        etag, modified = last_fetch(index, url)
        *hops, download = conditional_get(
            url,
            etag,
            modified,
            config.user_agent,
            config.atlas_timeout,
            address_book(config),
            parse_networks(allow_private),
        )
        meta = {
            "origin": "url",
            "url": url,
            "final_url": download.url,
            "http_status": download.status,
            "etag": download.header("ETag"),
            "last_modified": download.header("Last-Modified"),
            "partial": int(partial),
            "sources_file": sources_file,
        }
        if download.status == 304:  # nothing new: nothing written, the redirects included
            with writing(index):
                return save_not_modified(index, {**meta, "imported_at": iso(utc_now())})
        if download.status != 200:
            raise AtlasError(f"{url}: HTTP {download.status} {download.reason}: nothing imported")
        body = download.body()
        export = read_export(body, url)
        with _warc_store(config, index) as store:
            redirects = [(hop, store.write_exchange(hop.exchange())) for hop in hops]
            location = store.write_exchange(download.exchange())
        return _index(
            index, export, sources, meta, download.url, location, None, download.payload, download, redirects
        )
    finally:
        index.close()


@contextmanager
def _warc_store(config: Config, index: sqlite_utils.Database) -> Iterator[WarcStore]:
    """A WarcStore for imports, closed (flushed and fsynced) on leaving."""
    store = WarcStore(
        Archive.from_config(config).warc_dir,
        ATLAS_SOURCE,
        max_size=config.warc_max_size,
        gzip_level=config.warc_gzip_level,
        originals=load_originals(index, ATLAS_SOURCE) if config.warc_dedupe else {},
    )
    try:
        yield store
    finally:
        store.close()


def _index(
    index: sqlite_utils.Database,
    export: AtlasExport,
    sources: list[Source],
    meta: dict[str, Any],
    url: str,
    location: RecordLocation | None,
    capture_id: int | None,
    payload: bytes,
    download: Download | None = None,
    redirects: Sequence[tuple[Download, RecordLocation]] = (),
) -> ImportReport:
    """The capture rows (when records were written: the redirects on the way, then the export),
    the import and its rows: one transaction."""
    now = utc_now()
    with writing(index):
        upsert_source(
            index,
            Source(
                name=ATLAS_SOURCE,
                kind="atlas",
                urls=(url,),
                scope=Scope(hosts=()),
                notes="Atlas of Surveillance exports imported with `spyglass import-atlas` "
                "(CC BY 4.0, Electronic Frontier Foundation and the Reynolds School of "
                "Journalism, University of Nevada, Reno).",
            ),
        )
        if location is not None:
            save_captures(
                index,
                [
                    *(_redirect_row(hop, at).columns() for hop, at in redirects),
                    _capture_row(url, location, export, download).columns(),
                ],
            )
            capture_id = index.execute(
                "SELECT id FROM captures WHERE warc_record_id = ?", [location.record_id]
            ).fetchone()[0]
        return save_import(
            index,
            export,
            VendorNames(sources),
            {
                **meta,
                "imported_at": iso(now),
                "capture_id": capture_id,
                "sha256": sha256_hex(payload),
                "size": len(payload),
            },
        )


def _redirect_row(hop: Download, location: RecordLocation) -> CaptureRow:
    return CaptureRow.from_location(
        location,
        url=hop.url,
        source=ATLAS_SOURCE,
        via=VIA,
        captured_at=location.date,
        status=hop.status,
        content_type=hop.header("Content-Type"),
        location=hop.header("Location"),
        extraction="none",
    )


def _capture_row(
    url: str, location: RecordLocation, export: AtlasExport, download: Download | None
) -> CaptureRow:
    return CaptureRow.from_location(
        location,
        url=url,
        source=ATLAS_SOURCE,
        via=VIA,
        captured_at=location.date,
        status=download.status if download else None,
        content_type=(download.header("Content-Type") if download else None) or CONTENT_TYPE,
        title=f"Atlas of Surveillance export ({len(export.rows)} rows)",
        extraction="none",
    )
