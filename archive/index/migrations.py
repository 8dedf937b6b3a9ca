"""The index schema as numbered migrations, applied in order by open_db."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

from archive.index import chain
from archive.index.alerts_schema import create_alert_tables
from archive.index.asof import GENERATED_COLUMNS
from archive.index.history_schema import create_boilerplate_settled, create_history_tables
from archive.index.records_schema import create as create_records_requests
from archive.index.status_schema import add_run_states, add_script_shells

migrations = Migrations("spyglass")


def append_only_trigger(table: str, op: str) -> str:
    """The trigger that makes SQLite refuse `op` (UPDATE or DELETE) on `table`'s rows."""
    return f"""
        CREATE TRIGGER {table}_append_only_{op.lower()} BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} are append-only evidence'); END
    """


def make_append_only(db: sqlite_utils.Database, table: str) -> None:
    """Evidence tables (captures, observations, screenshots): the database itself refuses to
    change or delete a row, whatever program holds the connection."""
    for op in ("UPDATE", "DELETE"):
        db.execute(append_only_trigger(table, op))


# The contract columns of Wayback captures; NULL on live captures.
WAYBACK_COLUMNS = {
    "memento_at": str,
    "wayback_timestamp": str,
    "original_url": str,
    "snapshot_url": str,
    "wayback_digest": str,
    "wayback_digest_match": int,
}


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("sources").create(
        {
            "name": str,
            "kind": str,
            "vendor": str,
            "product": str,
            "aliases": str,
            "agency": str,
            "urls": str,
            "notes": str,
            "config": str,
            "updated_at": str,
        },
        pk="name",
    )
    db.table("crawl_runs").create(
        {
            "id": int,
            "source": str,
            "spider": str,
            "started_at": str,
            "ended_at": str,
            "status": str,
            "finish_reason": str,
            "pages": int,
            "captures": int,
            "revisits": int,
            "errors": int,
            "bytes": int,
            "warc_files": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name")],
    )
    db.table("captures").create(
        {
            "id": int,
            "url": str,
            "source": str,
            "via": str,
            "crawl_run": int,
            "captured_at": str,
            "status": int,
            "content_type": str,
            "length": int,
            "sha256": str,
            "warc_filename": str,
            "warc_offset": int,
            "warc_length": int,
            "warc_record_id": str,
            "warc_type": str,
            "refers_to": str,
            "title": str,
            "text": str,
            "extraction": str,
            "extraction_error": str,
            "vendor": str,
            "product": str,
            "agency": str,
            "depth": int,
            "referrer": str,
            "location": str,
            "fetch_ms": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
        not_null={"url", "source", "via", "captured_at", "sha256", "warc_filename"},
    )
    db.table("captures").create_index(["url", "captured_at"])
    db.table("captures").create_index(["source"])
    db.table("captures").create_index(["sha256"])
    db.table("captures").create_index(["warc_record_id"], unique=True)
    db.table("captures").enable_fts(["title", "text"], create_triggers=True, tokenize="porter")
    db.table("fetch_errors").create(
        {
            "id": int,
            "crawl_run": int,
            "source": str,
            "url": str,
            "occurred_at": str,
            "error_type": str,
            "reason": str,
            "referrer": str,
            "depth": int,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("crawl_run", "crawl_runs", "id")],
    )
    make_append_only(db, "captures")


@migrations()
def m010_wayback(db: sqlite_utils.Database) -> None:
    """Wayback captures' contract columns, and Save Page Now requests."""
    captures = db.table("captures")
    for column, kind in WAYBACK_COLUMNS.items():
        captures.add_column(column, kind)
    captures.create_index(["original_url", "wayback_timestamp"])
    # Save Page Now jobs change state over time, so they live here, never in captures.
    db.table("save_requests").create(
        {
            "id": int,
            "capture_id": int,
            "source": str,
            "url": str,
            "requested_at": str,
            "method": str,
            "job_id": str,
            "state": str,
            "status_ext": str,
            "message": str,
            "wayback_timestamp": str,
            "snapshot_url": str,
            "confirmed_via_cdx": int,
            "updated_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
    )
    db.table("save_requests").create_index(["url"])


@migrations()
def m020_records(db: sqlite_utils.Database) -> None:
    """Records portals: releases, the documents they linked, their pages' text, and mentions."""
    db.table("releases").create(
        {
            "id": int,
            "source": str,
            "key": str,
            "agency": str,
            "title": str,
            "reference": str,
            "released_on": str,
            "released_text": str,
            "page_url": str,
            "capture_id": int,
            "first_seen_at": str,
            "last_seen_at": str,
        },
        pk="id",
        foreign_keys=[("source", "sources", "name"), ("capture_id", "captures", "id")],
        not_null={"source", "key", "page_url"},
    )
    db.table("releases").create_index(["source", "key"], unique=True)
    db.table("releases").create_index(["agency"])
    db.table("documents").create(
        {
            "id": int,
            "sha256": str,
            "file_name": str,
            "file_url": str,
            "content_type": str,
            "size": int,
            "page_count": int,
            "extraction": str,
            "error": str,
            "capture_id": int,
            "first_seen_at": str,
            "extracted_at": str,
        },
        pk="id",
        foreign_keys=[("capture_id", "captures", "id")],
        not_null={"sha256", "file_url"},
    )
    db.table("documents").create_index(["sha256"], unique=True)
    db.table("document_links").create(
        {"id": int, "release_id": int, "document_id": int, "file_url": str, "linked_at": str},
        pk="id",
        foreign_keys=[("release_id", "releases", "id"), ("document_id", "documents", "id")],
        not_null={"release_id", "file_url"},
    )
    db.table("document_links").create_index(["release_id", "file_url"], unique=True)
    db.table("document_links").create_index(["file_url"])
    db.table("document_pages").create(
        {"id": int, "document_id": int, "page_number": int, "text": str, "method": str},
        pk="id",
        foreign_keys=[("document_id", "documents", "id")],
        not_null={"document_id", "page_number"},
    )
    db.table("document_pages").create_index(["document_id", "page_number"], unique=True)
    db.table("document_pages").enable_fts(["text"], create_triggers=True, tokenize="porter")
    _create_mentions(db)


def _create_mentions(db: sqlite_utils.Database) -> None:
    """Which agencies' records mention which products, and the view of one row per pair."""
    db.table("mentions").create(
        {
            "id": int,
            "agency": str,
            "vendor": str,
            "product": str,
            "term": str,
            "term_kind": str,
            "snippet": str,
            "document_page_id": int,
            "document_id": int,
            "page_number": int,
            "capture_id": int,
            "release_id": int,
            "proof_url": str,
            "found_at": str,
        },
        pk="id",
        foreign_keys=[
            ("document_page_id", "document_pages", "id"),
            ("document_id", "documents", "id"),
            ("capture_id", "captures", "id"),
            ("release_id", "releases", "id"),
        ],
    )
    db.table("mentions").create_index(["agency", "product"])
    create_agency_products(db)


def create_agency_products(db: sqlite_utils.Database) -> None:
    """The view of one row per agency and product, with the first mention as its proof.

    `documents` counts the released documents and the releases (by their own
    page or their own entry on a listing) that mention the product: a listing
    page is never counted as such, whatever releases it lists.
    """
    db.create_view(
        "agency_products",
        """
        SELECT m.agency, m.vendor, m.product, g.mentions, g.documents,
               m.proof_url, m.document_page_id, m.capture_id, m.snippet
        FROM (
            SELECT agency, vendor, product, count(*) AS mentions,
                   count(DISTINCT coalesce('d' || document_id, 'r' || release_id)) AS documents,
                   min(id) AS first_id
            FROM mentions
            WHERE agency IS NOT NULL AND product IS NOT NULL
            GROUP BY agency, vendor, product
        ) AS g JOIN mentions AS m ON m.id = g.first_id
        ORDER BY m.agency, m.product
    """,
        replace=True,
    )


@migrations()
def m025_recrawl(db: sqlite_utils.Database) -> None:
    """Runs count the pages they skipped as unchanged (recrawl: changed)."""
    db.table("crawl_runs").add_column("skipped", int)


@migrations()
def m040_hash_chain(db: sqlite_utils.Database) -> None:
    """Chain every capture row to the one before it (see archive/chain.py).

    Rows written before this migration are chained here, in id order: their
    hashes prove they are unchanged from now on, not before. The append-only
    trigger is dropped and recreated around the back-fill, inside the
    migration's transaction, so no other writer can slip in between.
    """
    table = db.table("captures")
    for column in chain.HASH_COLUMNS:
        if column not in table.columns_dict:
            table.add_column(column, str)
    db.execute("DROP TRIGGER IF EXISTS captures_append_only_update")
    prev = chain.GENESIS
    names = list(table.columns_dict)
    for values in db.execute("SELECT * FROM captures ORDER BY id").fetchall():
        row = dict(zip(names, values))
        row["prev_hash"] = prev
        prev = chain.row_hash(row)
        db.execute(
            "UPDATE captures SET prev_hash = ?, row_hash = ? WHERE id = ?",
            [row["prev_hash"], prev, row["id"]],
        )
    db.execute(append_only_trigger("captures", "UPDATE"))


@migrations()
def m045_refused_records(db: sqlite_utils.Database) -> None:
    """A fetch error can name the WARC record of the response it refused."""
    db.table("fetch_errors").add_column("warc_record_id", str)


@migrations()
def m100_as_of(db: sqlite_utils.Database) -> None:
    """Every capture, old and new, gets its as-of time and page URL (generated, never stored).

    SQLite computes them from the row's own columns by the as-of rule
    (archive/index/asof.py). Generated columns are not stored and cannot be
    written, so no capture row changes; the hash chain leaves them out
    (archive/index/chain.py).
    """
    for column, expression in GENERATED_COLUMNS.items():
        db.execute(
            f"ALTER TABLE captures ADD COLUMN {column} TEXT GENERATED ALWAYS AS ({expression}) VIRTUAL"
        )
    db.execute("CREATE INDEX idx_captures_as_of_at ON captures (as_of_at)")
    db.execute("CREATE INDEX idx_captures_page_url_as_of_at ON captures (page_url, as_of_at)")


@migrations()
def m105_history(db: sqlite_utils.Database) -> None:
    """Time: sightings of pages, their versions, the changes between them, and watched phrases.

    All derived from captures and the WARC files (archive/history/), and
    rebuilt by `spyglass rebuild-history`.
    """
    create_history_tables(db)


@migrations()
def m240_json_portals(db: sqlite_utils.Database) -> None:
    """JSON portals: a release's status and version, the stable page to cite each file by, and a
    hosting service's own page text kept beside Spyglass's (one row per page and method)."""
    db.table("releases").add_column("status", str)
    db.table("releases").add_column("version", str)
    db.table("documents").add_column("cite_url", str)
    db.table("document_links").add_column("cite_url", str)
    db.table("document_links").create_index(["cite_url"])
    db.execute("DROP INDEX IF EXISTS idx_document_pages_document_id_page_number")
    db.table("document_pages").create_index(["document_id", "page_number", "method"], unique=True)


@migrations()
def m220_atlas(db: sqlite_utils.Database) -> None:
    """The Atlas of Surveillance: imports, agencies, technologies, row versions, links, vendors, views."""
    # Imported here, not above: the schema lives in its own module (archive/index/atlas_schema.py).
    from archive.index.atlas_schema import create

    create(db)


@migrations()
def m180_save_request_status(db: sqlite_utils.Database) -> None:
    """The HTTP status of the CDX row that confirmed a save (NULL for a revisit row)."""
    db.table("save_requests").add_column("wayback_status", int)


@migrations()
def m140_releases_fts(db: sqlite_utils.Database) -> None:
    """Full-text search over releases (title, agency, reference), so one search box finds them too."""
    db.table("releases").enable_fts(["title", "agency", "reference"], create_triggers=True, tokenize="porter")


@migrations()
def m120_run_reports(db: sqlite_utils.Database) -> None:
    """Each run's full figures, and which process ran it (so a dead one is found and resumed)."""
    runs = db.table("crawl_runs")
    for column, kind in {
        "requests": int,
        "observations": int,
        "error_kinds": str,
        "seconds": float,
        "resumed_from": int,
        "pid": int,
        "hostname": str,
    }.items():
        runs.add_column(column, kind)


@migrations()
def m121_observations(db: sqlite_utils.Database) -> None:
    """Sightings of a payload already archived: a 304 to a conditional request, or a revisit.

    Like captures they are evidence (each names the WARC record that proves
    it), so the database refuses to change or delete one.
    """
    db.table("observations").create(
        {
            "id": int,
            "url": str,
            "source": str,
            "crawl_run": int,
            "observed_at": str,
            "kind": str,
            "status": int,
            "sha256": str,
            "capture_id": int,
            "revisit_capture_id": int,
            "warc_record_id": str,
            "warc_filename": str,
            "warc_offset": int,
            "warc_length": int,
        },
        pk="id",
        foreign_keys=[
            ("source", "sources", "name"),
            ("crawl_run", "crawl_runs", "id"),
            ("capture_id", "captures", "id"),
            ("revisit_capture_id", "captures", "id"),
        ],
        not_null={"url", "observed_at", "kind", "sha256", "warc_record_id"},
    )
    db.table("observations").create_index(["url", "observed_at"])
    db.table("observations").create_index(["capture_id"])
    db.table("observations").create_index(["warc_record_id"], unique=True)
    make_append_only(db, "observations")


@migrations()
def m122_validators(db: sqlite_utils.Database) -> None:
    """Each page's last ETag / Last-Modified, for conditional requests on the next crawl (derived)."""
    db.table("page_validators").create(
        {
            "source": str,
            "url": str,
            "etag": str,
            "last_modified": str,
            "sha256": str,
            "warc_record_id": str,
            "captured_at": str,
        },
        pk=("source", "url"),
    )


@migrations()
def m123_warc_files(db: sqlite_utils.Database) -> None:
    """Which run opened each WARC file, and records found cut short by a crash (named, never removed)."""
    db.table("warc_files").create(
        {"filename": str, "crawl_run": int, "opened_at": str},
        pk="filename",
        foreign_keys=[("crawl_run", "crawl_runs", "id")],
    )
    db.table("warc_cuts").create(
        {
            "id": int,
            "filename": str,
            "offset": int,
            "length": int,
            "sha256": str,
            "crawl_run": int,
            "found_at": str,
        },
        pk="id",
        foreign_keys=[("crawl_run", "crawl_runs", "id")],
    )
    db.table("warc_cuts").create_index(["filename", "offset"], unique=True)


@migrations()
def m124_schedules(db: sqlite_utils.Database) -> None:
    """When each source's crawl (and Wayback harvest) is due, and the status view over it."""
    db.table("schedules").create(
        {
            "source": str,
            "spider": str,
            "every": str,
            "last_started_at": str,
            "next_due_at": str,
            "overdue_at": str,
            "added_at": str,
            "updated_at": str,
        },
        pk=("source", "spider"),
    )
    db.create_view(
        "source_status",
        """
        SELECT s.source, s.spider, s.every, s.next_due_at, s.overdue_at,
               r.id AS last_run, r.status AS last_status, r.finish_reason,
               r.started_at AS last_started_at, r.ended_at AS last_ended_at,
               r.pages, r.captures, r.revisits, r.observations, r.errors,
               CASE
                 WHEN s.every = 'never' THEN 'manual'
                 WHEN r.status = 'running' THEN 'running'
                 WHEN r.status IN ('failed', 'interrupted') THEN r.status
                 WHEN s.overdue_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now') THEN 'overdue'
                 WHEN s.next_due_at IS NULL OR s.next_due_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                   THEN 'due'
                 ELSE 'ok'
               END AS state
        FROM schedules AS s
        LEFT JOIN crawl_runs AS r ON r.id = (
            SELECT max(id) FROM crawl_runs WHERE source = s.source AND spider = s.spider)
        ORDER BY s.source, s.spider
    """,
    )


@migrations()
def m160_requisites_and_screenshots(db: sqlite_utils.Database) -> None:
    """Page requisites are captures marked by kind; screenshots are evidence of their own.

    `requisite` is NULL on every page and on every row written before it, so
    no existing row's hash changes (archive/index/chain.py). Screenshots live
    in their own append-only table: a screenshot is a second look at a page
    by a browser, not a response to a request, and must never be mistaken for
    the capture of a URL.
    """
    db.table("captures").add_column("requisite", str)
    db.table("crawl_runs").add_column("requisites", int)
    db.table("screenshots").create(
        {
            "id": int,
            "capture_id": int,
            "crawl_run": int,
            "source": str,
            "url": str,
            "taken_at": str,
            "status": str,
            "error": str,
            "http_status": int,
            "width": int,
            "height": int,
            "cut_at_height": int,
            "browser": str,
            "sha256": str,
            "length": int,
            "warc_filename": str,
            "warc_offset": int,
            "warc_length": int,
            "warc_record_id": str,
        },
        pk="id",
        foreign_keys=[
            ("capture_id", "captures", "id"),
            ("crawl_run", "crawl_runs", "id"),
            ("source", "sources", "name"),
        ],
        not_null={"capture_id", "url", "taken_at", "status"},
    )
    db.table("screenshots").create_index(["capture_id"])
    make_append_only(db, "screenshots")


@migrations()
def m200_ingest_positions(db: sqlite_utils.Database) -> None:
    """Redis mode: the last ingest-stream entry committed to this index, so an entry delivered
    again after a crash is never applied twice (archive/cluster/ingest.py)."""
    db.table("ingest_positions").create({"stream": str, "last_id": str, "updated_at": str}, pk="stream")


@migrations()
def m250_boilerplate_settled(db: sqlite_utils.Database) -> None:
    """History: when each host's boilerplate was last found (through which capture, by which
    rules), and an index that says whether a page has had a text before; together they let a
    crawl that brought a host no new text skip finding its boilerplate again
    (archive/history/boilerplate.py boilerplate_may_change)."""
    create_boilerplate_settled(db)
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_page_sightings_page_key_text_sha256 "
        "ON page_sightings (page_key, text_sha256)"
    )


@migrations()
def m300_release_entries(db: sqlite_utils.Database) -> None:
    """Who released what: a release listed on a page with others keeps the text of its own entry
    (its table row, its JSON item), so a listing's words are credited only to the release whose
    entry holds them; agency_products counts releases and documents, never listing pages."""
    db.table("releases").add_column("entry_text", str)
    create_agency_products(db)


@migrations()
def m320_run_states(db: sqlite_utils.Database) -> None:
    """Status tells the truth: partial, stuck, running too long, interrupted twice; per-run log files."""
    add_run_states(db)


@migrations()
def m340_run_versions(db: sqlite_utils.Database) -> None:
    """The Spyglass that ran each crawl (its version, and its git commit from a checkout), so a
    capture's run names the code that made it (archive/version.py)."""
    db.table("crawl_runs").add_column("spyglass_version", str)


@migrations()
def m360_alerts(db: sqlite_utils.Database) -> None:
    """Alerts: each event (a watched phrase gone, a new document naming a product, a failed run)
    and each target it went to, sent once (archive/notify/). A look for events reads the changes
    and documents newer than a capture id, so both are indexed by it."""
    create_alert_tables(db)
    db.execute("CREATE INDEX IF NOT EXISTS idx_changes_to_capture_id ON changes (to_capture_id)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_documents_capture_id ON documents (capture_id)")


# Characters of a capture's text that full-text search indexes and snippet() reads;
# captures.text keeps all of it (the capture and document pages show it whole).
SEARCH_TEXT_CHARS = 100_000


def search_text(column: str) -> str:
    """SQL for the part of a captures text column that search sees."""
    return f"substr({column}, 1, {SEARCH_TEXT_CHARS})"


def index_capped(db: sqlite_utils.Database, table: str, columns: list[str], capped: set[str]) -> None:
    """(Re)build `{table}_fts` over the view `{table}_search`: `columns` of `table`, those in
    `capped` cut to their first SEARCH_TEXT_CHARS (search_text), kept by triggers as rows come."""
    fts, view = f"{table}_fts", f"{table}_search"

    def cut(prefix: str) -> list[str]:
        return [search_text(f"{prefix}{c}") if c in capped else f"{prefix}{c}" for c in columns]

    for trigger in ("ai", "ad", "au"):
        db.execute(f"DROP TRIGGER IF EXISTS {table}_{trigger}")
    db.execute(f"DROP TABLE IF EXISTS {fts}")
    shown = ", ".join(f"{value} AS {c}" if c in capped else c for c, value in zip(columns, cut("")))
    db.execute(f"CREATE VIEW IF NOT EXISTS {view} AS SELECT id, {shown} FROM {table}")
    db.execute(
        f"CREATE VIRTUAL TABLE {fts} USING FTS5 ({', '.join(columns)}, tokenize='porter', "
        f"content='{view}', content_rowid='id')"
    )
    db.execute(f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')")
    names = ", ".join(columns)
    add = f"INSERT INTO {fts} (rowid, {names}) VALUES (new.id, {', '.join(cut('new.'))});"
    drop = f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', old.id, {', '.join(cut('old.'))});"
    db.execute(f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN {add} END")
    db.execute(f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN {drop} END")
    db.execute(f"CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN {drop} {add} END")


@migrations()
def m380_search_text_capped(db: sqlite_utils.Database) -> None:
    """Search reads at most SEARCH_TEXT_CHARS of a capture's text, through the view
    captures_search: FTS5 snippet() over a 2M-character text is one SQLite step the time
    limit cannot interrupt (15 s against a 3 s limit, the whole server waiting). The index is
    rebuilt once from the view; triggers keep it as captures are appended."""
    index_capped(db, "captures", ["title", "text"], {"text"})


@migrations()
def m400_records_requests(db: sqlite_utils.Database) -> None:
    """Records requests as their users know them: submitted, due and completed dates, jurisdiction,
    embargo and the human page; communications (searchable) and the files each delivered; status
    history; and what each run of a JSON walk found (archive/index/records_schema.py)."""
    create_records_requests(db)


@migrations()
def m420_script_shells(db: sqlite_utils.Database) -> None:
    """Each live run's count of pages that look script-rendered, so `spyglass status` and the
    source_status view can suggest `render: browser` per source."""
    add_script_shells(db)


@migrations()
def m460_page_links(db: sqlite_utils.Database) -> None:
    """What each archived page links to, kept at capture: a 304 re-crawl follows a page's links
    from here instead of reading the page back from its WARC file (archive/index/links.py)."""
    db.table("page_links").create(
        {"warc_record_id": str, "base": str, "hrefs": str, "requisites": str},
        pk="warc_record_id",
        not_null={"hrefs"},
    )


@migrations()
def m480_file_human_pages(db: sqlite_utils.Database) -> None:
    """A released file's own page a reader opens (DocumentCloud's document page, NextRequest's
    /documents/ID), where the walk names one; a file without one is cited by its request's page."""
    db.table("document_links").add_column("human_url", str)


@migrations()
def m500_change_search_capped(db: sqlite_utils.Database) -> None:
    """Search over what changed reads at most SEARCH_TEXT_CHARS of each side of a change, through
    the view changes_search, as m380 does for captures: a change between two huge versions
    holds millions of characters, and snippet() over them is one step the time limit cannot stop."""
    index_capped(db, "changes", ["added", "removed"], {"added", "removed"})


@migrations()
def m520_verify_runs(db: sqlite_utils.Database) -> None:
    """Each `spyglass verify` and how far into each WARC file it read, so `verify --since` reads
    only the records added after the last verify that found nothing wrong."""
    db.table("verify_runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "since_run": int,  # the verify this one continued from (--since); NULL for a whole one
            "captures_to": int,  # the highest capture id when it ran
            "screenshots_to": int,
            "observations_to": int,
            "records": int,  # records read
            "bytes": int,  # compressed bytes read
            "problems": int,
        },
        pk="id",
    )
    db.table("verify_files").create(
        {"verify_run": int, "filename": str, "verified_to": int, "records": int},
        pk=("verify_run", "filename"),
        foreign_keys=[("verify_run", "verify_runs", "id")],
    )


@migrations()
def m570_history_pending(db: sqlite_utils.Database) -> None:
    """Hosts whose boilerplate a crawl run left to be found again after the run was reported
    finished (archive/history/later.py): what `spyglass status` says is still pending."""
    db.table("history_pending").create(
        {"id": int, "host": str, "crawl_run": int, "added_at": str},
        pk="id",
    )
    db.table("history_pending").create_index(["host"])
