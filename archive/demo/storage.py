"""A loopback object store that serves files only under signed URLs that expire.

Records services keep released files in object storage and hand out
pre-signed download URLs that work for a few minutes (NextRequest's
`/documents/ID/download` and DocumentCloud's private-file URLs redirect to
such URLs; S3's query authentication carries `Expires` and `Signature`). This
store does the same: `signed_url(name)` is valid for `ttl` seconds, and an
expired or altered URL is answered 403, as S3 answers it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, unquote

from archive.demo.server import Incoming, LoopbackServer, Reply

SECRET = b"spyglass-fixture-storage"


class SignedStorage:
    """The handler: `files` by name, `hits` by path, a signing key and a time to live."""

    def __init__(self, files: dict[str, tuple[bytes, str]], ttl: float = 300.0) -> None:
        self.files = files
        self.ttl = ttl
        self.hits: dict[str, int] = {}
        self.base = ""  # set once the server is listening

    def signed_url(self, name: str) -> str:
        """A URL for `name` that works until `ttl` seconds from now."""
        expires = int(time.time() + self.ttl)
        return f"{self.base}/bucket/{quote(name)}?Expires={expires}&Signature={_sign(name, expires)}"

    def __call__(self, request: Incoming) -> Reply:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        name = unquote(request.path.removeprefix("/bucket/"))
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        if name not in self.files or not request.path.startswith("/bucket/"):
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        try:
            expires = int(query.get("Expires", ""))
        except ValueError:
            return _error(403, "AccessDenied", "Query-string authentication requires Expires.")
        if not hmac.compare_digest(query.get("Signature", ""), _sign(name, expires)):
            return _error(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if expires < time.time():
            return _error(403, "AccessDenied", "Request has expired")
        body, content_type = self.files[name]
        return Reply(
            200,
            body,
            content_type=content_type,
            headers=[("Content-Disposition", f'attachment; filename="{name}"')],
        )


def _sign(name: str, expires: int) -> str:
    return hmac.new(SECRET, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def _error(status: int, code: str, message: str) -> Reply:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Reply(status, body.encode(), content_type="application/xml")


def start_storage(
    files: dict[str, tuple[bytes, str]], ttl: float = 300.0, port: int = 0
) -> tuple[LoopbackServer, SignedStorage]:
    """Start the store on 127.0.0.1; its signed URLs name its own address."""
    storage = SignedStorage(files, ttl)
    server = LoopbackServer(storage, port=port).start()
    storage.base = server.url
    return server, storage
