"""The Atlas of Surveillance import: its tables, re-imports, bad files, conditional downloads, sources."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from archive.archive import Archive
from archive.cli.main import cli
from archive.demo.atlas_site import HEADER, MOVED_PATH, PATH, export_csv, start_atlas_site
from archive.evidence.verify import verify_report
from archive.sources.load import load_sources

from .conftest import ROOT, db_rows

EXPORT = ROOT / "tests" / "data" / "atlas" / "export.csv"
SHERIFF = "Clearwater County Sheriff's Office"
POLICE = "Lakeport Police Department"
BOARD = "Clearwater County Board of Supervisors"


def spyglass(*args: str):
    """Run a spyglass command in-process (no Twisted involved), against the demo's sources for vendor names."""
    return CliRunner().invoke(cli, [*args, "--sources", str(ROOT / "sources.yml")])


def imported(data: Path, path: Path = EXPORT) -> str:
    result = spyglass("import-atlas", str(path), "--data", str(data))
    assert result.exit_code == 0, result.output
    return result.output


def current(data: Path) -> dict[str, sqlite3.Row]:
    return {r["aosnumber"]: r for r in db_rows(data, "SELECT * FROM atlas_rows WHERE superseded_at IS NULL")}


def test_the_fixture_export_is_read_column_by_column(tmp_path: Path):
    out = imported(tmp_path)
    assert "4 Atlas rows, 4 new, 0 changed, 0 unchanged, 1 duplicate row(s) counted once, 1 skipped" in out
    rows = current(tmp_path)
    assert sorted(rows) == ["AOS000101", "AOS000102", "AOS000103", "AOS000104"]
    first = rows["AOS000101"]
    # Quoted commas, quotes and a line break survive as written.
    assert first["summary"] == (
        "Lakeport police piloted face matching of body camera footage, using "
        'Northwind Recognize.\nThe pilot ended in 2019, according to the "project notes".'
    )
    assert (first["newaosnumber"], first["city"], first["type_of_lea"], first["tech_abv"]) == (
        "CA0990101FRT",
        "Lakeport",
        "Police",
        "FRT",
    )
    assert first["line"] == 2 and rows["AOS000102"]["line"] == 4
    # The second, different AOS000104 is not imported over the first, and is named.
    assert rows["AOS000104"]["summary"].startswith("Deputies search booking photos")
    [run] = db_rows(tmp_path, "SELECT * FROM atlas_imports")
    assert (run["rows"], run["duplicates"], run["skipped"], run["outcome"]) == (4, 1, 1, "imported")
    assert '"line": 8' in run["skipped_rows"] and "AOS000104" in run["skipped_rows"]
    agencies = {(r["agency"], r["state"]) for r in db_rows(tmp_path, "SELECT * FROM atlas_agencies")}
    assert agencies == {(POLICE, "CA"), (SHERIFF, "CA"), (BOARD, "CA")}
    technologies = {r[0] for r in db_rows(tmp_path, "SELECT technology FROM atlas_technologies")}
    assert technologies == {"Face Recognition", "Automated License Plate Readers", "Drones"}
    assert (
        rows["AOS000103"]["agency_id"]
        == db_rows(tmp_path, "SELECT id FROM atlas_agencies WHERE agency = ?", (BOARD,))[0][0]
    )


def test_vendor_names_are_matched_to_the_sources_and_blank_ones_stay_blank(tmp_path: Path):
    imported(tmp_path)
    rows = current(tmp_path)
    assert rows["AOS000102"]["vendor"] == ""
    matches = {
        (r["aosnumber"], r["vendor_text"], r["vendor"], r["product"], r["matched_by"])
        for r in db_rows(
            tmp_path, "SELECT r.aosnumber, v.* FROM atlas_row_vendors v JOIN atlas_rows r ON r.id = v.row_id"
        )
    }
    assert matches == {
        ("AOS000101", "Northwind Cloud, Inc.", "Northwind Cloud", None, "vendor"),
        ("AOS000104", "NW Recognize", "Northwind Cloud", "Northwind Recognize", "alias"),
        ("AOS000103", "Autel", "Autel", None, None),
        ("AOS000103", "DJI", "DJI", None, None),
    }


def test_links_keep_their_dates_as_written_and_in_iso_and_snapshots_name_their_memento(tmp_path: Path):
    imported(tmp_path)
    links = {
        (r["aosnumber"], r["field"], r["url"]): r
        for r in db_rows(
            tmp_path, "SELECT r.aosnumber, l.* FROM atlas_links l JOIN atlas_rows r ON r.id = l.row_id"
        )
    }
    dates = {(aos, field): (r["date_text"], r["date"]) for (aos, field, _), r in links.items()}
    assert dates[("AOS000101", "Link 1")] == ("12/27/2012", "2012-12-27")
    assert dates[("AOS000101", "Link 2")] == ("Mar. 2019", "2019-03")
    assert dates[("AOS000102", "Link 1")] == ("2019", "2019")
    assert dates[("AOS000103", "Link 1")] == ("2020-06-15", "2020-06-15")
    assert dates[("AOS000104", "Link 1")] == ("June 3, 2019", "2019-06-03")
    snapshot = links[
        (
            "AOS000101",
            "Link 1 Snapshot",
            "https://web.archive.org/web/20180601101500/http://vendor.example/products/recognize/",
        )
    ]
    assert (snapshot["original_url"], snapshot["wayback_timestamp"]) == (
        "http://vendor.example/products/recognize/",
        "20180601101500",
    )
    # A snapshot link written in a Link column (as the public export does), with a year only.
    inline = links[
        (
            "AOS000104",
            "Link 3",
            "https://web.archive.org/web/2019/https://news.example/clearwater-face-search",
        )
    ]
    assert (inline["original_url"], inline["wayback_timestamp"]) == (
        "https://news.example/clearwater-face-search",
        "2019",
    )
    other = sorted(url for aos, field, url in links if field == "Other Links")
    assert other == [
        "https://records.example/ccso/alpr-contract.pdf",
        "https://records.example/ccso/alpr-policy.pdf",
    ]


def test_the_file_is_archived_as_a_resource_record_that_verify_checks(tmp_path: Path):
    imported(tmp_path)
    [capture] = db_rows(tmp_path, "SELECT * FROM captures")
    assert (capture["source"], capture["via"], capture["warc_type"]) == (
        "atlas.import",
        "atlas-import",
        "resource",
    )
    assert capture["url"] == EXPORT.resolve().as_uri()
    assert capture["sha256"] == hashlib.sha256(EXPORT.read_bytes()).hexdigest()
    assert capture["warc_filename"].startswith("atlas.import-")
    [run] = db_rows(tmp_path, "SELECT * FROM atlas_imports")
    assert (run["capture_id"], run["sha256"], run["origin"]) == (capture["id"], capture["sha256"], "file")
    report = verify_report(Archive(tmp_path))
    assert report.problems == [] and report.records == 2  # warcinfo + the resource


def test_reimporting_a_changed_export_records_the_change_and_loses_nothing(tmp_path: Path):
    imported(tmp_path)
    before = {r["id"]: dict(r) for r in db_rows(tmp_path, "SELECT * FROM atlas_rows")}
    text = EXPORT.read_text()
    changed = tmp_path / "export-2.csv"
    lines = text.replace("runs automated license plate readers", "ran automated license plate readers")
    # AOS000103 (and its duplicate) no longer listed; AOS000105 new.
    lines = "\n".join(line for line in lines.split("\n") if not line.startswith('"AOS000103"'))
    lines += (
        export_csv(
            [
                {
                    "AOSNUMBER": "AOS000105",
                    "Agency": POLICE,
                    "State": "CA",
                    "Technology": "Drones",
                    "Vendor": "",
                }
            ]
        )
        .decode()
        .split("\n", 1)[1]
    )
    changed.write_text(lines)
    out = imported(tmp_path, changed)
    assert "4 Atlas rows, 1 new, 1 changed, 2 unchanged, 1 no longer listed" in out
    after = {r["id"]: dict(r) for r in db_rows(tmp_path, "SELECT * FROM atlas_rows")}
    # Every earlier version is still there, its content untouched.
    for rid, row in before.items():
        assert {k: v for k, v in after[rid].items() if not k.startswith("superseded")} == {
            k: v for k, v in row.items() if not k.startswith("superseded")
        }
    now = current(tmp_path)
    old = next(r for r in after.values() if r["aosnumber"] == "AOS000102" and r["superseded_at"])
    assert old["superseded_by"] == now["AOS000102"]["id"] and old["superseded_import_id"] == 2
    assert (
        now["AOS000102"]["summary"].startswith("The Sheriff's Office ran")
        and now["AOS000102"]["import_id"] == 2
    )
    gone = next(r for r in after.values() if r["aosnumber"] == "AOS000103")
    assert gone["superseded_at"] and gone["superseded_by"] is None
    assert "AOS000103" not in now and "AOS000105" in now
    assert len(db_rows(tmp_path, "SELECT * FROM captures")) == 2
    assert verify_report(Archive(tmp_path)).problems == []
    conn = sqlite3.connect(tmp_path / "spyglass.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="kept as imported"):
            conn.execute("UPDATE atlas_rows SET summary = 'edited' WHERE aosnumber = 'AOS000101'")
        with pytest.raises(sqlite3.IntegrityError, match="nothing imported is deleted"):
            conn.execute("DELETE FROM atlas_rows")
    finally:
        conn.close()


def test_the_same_file_again_changes_nothing_and_is_not_archived_twice(tmp_path: Path):
    imported(tmp_path)
    out = imported(tmp_path)
    assert "4 Atlas rows, 0 new, 0 changed, 4 unchanged" in out and "the file is capture 1," in out
    assert len(db_rows(tmp_path, "SELECT * FROM captures")) == 1
    assert len(list((tmp_path / "warcs").iterdir())) == 1
    assert len(db_rows(tmp_path, "SELECT * FROM atlas_rows")) == 4


def test_a_filtered_export_imported_as_partial_marks_nothing_as_gone(tmp_path: Path):
    imported(tmp_path)
    one = tmp_path / "one.csv"
    one.write_text("\n".join(EXPORT.read_text().split("\n")[:3]) + "\n")  # header and AOS000101
    result = spyglass("import-atlas", str(one), "--partial", "--data", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "1 Atlas rows, 0 new, 0 changed, 1 unchanged" in result.output
    assert len(current(tmp_path)) == 4


BAD_FILES = {
    "wrong columns": (
        b"name,agency\nx,y\n",
        "not an Atlas of Surveillance export: its first line does not "
        "name the export's columns (AOSNUMBER, NEWAOSNUMBER, City, County, ...)",
    ),
    "missing column": (
        EXPORT.read_bytes().replace(b'"Vendor",', b"", 1),
        "not an Atlas of Surveillance export: 1 of its 28 columns missing ('Vendor')",
    ),
    "not CSV": (
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
        "binary data (a compressed or spreadsheet file?), not a CSV file",
    ),
    "an HTML page": (
        b"<!DOCTYPE html><html><body>Too many requests</body></html>",
        "an HTML or XML page, not a CSV file",
    ),
    "wrong encoding": (
        EXPORT.read_bytes().replace(b"Sheriff's", "Sh\xe9riff's".encode("latin-1"), 1),
        "line 4: byte 0xe9 is not UTF-8; the Atlas export is UTF-8",
    ),
    "cut off": (
        EXPORT.read_bytes()[:-120],
        "line 8: the file ends inside a quoted field (cut off, or a quote never closed): nothing imported",
    ),
    "short row": (
        EXPORT.read_bytes().rstrip().rsplit(b'","', 8)[0] + b'"\n',
        "line 8: 20 fields where the first line names 28 (a cut-off or damaged file?)",
    ),
    "unbalanced quote": (
        EXPORT.read_bytes().replace(b'"AOS000102","', b'"AOS000102",""', 1),
        "line 4: the file is not valid CSV (",
    ),
    "empty": (b"", "empty file: not an Atlas of Surveillance export"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_file_imports_nothing_and_says_why_in_one_line(tmp_path: Path, case: str):
    imported(tmp_path)
    body, message = BAD_FILES[case]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(body)
    result = spyglass("import-atlas", str(bad), "--data", str(tmp_path))
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: {bad}: ") and message in line, line
    assert len(db_rows(tmp_path, "SELECT * FROM atlas_imports")) == 1
    assert len(db_rows(tmp_path, "SELECT * FROM atlas_rows")) == 4
    assert len(db_rows(tmp_path, "SELECT * FROM captures")) == 1
    assert len(list((tmp_path / "warcs").iterdir())) == 1


def test_url_imports_ask_only_for_a_newer_export(tmp_path: Path):
    server, site = start_atlas_site(EXPORT.read_bytes())
    url = f"{server.url}/download.csv"
    loopback = ("--allow-private", "127.0.0.1")  # the address guard holds for --url too
    try:
        first = spyglass("import-atlas", "--url", url, "--data", str(tmp_path), *loopback)
        assert first.exit_code == 0, first.output
        assert f"Imported {url}: 4 Atlas rows, 4 new" in first.output
        again = spyglass("import-atlas", "--url", url, "--data", str(tmp_path), *loopback)
        assert again.exit_code == 0, again.output
        assert "not modified since the last import (HTTP 304): nothing new (import 2)" in again.output
        site.publish(EXPORT.read_bytes().replace(b"runs automated", b"ran automated"))
        third = spyglass("import-atlas", "--url", url, "--data", str(tmp_path), *loopback)
        assert third.exit_code == 0, third.output
        assert "4 Atlas rows, 0 new, 1 changed, 3 unchanged" in third.output
    finally:
        server.stop()
    assert site.conditions[0] == (None, None)
    assert site.conditions[1][0] == site.conditions[2][0] != site.etag  # the first export's weak ETag
    assert site.conditions[1][0].startswith('W/"') and site.conditions[1][1]
    assert site.hits == {"200": 2, "304": 1}
    runs = db_rows(tmp_path, "SELECT outcome, http_status, capture_id, etag FROM atlas_imports ORDER BY id")
    assert [(r[0], r[1]) for r in runs] == [("imported", 200), ("not-modified", 304), ("imported", 200)]
    assert runs[1]["capture_id"] is None and runs[2]["etag"] == site.etag
    captures = db_rows(tmp_path, "SELECT * FROM captures ORDER BY id")
    assert [(c["url"], c["status"], c["warc_type"]) for c in captures] == [(url, 200, "response")] * 2
    assert verify_report(Archive(tmp_path)).problems == []


def test_a_url_import_keeps_each_redirect_and_passes_the_address_guard(tmp_path: Path):
    server, site = start_atlas_site(EXPORT.read_bytes())
    moved, url = f"{server.url}{MOVED_PATH}", f"{server.url}{PATH}"
    try:
        refused = spyglass("import-atlas", "--url", moved, "--data", str(tmp_path))
        assert site.hits == {}  # refused before any request was sent
        imported = spyglass(
            "import-atlas", "--url", moved, "--data", str(tmp_path), "--allow-private", "127.0.0.1"
        )
    finally:
        server.stop()
    assert refused.exit_code == 1
    [line] = refused.output.strip().splitlines()
    assert line == (
        f"Error: {moved}: 127.0.0.1, a loopback address: not fetched "
        "(opt in with --allow-private 127.0.0.1): nothing imported"
    ), line
    assert imported.exit_code == 0, imported.output
    assert f"Imported {moved}: 4 Atlas rows, 4 new" in imported.output
    assert "the file is capture 2" in imported.output
    captures = db_rows(tmp_path, "SELECT url, status, location, warc_type FROM captures ORDER BY id")
    assert [tuple(c) for c in captures] == [(moved, 301, PATH, "response"), (url, 200, None, "response")]
    [run] = db_rows(tmp_path, "SELECT url, final_url, capture_id FROM atlas_imports")
    assert (run["url"], run["final_url"], run["capture_id"]) == (moved, url, 2)
    assert verify_report(Archive(tmp_path)).problems == []


def test_sources_out_writes_one_loadable_source_per_linked_page(tmp_path: Path):
    imported(tmp_path)
    out = tmp_path / "atlas-sources.yml"
    result = spyglass("import-atlas", "--data", str(tmp_path), "--sources-out", str(out))
    assert result.exit_code == 0, result.output
    assert f"Wrote 8 source(s) for the Atlas's links to {out}" in result.output
    sources = {s.urls[0]: s for s in load_sources(out)}
    page = sources["https://news.example/lakeport-face-matching"]  # linked by two rows: one source
    assert page.live and page.wayback is None and page.scope.max_depth == 0
    assert (page.vendor, page.agency) == ("Northwind Cloud", None)
    assert "AOS000101 (Lakeport Police Department, CA: Face Recognition)" in page.notes
    assert "AOS000104" in page.notes and page.allow_private == ()
    snapshot = sources["http://vendor.example/products/recognize/"]  # linked only as a snapshot
    assert not snapshot.live and snapshot.agency == POLICE
    assert (snapshot.wayback.start, snapshot.wayback.end, snapshot.wayback.match) == (
        "20180601101500",
        "20180601101500",
        "exact",
    )
    both = sources["https://news.example/clearwater-face-search"]  # live, and a snapshot of 2019
    assert both.live and (both.wayback.start, both.wayback.end) == ("2019", "2019")
    again = tmp_path / "again.yml"
    spyglass("import-atlas", "--data", str(tmp_path), "--sources-out", str(again))
    names = [e["name"] for e in yaml.safe_load(out.read_text())["sources"]]
    assert names == [e["name"] for e in yaml.safe_load(again.read_text())["sources"]]  # stable names


def test_sources_out_filters_and_opt_in_private_addresses(tmp_path: Path):
    imported(tmp_path)
    out = tmp_path / "filtered.yml"
    result = spyglass(
        "import-atlas",
        "--data",
        str(tmp_path),
        "--sources-out",
        str(out),
        "--vendor",
        "Northwind Cloud",
        "--technology",
        "Face Recognition",
        "--allow-private",
        "127.0.0.1",
    )
    assert result.exit_code == 0, result.output
    sources = load_sources(out)
    assert {s.urls[0] for s in sources} == {
        "https://news.example/lakeport-face-matching",
        "http://vendor.example/products/recognize/",
        "https://records.example/lakeport/released-records/",
        "https://news.example/clearwater-face-search",
    }
    assert all(s.allow_private == ("127.0.0.1",) for s in sources)
    nothing = spyglass("import-atlas", "--data", str(tmp_path), "--sources-out", str(out), "--state", "ZZ")
    assert nothing.exit_code == 1 and "no Atlas links to write" in nothing.output


def test_the_export_header_of_the_public_site_is_accepted(tmp_path: Path):
    assert HEADER[1] == "NEWAOSNUMBER (ORI9)"
    path = tmp_path / "public.csv"
    path.write_bytes(
        export_csv(
            [
                {
                    "AOSNUMBER": "AOS000001",
                    "NEWAOSNUMBER": "CA0000001BWC",
                    "Agency": POLICE,
                    "State": "CA",
                    "Technology": "Body-worn Cameras",
                    "Extra": "x",
                }
            ],
            header=[*HEADER, "Added Later"],
        )
    )
    out = imported(tmp_path, path)
    assert "1 Atlas rows, 1 new" in out
    [row] = db_rows(tmp_path, "SELECT newaosnumber, extra FROM atlas_rows")
    assert row["newaosnumber"] == "CA0000001BWC" and row["extra"] == '{"Added Later": ""}'
    assert db_rows(tmp_path, "SELECT extra_columns FROM atlas_imports")[0][0] == '["Added Later"]'


def test_sources_out_walks_records_links_through_their_api_and_keeps_other_links_pages(tmp_path: Path):
    links = [
        ("https://www.muckrock.com/foi/clearwater-county-301/face-search-audit-logs-7001/", "MuckRock"),
        ("https://www.documentcloud.org/documents/9001-harbor-camera-plan", "DocumentCloud"),
        ("https://www.documentcloud.org/projects/face-search-404/", "DocumentCloud"),
        ("https://harborcityca.nextrequest.com/requests/18-112", "NextRequest"),
        ("https://news.example/clearwater-face-search", "News"),
    ]
    rows = []
    for number, chunk in ((900, links[:3]), (901, links[3:])):  # three links a row
        row = {
            "AOSNUMBER": f"AOS000{number}",
            "Agency": POLICE,
            "State": "CA",
            "Technology": "Face Recognition",
        }
        for n, (url, source) in enumerate(chunk, 1):
            row.update({f"Link {n}": url, f"Link {n} Source": source, f"Link {n} Date": "2019-01-02"})
        rows.append(row)
    path = tmp_path / "records-links.csv"
    path.write_bytes(export_csv(rows))
    imported(tmp_path, path)
    out = tmp_path / "atlas-sources.yml"
    result = spyglass("import-atlas", "--data", str(tmp_path), "--sources-out", str(out))
    assert result.exit_code == 0, result.output
    found = {s.urls[0]: s for s in load_sources(out)}
    shapes = {url: (s.kind, s.walk.api.budget if s.walk and s.walk.api else None) for url, s in found.items()}
    assert shapes == {
        "https://www.muckrock.com/api_v2/requests/7001/": ("records", "muckrock"),
        "https://api.www.documentcloud.org/api/documents/9001/": ("records", "documentcloud"),
        "https://api.www.documentcloud.org/api/documents/?project=404": ("records", "documentcloud"),
        "https://harborcityca.nextrequest.com/client/requests/18-112": ("records", "nextrequest"),
        "https://news.example/clearwater-face-search": ("vendor", None),
    }
    request = found["https://www.muckrock.com/api_v2/requests/7001/"]
    # One record answers, not a listing; its communications and files are followed from it.
    assert request.walk.api.listing.items == "[@]" and request.walk.api.listing.follow
    assert request.agency == POLICE and "AOS000900" in request.notes
