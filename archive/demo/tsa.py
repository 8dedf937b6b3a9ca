"""A local RFC 3161 Time-Stamp Authority on 127.0.0.1, built on `openssl ts -reply`.

It makes a throwaway CA and a TSA certificate (extendedKeyUsage timeStamping)
in a directory of its own, then answers POSTed time-stamp queries the way a
public TSA does (application/timestamp-query in, application/timestamp-reply out).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from pathlib import Path

from archive.demo.server import Incoming, LoopbackServer, Reply

TSA_CONFIG = """
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

TSA_EXTENSIONS = """
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
"""


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_tsa_keys(directory: Path) -> Path:
    """Create CA and TSA keys and certificates in `directory`; returns the CA certificate's path."""
    d = directory
    _run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Spyglass test TSA root",
        cwd=d,
    )
    _run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        "/CN=Spyglass test TSA",
        cwd=d,
    )
    (d / "tsa.ext").write_text(TSA_EXTENSIONS)
    _run(
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tsa.pem",
        "-days",
        "2",
        "-extfile",
        "tsa.ext",
        cwd=d,
    )
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(TSA_CONFIG.format(dir=d))
    return d / "ca.pem"


class TimeStampAuthority:
    """The handler: each POST body is a TimeStampReq, answered by `openssl ts -reply`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = make_tsa_keys(directory)
        self.lock = threading.Lock()  # openssl updates the serial file
        self.requests = 0

    def __call__(self, request: Incoming) -> Reply:
        if request.method != "POST" or not request.headers.get("Content-Type", "").startswith(
            "application/timestamp-query"
        ):
            return Reply(400, b"POST an application/timestamp-query", content_type="text/plain")
        with self.lock, tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            query = Path(tmp) / "query.tsq"
            reply = Path(tmp) / "reply.tsr"
            query.write_bytes(request.body)
            subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.directory / "tsa.cnf"),
                    "-queryfile",
                    str(query),
                    "-out",
                    str(reply),
                ],
                check=True,
                capture_output=True,
            )
            self.requests += 1
            return Reply(200, reply.read_bytes(), content_type="application/timestamp-reply")


def start_tsa(directory: Path, port: int = 0) -> tuple[LoopbackServer, TimeStampAuthority]:
    """Start a TSA on 127.0.0.1 with fresh keys in `directory`."""
    tsa = TimeStampAuthority(Path(directory))
    return LoopbackServer(tsa, port=port).start(), tsa
