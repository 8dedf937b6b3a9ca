"""RFC 3161 tokens from a local Time-Stamp Authority: obtained, stored, verified, and broken by one byte."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.demo.tsa import TimeStampAuthority, start_tsa

from .conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, TimeStampAuthority]]:
    server, authority = start_tsa(tmp_path_factory.mktemp("tsa"))
    yield server.url + "/tsr", authority
    server.stop()


def test_timestamped_warcs_verify_and_one_changed_byte_breaks_the_token(crawled, tsa, tmp_path: Path):
    url, authority = tsa
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    stamped = run_cli(
        "timestamp", "--data", str(data), "--tsa-url", url, "--tsa-ca", str(authority.ca), check=True
    )
    warcs = sorted((data / "warcs").glob("*.warc.gz"))
    tokens = sorted((data / "warcs").glob("*.warc.gz.tsr"))
    assert [t.name for t in tokens] == [w.name + ".tsr" for w in warcs]
    assert f"{len(warcs)} WARC file(s) and 1 chain head(s) time-stamped by {url}." in stamped.stdout
    [head] = (data / "chain").glob("head-*.json")
    assert (data / "chain" / (head.name + ".tsr")).exists()
    # A third party needs only openssl and the TSA's CA certificate.
    check = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(warcs[0]),
            "-in",
            str(tokens[0]),
            "-CAfile",
            str(authority.ca),
        ],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in check.stdout, check.stderr
    # Running again asks for nothing new: closed files keep their first token.
    again = run_cli(
        "timestamp", "--data", str(data), "--tsa-url", url, "--tsa-ca", str(authority.ca), check=True
    )
    assert "0 WARC file(s) and 0 chain head(s) time-stamped" in again.stdout

    env = {"SPYGLASS_TSA_CA_FILE": str(authority.ca)}
    ok = run_cli("verify", "--data", str(data), env=env)
    assert ok.returncode == 0, ok.stderr
    assert f"{len(tokens) + 1} time-stamp token(s) match their files" in ok.stdout

    # One byte inside the warcinfo record's gzip member: no capture points there.
    blob = bytearray(warcs[0].read_bytes())
    blob[40] ^= 0x01
    warcs[0].write_bytes(bytes(blob))
    bad = run_cli("verify", "--data", str(data), env=env)
    assert bad.returncode == 1
    assert (
        f"FAIL archive at {warcs[0].name}: RFC 3161 token does not match the file: its bytes "
        "changed after they were time-stamped (message imprint mismatch)"
    ) in bad.stderr


def test_a_token_is_only_as_good_as_the_authority_it_chains_to(crawled, tsa, tmp_path: Path):
    from archive.demo.tsa import make_tsa_keys

    url, authority = tsa
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    # Without the test TSA's CA, the token cannot be trusted, so none is kept.
    refused = run_cli("timestamp", "--data", str(data), "--tsa-url", url, env={"SPYGLASS_TSA_CA_FILE": ""})
    assert refused.returncode == 1 and "token does not check out" in refused.stderr
    assert not list((data / "warcs").glob("*.tsr"))
    run_cli("timestamp", "--data", str(data), "--tsa-url", url, "--tsa-ca", str(authority.ca), check=True)
    other = tmp_path / "other-ca"
    other.mkdir()
    stranger = make_tsa_keys(other)
    bad = run_cli("verify", "--data", str(data), env={"SPYGLASS_TSA_CA_FILE": str(stranger)})
    assert bad.returncode == 1
    assert "RFC 3161 token does not verify: " in bad.stderr


def test_crawl_can_timestamp_its_warcs_when_asked(vendor_site, tsa, tmp_path: Path):
    base, _ = vendor_site
    url, authority = tsa
    data = tmp_path / "data"
    before = authority.requests
    run_cli(
        "crawl",
        "--sources",
        str(ROOT / "sources.yml"),
        "--data",
        str(data),
        "--source",
        "northwind-recognize",
        "--only",
        "live",
        "-s",
        "SPYGLASS_TIMESTAMP_AFTER_CRAWL=1",
        env={
            "SPYGLASS_VENDOR_SITE": base,
            "SPYGLASS_RECORDS_PORTAL": "http://127.0.0.1:9",
            "SPYGLASS_TSA_URL": url,
            "SPYGLASS_TSA_CA_FILE": str(authority.ca),
        },
        check=True,
    )
    warcs = sorted((data / "warcs").glob("*.warc.gz"))
    assert warcs and all((w.parent / (w.name + ".tsr")).exists() for w in warcs)
    assert authority.requests - before == len(warcs) + 1  # and the chain head


def test_timestamp_without_an_authority_is_one_line(crawled):
    result = run_cli("timestamp", "--data", str(crawled["data"]), env={"SPYGLASS_TSA_URL": ""})
    assert result.returncode == 1
    assert result.stderr.strip() == ("Error: no time-stamp authority: set SPYGLASS_TSA_URL or pass --tsa-url")


def test_a_rewritten_chain_contradicts_its_time_stamped_head(crawled, tsa, tmp_path: Path):
    """Editing a row and recomputing every hash after it passes the chain check, not the head."""
    import sqlite3

    from archive.index import chain

    url, authority = tsa
    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    run_cli("timestamp", "--data", str(data), "--tsa-url", url, "--tsa-ca", str(authority.ca), check=True)
    conn = sqlite3.connect(data / "spyglass.db")
    with conn:
        conn.execute("DROP TRIGGER captures_append_only_update")
        cursor = conn.execute("SELECT * FROM captures ORDER BY id")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        rows[3]["title"] = "A quieter title"
        prev = rows[2]["row_hash"]
        for row in rows[3:]:
            row["prev_hash"] = prev
            row["row_hash"] = prev = chain.row_hash(row)
            conn.execute(
                "UPDATE captures SET title = ?, prev_hash = ?, row_hash = ? WHERE id = ?",
                [row["title"], row["prev_hash"], row["row_hash"], row["id"]],
            )
    conn.close()
    bad = run_cli("verify", "--data", str(data), env={"SPYGLASS_TSA_CA_FILE": str(authority.ca)})
    assert bad.returncode == 1
    lines = [line for line in bad.stderr.splitlines() if line.startswith("FAIL ")]
    assert len(lines) == 1 and "the hash chain was rewritten: capture " in lines[0], bad.stderr
    assert f"when this head was time-stamped, and is now {rows[-1]['row_hash']}" in lines[0]


def test_spyglass_tsa_lets_anyone_try_timestamp_and_verify_keeps_its_ca(crawled, tmp_path: Path):
    import re
    import sys

    data = tmp_path / "data"
    shutil.copytree(crawled["data"], data)
    server = subprocess.Popen(
        [sys.executable, "-m", "archive.cli", "tsa", "--port", "0", "--keys", str(tmp_path / "keys")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = server.stdout.readline()
        found = re.match(
            r"Time-Stamp Authority at (http://127\.0\.0\.1:\d+/tsr); its CA certificate: (.+)$", first.strip()
        )
        assert found, first + server.stderr.read()
        url, ca = found.groups()
        run_cli("timestamp", "--data", str(data), "--tsa-url", url, "--tsa-ca", ca, check=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    # The CA is kept with the tokens, so verify needs no option (and no system trust).
    kept = data / "warcs" / "tsa-ca.pem"
    assert kept.read_bytes().strip() == Path(ca).read_bytes().strip()
    ok = run_cli("verify", "--data", str(data), env={"SPYGLASS_TSA_CA_FILE": ""})
    assert ok.returncode == 0, ok.stderr
    kept.unlink()
    bad = run_cli("verify", "--data", str(data), env={"SPYGLASS_TSA_CA_FILE": ""})
    assert bad.returncode == 1
    fails = [line for line in bad.stderr.splitlines() if line.startswith("FAIL ")]
    assert fails and all("pass --tsa-ca FILE" in line for line in fails), bad.stderr
