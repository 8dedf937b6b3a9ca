"""Evidence packages: selected captures as a WACZ, plus a manifest of citations and hashes.

The WARC inside holds the selected records' gzip members copied byte for
byte from the archive (each response or revisit with its request record, and
the original response a revisit points at), after a warcinfo record naming
the export. A chosen page brings what replay draws it with: its requisites
(stylesheets and what they import, images, fonts, scripts), each the capture
of its URL nearest in time to the page, as replay resolves them; and its
screenshots' resource records. Copied, not rewritten, so every WARC digest
and payload SHA-256 in the package is the one recorded at capture time. py-wacz (Webrecorder's
own tool) then indexes them (CDX), writes pages.jsonl and datapackage.json
with the SHA-256 of every file; the manifest goes in as logs/ (a listed,
hashed resource) and beside the package, where it also gives the package's
own SHA-256. The RFC 3161 tokens of the WARC files the records come from,
their TSA's CA certificate, and the time-stamped heads of the captures hash
chain with their tokens go in logs/ too, each listed in the manifest with
the command that checks it from the package alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warcio.warcwriter import WARCWriter

from archive.archive import Archive
from archive.errors import ExportError
from archive.evidence.cite import citation_of
from archive.evidence.dependencies import with_dependencies
from archive.evidence.timestamp import KEPT_CA, TOKEN_SUFFIX, token_time
from archive.index import queries
from archive.index.asof import as_of_text, fetch_label, page_url
from archive.index.db import open_existing
from archive.index.untrusted import open_untrusted
from archive.times import iso, utc_now
from archive.warc.digests import file_sha256
from archive.warc.read import gzip_members

PAGES = "pages/pages.jsonl"


@dataclass(frozen=True)
class Exported:
    """What `export_wacz` wrote."""

    wacz: Path
    manifest: Path
    sha256: str
    captures: int
    records: int
    requisites: int = 0
    screenshots: int = 0


def select_captures(
    conn: sqlite3.Connection,
    *,
    ids: tuple[int, ...] = (),
    query: str | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The capture rows chosen by ids, by a SQL query returning an `id` column, or by source."""
    if sum(bool(x) for x in (ids, query, source)) != 1:
        raise ExportError("choose captures with exactly one of --capture, --query or --source")
    if query:
        ids = _query_ids(conn, query)
    if source:
        ids = tuple(
            r[0]
            for r in conn.execute("SELECT id FROM captures WHERE source = ? ORDER BY id", [source]).fetchall()
        )
        if not ids:
            raise ExportError(f"no captures from source {source!r}")
    rows = [queries.capture(conn, i) for i in dict.fromkeys(ids)]
    if not rows:
        raise ExportError("the selection holds no captures")
    return rows


def page_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A capture's pages.jsonl line as passed to py-wacz.

    `url` stays the URL of the WARC record, the one replay tools look up in
    the package's index (for a memento, our /web/<ts>id_/ request). py-wacz
    matches each line to its record by `ts` and dates it by the record's
    WARC-Date, our fetch time; `_date_pages_as_of` then makes `ts` the as-of
    time, and `fetched_at` keeps the fetch time.
    """
    as_of = as_of_text(row)
    page = page_url(row)
    title = row.get("title") or page
    if page != row["url"]:
        title += f" (as of {as_of[:10]}, {page})"
    return {
        "url": row["url"],
        "ts": row["captured_at"],
        "title": title,
        "page_url": page,
        "as_of": as_of,
        "fetched_at": row["captured_at"],
    }


def _date_pages_as_of(path: Path) -> None:
    """Give each pages.jsonl line its as-of time as `ts`, and re-hash what lists the file's hash.

    A memento's page then sorts and shows as of the memento's time in replay
    tools; its URL is unique to it, so the lookup still finds its record.
    """
    with zipfile.ZipFile(path) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    contents = {info.filename: data for info, data in members}
    lines = []
    for line in contents[PAGES].decode("utf-8").splitlines():
        entry = json.loads(line)
        if "as_of" in entry:
            entry["ts"] = entry["as_of"]
        lines.append(json.dumps(entry))
    contents[PAGES] = ("\n".join(lines) + "\n").encode("utf-8")
    package = json.loads(contents["datapackage.json"])
    for resource in package["resources"]:
        if resource["path"] == PAGES:
            resource["hash"] = "sha256:" + hashlib.sha256(contents[PAGES]).hexdigest()
            resource["bytes"] = len(contents[PAGES])
    contents["datapackage.json"] = json.dumps(package, indent=2).encode("utf-8")
    digest = json.loads(contents["datapackage-digest.json"])
    digest["hash"] = "sha256:" + hashlib.sha256(contents["datapackage.json"]).hexdigest()
    contents["datapackage-digest.json"] = json.dumps(digest, indent=2).encode("utf-8")
    with zipfile.ZipFile(path, "w") as new:
        for info, _ in members:
            new.writestr(info, contents[info.filename])


def _query_ids(conn: sqlite3.Connection, query: str) -> tuple[int, ...]:
    """Capture ids a selection query returns, run where it can neither write nor ATTACH files."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    untrusted = open_untrusted(path)
    try:
        cursor = untrusted.execute(query)
        names = [d[0] for d in cursor.description or []]
        if "id" not in names:
            raise ExportError("--query must return an `id` column (capture ids)")
        return tuple(int(r[names.index("id")]) for r in cursor.fetchall())
    except (sqlite3.Error, ValueError, TypeError) as exc:
        why = (
            " (a selection may only read the index: ATTACH, writes and file access are refused)"
            if "not authorized" in str(exc)
            else ""
        )
        raise ExportError(f"--query failed: {exc}{why}") from exc
    finally:
        untrusted.close()


def _members(archive: Archive, row: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(file, offset, length) of a capture's record and the request record written after it."""
    members = gzip_members(archive.warc_path(row["warc_filename"]), row["warc_offset"])
    found = []
    for member in members:
        if member.data is None:
            raise ExportError(
                f"record at offset {member.offset} of {row['warc_filename']} is "
                "truncated; run spyglass verify"
            )
        if found:  # the record after: kept if it is this capture's request
            if b"\r\nWARC-Type: request\r\n" in member.data.split(b"\r\n\r\n", 1)[0] + b"\r\n":
                found.append((row["warc_filename"], member.offset, member.length))
            break
        found.append((row["warc_filename"], member.offset, member.length))
    return found


def export_wacz(archive: Archive, out: Path, rows: list[dict[str, Any]], selection: str) -> Exported:
    """Write `out` (.wacz) and `out`.manifest.txt for the chosen capture rows."""
    from wacz.main import main as wacz_main

    out = Path(out)
    index = open_existing(archive)
    try:
        conn = index.conn
        wanted, why = with_dependencies(archive, conn, rows)
        shots = [s for r in rows for s in queries.screenshots_of(conn, r["id"]) if s["warc_record_id"]]
        citations = {r["id"]: citation_of(conn, r) for r in wanted}
    finally:
        index.close()
    stamp = utc_now()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warc_name = f"spyglass-export-{stamp.strftime('%Y%m%d%H%M%S')}.warc.gz"
        placed = _write_warc(tmp / warc_name, archive, wanted, selection, shots)
        pages = tmp / "pages.jsonl"
        with open(pages, "w", encoding="utf-8") as fh:
            fh.write(
                json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Spyglass evidence package"})
                + "\n"
            )
            for row in sorted(rows, key=lambda r: r["id"]):
                if row.get("requisite"):
                    continue  # a stylesheet or an image is part of a page, not a page
                fh.write(json.dumps(page_entry(row)) + "\n")
        logs = tmp / "logs"
        logs.mkdir()
        proofs = _time_stamps(archive, {r["warc_filename"] for r in wanted}, logs)
        manifest_text = (
            _manifest(
                stamp,
                selection,
                rows,
                wanted,
                why,
                citations,
                placed,
                shots,
                warc_name,
                file_sha256(tmp / warc_name),
            )
            + proofs
        )
        (logs / "spyglass-manifest.txt").write_text(manifest_text, encoding="utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise):
            status = wacz_main(
                [
                    "create",
                    "-o",
                    str(out),
                    "-p",
                    str(pages),
                    "-l",
                    str(logs),
                    "--title",
                    "Spyglass evidence package",
                    "--desc",
                    f"{len(rows)} capture(s): {selection}",
                    str(tmp / warc_name),
                ]
            )
            if status == 0:
                _date_pages_as_of(out)
            valid = wacz_main(["validate", "-f", str(out)]) if status == 0 else 1
        if status != 0 or valid != 0:
            raise ExportError(f"{out}: the WACZ tool failed: {noise.getvalue().strip()[-300:]}")
    digest = file_sha256(out)
    manifest = out.with_name(out.name + ".manifest.txt")
    manifest.write_text(manifest_text + f"\nPackage {out.name}: SHA-256 {digest}\n", encoding="utf-8")
    records = sum(len(v) for v in placed.values())
    requisites = sum(1 for reason in why.values() if reason.startswith("a requisite"))
    return Exported(out, manifest, digest, len(rows), records, requisites, len(shots))


def _write_warc(
    path: Path, archive: Archive, rows: list[dict[str, Any]], selection: str, shots: list[dict[str, Any]]
) -> dict[Any, list[int]]:
    """Copy each row's members, then each screenshot's record, into `path` after a warcinfo
    record; capture id (or ("screenshot", id)) -> new offsets."""
    from archive import __version__

    placed: dict[int, list[int]] = {}
    done: set[tuple[str, int]] = set()
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        writer.write_record(
            writer.create_warcinfo_record(
                path.name,
                {
                    "software": f"Spyglass/{__version__} export (warcio)",
                    "format": "WARC File Format 1.1",
                    "description": f"Records copied byte for byte from the Spyglass archive; {selection}",
                },
            )
        )
        copies = [
            (row["id"], member)
            for row in sorted(rows, key=lambda r: r["id"])
            for member in _members(archive, row)
        ]
        copies += [
            (("screenshot", s["id"]), (s["warc_filename"], s["warc_offset"], s["warc_length"])) for s in shots
        ]
        for key, (filename, offset, length) in copies:
            if (filename, offset) in done:
                continue
            done.add((filename, offset))
            with open(archive.warc_path(filename), "rb") as src:
                src.seek(offset)
                placed.setdefault(key, []).append(out.tell())
                out.write(src.read(length))
    return placed


def _time_stamps(archive: Archive, filenames: set[str], logs: Path) -> str:
    """Copy the tokens of `filenames`, their CA and the time-stamped chain heads into `logs`;
    the manifest's section naming each and how to check it."""
    # py-wacz packages only the files directly in logs/, not subdirectories.
    lines = ["TIME-STAMPS (RFC 3161)"]
    ca = archive.warc_dir / KEPT_CA
    ca_arg = f"-CAfile logs/{KEPT_CA}" if ca.exists() else "-CAfile <the TSA's CA certificate>"
    for name in sorted(filenames):
        token = archive.warc_dir / (name + TOKEN_SUFFIX)
        if not token.exists():
            lines.append(f"{name}: not time-stamped")
            continue
        shutil.copyfile(token, logs / token.name)
        digest = file_sha256(archive.warc_path(name))
        lines += [
            f"{name}: SHA-256 {digest}, time-stamped {token_time(token)}",
            f"  openssl ts -verify -digest {digest} -in logs/{token.name} {ca_arg}",
        ]
    if ca.exists():
        shutil.copyfile(ca, logs / KEPT_CA)
    heads = sorted(archive.chain_dir.glob("head-*.json")) if archive.chain_dir.is_dir() else []
    if heads:
        lines.append("Time-stamped heads of the captures hash chain (capture id and its row_hash):")
    for head in heads:
        shutil.copyfile(head, logs / f"chain-{head.name}")
        token = head.with_name(head.name + TOKEN_SUFFIX)
        if token.exists():
            shutil.copyfile(token, logs / f"chain-{token.name}")
            lines += [
                f"  logs/chain-{head.name}, time-stamped {token_time(token)}",
                f"  openssl ts -verify -data logs/chain-{head.name} -in logs/chain-{token.name} {ca_arg}",
            ]
        else:
            lines.append(f"  logs/chain-{head.name} (no token)")
    if len(lines) == 1:
        lines.append("none: run `spyglass timestamp`")
    return "\n".join(lines) + "\n"


def _manifest(
    stamp: Any,
    selection: str,
    rows: list[dict[str, Any]],
    wanted: list[dict[str, Any]],
    why: dict[int, str],
    citations: dict[int, Any],
    placed: dict[Any, list[int]],
    shots: list[dict[str, Any]],
    warc_name: str,
    warc_sha256: str,
) -> str:
    lines = [
        "SPYGLASS EVIDENCE PACKAGE",
        f"Exported {iso(stamp)}; selection: {selection}",
        f"{len(rows)} capture(s) chosen, {len(wanted) - len(rows)} more included because replaying "
        f"them needs them (page requisites, records revisits refer to), {len(shots)} screenshot(s).",
        f"WARC archive/{warc_name}: SHA-256 {warc_sha256}",
        "Every record below was copied byte for byte from the original WARC file named in its",
        "citation; its payload SHA-256 is the one recorded at capture time (check it with",
        "`spyglass verify` on the archive, or any WARC tool on this package).",
        "",
    ]
    for row in sorted(wanted, key=lambda r: r["id"]):
        note = f" (included: {why[row['id']]})" if row["id"] in why else ""
        fetched_from = fetch_label(row)
        shown = f"{page_url(row)}, {fetched_from} {row['url']}" if fetched_from else row["url"]
        lines.append(f"Capture {row['id']}{note}: {shown}")
        lines.append(f"  In this package: archive/{warc_name} at offset {placed[row['id']][0]}")
        if row.get("row_hash"):
            lines.append(f"  Hash chain: row_hash {row['row_hash']}, prev_hash {row['prev_hash']}")
        lines.extend("  " + line for line in citations[row["id"]].text().splitlines())
        lines.append("")
    for shot in shots:
        lines.append(f"Screenshot {shot['id']} of capture {shot['capture_id']}: {shot['url']}")
        lines.append(f"  Taken by {shot['browser']} at {shot['taken_at']}; PNG SHA-256 {shot['sha256']}")
        lines.append(
            f"  In this package: archive/{warc_name} at offset {placed[('screenshot', shot['id'])][0]}"
            f" (WARC resource record urn:fullPage:{shot['url']})"
        )
        lines.append(f"  Local copy: {shot['warc_filename']}, offset {shot['warc_offset']}")
        lines.append("")
    return "\n".join(lines)
