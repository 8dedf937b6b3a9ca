"""Evidence packages: a WACZ that Webrecorder's tooling validates, with records digest-identical to the archive."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from archive.warc.digests import sha256_hex

from .conftest import db_rows as captures
from .conftest import run_cli


def test_exported_wacz_validates_and_its_warc_reads_back_with_matching_digests(crawled, tmp_path: Path):
    data = crawled["data"]
    chosen = captures(
        data,
        "SELECT * FROM captures WHERE via = 'live' AND (url LIKE '%/faqs/' "
        "OR url LIKE '%.pdf' OR url LIKE '%/pricing/') ORDER BY id",
    )
    assert len(chosen) == 3
    out = tmp_path / "evidence" / "recognize.wacz"
    result = run_cli(
        "export",
        "--data",
        str(data),
        "--out",
        str(out),
        "--query",
        "SELECT id FROM captures WHERE via = 'live' AND (url LIKE '%/faqs/' "
        "OR url LIKE '%.pdf' OR url LIKE '%/pricing/')",
        check=True,
    )
    package_sha = hashlib.sha256(out.read_bytes()).hexdigest()
    # The two pages bring what draws them: the stylesheet, what it imports and its
    # background image, the script and the icon under its two names (the PDF needs nothing).
    requisites = captures(
        data, "SELECT * FROM captures WHERE requisite IS NOT NULL AND url NOT LIKE '%/img/%'"
    )
    assert len(requisites) == 6
    assert (
        f"3 capture(s), with 6 page requisite(s), {2 * 9} WARC records; SHA-256 {package_sha}"
        in result.stdout
    )

    # Webrecorder's own validator (py-wacz), run as a user would.
    validated = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Validation succeeded, the passed WACZ is valid" in validated.stdout

    with zipfile.ZipFile(out) as wacz:
        names = set(wacz.namelist())
        package = json.loads(wacz.read("datapackage.json"))
        for resource in package["resources"]:
            assert resource["hash"] == "sha256:" + hashlib.sha256(wacz.read(resource["path"])).hexdigest()
        assert {
            "indexes/index.cdx.gz",
            "pages/pages.jsonl",
            "datapackage.json",
            "logs/spyglass-manifest.txt",
        } <= names
        [warc_name] = [n for n in names if n.startswith("archive/")]
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
        records = []
        for record in ArchiveIterator(io.BytesIO(wacz.read(warc_name)), check_digests="raise"):
            payload = record.raw_stream.read()
            records.append(
                (
                    record.rec_type,
                    record.rec_headers.get_header("WARC-Record-ID"),
                    record.rec_headers.get_header("WARC-Target-URI"),
                    payload,
                    record.rec_headers.get_header("WARC-Payload-Digest"),
                )
            )
    assert sorted(p["url"] for p in pages) == sorted(r["url"] for r in chosen)  # pages, not requisites
    assert records[0][0] == "warcinfo" and [r[0] for r in records[2::2]] == ["request"] * 9
    assert sorted(r[0] for r in records[1::2]) == ["response"] * 8 + ["revisit"]
    responses = {r[1]: r for r in records if r[0] == "response"}
    for row in chosen + [r for r in requisites if r["warc_type"] == "response"]:
        _, _, url, payload, digest = responses[row["warc_record_id"]]
        assert url == row["url"]
        assert sha256_hex(payload) == row["sha256"] and digest == "sha256:" + row["sha256"]

    manifest = out.with_name("recognize.wacz.manifest.txt").read_text()
    assert manifest.endswith(f"Package recognize.wacz: SHA-256 {package_sha}\n")
    for row in requisites:
        assert f"Capture {row['id']} (included: a requisite of capture " in manifest
    for row in chosen:
        assert f"Capture {row['id']}: {row['url']}" in manifest
        assert f"SHA-256 of the archived payload: {row['sha256']}" in manifest
        assert f"Local copy: {row['warc_filename']}, offset {row['warc_offset']}" in manifest


def test_export_by_capture_and_by_source(crawled, tmp_path: Path):
    data = crawled["data"]
    [faq] = captures(data, "SELECT * FROM captures WHERE via = 'live' AND url LIKE '%/faqs/'")
    one = tmp_path / "one.wacz"
    run_cli("export", "--data", str(data), "--out", str(one), "--capture", str(faq["id"]), check=True)
    with zipfile.ZipFile(one) as wacz:
        [warc_name] = [n for n in wacz.namelist() if n.startswith("archive/")]
        ids = [
            r.rec_headers.get_header("WARC-Record-ID")
            for r in ArchiveIterator(io.BytesIO(wacz.read(warc_name)))
            if r.rec_type in ("response", "revisit")
        ]
    drawn_with = captures(
        data, "SELECT warc_record_id FROM captures WHERE requisite IS NOT NULL AND url NOT LIKE '%/img/%'"
    )
    assert sorted(ids) == sorted([faq["warc_record_id"], *(r["warc_record_id"] for r in drawn_with)])
    everything = tmp_path / "all.wacz"
    run_cli(
        "export", "--data", str(data), "--out", str(everything), "--source", "northwind-recognize", check=True
    )
    with zipfile.ZipFile(everything) as wacz:
        pages = wacz.read("pages/pages.jsonl").splitlines()[1:]
    assert len(pages) == len(captures(data, "SELECT id FROM captures WHERE requisite IS NULL"))


def test_export_explains_a_bad_selection_in_one_line(crawled, tmp_path: Path):
    data = str(crawled["data"])
    out = str(tmp_path / "x.wacz")
    cases = [
        ((), "Error: choose captures with exactly one of --capture, --query or --source"),
        (("--query", "SELECT url FROM captures"), "Error: --query must return an `id` column (capture ids)"),
        (("--query", "DELETE FROM captures"), "Error: --query failed: attempt to write a readonly database"),
        (("--source", "nope"), "Error: no captures from source 'nope'"),
        (("--capture", "999999"), "Error: no capture 999999"),
    ]
    from click.testing import CliRunner

    from archive.cli.main import cli

    for args, message in cases:
        result = CliRunner().invoke(cli, ["export", "--data", data, "--out", out, *args])
        assert result.exit_code == 1 and result.output.strip() == message, (args, result.output)
    assert not Path(out).exists()


def test_the_package_carries_the_time_stamps_and_chain_heads(crawled, tmp_path: Path):
    import shutil

    from archive.demo.tsa import start_tsa

    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    (tmp_path / "tsa").mkdir()
    server, authority = start_tsa(tmp_path / "tsa")
    try:
        run_cli(
            "timestamp",
            "--data",
            str(data),
            "--tsa-url",
            server.url + "/tsr",
            "--tsa-ca",
            str(authority.ca),
            check=True,
        )
    finally:
        server.stop()
    [row] = captures(data, "SELECT * FROM captures WHERE via = 'live' AND url LIKE '%/faqs/'")
    out = tmp_path / "stamped.wacz"
    run_cli("export", "--data", str(data), "--out", str(out), "--capture", str(row["id"]), check=True)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out) as wacz:
        wacz.extractall(unpacked)
        names = set(wacz.namelist())
        listed = {r["path"] for r in json.loads(wacz.read("datapackage.json"))["resources"]}
    token = f"logs/{row['warc_filename']}.tsr"
    [head] = [n for n in names if n.startswith("logs/chain-head-") and n.endswith(".json")]
    assert {token, "logs/tsa-ca.pem", head, head + ".tsr"} <= names & listed
    manifest = (unpacked / "logs" / "spyglass-manifest.txt").read_text()
    assert f"row_hash {row['row_hash']}" in manifest
    # Every check the manifest names runs from the package alone.
    commands = [line.strip() for line in manifest.splitlines() if line.strip().startswith("openssl ts")]
    assert len(commands) == 2, manifest
    for command in commands:
        checked = subprocess.run(command.split(), cwd=unpacked, capture_output=True, text=True)
        assert "Verification: OK" in checked.stdout, command + checked.stderr
    validated = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_pages_of_mementos_are_dated_as_of_the_memento(crawled, tmp_path: Path):
    data = crawled["data"]
    out = tmp_path / "history.wacz"
    run_cli(
        "export",
        "--data",
        str(data),
        "--out",
        str(out),
        "--query",
        "SELECT id FROM captures WHERE page_url LIKE '%/products/recognize/'",
        check=True,
    )
    validated = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    with zipfile.ZipFile(out) as wacz:
        pages = [json.loads(line) for line in wacz.read("pages/pages.jsonl").splitlines()[1:]]
    chosen = captures(data, "SELECT * FROM captures WHERE page_url LIKE '%/products/recognize/'")
    by_url = {p["url"]: p for p in pages}
    assert len(by_url) == len(chosen) == 6
    for row in chosen:
        page = by_url[row["url"]]  # the record's own URL, which replay tools look up
        assert page["ts"] == page["as_of"] == (row["memento_at"] or row["captured_at"])
        assert page["fetched_at"] == row["captured_at"]
        assert page["page_url"] == crawled["base"] + "/products/recognize/"
    assert sorted(p["ts"][:4] for p in pages)[:5] == ["2016", "2017", "2018", "2019", "2020"]
