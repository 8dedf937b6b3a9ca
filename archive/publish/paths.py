"""The addresses of the reader's pages, in one place: templates and plugins build every link through here.

These URLs are a public interface (reporters bookmark and cite them): add
new ones, never rename. `path` is Datasette's `urls.path`, so a server under
a `base_url` prefix links correctly.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from datasette.utils import tilde_encode

DATABASE = "spyglass"


class UnderPrefix:
    """Datasette's `urls.path` where there is no Datasette (a pool worker): `prefix`, the
    server's base_url, before a path. A class, not a closure, so it can be sent to a worker."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, path: str) -> str:
        return self.prefix + path.removeprefix("/")


class Paths:
    """Links to rows, archived copies, history pages and browse pages."""

    def __init__(self, path: Callable[[str], str]) -> None:
        self.path = path

    def row(self, table: str, row_id: object) -> str:
        # Datasette's own encoding: a '.' in a key (source atlas.import) would otherwise read as a format.
        return self.path(f"/{DATABASE}/{table}/{tilde_encode(str(row_id))}")

    def table(self, table: str, **filters: object) -> str:
        query = urlencode({k: v for k, v in filters.items() if v not in (None, "")})
        return self.path(f"/{DATABASE}/{table}") + (f"?{query}" if query else "")

    def capture(self, capture_id: object, phrase: str = "") -> str:
        """A capture's page; `phrase`, the phrase the reader follows, goes on to its timeline link."""
        return self.row("captures", capture_id) + (f"?{urlencode({'phrase': phrase})}" if phrase else "")

    def replay(self, capture_id: object) -> str:
        """Our page over a capture's sandboxed archived copy (banner, citation, frame)."""
        return self.path(f"/-/spyglass/replay/{int(capture_id)}")

    def archived(self, capture_id: object) -> str:
        """The archived bytes themselves, under a sandboxing CSP (the Memento URI-M)."""
        return self.path(f"/-/spyglass/archived/{int(capture_id)}")

    def document(self, document_id: object, page: object | None = None) -> str:
        return self.row("documents", document_id) + (f"#page-{int(page)}" if page else "")

    def timeline(self, url: str, phrase: str = "") -> str:
        return self.path(
            "/-/spyglass/timeline?" + urlencode({"url": url, **({"phrase": phrase} if phrase else {})})
        )

    def diff(self, change_id: object) -> str:
        return self.path(f"/-/spyglass/diff?change={int(change_id)}")

    def search(self, q: str = "") -> str:
        return self.path("/-/spyglass/search" + (f"?{urlencode({'q': q})}" if q else ""))

    def browse(self, kind: str, name: str) -> str:
        """A vendor's, product's or agency's page: everything the archive holds about it."""
        return self.path(f"/-/spyglass/{kind}?" + urlencode({"name": name}))

    def agency(self, name: str) -> str:
        return self.browse("agency", name)

    def vendor(self, name: str) -> str:
        return self.browse("vendor", name)

    def product(self, name: str) -> str:
        return self.browse("product", name)

    def query(self, name: str, **params: object) -> str:
        return self.path(f"/{DATABASE}/{name}?" + urlencode({k: v or "" for k, v in params.items()}))

    def cite(self, target: str) -> str:
        """The capture page of whatever a citation holds (archive/evidence/lookup.py)."""
        return self.path("/-/spyglass/cite?" + urlencode({"url": target}))

    def timemap(self, url: str) -> str:
        return self.path(f"/-/spyglass/timemap/link/{url}")

    def timegate(self, url: str) -> str:
        return self.path(f"/-/spyglass/timegate/{url}")
