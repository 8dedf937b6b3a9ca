"""RFC 3161 trusted timestamps for closed WARC files, stored beside them as <file>.tsr.

A Time-Stamp Authority signs the SHA-256 of a file with its own clock, which
proves to a third party that those exact bytes existed at that time. Requests
are built and tokens verified with `openssl ts` rather than a Python library:
the same command a court's expert would run (`openssl ts -verify -data FILE
-in FILE.tsr -CAfile TSA-CA.pem`) is the one `spyglass verify` runs, so the
two can never disagree, and it adds no dependency (openssl is in scripts/setup).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from archive.archive import Archive
from archive.errors import TimestampError
from archive.index.db import open_existing
from archive.warc.digests import file_sha256

TOKEN_SUFFIX = ".tsr"
# The TSA's CA certificate(s), kept with the tokens so they can be checked later.
KEPT_CA = "tsa-ca.pem"
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
NO_CA_HINT = (
    "; no TSA CA certificate was given or kept with the tokens: pass --tsa-ca FILE "
    "(the authority's CA certificate), or time-stamp with --tsa-ca, which keeps it "
    f"in warcs/{KEPT_CA}"
)
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


@dataclass(frozen=True)
class Stamped:
    """One WARC file and the time its token vouches for."""

    filename: str
    sha256: str
    time: str


def _openssl(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    exe = shutil.which("openssl")
    if exe is None:
        raise TimestampError("openssl is not installed (scripts/setup installs it)")
    return subprocess.run([exe, *args], input=data, capture_output=True, timeout=60)


def request_token(tsa_url: str, digest_hex: str, timeout: float = 30.0) -> bytes:
    """Ask the TSA at `tsa_url` to stamp a SHA-256 digest; returns the DER TimeStampResp."""
    query = _openssl("ts", "-query", "-digest", digest_hex, "-sha256", "-cert")
    if query.returncode != 0:
        raise TimestampError(f"openssl ts -query failed: {query.stderr.decode(errors='replace').strip()}")
    request = urllib.request.Request(
        tsa_url,
        data=query.stdout,
        method="POST",
        headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            reply = response.read()
            kind = response.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as exc:
        raise TimestampError(f"time-stamp authority {tsa_url} did not answer: {exc}") from exc
    if not kind.startswith(REPLY_TYPE):
        raise TimestampError(
            f"time-stamp authority {tsa_url} answered {kind or 'no content type'}, not {REPLY_TYPE}"
        )
    return reply


def token_time(token: Path) -> str:
    """The TSA's time in a stored token, as openssl prints it (e.g. 'Nov 22 01:02:03 2026 GMT')."""
    text = _openssl("ts", "-reply", "-in", str(token), "-text")
    found = re.search(r"^Time stamp: (.+)$", text.stdout.decode(errors="replace"), re.M)
    status = re.search(r"^Status: (.+)$", text.stdout.decode(errors="replace"), re.M)
    if text.returncode != 0 or not found:
        why = status.group(1) if status else text.stderr.decode(errors="replace").strip()
        raise TimestampError(f"{token.name}: not a granted time-stamp token ({why})")
    return found.group(1).strip()


def check_token(path: Path, token: Path, ca_file: str | None = None) -> str | None:
    """None if `token` vouches for the file's current bytes, else why not (one line)."""
    args = ["ts", "-verify", "-data", str(path), "-in", str(token)]
    if ca_file:
        args += ["-CAfile", ca_file]
    result = _openssl(*args)
    if result.returncode == 0:
        return None
    err = result.stderr.decode(errors="replace")
    if "message imprint mismatch" in err:
        return (
            "RFC 3161 token does not match the file: its bytes changed after they were "
            "time-stamped (message imprint mismatch)"
        )
    reasons = [line.split(":")[-1].strip() for line in err.splitlines() if ":error:" in line]
    return (
        "RFC 3161 token does not verify: "
        + ("; ".join(reasons) or err.strip() or "openssl failed")
        + ("" if ca_file else NO_CA_HINT)
    )


def trusted_ca(archive: Archive, ca_file: str | None) -> str | None:
    """The CA certificate(s) tokens are checked against: the one given, else the one kept in
    warcs/tsa-ca.pem, else None (the system's trust store)."""
    if ca_file:
        return ca_file
    kept = archive.warc_dir / KEPT_CA
    return str(kept) if kept.exists() else None


def keep_ca(archive: Archive, ca_file: str) -> Path:
    """Add the certificates of `ca_file` that warcs/tsa-ca.pem lacks (a bundle of every TSA used)."""
    kept = archive.warc_dir / KEPT_CA
    try:
        given = PEM_CERT.findall(Path(ca_file).read_bytes())
    except OSError as exc:
        raise TimestampError(f"{ca_file}: cannot read the TSA's CA certificate: {exc.strerror}") from None
    if not given:
        raise TimestampError(f"{ca_file}: holds no PEM certificate")
    have = PEM_CERT.findall(kept.read_bytes()) if kept.exists() else []
    new = [cert for cert in given if cert not in have]
    if new:
        kept.parent.mkdir(parents=True, exist_ok=True)
        with open(kept, "ab") as fh:
            fh.write(b"".join(cert + b"\n" for cert in new))
    return kept


def closed_warc_files(archive: Archive) -> list[str]:
    """WARC files of finished crawl runs: no writer will append to them again."""
    index = open_existing(archive)
    try:
        names: list[str] = []
        for (files,) in index.execute(
            "SELECT warc_files FROM crawl_runs WHERE ended_at IS NOT NULL ORDER BY id"
        ).fetchall():
            for name in json.loads(files or "[]"):
                if name not in names:
                    names.append(name)
        return names
    finally:
        index.close()


def timestamp_warcs(archive: Archive, tsa_url: str, ca_file: str | None = None) -> list[Stamped]:
    """Obtain and store a token for every closed WARC file that has none yet, and for the chain head.

    The TSA's CA certificate (`ca_file`) is kept in warcs/tsa-ca.pem beside the tokens.
    """
    if not tsa_url:
        raise TimestampError("no time-stamp authority: set SPYGLASS_TSA_URL or pass --tsa-url")
    if ca_file:
        keep_ca(archive, ca_file)
    ca_file = trusted_ca(archive, ca_file)
    warc_dir = archive.warc_dir
    stamped = []
    for name in closed_warc_files(archive):
        path = warc_dir / name
        if (warc_dir / (name + TOKEN_SUFFIX)).exists() or not path.exists():
            continue
        stamped.append(_stamp(path, tsa_url, ca_file))
    head = _write_chain_head(archive)
    if head is not None:
        stamped.append(_stamp(head, tsa_url, ca_file))
    return stamped


def stamped_summary(stamped: list[Stamped]) -> str:
    """'3 WARC file(s) and 1 chain head(s)': what a time-stamping round covered."""
    heads = sum(1 for s in stamped if s.filename.startswith("head-"))
    return f"{len(stamped) - heads} WARC file(s) and {heads} chain head(s)"


def _stamp(path: Path, tsa_url: str, ca_file: str | None) -> Stamped:
    """Get, check and store (atomically) the token for one file."""
    digest = file_sha256(path)
    reply = request_token(tsa_url, digest)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tsr.part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(reply)
    tmp_path = Path(tmp)
    try:
        when = token_time(tmp_path)
        problem = check_token(path, tmp_path, ca_file)
        if problem:
            raise TimestampError(f"{path.name}: the TSA's token does not check out: {problem}")
        os.replace(tmp_path, path.with_name(path.name + TOKEN_SUFFIX))
    finally:
        tmp_path.unlink(missing_ok=True)
    return Stamped(path.name, digest, when)


def _write_chain_head(archive: Archive) -> Path | None:
    """Record the newest capture's row_hash in chain/head-<id>.json, unless already recorded.

    Anyone able to write the index could edit a row and recompute every hash
    after it; a time-stamped head fixes the chain as it stood at that time.
    """
    index = open_existing(archive)
    try:
        head = index.execute("SELECT id, row_hash FROM captures ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        index.close()
    if head is None or head[1] is None:
        return None
    path = archive.chain_dir / f"head-{head[0]:010d}.json"
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"capture_id": head[0], "row_hash": head[1]}) + "\n")
    return path


def verify_chain_heads(archive: Archive, ca_file: str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Each time-stamped chain head still matches its token and the index; (heads, problems)."""
    chain_dir = archive.chain_dir
    count, problems = verify_tokens(chain_dir, ca_file)
    heads = sorted(chain_dir.glob("head-*.json")) if chain_dir.is_dir() else []
    if not heads:
        return count, problems
    index = open_existing(archive)
    try:
        for path in heads:
            try:
                head = json.loads(path.read_text())
                now = index.execute(
                    "SELECT row_hash FROM captures WHERE id = ?", [head["capture_id"]]
                ).fetchone()
            except (ValueError, KeyError) as exc:
                problems.append((f"{chain_dir.name}/{path.name}", f"unreadable chain head: {exc}"))
                continue
            if now is None or now[0] != head["row_hash"]:
                problems.append(
                    (
                        f"{chain_dir.name}/{path.name}",
                        (
                            f"the hash chain was rewritten: capture {head['capture_id']}'s row_hash was "
                            f"{head['row_hash']} when this head was time-stamped, and is now "
                            f"{now[0] if now else 'gone'}"
                        ),
                    )
                )
    finally:
        index.close()
    return count, problems


def verify_tokens(warc_dir: Path, ca_file: str | None = None) -> tuple[int, list[tuple[str, str]]]:
    """Check every <file>.tsr against its file; returns (tokens checked, [(where, problem)])."""
    problems: list[tuple[str, str]] = []
    tokens = sorted(warc_dir.glob("*" + TOKEN_SUFFIX)) if warc_dir.is_dir() else []
    for token in tokens:
        path = token.with_name(token.name[: -len(TOKEN_SUFFIX)])
        if not path.exists():
            problems.append((token.name, f"time-stamp token for {path.name}, which is missing"))
            continue
        problem = check_token(path, token, ca_file)
        if problem:
            problems.append((path.name, problem))
    return len(tokens), problems
